import Rules
import PolicyServer
import Testing

/// The edge reads requests strictly (DECISIONS D18): nothing coerced, every error names its
/// field, and routing answers 404/405 for what the surface does not serve.
@Suite struct WireRequestTests {
    static let intent = #"{"service":"demo-service","environment":"sandbox","version":"1.0.0","changeSummary":"x"}"#

    func decode(_ method: String, _ path: String, _ body: String, query: [String: String] = [:]) throws(WireError) -> Request {
        try WireRequest.decode(method: method, path: path, query: query, body: Array(body.utf8))
    }

    @Test func deployAndValidateDecode() throws {
        #expect(try decode("POST", "/v1/deployments", Self.intent) == .deploy(DeploymentIntent(
            service: "demo-service", environment: "sandbox", version: "1.0.0", changeSummary: "x")))
        #expect(try decode("POST", "/v1/deployments/validate", Self.intent).action == .validate)
        #expect(try decode("POST", "/v1/deployments/abc-1/rollback", "") == .rollback(deploymentId: "abc-1"))
        #expect(try decode("GET", "/v1/deployments/abc-1/timeline", "") == .readDeployment(id: "abc-1", view: .timeline))
        #expect(try decode("GET", "/v1/deployments", "", query: ["service": "s", "state": "SUCCEEDED"])
            == .listDeployments(DeploymentQuery(service: "s", state: .succeeded, limit: 200)))
    }

    @Test func pathsSplitAtSlashesOnly() throws {
        #expect(try decode("POST", "//v1//deployments/validate/", Self.intent).action == .validate)
        #expect(try decode("GET", "/v1/services/svc-1/versions", "") == .read(.serviceVersions(service: "svc-1")))
        let error = #expect(throws: WireError.self) { try decode("GET", "/v1/services/é🚀x/versions", "") }
        #expect(error?.field == "id")
        #expect(throws: WireError.self) { try decode("GET", "/", "") }
        #expect(throws: WireError.self) { try decode("GET", "", "") }
    }

    @Test func summaryLengthCountsCharactersNotBytes() throws {
        func intent(_ summary: String) -> String {
            #"{"service":"s","environment":"e","version":"1.0.0","changeSummary":"\#(summary)"}"#
        }
        // 240 two-byte characters: 480 bytes, within the limit of 240 characters.
        let atLimit = try decode("POST", "/v1/deployments", intent(String(repeating: "é", count: 240)))
        guard case .deploy(let decoded) = atLimit else { Issue.record("not a deploy: \(atLimit)"); return }
        #expect(decoded.changeSummary.count == 240)
        #expect(throws: WireError.self) { try decode("POST", "/v1/deployments", intent(String(repeating: "é", count: 241))) }
    }

    static let badBodies: [(body: String, field: String?, fragment: String)] = [
        (#"{"service":1,"environment":"sandbox","version":"1.0.0","changeSummary":"x"}"#, "service", "must be a string"),
        (#"{"environment":"sandbox","version":"1.0.0","changeSummary":"x"}"#, "service", "required"),
        (#"{"service":null,"environment":"sandbox","version":"1.0.0","changeSummary":"x"}"#, "service", "required"),
        (#"{"service":"s","environment":"sandbox","version":true,"changeSummary":"x"}"#, "version", "must be a string"),
        (#"{"service":"s","environment":"sandbox","version":"1.0.0","changeSummary":"x","recipeId":["a"]}"#, "recipeId", "must be a string"),
        ("{\"service\":\"s\",\"environment\":\"e\",\"version\":\"1.0.0\",\"changeSummary\":\"\(String(repeating: "y", count: 241))\"}", "changeSummary", "240"),
        ("[1,2]", nil, "JSON object"),
        ("\"text\"", nil, "JSON object"),
        ("{\"service\":", nil, "not valid JSON"),
        ("", nil, "not valid JSON"),
        ("{} trailing", nil, "not valid JSON"),
    ]

    @Test(arguments: badBodies)
    func badBodiesAreInvalidRequestsNamingTheField(_ example: (body: String, field: String?, fragment: String)) {
        let error = #expect(throws: WireError.self) { try decode("POST", "/v1/deployments", example.body) }
        #expect(error?.code == .invalidRequest)
        #expect(error?.status == 400)
        #expect(error?.field == example.field)
        #expect(error?.message.contains(example.fragment) == true, "\(error?.message ?? "")")
    }

    @Test func invalidUTF8IsRefused() {
        var bytes = Array(#"{"service":"de"#.utf8)
        bytes += [0xC3, 0x28]
        bytes += Array(#"","environment":"sandbox","version":"1.0.0","changeSummary":"x"}"#.utf8)
        let error = #expect(throws: WireError.self) { try WireRequest.decode(method: "POST", path: "/v1/deployments", body: bytes) }
        #expect(error?.code == .invalidRequest)
        #expect(error?.message.contains("UTF-8") == true)
    }

    @Test func buildRegistrationReportsEveryMissingAndInvalidField() {
        let body = #"{"service":"s","version":"1.0.0","artifactRef":"s3://a/b.zip","git_sha":7,"ci_provider":"gh","ci_run_id":"1","built_at":"2026-01-01T00:00:00Z","sizeBytes":"12"}"#
        let error = #expect(throws: WireError.self) { try decode("POST", "/v1/builds", body) }
        #expect(error?.code == .invalidBuildRegistration)
        #expect(error?.details?["missing_fields"] == .strings(["git_branch", "sha256", "contentType"]))
        #expect(error?.details?["invalid_fields"] == .strings(["git_sha", "sizeBytes"]))
    }

    @Test func registerExistingTreatsArtifactFieldsAsOptional() throws {
        let body = #"{"service":"s","version":"1.0.0","artifactRef":"s3://a/b.zip","git_sha":"abc","git_branch":"main","ci_provider":"gh","ci_run_id":"1","built_at":"2026-01-01T00:00:00Z"}"#
        guard case .registerExistingBuild(let r) = try decode("POST", "/v1/builds/register", body) else {
            Issue.record("wrong request")
            return
        }
        #expect(r.sha256 == nil && r.sizeBytes == nil && r.gitSha == "abc")
    }

    @Test func adminSettingsAreTyped() throws {
        #expect(try decode("PUT", "/v1/admin/system/rate-limits", #"{"read_rpm":5,"mutate_rpm":6,"daily_quota_build_register":0}"#)
            == .setRateLimits(RateLimitsChange(readRPM: 5, mutateRPM: 6, dailyQuotaBuildRegister: 0)))
        let stringy = #expect(throws: WireError.self) {
            try decode("PUT", "/v1/admin/system/rate-limits", #"{"read_rpm":"5","mutate_rpm":6,"daily_quota_build_register":0}"#)
        }
        #expect(stringy?.field == "read_rpm")
        let fraction = #expect(throws: WireError.self) {
            try decode("PUT", "/v1/admin/system/rate-limits", #"{"read_rpm":5.5,"mutate_rpm":6,"daily_quota_build_register":0}"#)
        }
        #expect(fraction?.field == "read_rpm")
        #expect(try decode("PATCH", "/v1/admin/system/mutations-disabled", #"{"mutations_disabled":true,"reason":"freeze"}"#)
            == .setMutationsDisabled(KillSwitchChange(mutationsDisabled: true, reason: "freeze")))
        let yes = #expect(throws: WireError.self) { try decode("PUT", "/v1/admin/system/mutations-disabled", #"{"mutations_disabled":"true"}"#) }
        #expect(yes?.field == "mutations_disabled")
        let publishers = try decode("PUT", "/v1/admin/system/ci-publishers", #"{"publishers":[{"name":"gh","provider":"github","subjects":["repo:x"]}]}"#)
        #expect(publishers == .setCIPublishers([CIPublisher(name: "gh", provider: .github, subjects: ["repo:x"])]))
        let provider = #expect(throws: WireError.self) { try decode("PUT", "/v1/admin/system/ci-publishers", #"{"publishers":[{"name":"gh","provider":"gitlab"}]}"#) }
        #expect(provider?.field == "publishers[0].provider")
    }

    @Test func routingAnswers404And405() {
        let unknown = #expect(throws: WireError.self) { try decode("GET", "/v1/nothing-here", "") }
        #expect(unknown?.status == 404)
        let unversioned = #expect(throws: WireError.self) { try decode("POST", "/deployments", Self.intent) }
        #expect(unversioned?.status == 404)
        for method in ["PATCH", "PUT", "POST"] {
            let error = #expect(throws: WireError.self) { try decode(method, "/v1/deployments/abc", "{}") }
            #expect(error?.status == 405, "\(method) on a record")
        }
        let badId = #expect(throws: WireError.self) { try decode("GET", "/v1/deployments/a%20b", "") }
        #expect(badId?.field == "id")
    }
}

import Foundation
import GovernanceStore
import Rules
import TestSupport
import Testing

/// The reads the reference's UI and Backstage integration call (REFERENCE §2.9), over real HTTP:
/// delivery status, running state, allowed actions, failure insights, config sanity and the UI
/// exposure policy.
@Suite(.serialized) struct DeliveryReadsTests {
    @Test func deliveryStatusAndRunningFollowTheRecords() async throws {
        let rig = try await PromotionTests.Rig()
        let server = rig.server
        let owner = try await server.owner, observer = try await server.observer

        let empty = try await server.send("GET", "/v1/services/demo-service/delivery-status?environment=sandbox", token: observer)
        #expect(empty.status == 200)
        #expect(empty.json["hasDeployments"] as? Bool == false)
        #expect(empty.json["latest"] is NSNull)
        #expect(empty.json["currentRunning"] is NSNull)
        let noSource = try #require(empty.json["promotionCandidate"] as? [String: Any])
        #expect(noSource["eligible"] as? Bool == false)
        #expect(noSource["reason"] as? String == "PROMOTION_NO_SUCCESSFUL_SOURCE_VERSION")
        #expect(noSource["target_environment"] as? String == "staging")
        let nothingRuns = try await server.send("GET", "/v1/services/demo-service/running?environment=sandbox", token: observer)
        #expect(nothingRuns.status == 200)
        #expect(String(decoding: nothingRuns.body, as: UTF8.self) == "null")

        let first = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "d1"])
        let firstId = try #require(first.json["id"] as? String)
        let inProgress = try await server.send("GET", "/v1/services/demo-service/delivery-status?environment=sandbox", token: observer)
        #expect(inProgress.json["hasDeployments"] as? Bool == true)
        let latest = try #require(inProgress.json["latest"] as? [String: Any])
        #expect(latest["id"] as? String == firstId)
        #expect(latest["state"] as? String == "IN_PROGRESS")
        #expect(latest["outcome"] is NSNull)
        #expect(latest["engineExecutionId"] == nil, "engine ids are for admins")
        #expect(inProgress.json["currentRunning"] is NSNull)
        try await rig.finish(firstId)

        let registered = try await server.send(
            "POST", "/v1/builds/register", token: try await server.ci, json: registerBody("1.0.1"), headers: ["Idempotency-Key": "b2"])
        #expect(registered.status == 201)
        let second = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody("1.0.1"), headers: ["Idempotency-Key": "d2"])
        try await rig.finish(try #require(second.json["id"] as? String), "TERMINAL")

        let status = try await server.send("GET", "/v1/services/demo-service/delivery-status?environment=sandbox", token: try await server.admin)
        let newest = try #require(status.json["latest"] as? [String: Any])
        #expect(newest["version"] as? String == "1.0.1")
        #expect(newest["state"] as? String == "FAILED")
        #expect(newest["engineExecutionId"] is String)
        let running = try #require(status.json["currentRunning"] as? [String: Any])
        #expect(running["version"] as? String == "1.0.0", "a failed deployment does not replace what runs")
        #expect(running["deploymentId"] as? String == firstId)
        #expect(running["scope"] as? String == "service")
        let candidate = try #require(status.json["promotionCandidate"] as? [String: Any])
        #expect(candidate["eligible"] as? Bool == true)
        #expect(candidate["version"] as? String == "1.0.0")
        #expect(candidate["target_environment"] as? String == "staging")
        #expect(candidate["recipeId"] as? String == "default")
        let top = try await server.send("GET", "/v1/services/demo-service/delivery-status?environment=production", token: observer)
        #expect((top.json["promotionCandidate"] as? [String: Any])?["reason"] as? String == "PROMOTION_AT_HIGHEST_ENVIRONMENT")

        // Refusals: unknown service, missing environment, and D7 scoping.
        let unknown = try await server.send("GET", "/v1/services/ghost/delivery-status?environment=sandbox", token: observer)
        #expect(unknown.status == 403)
        #expect(unknown.code == "SERVICE_NOT_ALLOWLISTED")
        let noEnvironment = try await server.send("GET", "/v1/services/demo-service/running", token: observer)
        #expect(noEnvironment.status == 400)
        #expect(noEnvironment.code == "INVALID_REQUEST")
        let stranger = try await server.send("GET", "/v1/services/demo-service/delivery-status?environment=sandbox", token: try await server.stranger)
        #expect(stranger.code == "DELIVERY_GROUP_SCOPE_REQUIRED")
        let elsewhere = try await server.send("GET", "/v1/services/demo-service/running?environment=moon", token: observer)
        #expect(elsewhere.code == "ENVIRONMENT_NOT_ALLOWED")
        let unbound = try await server.send("GET", "/v1/services/demo-service/delivery-status?environment=moon", token: observer)
        #expect(unbound.status == 200, "as the reference: an environment the group cannot deploy to has no status")
        #expect(unbound.json["promotionCandidate"] is NSNull)
    }

    @Test func allowedActionsTellTheTruthOfTheRules() async throws {
        let server = try await RunningServer()
        func actions(_ token: String) async throws -> [String: Bool] {
            let reply = try await server.send("GET", "/v1/services/demo-service/allowed-actions", token: token)
            #expect(reply.status == 200)
            #expect(reply.json["service"] as? String == "demo-service")
            return (reply.json["actions"] as? [String: Bool]) ?? [:]
        }
        #expect(try await actions(try await server.admin) == ["view": true, "deploy": true, "rollback": true])
        #expect(try await actions(try await server.owner) == ["view": true, "deploy": true, "rollback": true])
        #expect(try await actions(try await server.observer) == ["view": true, "deploy": false, "rollback": false])
        #expect(try await actions(try await server.stranger) == ["view": false, "deploy": false, "rollback": false])
        #expect(try await actions(try await server.ci) == ["view": false, "deploy": false, "rollback": false])
        let role = try await server.send("GET", "/v1/services/demo-service/allowed-actions", token: try await server.observer)
        #expect(role.json["role"] as? String == "OBSERVER")
        #expect(try await server.send("GET", "/v1/services/ghost/allowed-actions", token: try await server.owner).code == "SERVICE_NOT_ALLOWLISTED")
    }

    @Test func insightsCountDeploymentsRollbacksAndFailures() async throws {
        let rig = try await PromotionTests.Rig()
        let server = rig.server
        let owner = try await server.owner
        let registered = try await server.send(
            "POST", "/v1/builds/register", token: try await server.ci, json: registerBody("1.0.1"), headers: ["Idempotency-Key": "b2"])
        #expect(registered.status == 201)
        let first = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "d1"])
        try await rig.finish(try #require(first.json["id"] as? String))
        let second = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody("1.0.1"), headers: ["Idempotency-Key": "d2"])
        let secondId = try #require(second.json["id"] as? String)
        try await rig.finish(secondId)
        // The first success is superseded by the second (REFERENCE §8.3), in a read and a list.
        let firstId = try #require(first.json["id"] as? String)
        #expect(try await server.send("GET", "/v1/deployments/\(firstId)", token: owner).json["outcome"] as? String == "SUPERSEDED")
        #expect(try await server.send("GET", "/v1/deployments/\(secondId)", token: owner).json["outcome"] as? String == "SUCCEEDED")
        let listed = try await server.send("GET", "/v1/deployments?service=demo-service", token: owner).array ?? []
        #expect(listed.map { $0["outcome"] as? String } == ["SUCCEEDED", "SUPERSEDED"])
        let rollback = try await server.send("POST", "/v1/deployments/\(secondId)/rollback", token: owner, headers: ["Idempotency-Key": "r1"])
        #expect(rollback.status == 201)
        let rollbackId = try #require(rollback.json["id"] as? String)
        try await rig.finish(rollbackId, "TERMINAL")
        let failures = try await server.send("GET", "/v1/deployments/\(rollbackId)/failures", token: owner).array ?? []
        #expect(failures.count == 1)
        let category = try #require(failures.first?["category"] as? String)

        let insights = try await server.send("GET", "/v1/insights/failures?windowDays=30", token: try await server.observer)
        #expect(insights.status == 200)
        #expect(insights.json["windowDays"] as? Int == 30)
        #expect(insights.json["totalDeployments"] as? Int == 2)
        #expect(insights.json["totalRollbacks"] as? Int == 1)
        #expect(insights.json["rollbackRate"] as? Double == 0.5)
        let categories = try #require(insights.json["failuresByCategory"] as? [[String: Any]])
        #expect(categories.count == 1)
        #expect(categories.first?["key"] as? String == category)
        #expect(categories.first?["count"] as? Int == 1)
        let byRecipe = try #require(insights.json["deploymentsByRecipe"] as? [[String: Any]])
        #expect(byRecipe.first?["key"] as? String == "default")
        #expect(byRecipe.first?["count"] as? Int == 3, "rollbacks count by recipe too")
        let start = try #require(insights.json["windowStart"] as? String)
        #expect(start.hasSuffix(":00:00Z") || start.hasSuffix(":00:00.000000Z"), "the window starts at an hour: \(start)")

        let filtered = try await server.send("GET", "/v1/insights/failures?service=payments-api", token: try await server.admin)
        #expect(filtered.json["totalDeployments"] as? Int == 0)
        #expect(filtered.json["rollbackRate"] as? Double == 0)
        let strangers = try await server.send("GET", "/v1/insights/failures", token: try await server.stranger)
        #expect(strangers.json["totalDeployments"] as? Int == 0, "owners see their own groups (D7)")
        for bad in ["windowDays=0", "windowDays=31", "windowDays=seven"] {
            let refused = try await server.send("GET", "/v1/insights/failures?\(bad)", token: owner)
            #expect(refused.status == 400, "\(bad)")
            #expect(refused.code == "INVALID_REQUEST")
        }
        #expect(try await server.send("GET", "/v1/insights/failures?service=ghost", token: owner).code == "SERVICE_NOT_ALLOWLISTED")
    }

    @Test func configSanityReportsTheRealConfiguration() async throws {
        let withoutEngine = try await RunningServer()
        let bare = try await withoutEngine.send("GET", "/v1/config/sanity", token: try await withoutEngine.observer)
        #expect(bare.status == 200)
        #expect(bare.json["request_id"] as? String == bare.headers["x-request-id"])
        #expect(bare.json["oidc_configured"] as? Bool == true)
        #expect(bare.json["spinnaker_configured"] as? Bool == false)
        #expect(bare.json["engine_reachable"] as? Bool == false)
        #expect(bare.json["artifact_discovery_configured"] as? Bool == false)
        #expect(bare.json["policy_loaded"] as? Bool == true)
        #expect(bare.json["store_ready"] as? Bool == true)

        let emulator = try EmulatorProcess([])
        let withEngine = try await RunningServer(gate: emulator.baseURL)
        let full = try await withEngine.send("GET", "/v1/config/sanity", token: try await withEngine.owner)
        #expect(full.json["spinnaker_configured"] as? Bool == true)
        #expect(full.json["engine_reachable"] as? Bool == true)
    }

    @Test func theUIExposurePolicyIsHiddenUntilAnAdminShowsIt() async throws {
        let server = try await RunningServer()
        let admin = try await server.admin, observer = try await server.observer
        let hidden = #"{"policy":{"artifactRef":{"display":false},"externalLinks":{"display":false}},"source":"store"}"#
        #expect(String(decoding: try await server.send("GET", "/v1/ui/policy/ui-exposure", token: observer).body, as: UTF8.self) == hidden)
        #expect(try await server.send("GET", "/v1/admin/system/ui-exposure-policy", token: observer).code == "ROLE_FORBIDDEN")
        #expect(try await server.send("PUT", "/v1/admin/system/ui-exposure-policy", token: observer, json: #"{"artifactRef":{"display":true}}"#).code == "ROLE_FORBIDDEN")

        let shown = try await server.send(
            "PUT", "/v1/admin/system/ui-exposure-policy", token: admin, json: #"{"artifactRef":{"display":true},"externalLinks":{"display":true},"unknown":{"x":1}}"#)
        #expect(shown.status == 200)
        #expect(String(decoding: shown.body, as: UTF8.self) == #"{"policy":{"artifactRef":{"display":true},"externalLinks":{"display":true}},"source":"store"}"#)
        let replaced = try await server.send("PUT", "/v1/admin/system/ui-exposure-policy", token: admin, json: #"{"artifactRef":{"display":true}}"#)
        #expect(replaced.status == 200)
        let read = try await server.send("GET", "/v1/ui/policy/ui-exposure", token: observer)
        #expect(String(decoding: read.body, as: UTF8.self) == #"{"policy":{"artifactRef":{"display":true},"externalLinks":{"display":false}},"source":"store"}"#, "a PUT replaces the whole policy")

        for bad in [
            #"{"artifactRef":{"display":"true"}}"#, #"{"artifactRef":{"display":1}}"#, #"{"artifactRef":{"display":null}}"#,
            #"{"artifactRef":{"display":[]}}"#, #"{"artifactRef":"invalid"}"#, #"{"externalLinks":{"display":"yes"}}"#,
            #"{"externalLinks":"invalid"}"#, #"[]"#,
        ] {
            let refused = try await server.send("PUT", "/v1/admin/system/ui-exposure-policy", token: admin, json: bad)
            #expect(refused.status == 400, "\(bad)")
            #expect(refused.code == "INVALID_REQUEST", "\(bad)")
        }
        // External links of builds are shown only while the policy shows them.
        let registered = try await server.send(
            "POST", "/v1/builds/register", token: try await server.ci,
            json: registerBody("1.0.0").replacingOccurrences(of: "}", with: #","commit_url":"https://git.example/c/1","run_url":"https://ci.example/r/1"}"#),
            headers: ["Idempotency-Key": "b1"])
        #expect(registered.status == 201)
        let hiddenLinks = try await server.send("GET", "/v1/builds?service=demo-service&version=1.0.0", token: observer)
        #expect(hiddenLinks.json["commit_url"] is NSNull && hiddenLinks.json["run_url"] is NSNull, "\(hiddenLinks.json)")
        #expect(try await server.send("PUT", "/v1/admin/system/ui-exposure-policy", token: admin, json: #"{"externalLinks":{"display":true}}"#).status == 200)
        let shownLinks = try await server.send("GET", "/v1/builds?service=demo-service&version=1.0.0", token: observer)
        #expect(shownLinks.json["commit_url"] as? String == "https://git.example/c/1")
        #expect(shownLinks.json["run_url"] as? String == "https://ci.example/r/1")
        let audited = try server.store.auditEntries().filter { $0.eventType == "ADMIN_CONFIG_CHANGE" && $0.targetId == "ui_exposure_policy" }
        #expect(audited.count == 3)
        #expect(try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": true}"#).status == 200)
        #expect(try await server.send("PUT", "/v1/admin/system/ui-exposure-policy", token: admin, json: "{}").code == "MUTATIONS_DISABLED")
    }

    @Test func whatIsDeliberatelyNotServedSaysSoInTheEnvelope() async throws {
        let server = try await RunningServer()
        let admin = try await server.admin
        for (method, path) in [
            ("GET", "/v1/spinnaker/status"), ("GET", "/v1/spinnaker/applications"), ("GET", "/v1/spinnaker/applications/demo-app/pipelines"),
            ("GET", "/v1/admin/system/engine-adapters/main"), ("PUT", "/v1/admin/system/engine-adapters/main"),
            ("POST", "/v1/admin/system/engine-adapters/main/validate"),
        ] {
            let reply = method == "GET" ? try await server.send(method, path, token: admin) : try await server.send(method, path, token: admin, json: "{}")
            #expect(reply.status == 501, "\(method) \(path)")
            #expect(reply.code == "NOT_SERVED", "\(method) \(path)")
            #expect(reply.json["request_id"] as? String == reply.headers["x-request-id"])
            #expect((reply.json["details"] as? [String: Any])?["not_served"] as? Bool == true)
        }
        let versions = try await server.send("GET", "/v1/services/demo-service/versions?refresh=true", token: try await server.observer)
        #expect(versions.status == 200, "versions come from the build registry; refresh has nothing to discover (DECISIONS D2)")
        #expect(versions.json["source"] as? String == "registry")
    }

    /// `GET /v1/deployments` a page at a time (DECISIONS 76): every record exactly once across the
    /// pages, newest first, while new records arrive; a bad limit or cursor is 400.
    @Test func deploymentListsComeInPagesWithEveryRecordOnce() async throws {
        let server = try await RunningServer()
        let owner = try await server.owner, observer = try await server.observer
        let ci = try await server.ci
        _ = try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": "b1"])
        // Deployments without an engine are released at once; refused ones leave no record. Admit
        // executions through the store instead: records that stay.
        func add(_ n: Int) async throws {
            let execution = SpinnakerExecution(
                application: "demo-app", pipeline: "demo-deploy", executionId: "exec-\(n)", user: "owner@example.com", service: "demo-service",
                environment: "sandbox", version: "1.0.0", changeSummary: "page \(n)")
            let decision = try await server.store.decide(
                .spinnakerAdmit(execution), by: Principal(claims: Claims(subject: "owner-1", email: "owner@example.com", roles: .values(["dxcp-delivery-owners"]))),
                context: DecisionContext(now: currentTime(), decisionId: "d\(n)", newId: RecordID.make(at: currentTime())))
            #expect(decision.allowed, "\(decision.code.map(\.rawValue) ?? "")")
            _ = try await server.store.recordEngineState(deploymentId: try #require(decision.result.flatMap { if case .deployment(let r) = $0 { r.id } else { nil } }), state: .succeeded, failures: [], now: currentTime())
        }
        for n in 0..<20 { try await add(n) }
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let path = "/v1/deployments?limit=7" + (cursor.map { "&before=\($0)" } ?? "")
            let page = try await server.send("GET", path, token: observer)
            #expect(page.status == 200)
            seen += (page.array ?? []).compactMap { $0["id"] as? String }
            cursor = page.headers["x-next-before"]
            pages += 1
            if pages == 2 { for n in 20..<24 { try await add(n) } }
        } while cursor != nil && pages < 20
        let stored = try server.store.deployments().filter { $0.service == "demo-service" }
        let older = stored.filter { !seen.contains($0.id) }
        #expect(Set(seen).count == seen.count, "no record twice")
        #expect(older.count == 4, "only the four that arrived after the first pages are not in the walk: \(older.count)")
        #expect(seen.count == 20)
        let firstPage = try await server.send("GET", "/v1/deployments?limit=5", token: owner).array ?? []
        #expect(firstPage.count == 5)
        for bad in ["limit=0", "limit=501", "limit=x", "before=no-such-deployment", "before=12.", "before=x.y"] {
            let refused = try await server.send("GET", "/v1/deployments?\(bad)", token: observer)
            #expect(refused.status == 400, "\(bad)")
            #expect(refused.code == "INVALID_REQUEST", "\(bad)")
        }
        let byScope = try await server.send("GET", "/v1/deployments?service=demo-service&environment=sandbox&limit=10", token: observer)
        #expect((byScope.array ?? []).count == 10)
        let lastId = try #require((byScope.array ?? []).last?["id"] as? String)
        #expect(byScope.headers["x-next-before"]?.hasSuffix("." + lastId) == true)
        // A cursor stays valid when its record is gone (a released reservation): the walk goes on
        // from its position.
        let gone = "\(currentTime().microseconds).0000-not-stored"
        let fromGone = try await server.send("GET", "/v1/deployments?limit=3&before=\(gone)", token: observer)
        #expect(fromGone.status == 200)
        #expect((fromGone.array ?? []).count == 3)
    }
}

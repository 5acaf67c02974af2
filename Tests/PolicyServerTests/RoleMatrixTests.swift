import Foundation
import Testing

/// Contract §1 over HTTP: every endpoint with every role. Where the role may not act, the answer
/// is that role refusal; where it may, the answer is no role refusal (the request may still fail
/// for other reasons, such as an unknown id). A token with no DXCP role gets
/// `AUTHZ_ROLE_REQUIRED` everywhere.
@Suite(.serialized) struct RoleMatrixTests {
    enum Who: String, CaseIterable { case admin, owner, observer, ci }

    struct Endpoint {
        let method: String
        let path: String
        let body: String?
        /// Roles allowed; the others get `refusal`.
        let allowed: Set<Who>
        let refusal: String
    }

    static let everyone: Set<Who> = Set(Who.allCases)
    static let deployers: Set<Who> = [.admin, .owner]
    static let intent = deployBody()
    static let endpoints: [Endpoint] = [
        Endpoint(method: "POST", path: "/v1/deployments/validate", body: intent, allowed: deployers, refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "POST", path: "/v1/deployments", body: intent, allowed: deployers, refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "POST", path: "/v1/deployments/x/rollback", body: nil, allowed: deployers, refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "GET", path: "/v1/deployments", body: nil, allowed: everyone, refusal: ""),
        Endpoint(method: "GET", path: "/v1/deployments/x", body: nil, allowed: everyone, refusal: ""),
        Endpoint(method: "POST", path: "/v1/policy/summary", body: #"{"service":"demo-service","environment":"sandbox"}"#, allowed: deployers, refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "POST", path: "/v1/builds/upload-capability", body: #"{"service":"demo-service","version":"1.0.0","expectedSizeBytes":10,"expectedSha256":"x","contentType":"application/zip"}"#, allowed: [.ci], refusal: "CI_ONLY"),
        Endpoint(method: "POST", path: "/v1/builds", body: registerBody("1.0.0").replacingOccurrences(of: "}", with: #","sha256":"\#(String(repeating: "a", count: 64))","sizeBytes":10,"contentType":"application/zip"}"#), allowed: [.ci], refusal: "CI_ONLY"),
        Endpoint(method: "POST", path: "/v1/builds/register", body: registerBody("1.0.0"), allowed: [.ci], refusal: "CI_ONLY"),
        Endpoint(method: "GET", path: "/v1/builds?service=demo-service&version=1.0.0", body: nil, allowed: everyone, refusal: ""),
        Endpoint(method: "GET", path: "/v1/whoami", body: nil, allowed: everyone, refusal: ""),
        Endpoint(method: "GET", path: "/v1/services", body: nil, allowed: everyone, refusal: ""),
        Endpoint(method: "GET", path: "/v1/services/demo-service/versions", body: nil, allowed: everyone, refusal: ""),
        Endpoint(method: "GET", path: "/v1/delivery-groups", body: nil, allowed: everyone, refusal: ""),
        Endpoint(method: "GET", path: "/v1/recipes", body: nil, allowed: everyone, refusal: ""),
        Endpoint(method: "GET", path: "/v1/environments", body: nil, allowed: everyone, refusal: ""),
        Endpoint(method: "GET", path: "/v1/settings/public", body: nil, allowed: everyone, refusal: ""),
        Endpoint(method: "GET", path: "/v1/settings/admin", body: nil, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "GET", path: "/v1/admin/system/rate-limits", body: nil, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "GET", path: "/v1/admin/services/demo-service/environments", body: nil, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "GET", path: "/v1/admin/delivery-groups/default/environments", body: nil, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "GET", path: "/v1/admin/system/ci-publishers", body: nil, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "GET", path: "/v1/admin/system/mutations-disabled", body: nil, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "GET", path: "/v1/audit/events", body: nil, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "PUT", path: "/v1/admin/system/rate-limits", body: #"{"read_rpm":1000,"mutate_rpm":1000,"daily_quota_build_register":50}"#, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "PUT", path: "/v1/admin/system/ci-publishers", body: #"{"publishers":[{"name":"demo-ci","subjects":["ci-bot"]}]}"#, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "PUT", path: "/v1/admin/system/mutations-disabled", body: #"{"mutations_disabled":false}"#, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "POST", path: "/v1/recipes", body: #"{"id":"m","name":"M","deploy_pipeline":"p","effective_behavior_summary":"b"}"#, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "PUT", path: "/v1/recipes/m", body: #"{"name":"M","deploy_pipeline":"p","effective_behavior_summary":"b"}"#, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "DELETE", path: "/v1/admin/recipes/m", body: nil, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "POST", path: "/v1/delivery-groups", body: #"{"id":"mg","name":"MG"}"#, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "PUT", path: "/v1/delivery-groups/mg", body: #"{"name":"MG"}"#, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "PUT", path: "/v1/admin/services/demo-service/environments/sandbox", body: #"{"recipe_id":"default"}"#, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "PUT", path: "/v1/admin/delivery-groups/default/environments/sandbox", body: #"{"is_enabled":true,"order_index":0}"#, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
        Endpoint(method: "PATCH", path: "/v1/environments/sandbox", body: #"{"display_name":"Sandbox"}"#, allowed: [.admin], refusal: "ROLE_FORBIDDEN"),
    ]

    static let roleRefusals: Set<String> = ["ROLE_FORBIDDEN", "CI_ONLY", "AUTHZ_ROLE_REQUIRED"]

    @Test func everyEndpointWithEveryRole() async throws {
        let server = try await RunningServer()
        _ = try await server.send("PUT", "/v1/admin/system/rate-limits", token: try await server.admin,
            json: #"{"read_rpm":5000,"mutate_rpm":5000,"daily_quota_build_register":5000}"#)
        let tokens: [Who: String] = [
            .admin: try await server.admin, .owner: try await server.owner, .observer: try await server.observer, .ci: try await server.ci,
        ]
        let roleless = try await server.token(["somebody-else"], subject: "x", email: "x@example.com")
        for endpoint in Self.endpoints {
            for who in Who.allCases {
                let reply = try await server.send(endpoint.method, endpoint.path, token: tokens[who], body: endpoint.body.map { Data($0.utf8) },
                    headers: ["Idempotency-Key": "matrix-\(who.rawValue)-\(endpoint.path)"])
                let label = "\(endpoint.method) \(endpoint.path) as \(who.rawValue)"
                if endpoint.allowed.contains(who) {
                    #expect(!Self.roleRefusals.contains(reply.code ?? ""), "\(label): \(reply.code ?? "") \(reply.status)")
                    #expect(reply.status != 401, "\(label)")
                } else {
                    #expect(reply.code == endpoint.refusal, "\(label): \(reply.code ?? "none")")
                    #expect(reply.status == 403, "\(label)")
                }
            }
            let unrecognised = try await server.send(endpoint.method, endpoint.path, token: roleless, body: endpoint.body.map { Data($0.utf8) },
                headers: ["Idempotency-Key": "matrix-none"])
            #expect(unrecognised.code == "AUTHZ_ROLE_REQUIRED", "\(endpoint.method) \(endpoint.path) with no role")
        }
    }
}

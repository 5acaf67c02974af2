import Foundation
import Rules
import Testing
import Yams

/// docs/openapi.yaml describes what the server serves: it is served at `/v1/openapi.yaml`, every
/// operation it lists is routed, and every route the server serves is listed.
@Suite(.serialized) struct OpenAPITests {
    /// Every route the server serves (method and path template). A new route must be added here
    /// and to the document.
    static let served = Set<String>([
        "GET /v1/health", "GET /livez", "GET /readyz", "GET /metrics", "GET /v1/openapi.yaml", "GET /v1/whoami",
        "POST /v1/deployments/validate", "POST /v1/deployments", "GET /v1/deployments", "GET /v1/deployments/{id}",
        "PUT /v1/deployments/{id}", "PATCH /v1/deployments/{id}", "POST /v1/deployments/{id}", "DELETE /v1/deployments/{id}",
        "GET /v1/deployments/{id}/failures", "GET /v1/deployments/{id}/timeline", "POST /v1/deployments/{id}/rollback",
        "POST /v1/policy/summary", "POST /v1/builds/upload-capability", "POST /v1/builds", "GET /v1/builds",
        "POST /v1/builds/register", "GET /v1/services", "GET /v1/services/{service}/versions", "GET /v1/delivery-groups",
        "POST /v1/delivery-groups", "GET /v1/delivery-groups/{id}", "PUT /v1/delivery-groups/{id}", "GET /v1/recipes",
        "POST /v1/recipes", "GET /v1/recipes/{id}", "PUT /v1/recipes/{id}", "DELETE /v1/admin/recipes/{id}",
        "PUT /v1/admin/services/{service}/environments/{environment}", "PATCH /v1/admin/services/{service}/environments/{environment}",
        "PUT /v1/admin/delivery-groups/{group}/environments/{environment}",
        "PATCH /v1/admin/delivery-groups/{group}/environments/{environment}", "GET /v1/environments", "GET /v1/environments/{id}",
        "POST /v1/environments", "PATCH /v1/environments/{id}", "DELETE /v1/environments/{id}",
        "GET /v1/admin/services/{service}/environments", "GET /v1/admin/delivery-groups/{group}/environments",
        "GET /v1/settings/public", "GET /v1/settings/admin", "GET /v1/admin/system/rate-limits", "PUT /v1/admin/system/rate-limits",
        "GET /v1/admin/system/ci-publishers", "PUT /v1/admin/system/ci-publishers", "GET /v1/admin/system/mutations-disabled",
        "PUT /v1/admin/system/mutations-disabled", "PATCH /v1/admin/system/mutations-disabled", "GET /v1/audit/events",
        "POST /v1/spinnaker/webhook/check", "POST /v1/spinnaker/webhook/admit", "GET /v1/gateway/nginx", "POST /v1/gateway/nginx",
        "PUT /v1/gateway/nginx", "PATCH /v1/gateway/nginx", "DELETE /v1/gateway/nginx", "GET /v1/gateway/traefik",
        "POST /v1/gateway/traefik", "PUT /v1/gateway/traefik", "PATCH /v1/gateway/traefik", "DELETE /v1/gateway/traefik",
        "GET /v1/gateway/envoy/{original_path}", "POST /v1/gateway/envoy/{original_path}", "PUT /v1/gateway/envoy/{original_path}",
        "PATCH /v1/gateway/envoy/{original_path}", "DELETE /v1/gateway/envoy/{original_path}",
        "POST /v1/promotions/validate", "POST /v1/promotions", "GET /v1/services/{service}/delivery-status",
        "GET /v1/services/{service}/running", "GET /v1/services/{service}/allowed-actions", "GET /v1/insights/failures",
        "GET /v1/config/sanity", "GET /v1/ui/policy/ui-exposure", "GET /v1/admin/system/ui-exposure-policy",
        "PUT /v1/admin/system/ui-exposure-policy",
    ]).union(notServed)

    /// The reference's operations answered 501 `NOT_SERVED` (DECISIONS 65), listed as deprecated.
    static let notServed: Set<String> = [
        "GET /v1/spinnaker/status", "GET /v1/spinnaker/applications", "GET /v1/spinnaker/applications/{app}/pipelines",
        "GET /v1/admin/system/engine-adapters/{id}", "PUT /v1/admin/system/engine-adapters/{id}",
        "POST /v1/admin/system/engine-adapters/{id}/validate",
    ]

    @Test func theDocumentMatchesTheServer() async throws {
        let server = try await RunningServer()
        let served = try await server.send("GET", "/v1/openapi.yaml")
        #expect(served.status == 200)
        #expect(served.headers["content-type"] == "application/yaml")
        let document = try #require(try Yams.load(yaml: String(decoding: served.body, as: UTF8.self)) as? [String: Any])
        #expect((document["info"] as? [String: Any])?["version"] as? String == "1.1")
        let paths = try #require(document["paths"] as? [String: Any])
        var documented: Set<String> = []
        var deprecated: Set<String> = []
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                guard let operation = (item as? [String: Any])?[method] as? [String: Any] else { continue }
                documented.insert("\(method.uppercased()) \(path)")
                if operation["deprecated"] as? Bool == true { deprecated.insert("\(method.uppercased()) \(path)") }
            }
        }
        #expect(deprecated == Self.notServed, "deprecated is what is not served")
        // The envelope's codes are the contract's, all of them.
        let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let codes = (schemas?["ContractCode"] as? [String: Any])?["enum"] as? [String] ?? []
        #expect(codes.sorted() == ContractCode.allCases.map(\.rawValue).sorted())
        #expect(documented == Self.served, "documented but not served: \(documented.subtracting(Self.served)); served but not documented: \(Self.served.subtracting(documented))")

        // Every documented operation is routed: nothing answers with the routing 404.
        let admin = try await server.admin
        for operation in documented.sorted() {
            let parts = operation.split(separator: " ")
            let path = String(parts[1]).replacingOccurrences(of: "{id}", with: "x").replacingOccurrences(of: "{service}", with: "demo-service")
                .replacingOccurrences(of: "{environment}", with: "sandbox").replacingOccurrences(of: "{group}", with: "default")
                .replacingOccurrences(of: "{app}", with: "demo-app")
            let reply = try await server.send(String(parts[0]), path, token: admin, body: parts[0] == "GET" || parts[0] == "DELETE" ? nil : Data("{}".utf8))
            let routingMiss = reply.status == 404 && reply.json["detail"] as? String == "Not Found"
            #expect(!routingMiss, "\(operation) is documented but not routed")
            if Self.notServed.contains(operation) {
                #expect(reply.status == 501 && reply.code == "NOT_SERVED", "\(operation): \(reply.status)")
            }
        }
    }

    @Test func metricsCountRequestsDecisionsAndCommits() async throws {
        let server = try await RunningServer()
        let owner = try await server.owner
        _ = try await server.send("POST", "/v1/deployments/validate", token: owner, json: deployBody())
        _ = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "k"])
        let scrape = try await server.send("GET", "/metrics")
        #expect(scrape.status == 200)
        let text = String(decoding: scrape.body, as: UTF8.self)
        #expect(text.contains(#"dxcp_http_request_duration_seconds_count{route="validate",status="400"} 1"#))
        #expect(text.contains(#"dxcp_decisions_total{action="deploy",outcome="denied",code="VERSION_NOT_FOUND"} 1"#))
        #expect(text.contains("dxcp_write_batch_size_count"))
        #expect(text.contains("dxcp_write_commit_duration_seconds_bucket"))
        #expect(!text.contains("/v1/deployments"), "no raw paths as labels")
    }
}

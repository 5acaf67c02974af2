import Foundation
import Testing

/// Gateway decisions over real HTTP (docs/DECISIONS.md 42): the three ways gateways ask, the
/// role × endpoint matrix agreeing with the API's own answers, the kill switch, the
/// `Idempotency-Key`, the gateway's own rate windows — and only 200, 401 or 403 ever.
@Suite(.serialized) struct GatewayTests {
    /// Asks as NGINX does: the original method and URI in headers, the client's headers kept.
    static func nginx(_ server: RunningServer, _ method: String, _ uri: String, token: String?, key: String? = nil) async throws -> RunningServer.Reply {
        var headers = ["X-Original-Method": method, "X-Original-URI": uri]
        if let key { headers["Idempotency-Key"] = key }
        return try await server.send("GET", "/v1/gateway/nginx", token: token, headers: headers)
    }

    /// Every endpoint with every role, as the API matrix test sends them: where the API refuses
    /// the role, the gateway says 403 with the same code; where it admits it, 200.
    @Test func theMatrixAgreesWithTheAPI() async throws {
        let server = try await RunningServer()
        _ = try await server.send("PUT", "/v1/admin/system/rate-limits", token: try await server.admin,
            json: #"{"read_rpm":5000,"mutate_rpm":5000,"daily_quota_build_register":5000}"#)
        let tokens: [RoleMatrixTests.Who: String] = [
            .admin: try await server.admin, .owner: try await server.owner, .observer: try await server.observer, .ci: try await server.ci,
        ]
        let roleless = try await server.token(["somebody-else"], subject: "x", email: "x@example.com")
        var statuses: Set<Int> = []
        for endpoint in RoleMatrixTests.endpoints {
            for who in RoleMatrixTests.Who.allCases {
                let reply = try await Self.nginx(server, endpoint.method, endpoint.path, token: tokens[who], key: "k")
                statuses.insert(reply.status)
                let label = "\(endpoint.method) \(endpoint.path) as \(who.rawValue)"
                if endpoint.allowed.contains(who) {
                    #expect(reply.status == 200, "\(label): \(reply.code ?? "")")
                    #expect(reply.headers["x-decision-id"] != nil, "\(label)")
                    #expect(reply.headers["x-dxcp-role"] != nil && reply.headers["x-dxcp-actor"] != nil, "\(label)")
                } else {
                    #expect(reply.status == 403, "\(label)")
                    #expect(reply.headers["x-decision-reason"] == endpoint.refusal, "\(label): \(reply.headers["x-decision-reason"] ?? "none")")
                    #expect(reply.code == endpoint.refusal, "\(label)")
                }
            }
            let none = try await Self.nginx(server, endpoint.method, endpoint.path, token: roleless)
            #expect(none.headers["x-decision-reason"] == "AUTHZ_ROLE_REQUIRED")
        }
        #expect(statuses == [200, 403])
    }

    @Test func envoyAndTraefikAskTheSameQuestion() async throws {
        let server = try await RunningServer()
        let owner = try await server.owner
        // Envoy: the original method, the original path under the path prefix, headers forwarded.
        let envoy = try await server.send("POST", "/v1/gateway/envoy/v1/deployments", token: owner, headers: ["Idempotency-Key": "d1"])
        #expect(envoy.status == 200)
        #expect(envoy.headers["x-dxcp-role"] == "DELIVERY_OWNER")
        #expect(envoy.headers["x-dxcp-actor"] == "owner-1")
        let noKey = try await server.send("POST", "/v1/gateway/envoy/v1/deployments", token: owner)
        #expect(noKey.status == 403 && noKey.headers["x-decision-reason"] == "IDMP_KEY_REQUIRED")
        let withQuery = try await server.send("GET", "/v1/gateway/envoy/v1/deployments?service=demo-service", token: owner)
        #expect(withQuery.status == 200)
        // Traefik: X-Forwarded-Method and X-Forwarded-Uri.
        let traefik = try await server.send("GET", "/v1/gateway/traefik", token: try await server.observer,
            headers: ["X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/v1/deployments", "Idempotency-Key": "d1"])
        #expect(traefik.status == 403 && traefik.headers["x-decision-reason"] == "ROLE_FORBIDDEN")
        #expect(traefik.code == "ROLE_FORBIDDEN", "the body is the contract envelope, returned to the client as is")
    }

    @Test func unauthenticatedMalformedAndUnknownRequestsAreRefused() async throws {
        let server = try await RunningServer()
        let owner = try await server.owner
        let anonymous = try await Self.nginx(server, "GET", "/v1/deployments", token: nil)
        #expect(anonymous.status == 401 && anonymous.headers["x-decision-reason"] == "UNAUTHORIZED")
        let forged = try await Self.nginx(server, "GET", "/v1/deployments", token: owner + "x")
        #expect(forged.status == 401)
        let missing = try await server.send("GET", "/v1/gateway/nginx", token: owner, headers: ["X-Original-Method": "GET"])
        #expect(missing.status == 403 && missing.code == "INVALID_REQUEST")
        for uri in [
            "/v1/deployments/../admin/system/rate-limits", "/v1//deployments", "/v1/admin%2Fsystem/rate-limits", "deployments",
            "/v1/deployments/%2e%2e/admin/system/rate-limits", "/v1/deployments/%5C..", "/v1/./deployments", "/v1/deployments/",
        ] {
            let odd = try await Self.nginx(server, "PUT", uri, token: try await server.admin)
            #expect(odd.status == 403, "\(uri)")
        }
        let unknown = try await Self.nginx(server, "GET", "/v1/not-an-endpoint", token: owner)
        #expect(unknown.status == 403 && unknown.headers["x-decision-reason"] == "ROUTE_NOT_FOUND")
        let recordWrite = try await Self.nginx(server, "PATCH", "/v1/deployments/d-1", token: try await server.admin)
        #expect(recordWrite.status == 403, "a method the API answers 405 is not forwarded")
        #expect(try await Self.nginx(server, "GET", "/v1/health", token: nil).status == 200)
        #expect(try await Self.nginx(server, "OPTIONS", "/v1/deployments", token: nil).status == 200, "preflights carry no credentials")
        #expect(try await server.send("GET", "/v1/gateway/haproxy", token: owner).status == 404)
    }

    @Test func theKillSwitchAndTheGatewayWindows() async throws {
        try await startWithinOneMinute()
        let server = try await RunningServer()
        let (admin, owner) = (try await server.admin, try await server.owner)
        #expect(try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": true}"#).status == 200)
        let deploy = try await Self.nginx(server, "POST", "/v1/deployments", token: owner, key: "d1")
        #expect(deploy.status == 403 && deploy.headers["x-decision-reason"] == "MUTATIONS_DISABLED")
        let recipe = try await Self.nginx(server, "PUT", "/v1/recipes/default", token: admin)
        #expect(recipe.headers["x-decision-reason"] == "MUTATIONS_DISABLED", "admin mutations too")
        #expect(try await Self.nginx(server, "PATCH", "/v1/admin/system/mutations-disabled", token: admin).status == 200, "the toggle stays usable")
        #expect(try await Self.nginx(server, "GET", "/v1/deployments", token: owner).status == 200, "reads go on")
        #expect(try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": false}"#).status == 200)

        #expect(try await server.send("PUT", "/v1/admin/system/rate-limits", token: admin,
            json: #"{"read_rpm": 3, "mutate_rpm": 2, "daily_quota_build_register": 50}"#).status == 200)
        // One gateway read of this minute was spent above.
        var reads: [Int] = []
        for _ in 0..<3 { reads.append(try await Self.nginx(server, "GET", "/v1/services", token: owner).status) }
        #expect(reads == [200, 200, 403])
        #expect(try await Self.nginx(server, "GET", "/v1/services", token: owner).headers["x-decision-reason"] == "RATE_LIMITED")
        var writes: [Int] = []
        for n in 0..<3 { writes.append(try await Self.nginx(server, "POST", "/v1/deployments", token: owner, key: "d\(n)").status) }
        #expect(writes == [200, 200, 403], "the mutate window is its own")
        #expect(try await server.send("GET", "/v1/services", token: owner).status == 200, "the API's own read window is untouched")
    }
}

import Foundation
import HTTPTypes
@testable import PolicyServer
import Rules
import Testing

/// Authentication before anything else (DECISIONS D17), and every bad input answered with the
/// contract's envelope, never a 500 (DECISIONS D18).
@Suite(.serialized) struct HTTPEdgeTests {
    @Test func tokensAreVerifiedBeforeTheBodyIsRead() async throws {
        let server = try await RunningServer()
        let malformed = "{not json"
        let noHeader = try await server.send("POST", "/v1/deployments/validate", json: malformed)
        #expect(noHeader.status == 401)
        #expect(noHeader.code == "UNAUTHORIZED")
        let basic = try await server.send("POST", "/v1/deployments/validate", json: malformed, headers: ["Authorization": "Basic abc"])
        #expect(basic.status == 401)

        let owner = try await server.owner
        let parts = owner.split(separator: ".")
        let forged = parts[0] + "." + parts[1] + "." + String(parts[2].reversed())
        let unsigned = #"{"alg":"none","typ":"JWT"}"#.data(using: .utf8)!.base64EncodedString().replacingOccurrences(of: "=", with: "") + "." + parts[1] + "."
        var refused: [String] = [String(forged), unsigned]
        refused.append(try await server.token(["dxcp-delivery-owners"], subject: "o", email: "owner@example.com") { $0["exp"] = .int(currentTime().seconds - 5) })
        refused.append(try await server.token(["dxcp-delivery-owners"], subject: "o", email: "owner@example.com") { $0["iss"] = .string("someone-else") })
        refused.append(try await server.token(["dxcp-delivery-owners"], subject: "o", email: "owner@example.com") { $0["aud"] = .string("other-api") })
        refused.append(try await server.token(["dxcp-delivery-owners"], subject: "o", email: "owner@example.com") { $0["exp"] = nil })
        for token in refused {
            let reply = try await server.send("POST", "/v1/deployments/validate", token: token, json: malformed)
            #expect(reply.status == 401, "\(token.prefix(20))")
            #expect(reply.code == "UNAUTHORIZED")
        }
        let noRole = try await server.token(["some-other-group"], subject: "o", email: "owner@example.com")
        let roleless = try await server.send("POST", "/v1/deployments/validate", token: noRole, json: deployBody())
        #expect(roleless.status == 403)
        #expect(roleless.code == "AUTHZ_ROLE_REQUIRED")
    }

    /// A header read once per field gives what HTTP's own lookup gives, repeated fields joined.
    @Test func headerValuesAsHTTPTypesJoinThem() throws {
        let name = try #require(HTTPField.Name("Idempotency-Key"))
        var fields = HTTPFields()
        #expect(fields.value(name) == nil)
        fields.append(HTTPField(name: .contentType, value: "application/json"))
        fields.append(HTTPField(name: name, value: "k-1"))
        #expect(fields.value(name) == "k-1")
        #expect(fields.value(HTTPField.Name("idempotency-KEY")!) == "k-1")
        fields.append(HTTPField(name: name, value: "k-2"))
        #expect(fields.value(name) == "k-1, k-2")
        #expect(fields.value(name) == fields[name])
    }

    @Test func badInputGetsTheEnvelope() async throws {
        let server = try await RunningServer(bodyLimit: 1024)
        let owner = try await server.owner
        let cases: [(Data, Int, String)] = [
            (Data("{not json".utf8), 400, "INVALID_REQUEST"),
            (Data("[]".utf8), 400, "INVALID_REQUEST"),
            (Data(#"{"service":"demo-service","environment":"sandbox","version":1,"changeSummary":"x"}"#.utf8), 400, "INVALID_REQUEST"),
            (Data([0x7B, 0x22, 0x73, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D]), 400, "INVALID_REQUEST"),
            (Data(String(repeating: " ", count: 2048).utf8), 413, "INVALID_REQUEST"),
        ]
        for (body, status, code) in cases {
            let reply = try await server.send("POST", "/v1/deployments/validate", token: owner, body: body)
            #expect(reply.status == status)
            #expect(reply.code == code)
            #expect(reply.json["request_id"] as? String == reply.headers["x-request-id"])
        }
        let unknown = try await server.send("GET", "/v1/nothing", token: owner)
        #expect(unknown.status == 404)
        #expect(unknown.json["detail"] as? String == "Not Found")
        let echoed = try await server.send("GET", "/v1/nothing", token: owner, headers: ["X-Request-Id": "trace-123"])
        #expect(echoed.headers["x-request-id"] == "trace-123")
        #expect(echoed.json["request_id"] as? String == "trace-123")
        let health = try await server.send("GET", "/v1/health")
        #expect(health.status == 200)
        #expect(health.json["status"] as? String == "ok")
        #expect(try await server.send("GET", "/readyz").status == 200)
        let noEngine = try await server.send("POST", "/v1/builds/register", token: try await server.ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": "b"])
        #expect(noEngine.status == 201)
        let refused = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "k"])
        #expect(refused.status == 503, "no engine configured")
        #expect(refused.code == "ENGINE_UNAVAILABLE")
        #expect((refused.json["details"] as? [String: Any])?["engine_unavailable"] as? Bool == true)
        #expect(try server.store.deployments().isEmpty, "the reservation was released")
    }
}

/// REFERENCE §13.12: a route that does not exist never answers with `NOT_FOUND`, which the
/// reference harness takes for a missing object.
@Suite struct RoutingCodeTests {
    @Test func unknownRoutesAndMethodsHaveTheirOwnCodes() async throws {
        let server = try await RunningServer()
        let owner = try await server.owner
        let missing = try await server.send("POST", "/v1/deployments/some-id/rollback/validate", token: owner, json: "{}")
        #expect(missing.status == 404)
        #expect(missing.code == "ROUTE_NOT_FOUND")
        #expect(missing.json["detail"] as? String == "Not Found")
        let wrongMethod = try await server.send("PUT", "/v1/deployments/some-id", token: owner, json: "{}")
        #expect(wrongMethod.code == "METHOD_NOT_ALLOWED")
        let record = try await server.send("GET", "/v1/deployments/some-id", token: owner)
        #expect(record.code == "NOT_FOUND", "a missing record is NOT_FOUND")
    }
}

/// CORS (REFERENCE §13.5) and the per-actor minute windows (REFERENCE §5), over HTTP.
@Suite(.serialized) struct HTTPLimitsTests {
    @Test func corsAllowsTheConfiguredOriginsWithCredentials() async throws {
        let server = try await RunningServer()
        let preflight = try await server.send("OPTIONS", "/v1/deployments", headers: [
            "Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, idempotency-key",
        ])
        #expect(preflight.status == 200)
        #expect(preflight.headers["access-control-allow-origin"] == "http://localhost:5173")
        #expect(preflight.headers["access-control-allow-credentials"] == "true")
        #expect(preflight.headers["access-control-allow-headers"] == "authorization, idempotency-key")
        #expect(preflight.headers["x-request-id"] != nil)
        let foreign = try await server.send("OPTIONS", "/v1/deployments", headers: ["Origin": "https://evil.example", "Access-Control-Request-Method": "POST"])
        #expect(foreign.status == 400)
        let simple = try await server.send("GET", "/v1/whoami", token: try await server.owner, headers: ["Origin": "http://127.0.0.1:5173"])
        #expect(simple.headers["access-control-allow-origin"] == "http://127.0.0.1:5173")
        let other = try await server.send("GET", "/v1/whoami", token: try await server.owner, headers: ["Origin": "https://evil.example"])
        #expect(other.headers["access-control-allow-origin"] == nil)
    }

    @Test func readAndMutateWindowsAreSeparate() async throws {
        try await startWithinOneMinute()
        let server = try await RunningServer()
        let set = try await server.send("PUT", "/v1/admin/system/rate-limits", token: try await server.admin,
            json: #"{"read_rpm": 3, "mutate_rpm": 2, "daily_quota_build_register": 50}"#)
        #expect(set.status == 200)
        let owner = try await server.owner
        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try await server.send("GET", "/v1/whoami", token: owner).status) }
        #expect(statuses == [200, 200, 200, 429])
        let limited = try await server.send("GET", "/v1/services", token: owner)
        #expect(limited.code == "RATE_LIMITED")
        // Mutations have their own window, untouched by the spent reads. Admin setting changes
        // count it before the role check, even for non-admins (REFERENCE §4.5): 2 refusals for
        // the role, then the window is spent.
        var codes: [String?] = []
        for _ in 0..<3 {
            codes.append(try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: owner, json: #"{"mutations_disabled": true}"#).code)
        }
        #expect(codes == ["ROLE_FORBIDDEN", "ROLE_FORBIDDEN", "RATE_LIMITED"])
        // Another actor has its own windows.
        #expect(try await server.send("GET", "/v1/whoami", token: try await server.observer).status == 200)
    }
}

/// The bearer scheme is read exactly as REFERENCE §1.1 says: two space-separated parts, the
/// scheme case-insensitive.
@Suite struct BearerHeaderTests {
    @Test(arguments: [
        ("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer t", "t"), ("BEARER t", "t"), ("BeArEr t", "t"),
        ("Bearer", nil), ("Bearer ", nil), ("Bearer  t", nil), ("Bearer a b", nil), ("Basic t", nil), ("Bearert", nil), ("Bear t", nil),
    ] as [(String, String?)])
    func bearerTokens(_ header: String, _ token: String?) {
        #expect(Authenticator.bearerToken(header) == token)
    }
}

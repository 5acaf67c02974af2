import Foundation
@testable import PolicyServer
import Rules
import PolicyFile
import Testing
import TestSupport

/// Input that once crashed or confused the service, over real HTTP (docs/DECISIONS.md 59): each
/// is answered in the contract's envelope, and the server still answers `/livez` afterwards.
@Suite struct HostileInputTests {
    /// The server is alive and answering.
    static func expectAlive(_ server: RunningServer) async throws {
        #expect(try await server.send("GET", "/livez").status == 200)
    }

    /// A token signed by a trusted key whose `exp` or `nbf` lies outside 1970…9999 — up to values
    /// no 64-bit integer holds — is 401, never a trap.
    @Test func outOfRangeTokenTimesAre401() async throws {
        let server = try await RunningServer()
        let tweaks: [(String, (inout [String: JSON]) -> Void)] = [
            ("exp 2^63 as a double", { $0["exp"] = .double(9_223_372_036_854_775_808) }),
            ("exp 1e300", { $0["exp"] = .double(1e300) }),
            ("exp Int64.max", { $0["exp"] = .int(.max) }),
            ("exp year 10000", { $0["exp"] = .int(253_402_300_800) }),
            ("exp negative", { $0["exp"] = .int(-1) }),
            ("nbf 2^64 as a double", { $0["nbf"] = .double(18_446_744_073_709_551_616) }),
            ("nbf -1e300", { $0["nbf"] = .double(-1e300) }),
        ]
        for (name, tweak) in tweaks {
            let token = try await server.token(["dxcp-delivery-owners"], subject: "o", email: "owner@example.com", tweak: tweak)
            let reply = try await server.send("GET", "/v1/whoami", token: token)
            #expect(reply.status == 401, "\(name)")
            #expect(reply.code == "UNAUTHORIZED", "\(name)")
            try await Self.expectAlive(server)
        }
        let fractional = try await server.token(["dxcp-delivery-owners"], subject: "o", email: "owner@example.com") {
            $0["exp"] = .double(Double(currentTime().seconds) + 600.5)
        }
        #expect(try await server.send("GET", "/v1/whoami", token: fractional).status == 200, "a fractional exp in range is a time like any other")
    }

    /// An `Idempotency-Key` becomes part of a stored key: longer than 256 bytes, or not printable
    /// ASCII, it is 400 INVALID_REQUEST naming the header — before the store, which could not hold it.
    @Test func idempotencyKeysAreBounded() async throws {
        let server = try await RunningServer()
        let ci = try await server.ci
        for (name, key) in [("600 bytes", String(repeating: "k", count: 600)), ("257 bytes", String(repeating: "k", count: 257))] {
            let reply = try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": key])
            #expect(reply.status == 400, "\(name)")
            #expect(reply.code == "INVALID_REQUEST", "\(name)")
            #expect((reply.json["details"] as? [String: Any])?["field"] as? String == "Idempotency-Key", "\(name): \(reply.json)")
            #expect((reply.json["message"] as? String ?? "").contains("Idempotency-Key"))
        }
        let longest = String(repeating: "k", count: 256)
        let accepted = try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": longest])
        #expect(accepted.status == 201)
        let replay = try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": longest])
        #expect(replay.status == 201)
        #expect(replay.headers["idempotency-replayed"] == "true")
        try await Self.expectAlive(server)
    }

    /// Guardrails past their bound are refused by the admin API as by the policy file.
    @Test func guardrailsAreBoundedOnTheAdminAPI() async throws {
        let server = try await RunningServer()
        let admin = try await server.admin
        let group = try await server.send("GET", "/v1/delivery-groups/default", token: admin).json
        var body = group
        body["guardrails"] = ["max_concurrent_deployments": 5001]
        let reply = try await server.send("PUT", "/v1/delivery-groups/default", token: admin,
            body: try JSONSerialization.data(withJSONObject: body), headers: ["Idempotency-Key": "g"])
        #expect(reply.status == 400)
        #expect(reply.code == "INVALID_GUARDRAIL")
        body["guardrails"] = ["max_concurrent_deployments": 5000]
        let bounded = try await server.send("PUT", "/v1/delivery-groups/default", token: admin,
            body: try JSONSerialization.data(withJSONObject: body), headers: ["Idempotency-Key": "h"])
        #expect(bounded.status == 200, "\(bounded.json)")
    }

    /// Ids a request path could not name again — NUL, zero-width and right-to-left-override
    /// characters, emoji, 60,000 characters — are refused when a group or recipe is created, so
    /// nothing is stored that cannot be read or changed; duplicate owners are refused as in the
    /// policy file; a bad id in a path is named as such, not as a deployment id.
    @Test func policyObjectsKeepAddressableIds() async throws {
        let server = try await RunningServer()
        let admin = try await server.admin
        let bad = ["nul\u{0}id", "zero\u{200B}width", "rtl\u{202E}override", "emoji🚀", String(repeating: "x", count: 60_000), "with space"]
        for id in bad {
            let group: [String: Any] = ["id": id, "name": "Bad", "services": [], "allowed_recipes": ["default"]]
            let created = try await server.send("POST", "/v1/delivery-groups", token: admin,
                body: try JSONSerialization.data(withJSONObject: group), headers: ["Idempotency-Key": "g-\(id.hashValue)"])
            #expect(created.status == 400, "group \(id.prefix(20).debugDescription): \(created.status)")
            #expect(created.code == "INVALID_REQUEST", "group \(id.prefix(20).debugDescription)")
            let recipe: [String: Any] = ["id": id, "name": "Bad", "deploy_pipeline": "p", "effective_behavior_summary": "Bad."]
            let made = try await server.send("POST", "/v1/recipes", token: admin,
                body: try JSONSerialization.data(withJSONObject: recipe), headers: ["Idempotency-Key": "r-\(id.hashValue)"])
            #expect(made.status == 400, "recipe \(id.prefix(20).debugDescription): \(made.status)")
        }
        let groups = try await server.send("GET", "/v1/delivery-groups", token: admin)
        #expect(((try? JSONSerialization.jsonObject(with: groups.body)) as? [[String: Any]])?.count == 2, "nothing was stored")
        let twice: [String: Any] = [
            "id": "twice", "name": "Twice", "owner": "a@example.com, A@example.com ", "services": [], "allowed_recipes": ["default"],
        ]
        let duplicate = try await server.send("POST", "/v1/delivery-groups", token: admin,
            body: try JSONSerialization.data(withJSONObject: twice), headers: ["Idempotency-Key": "twice"])
        #expect(duplicate.status == 400)
        #expect(duplicate.code == "INVALID_OWNER")
        // The one validator's refusal, as the policy file reports it too: the field and the item.
        #expect(duplicate.json["message"] as? String == "Owners must be listed once", "\(duplicate.json)")
        let details = duplicate.json["details"] as? [String: Any]
        #expect(details?["field"] as? String == "owners" && details?["index"] as? Int == 1, "\(duplicate.json)")
        let fileError = #expect(throws: PolicyFileError.self) {
            try PolicyFile.parse(
                "version: 1\ndelivery_groups:\n  - id: twice\n    name: Twice\n    owners: [a@example.com, A@example.com ]\n", file: "twice.yaml")
        }
        #expect(fileError?.message.hasPrefix("Owners must be listed once") == true && fileError?.line == 5, "\(String(describing: fileError))")
        let badPath = try await server.send("GET", "/v1/delivery-groups/emoji%F0%9F%9A%80", token: admin)
        #expect(badPath.status == 400)
        #expect((badPath.json["message"] as? String ?? "").contains("The id in the path"), "\(badPath.json)")
        try await Self.expectAlive(server)
    }

    /// Audit retention past its bound stops the start with a clear error (exit 2), not a trap later.
    @Test func auditRetentionIsBounded() throws {
        let refused = try HTTPServerLimitsTests.start(with: ["DXCP_AUDIT_RETENTION_DAYS": "99999999999999"])
        #expect(refused.status == 2)
        #expect(refused.errors.contains("DXCP_AUDIT_RETENTION_DAYS must be a number of days in 0...36500"), "\(refused.errors)")
    }
}

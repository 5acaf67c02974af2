import Foundation
import Testing

/// The catalogue and settings reads over HTTP (REFERENCE §2.7–§2.9): any role within its read
/// window; engine mappings and system settings for admins only; 404 and 403 where the reference
/// gives them.
@Suite(.serialized) struct HTTPCatalogTests {
    func list(_ reply: RunningServer.Reply) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: reply.body) as? [[String: Any]])
    }

    @Test func catalogueReads() async throws {
        let server = try await RunningServer()
        let owner = try await server.owner
        let admin = try await server.admin

        let whoami = try await server.send("GET", "/v1/whoami", token: owner)
        #expect(whoami.json["actor_id"] as? String == "owner-1")
        #expect(whoami.json["email"] as? String == "owner@example.com")
        #expect(whoami.json["role"] as? String == "DELIVERY_OWNER")

        let services = try list(try await server.send("GET", "/v1/services", token: try await server.observer))
        #expect(services.compactMap { $0["service_name"] as? String }.contains("demo-service"))

        _ = try await server.send("POST", "/v1/builds/register", token: try await server.ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": "b"])
        let versions = try await server.send("GET", "/v1/services/demo-service/versions", token: try await server.observer)
        #expect(versions.status == 200)
        #expect((versions.json["versions"] as? [[String: Any]])?.first?["version"] as? String == "1.0.0")
        let unknown = try await server.send("GET", "/v1/services/nope/versions", token: owner)
        #expect(unknown.status == 403)
        #expect(unknown.code == "SERVICE_NOT_ALLOWLISTED")

        let groups = try list(try await server.send("GET", "/v1/delivery-groups", token: owner))
        let group = try #require(groups.first { $0["id"] as? String == "default" })
        #expect(group["owner"] as? String == "owner@example.com")
        #expect((group["allowed_environments"] as? [String])?.contains("sandbox") == true)
        #expect((group["guardrails"] as? [String: Any])?["max_concurrent_deployments"] as? Int == 1)
        #expect(try await server.send("GET", "/v1/delivery-groups/default", token: owner).json["id"] as? String == "default")
        let missing = try await server.send("GET", "/v1/delivery-groups/none", token: owner)
        #expect(missing.status == 404)
        #expect(missing.code == "NOT_FOUND")

        let ownerRecipes = try list(try await server.send("GET", "/v1/recipes", token: owner))
        #expect(!ownerRecipes.isEmpty)
        #expect(ownerRecipes.allSatisfy { $0["deploy_pipeline"] == nil }, "engine mapping hidden from non-admins")
        let adminRecipe = try await server.send("GET", "/v1/recipes/default", token: admin)
        #expect(adminRecipe.json["deploy_pipeline"] as? String == "demo-deploy")

        #expect(try await server.send("GET", "/v1/builds?service=demo-service&version=1.0.0", token: owner).json["version"] as? String == "1.0.0")
        #expect(try await server.send("GET", "/v1/builds?service=demo-service&version=9.9.9", token: owner).code == "NOT_FOUND")
        let noVersion = try await server.send("GET", "/v1/builds?service=demo-service", token: owner)
        #expect(noVersion.status == 400)
        #expect(noVersion.json["details"] as? [String: String] == ["field": "version"])

        let settings = try await server.send("GET", "/v1/settings/public", token: owner)
        #expect(settings.json["mutations_disabled"] as? Bool == false)
        #expect(settings.json["daily_deploy_quota"] == nil)
        #expect(try await server.send("GET", "/v1/settings/admin", token: admin).json["daily_deploy_quota"] is Int)
        for path in ["/v1/settings/admin", "/v1/admin/system/rate-limits", "/v1/admin/system/ci-publishers", "/v1/admin/system/mutations-disabled"] {
            let refused = try await server.send("GET", path, token: owner)
            #expect(refused.status == 403, "\(path)")
            #expect(refused.code == "ROLE_FORBIDDEN")
        }
        #expect(try await server.send("GET", "/v1/admin/system/rate-limits", token: admin).json["read_rpm"] is Int)
        let publishers = try await server.send("GET", "/v1/admin/system/ci-publishers", token: admin)
        #expect((publishers.json["publishers"] as? [[String: Any]])?.first?["name"] as? String == "demo-ci")
    }

    @Test func environmentsAreScopedAndTheAuditLogPages() async throws {
        let server = try await RunningServer()
        let admin = try await server.admin
        let ownerEnvironments = try list(try await server.send("GET", "/v1/environments", token: try await server.owner))
        let sandbox = try #require(ownerEnvironments.first { $0["id"] as? String == "sandbox" })
        #expect(sandbox["is_enabled"] as? Bool == true)
        #expect((sandbox["delivery_groups"] as? [[String: Any]])?.map { $0["delivery_group_id"] as? String } == ["default"])
        #expect(try list(try await server.send("GET", "/v1/environments", token: try await server.stranger)).isEmpty)
        #expect(try await server.send("GET", "/v1/environments/sandbox", token: try await server.stranger).status == 404)
        let all = try list(try await server.send("GET", "/v1/environments", token: admin))
        #expect(all.count >= ownerEnvironments.count)

        for n in 0..<3 {
            _ = try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": false, "reason": "r\#(n)"}"#)
        }
        let events = try await server.send("GET", "/v1/audit/events?event_type=ADMIN_CONFIG_CHANGE&limit=2", token: admin)
        #expect(events.status == 200)
        let page = try list(events)
        #expect(page.count == 2)
        #expect(page.allSatisfy { $0["event_type"] as? String == "ADMIN_CONFIG_CHANGE" })
        let sequences = page.compactMap { $0["sequence"] as? Int }
        #expect(sequences == sequences.sorted(by: >), "newest first")
        let cursor = try #require(events.headers["x-next-before"])
        let next = try list(try await server.send("GET", "/v1/audit/events?event_type=ADMIN_CONFIG_CHANGE&limit=2&before=\(cursor)", token: admin))
        #expect(next.count == 1)
        #expect((next.first?["sequence"] as? Int ?? .max) < (sequences.last ?? 0))
        for limit in ["0", "501", "x"] {
            #expect(try await server.send("GET", "/v1/audit/events?limit=\(limit)", token: admin).status == 400, "limit \(limit)")
        }
        #expect(try await server.send("GET", "/v1/audit/events", token: try await server.owner).code == "ROLE_FORBIDDEN")
    }
}

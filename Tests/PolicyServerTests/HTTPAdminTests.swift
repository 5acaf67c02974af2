import GovernanceStore
import PolicyFile
import Rules
import Foundation
import Testing

/// Admin changes to policy data over HTTP (REFERENCE §2.8): recipes, delivery groups, routing and
/// bindings, with the reference's status codes, and an audit entry with old and new values for
/// every change (DECISIONS D10).
@Suite(.serialized) struct HTTPAdminTests {
    static let recipe = #"{"id":"temp-recipe","name":"Temporary","spinnaker_application":"demo-app","deploy_pipeline":"demo-deploy","effective_behavior_summary":"A temporary recipe."}"#

    /// A recipe at its last revision (each update adds one) is refused an update with the
    /// validator's 400, never an overflow.
    @Test func aRecipeAtItsLastRevisionIsRefusedAnUpdate() async throws {
        let server = try await RunningServer()
        let admin = try await server.admin
        #expect(try await server.send("POST", "/v1/recipes", token: admin, json: Self.recipe).status == 200)
        var policy = try server.store.policy()
        policy.recipes["temp-recipe"]?.revision = PolicyBounds.recipeRevision.upperBound
        try await server.store.replacePolicy(policy, actorId: "test", now: currentTime())
        let refused = try await server.send("PUT", "/v1/recipes/temp-recipe", token: admin,
            json: #"{"name":"Temporary v2","deploy_pipeline":"demo-deploy","effective_behavior_summary":"Changed."}"#)
        #expect(refused.status == 400)
        #expect(refused.code == "INVALID_REQUEST")
        #expect((refused.json["details"] as? [String: Any])?["field"] as? String == "revision")
        #expect(try server.store.policy().recipes["temp-recipe"]?.name == "Temporary")
    }

    @Test func recipesGroupsRoutingAndBindings() async throws {
        let server = try await RunningServer()
        let admin = try await server.admin

        let forbidden = try await server.send("POST", "/v1/recipes", token: try await server.owner, json: Self.recipe)
        #expect(forbidden.status == 403)
        #expect(forbidden.code == "ROLE_FORBIDDEN")

        let created = try await server.send("POST", "/v1/recipes", token: admin, json: Self.recipe)
        #expect(created.status == 200, "recipe create answers 200, as the reference")
        #expect(created.json["recipe_revision"] as? Int == 1)
        #expect(try await server.send("POST", "/v1/recipes", token: admin, json: Self.recipe).code == "RECIPE_EXISTS")
        let updated = try await server.send("PUT", "/v1/recipes/temp-recipe", token: admin,
            json: #"{"name":"Temporary v2","deploy_pipeline":"demo-deploy","effective_behavior_summary":"Changed."}"#)
        #expect(updated.status == 200)
        #expect(updated.json["recipe_revision"] as? Int == 2)
        #expect(try await server.send("PUT", "/v1/recipes/temp-recipe", token: admin, json: #"{"id":"other","name":"x","deploy_pipeline":"p","effective_behavior_summary":"b"}"#).code == "ID_MISMATCH")

        let group = #"{"id":"team-a","name":"Team A","owner":"Lead@Example.com, second@example.com","services":["payments-api"],"allowed_environments":["sandbox","qa-1"],"allowed_recipes":["temp-recipe"],"guardrails":{"max_concurrent_deployments":2}}"#
        #expect(try await server.send("POST", "/v1/delivery-groups", token: admin, json: group).code == "SERVICE_ALREADY_ASSIGNED")
        let freeService = group.replacingOccurrences(of: #""services":["payments-api"]"#, with: #""services":[]"#)
        let createdGroup = try await server.send("POST", "/v1/delivery-groups", token: admin, json: freeService)
        #expect(createdGroup.status == 201)
        #expect(createdGroup.json["owner"] as? String == "lead@example.com, second@example.com")
        #expect(createdGroup.json["allowed_environments"] as? [String] == ["sandbox", "qa-1"])
        #expect((createdGroup.json["guardrails"] as? [String: Any])?["daily_deploy_quota"] as? Int == 25, "defaults filled in")
        #expect(try await server.send("POST", "/v1/delivery-groups", token: admin, json: freeService).code == "DELIVERY_GROUP_EXISTS")
        let badOwner = freeService.replacingOccurrences(of: "Lead@Example.com", with: "not-an-email")
        #expect(try await server.send("PUT", "/v1/delivery-groups/team-a", token: admin, json: badOwner).code == "INVALID_OWNER")

        let routed = try await server.send("PUT", "/v1/admin/services/demo-service/environments/sandbox", token: admin, json: #"{"recipe_id":"temp-recipe"}"#)
        #expect(routed.status == 200)
        #expect(routed.json["recipe_id"] as? String == "temp-recipe")
        #expect(try await server.send("PUT", "/v1/admin/services/demo-service/environments/nowhere", token: admin, json: #"{"recipe_id":"temp-recipe"}"#).status == 404)
        let inUse = try await server.send("DELETE", "/v1/admin/recipes/temp-recipe", token: admin)
        #expect(inUse.status == 409)
        #expect(inUse.code == "RECIPE_IN_USE")
        // The routed recipe is not allowed by demo-service's group: validate says so (§4.1 step 9).
        let validate = try await server.send("POST", "/v1/deployments/validate", token: try await server.owner, json: deployBody())
        #expect(validate.code == "RECIPE_NOT_ALLOWED")
        #expect(try await server.send("PATCH", "/v1/admin/services/demo-service/environments/sandbox", token: admin, json: #"{"recipe_id":"default"}"#).status == 200)

        let binding = try await server.send("PATCH", "/v1/admin/delivery-groups/default/environments/staging", token: admin, json: #"{"is_enabled":false,"order_index":1}"#)
        #expect(binding.status == 200)
        #expect(binding.json["is_enabled"] as? Bool == false)

        let unrouted = try await server.send("PUT", "/v1/delivery-groups/team-a", token: admin,
            json: #"{"name":"Team A","owner":"lead@example.com","services":[],"allowed_recipes":[]}"#)
        #expect(unrouted.status == 200)
        #expect(try await server.send("PUT", "/v1/admin/services/demo-service/environments/staging", token: admin, json: #"{"recipe_id":"default"}"#).status == 200)
        let routes = try await server.send("GET", "/v1/admin/services/demo-service/environments", token: admin)
        #expect(routes.status == 200)
        let routeList = try #require(routes.array)
        #expect(routeList.contains { $0["environment_id"] as? String == "staging" && $0["recipe_id"] as? String == "default" })
        #expect(try await server.send("GET", "/v1/admin/services/nobody/environments", token: admin).status == 404)
        let bindings = try await server.send("GET", "/v1/admin/delivery-groups/default/environments", token: admin)
        let bindingList = try #require(bindings.array)
        #expect(bindingList.map { $0["order_index"] as? Int ?? -1 } == bindingList.map { $0["order_index"] as? Int ?? -1 }.sorted())
        #expect(bindingList.contains { $0["environment_id"] as? String == "staging" && $0["is_enabled"] as? Bool == false })
        #expect(try await server.send("GET", "/v1/admin/delivery-groups/team-a/environments", token: admin).array?.isEmpty == false)
        #expect(try await server.send("GET", "/v1/admin/delivery-groups/nobody/environments", token: admin).status == 404)

        let entries = try server.store.auditEntries().filter { ["ADMIN_CREATE", "ADMIN_UPDATE", "ADMIN_DELETE"].contains($0.eventType) }
        #expect(entries.count == 8)
        let recipeUpdate = try #require(entries.first { $0.eventType == "ADMIN_UPDATE" && $0.targetType == "Recipe" })
        #expect(recipeUpdate.summary.contains(#""old_value":{"#) && recipeUpdate.summary.contains(#""recipe_revision":2"#))
        #expect(recipeUpdate.actorId == "admin-1")
    }

    /// Environments: create 201, patch 200, delete 204, with the reference's codes; an environment
    /// a group binds or a service routes keeps its type and cannot be deleted.
    @Test func environments() async throws {
        let server = try await RunningServer()
        let admin = try await server.admin

        let forbidden = try await server.send("POST", "/v1/environments", token: try await server.owner, json: #"{"id":"qa-2"}"#)
        #expect(forbidden.code == "ROLE_FORBIDDEN")
        let created = try await server.send("POST", "/v1/environments", token: admin, json: #"{"id":"qa-2","display_name":"QA 2","type":"non_prod"}"#)
        #expect(created.status == 201)
        #expect(created.json["id"] as? String == "qa-2")
        #expect(created.json["display_name"] as? String == "QA 2")
        #expect(created.json["lifecycle_state"] as? String == "active")
        #expect(try await server.send("POST", "/v1/environments", token: admin, json: #"{"id":"qa-2"}"#).code == "ENVIRONMENT_EXISTS")
        for (body, code) in [
            (#"{"display_name":"x"}"#, "MISSING_ID"), (#"{"id":"QA_3"}"#, "INVALID_ENVIRONMENT_ID"),
            (#"{"id":"qa-3","type":"staging"}"#, "INVALID_ENVIRONMENT_TYPE"), (#"{"id":"qa-3","lifecycle_state":"gone"}"#, "INVALID_ENVIRONMENT_LIFECYCLE_STATE"),
            (#"{"id":"qa-3","type":7}"#, "INVALID_REQUEST"),
        ] {
            let refused = try await server.send("POST", "/v1/environments", token: admin, json: body)
            #expect(refused.status == 400, "\(body)")
            #expect(refused.code == code, "\(body)")
        }
        #expect(try await server.send("GET", "/v1/environments/qa-3", token: admin).status == 404, "nothing half-created")

        let patched = try await server.send("PATCH", "/v1/environments/qa-2", token: admin, json: #"{"type":"prod","lifecycle_state":"disabled"}"#)
        #expect(patched.status == 200)
        #expect(patched.json["type"] as? String == "prod")
        #expect(patched.json["display_name"] as? String == "QA 2", "absent fields are kept")
        #expect(try await server.send("PATCH", "/v1/environments/qa-2", token: admin, json: #"{"id":"other"}"#).code == "ID_MISMATCH")
        #expect(try await server.send("PATCH", "/v1/environments/nowhere", token: admin, json: #"{"type":"prod"}"#).status == 404)

        // sandbox is bound to the demo group and routed: its type is locked, it cannot be deleted.
        let locked = try await server.send("PATCH", "/v1/environments/sandbox", token: admin, json: #"{"type":"prod"}"#)
        #expect(locked.status == 409)
        #expect(locked.code == "ENVIRONMENT_TYPE_LOCKED")
        #expect(try await server.send("PATCH", "/v1/environments/sandbox", token: admin, json: #"{"display_name":"Sandbox"}"#).status == 200)
        let blocked = try await server.send("DELETE", "/v1/environments/sandbox", token: admin)
        #expect(blocked.status == 409)
        #expect(blocked.code == "ENVIRONMENT_DELETE_BLOCKED_REFERENCED")

        let deleted = try await server.send("DELETE", "/v1/environments/qa-2", token: admin)
        #expect(deleted.status == 204)
        #expect(try await server.send("GET", "/v1/environments/qa-2", token: admin).status == 404)
        let changes = try server.store.auditEntries().filter { $0.targetType == "Environment" }.map(\.eventType)
        #expect(changes == ["ADMIN_CREATE", "ADMIN_UPDATE", "ADMIN_UPDATE", "ADMIN_DELETE"])
    }

    /// An Idempotency-Key on an admin change is honoured (DECISIONS D5): the retry replays the
    /// answer without changing or auditing anything again; the key with another body is a conflict.
    @Test func adminChangesHonourAnIdempotencyKey() async throws {
        let server = try await RunningServer()
        let admin = try await server.admin
        let body = #"{"id":"qa-7","display_name":"QA 7"}"#
        let first = try await server.send("POST", "/v1/environments", token: admin, json: body, headers: ["Idempotency-Key": "env-qa-7"])
        #expect(first.status == 201)
        #expect(first.headers["idempotency-replayed"] == nil || first.headers["idempotency-replayed"] == "false")
        let audited = try server.store.auditEntries().count
        let retry = try await server.send("POST", "/v1/environments", token: admin, json: body, headers: ["Idempotency-Key": "env-qa-7"])
        #expect(retry.status == 201, "a replay, not ENVIRONMENT_EXISTS")
        #expect(retry.headers["idempotency-replayed"] == "true")
        #expect(retry.json["id"] as? String == "qa-7")
        #expect(try server.store.auditEntries().count == audited, "nothing changed or audited again")
        let other = try await server.send("POST", "/v1/environments", token: admin, json: #"{"id":"qa-8"}"#, headers: ["Idempotency-Key": "env-qa-7"])
        #expect(other.status == 409)
        #expect(other.code == "IDEMPOTENCY_CONFLICT")
        #expect(try await server.send("GET", "/v1/environments/qa-8", token: admin).status == 404)
        // Without a key the same body is a new request, refused by the rules.
        #expect(try await server.send("POST", "/v1/environments", token: admin, json: body).code == "ENVIRONMENT_EXISTS")
        let deleted = try await server.send("DELETE", "/v1/environments/qa-7", token: admin, headers: ["Idempotency-Key": "del-qa-7"])
        #expect(deleted.status == 204)
        let again = try await server.send("DELETE", "/v1/environments/qa-7", token: admin, headers: ["Idempotency-Key": "del-qa-7"])
        #expect(again.status == 204)
        #expect(again.headers["idempotency-replayed"] == "true")
    }

    /// The reference's object shapes (REFERENCE §2.8, DECISIONS D1): stamps written by the change
    /// that made them, `engine_type`, routing and binding rows, the policy summary's resolved recipe.
    @Test func adminObjectsHaveTheReferencesShape() async throws {
        let server = try await RunningServer()
        let admin = try await server.admin
        let other = try await server.token(["dxcp-platform-admins"], subject: "admin-2", email: "admin2@example.com")

        // Loaded from the policy file: stamped by the load, unchanged by a reload of the same file.
        let loaded = try await server.send("GET", "/v1/recipes/default", token: admin)
        #expect(loaded.json["created_by"] as? String == "test")
        #expect(loaded.json["engine_type"] as? String == "SPINNAKER")
        let loadedAt = try #require(loaded.json["created_at"] as? String)
        try await server.store.replacePolicy(try PolicyFile.load(path: RunningServer.demoPolicy), actorId: "reload", now: currentTime())
        let reloaded = try await server.send("GET", "/v1/recipes/default", token: admin)
        #expect(reloaded.json["created_at"] as? String == loadedAt)
        #expect(reloaded.json["updated_by"] as? String == "test", "an unchanged object keeps its stamp")

        let created = try await server.send("POST", "/v1/recipes", token: admin, json: Self.recipe.replacingOccurrences(of: "}", with: #","change_reason":"ignored on create"}"#))
        #expect(created.status == 200)
        #expect(created.json["created_by"] as? String == "admin-1")
        #expect(created.json["updated_by"] as? String == "admin-1")
        #expect(created.json["created_at"] as? String == created.json["updated_at"] as? String)
        #expect(created.json["last_change_reason"] is NSNull)
        #expect(created.json["engine_type"] as? String == "SPINNAKER")
        try await Task.sleep(for: .milliseconds(5))
        let updated = try await server.send("PUT", "/v1/recipes/temp-recipe", token: other,
            json: #"{"name":"Temporary v2","deploy_pipeline":"demo-deploy","effective_behavior_summary":"Changed.","change_reason":"  Refine metadata "}"#)
        #expect(updated.json["created_by"] as? String == "admin-1")
        #expect(updated.json["updated_by"] as? String == "admin-2")
        #expect(updated.json["created_at"] as? String == created.json["created_at"] as? String)
        #expect(updated.json["updated_at"] as? String != created.json["updated_at"] as? String)
        #expect(updated.json["last_change_reason"] as? String == "Refine metadata")
        #expect(updated.json["recipe_revision"] as? Int == 2)
        let publicView = try await server.send("GET", "/v1/recipes/temp-recipe", token: try await server.observer)
        #expect(publicView.json["created_by"] as? String == "admin-1")
        #expect(publicView.json["deploy_pipeline"] == nil, "the engine mapping is for admins")

        let group = #"{"id":"team-a","name":"Team A","owner":"lead@example.com","services":[],"allowed_environments":["sandbox"],"allowed_recipes":["default"],"change_reason":"new team"}"#
        let createdGroup = try await server.send("POST", "/v1/delivery-groups", token: admin, json: group)
        #expect(createdGroup.json["created_by"] as? String == "admin-1")
        #expect(createdGroup.json["last_change_reason"] is NSNull)
        let updatedGroup = try await server.send("PUT", "/v1/delivery-groups/team-a", token: other, json: group.replacingOccurrences(of: "new team", with: "renamed"))
        #expect(updatedGroup.json["updated_by"] as? String == "admin-2")
        #expect(updatedGroup.json["last_change_reason"] as? String == "renamed")
        let listed = try await server.send("GET", "/v1/delivery-groups/team-a", token: try await server.owner)
        #expect(listed.json["created_by"] as? String == "admin-1")

        // The audit keeps the stamped objects as old and new values.
        let change = try #require(try server.store.auditEntries().last { $0.eventType == "ADMIN_UPDATE" && $0.targetType == "DeliveryGroup" })
        #expect(change.summary.contains(#""updated_by":"admin-2""#), "\(change.summary)")
        #expect(change.summary.contains(#""last_change_reason":"renamed""#))

        let routes = try #require(try await server.send("GET", "/v1/admin/services/demo-service/environments", token: admin).array)
        #expect(routes.count == 3, "one row per environment")
        let sandbox = try #require(routes.first { $0["environment_id"] as? String == "sandbox" })
        #expect(sandbox["service_id"] as? String == "demo-service")
        #expect(sandbox["recipe_id"] as? String == "default")
        #expect(sandbox["display_name"] as? String == "Sandbox")
        #expect(sandbox["type"] as? String == "non_prod")
        #expect(sandbox["lifecycle_state"] as? String == "active")
        #expect(sandbox["is_enabled"] as? Bool == true)
        let paymentsRoutes = try #require(try await server.send("GET", "/v1/admin/services/payments-api/environments", token: admin).array)
        #expect(paymentsRoutes.first { $0["environment_id"] as? String == "staging" }?["recipe_id"] is NSNull, "unrouted environments are listed")
        let routed = try await server.send("PUT", "/v1/admin/services/demo-service/environments/sandbox", token: admin, json: #"{"recipe_id":"temp-recipe"}"#)
        #expect(Set(routed.json.keys) == ["service_id", "environment_id", "recipe_id"])

        let bindings = try #require(try await server.send("GET", "/v1/admin/delivery-groups/default/environments", token: admin).array)
        #expect(bindings.map { $0["environment_id"] as? String } == ["sandbox", "staging", "production"])
        #expect(bindings.last?["type"] as? String == "prod")
        #expect(bindings.last?["display_name"] as? String == "Production")
        #expect(bindings.first?["lifecycle_state"] as? String == "active")

        let summary = try await server.send("POST", "/v1/policy/summary", token: admin, json: #"{"service":"demo-service","environment":"staging"}"#)
        #expect(summary.json["generatedAt"] is String)
        let resolved = try #require(summary.json["resolvedRecipe"] as? [String: Any])
        #expect(resolved["id"] as? String == "default")
        #expect(resolved["revision"] as? Int == 1)
        #expect(resolved["status"] as? String == "active")
        #expect((resolved["routing"] as? [String: Any])?["service_id"] as? String == "demo-service")
    }
}

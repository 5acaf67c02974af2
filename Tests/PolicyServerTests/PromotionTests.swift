import Engine
import Foundation
import GovernanceStore
import Rules
import TestSupport
import Testing

/// Promotions over real HTTP against the Gate emulator (REFERENCE §2.10): a version that
/// succeeded in one environment moves to the next one of its delivery group's order, as a
/// governed, dispatched, audited deployment.
@Suite(.serialized) struct PromotionTests {
    /// The emulator, the server, a poller that ends executions, and the registered build.
    struct Rig {
        let emulator: EmulatorProcess
        let server: RunningServer
        let poller: ExecutionPoller

        init() async throws {
            emulator = try EmulatorProcess(["--run-seconds", "600"])
            server = try await RunningServer(gate: emulator.baseURL)
            poller = ExecutionPoller(store: server.store, gate: GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL)))
            let registered = try await server.send(
                "POST", "/v1/builds/register", token: try await server.ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": "b1"])
            #expect(registered.status == 201)
        }

        /// Ends the engine execution of deployment `id` with `status` and lets the poller see it.
        func finish(_ id: String, _ status: String = "SUCCEEDED") async throws {
            // The execution is recorded just after the 201 (DECISIONS 52): wait for it, bounded.
            var execution: String?
            for _ in 0..<500 where execution == nil {
                execution = try await server.send("GET", "/v1/deployments/\(id)", token: try await server.admin).json["engineExecutionId"] as? String
                if execution == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            let executionId = try #require(execution, "deployment \(id) has no execution recorded")
            try emulator.control("/_emulator/executions/\(executionId)", #"{"status": "\#(status)"}"#)
            _ = try await poller.pollOnce(now: currentTime(), requestId: "t")
        }

        func promote(_ from: String, _ to: String, key: String?, summary: String = "promote", token: String? = nil) async throws -> RunningServer.Reply {
            let caller = if let token { token } else { try await server.owner }
            return try await server.send(
                "POST", "/v1/promotions", token: caller, json: promotionBody(from, to, summary: summary),
                headers: key.map { ["Idempotency-Key": $0] } ?? [:])
        }

        func validate(_ from: String, _ to: String, token: String? = nil) async throws -> RunningServer.Reply {
            let caller = if let token { token } else { try await server.owner }
            return try await server.send("POST", "/v1/promotions/validate", token: caller, json: promotionBody(from, to))
        }
    }

    @Test func aVersionMovesSandboxToStagingToProduction() async throws {
        let rig = try await Rig()
        let server = rig.server
        let owner = try await server.owner

        let ineligible = try await rig.validate("sandbox", "staging")
        #expect(ineligible.status == 400)
        #expect(ineligible.code == "PROMOTION_VERSION_INELIGIBLE")
        #expect(ineligible.json["failure_cause"] as? String == "USER_ERROR")

        let deployed = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "d1"])
        #expect(deployed.status == 201)
        let sandbox = try #require(deployed.json["id"] as? String)
        let stillRunning = try await rig.validate("sandbox", "staging")
        #expect(stillRunning.code == "PROMOTION_VERSION_INELIGIBLE", "a deployment in progress has not succeeded")
        try await rig.finish(sandbox)

        let validated = try await rig.validate("sandbox", "staging")
        #expect(validated.status == 200)
        #expect(validated.json["versionEligible"] as? Bool == true)
        #expect(validated.json["recipeId"] as? String == "default")
        #expect(validated.json["target_environment"] as? String == "staging")
        let policy = try #require(validated.json["policy"] as? [String: Any])
        #expect(policy["deployments_used"] as? Int == 0)

        let toStaging = try await rig.promote("sandbox", "staging", key: "p1")
        #expect(toStaging.status == 201)
        #expect(toStaging.headers["idempotency-replayed"] == "false")
        #expect(toStaging.json["deploymentKind"] as? String == "PROMOTE")
        #expect(toStaging.json["environment"] as? String == "staging")
        #expect(toStaging.json["sourceEnvironment"] as? String == "sandbox")
        #expect(toStaging.json["version"] as? String == "1.0.0")
        let staging = try #require(toStaging.json["id"] as? String)
        let replay = try await rig.promote("sandbox", "staging", key: "p1")
        #expect(replay.status == 201)
        #expect(replay.headers["idempotency-replayed"] == "true")
        #expect(replay.json["id"] as? String == staging)
        let conflict = try await rig.promote("sandbox", "staging", key: "p1", summary: "other")
        #expect(conflict.status == 409)
        #expect(conflict.code == "IDEMPOTENCY_CONFLICT")
        let busy = try await rig.promote("sandbox", "staging", key: "p2", summary: "again")
        #expect(busy.status == 409)
        #expect(busy.code == "CONCURRENCY_LIMIT_REACHED", "the promotion holds staging's one slot")
        let busyDeploy = try await server.send(
            "POST", "/v1/deployments", token: owner,
            json: #"{"service":"demo-service","environment":"staging","version":"1.0.0","changeSummary":"direct"}"#, headers: ["Idempotency-Key": "d2"])
        #expect(busyDeploy.code == "CONCURRENCY_LIMIT_REACHED", "and a deploy meets the same slot")

        let early = try await rig.validate("staging", "production")
        #expect(early.code == "PROMOTION_VERSION_INELIGIBLE")
        try await rig.finish(staging)
        let toProduction = try await rig.promote("staging", "production", key: "p3")
        #expect(toProduction.status == 201)
        #expect(toProduction.json["environment"] as? String == "production")
        try await rig.finish(try #require(toProduction.json["id"] as? String))
        let beyond = try await rig.validate("production", "sandbox")
        #expect(beyond.code == "PROMOTION_PATH_NOT_ALLOWED", "production is the last environment")

        // Each promotion spent one unit of its target's daily deploy quota, once.
        let summary = try await server.send("POST", "/v1/policy/summary", token: owner, json: #"{"service":"demo-service","environment":"staging"}"#)
        #expect(summary.json["deployments_used"] as? Int == 1)
        #expect(try EngineFaultTests.triggers(rig.emulator, for: staging) == 1, "one trigger for the promotion, replays included")

        let submitted = try server.store.auditEntries().filter { $0.eventType == "PROMOTION_SUBMIT" }
        #expect(submitted.map(\.environment) == ["staging", "production"])
        #expect(submitted.first?.summary == "Promotion submitted for demo-service sandbox->staging")
        let timeline = try await server.send("GET", "/v1/deployments/\(staging)/timeline", token: owner).array ?? []
        #expect(timeline.first?["detail"] as? String == "Promotion of 1.0.0 from sandbox")
        let list = try await server.send("GET", "/v1/deployments?service=demo-service&environment=staging", token: owner)
        #expect(list.array?.first?["deploymentKind"] as? String == "PROMOTE")
    }

    @Test func promotionsAreRefusedOffThePathAndOutsideTheirGuardrails() async throws {
        let rig = try await Rig()
        let server = rig.server
        let owner = try await server.owner
        let deployed = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "d1"])
        try await rig.finish(try #require(deployed.json["id"] as? String))

        let jump = try await rig.validate("sandbox", "production")
        #expect(jump.status == 400)
        #expect(jump.code == "PROMOTION_PATH_NOT_ALLOWED")
        #expect(try await rig.validate("staging", "sandbox").code == "PROMOTION_PATH_NOT_ALLOWED", "backwards")
        #expect(try await rig.validate("sandbox", "sandbox").code == "PROMOTION_TARGET_REQUIRED")
        let unknown = try await rig.validate("sandbox", "moon")
        #expect(unknown.status == 403)
        #expect(unknown.code == "ENVIRONMENT_NOT_ALLOWED")
        let observer = try await rig.validate("sandbox", "staging", token: try await server.observer)
        #expect(observer.code == "ROLE_FORBIDDEN")
        let stranger = try await rig.promote("sandbox", "staging", key: "s1", token: try await server.stranger)
        #expect(stranger.status == 403)
        #expect(stranger.code == "DELIVERY_GROUP_SCOPE_REQUIRED", "owners promote only their groups' services (DECISIONS D7)")
        let missingKey = try await rig.promote("sandbox", "staging", key: nil)
        #expect(missingKey.code == "IDMP_KEY_REQUIRED")
        let malformed = try await server.send("POST", "/v1/promotions", token: owner, json: #"{"service":"demo-service"}"#, headers: ["Idempotency-Key": "m"])
        #expect(malformed.status == 400)
        #expect(malformed.code == "INVALID_REQUEST")

        let admin = try await server.admin
        #expect(try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": true}"#).status == 200)
        #expect(try await rig.validate("sandbox", "staging").code == "MUTATIONS_DISABLED")
        #expect(try await rig.promote("sandbox", "staging", key: "k1").code == "MUTATIONS_DISABLED")
        #expect(try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": false}"#).status == 200)

        // The target's daily deploy quota bounds promotions: one unit, spent by the first.
        let binding = try await server.send(
            "PUT", "/v1/admin/delivery-groups/default/environments/staging", token: admin, json: #"{"is_enabled": true, "order_index": 1}"#)
        #expect(binding.status == 200)
        let group = try #require(try await server.send("GET", "/v1/delivery-groups/default", token: admin).json as [String: Any]?)
        var body = group.filter { ["id", "name", "description", "owner", "services", "allowed_environments", "allowed_recipes"].contains($0.key) }
        body["guardrails"] = ["max_concurrent_deployments": 2, "daily_deploy_quota": 1, "daily_rollback_quota": 10]
        let updated = try await server.send(
            "PUT", "/v1/delivery-groups/default", token: admin, body: try JSONSerialization.data(withJSONObject: body))
        #expect(updated.status == 200)
        #expect(try await rig.promote("sandbox", "staging", key: "q1").status == 201)
        let exhausted = try await rig.promote("sandbox", "staging", key: "q2", summary: "second")
        #expect(exhausted.status == 429)
        #expect(exhausted.code == "QUOTA_EXCEEDED")
        #expect(try await rig.validate("sandbox", "staging").code == "QUOTA_EXCEEDED")

        let denied = try server.store.auditEntries().filter { $0.eventType == "PROMOTION_DENIED" }
        let codes: [String] = denied.compactMap { entry in
            guard let open = entry.summary.firstIndex(of: "("), let close = entry.summary.firstIndex(of: ")") else { return nil }
            return String(entry.summary[entry.summary.index(after: open)..<close])
        }
        #expect(Set(codes) == ["DELIVERY_GROUP_SCOPE_REQUIRED", "IDMP_KEY_REQUIRED", "MUTATIONS_DISABLED", "QUOTA_EXCEEDED"])
        #expect(denied.allSatisfy { $0.environment == "staging" && $0.outcome.rawValue == "DENIED" })
    }
}

func promotionBody(_ from: String, _ to: String, summary: String = "promote") -> String {
    #"{"service":"demo-service","source_environment":"\#(from)","target_environment":"\#(to)","version":"1.0.0","changeSummary":"\#(summary)"}"#
}

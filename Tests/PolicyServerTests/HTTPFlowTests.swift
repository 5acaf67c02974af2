import Engine
import Foundation
import GovernanceStore
import Rules
import TestSupport
import Testing

/// The governance flows over real HTTP on loopback: validate → register → deploy → replay →
/// conflict → concurrency → read scoping → 405 → engine end → rollback; and the kill switch.
@Suite(.serialized) struct HTTPFlowTests {
    @Test func deploymentLifecycle() async throws {
        let emulator = try EmulatorProcess(["--run-seconds", "600"])
        let server = try await RunningServer(gate: emulator.baseURL)
        let owner = try await server.owner

        let unregistered = try await server.send("POST", "/v1/deployments/validate", token: owner, json: deployBody())
        #expect(unregistered.status == 400)
        #expect(unregistered.code == "VERSION_NOT_FOUND")
        #expect(unregistered.headers["x-decision-reason"] == "VERSION_NOT_FOUND")
        #expect(unregistered.json["request_id"] as? String == unregistered.headers["x-request-id"])

        let ci = try await server.ci
        for version in ["1.0.0", "1.0.1"] {
            let registered = try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody(version), headers: ["Idempotency-Key": "b-\(version)"])
            #expect(registered.status == 201)
            #expect(registered.headers["idempotency-replayed"] == "false")
            #expect(registered.json["ci_publisher"] as? String == "demo-ci")
        }
        let registerReplay = try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": "b-1.0.0"])
        #expect(registerReplay.headers["idempotency-replayed"] == "true")
        let registerConflict = try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.0", sha: "def"), headers: ["Idempotency-Key": "b-1.0.0"])
        #expect(registerConflict.status == 409)
        #expect(registerConflict.code == "BUILD_REGISTRATION_CONFLICT")

        let validated = try await server.send("POST", "/v1/deployments/validate", token: owner, json: deployBody())
        #expect(validated.status == 200)
        #expect(validated.json["versionRegistered"] as? Bool == true)
        let policy = try #require(validated.json["policy"] as? [String: Any])
        for field in ["max_concurrent_deployments", "current_concurrent_deployments", "daily_deploy_quota", "deployments_used", "deployments_remaining", "daily_quota_build_register"] {
            #expect(policy[field] is Int, "\(field)")
        }

        let missingKey = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody())
        #expect(missingKey.code == "IDMP_KEY_REQUIRED")
        let emptyKey = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": ""])
        #expect(emptyKey.code == "IDMP_KEY_REQUIRED")

        let deployed = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "d1"])
        #expect(deployed.status == 201)
        #expect(deployed.headers["idempotency-replayed"] == "false")
        #expect(deployed.json["state"] as? String == "IN_PROGRESS")
        #expect(deployed.json["engineExecutionId"] == nil, "owners do not see engine ids")
        let first = try #require(deployed.json["id"] as? String)

        let replay = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "d1"])
        #expect(replay.status == 201)
        #expect(replay.headers["idempotency-replayed"] == "true")
        #expect(replay.json["id"] as? String == first)
        let conflict = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(summary: "other"), headers: ["Idempotency-Key": "d1"])
        #expect(conflict.status == 409)
        #expect(conflict.code == "IDEMPOTENCY_CONFLICT")
        let busy = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(summary: "second"), headers: ["Idempotency-Key": "d2"])
        #expect(busy.status == 409)
        #expect(busy.code == "CONCURRENCY_LIMIT_REACHED")

        #expect(try await server.send("GET", "/v1/deployments/\(first)", token: owner).status == 200)
        #expect(try await server.send("GET", "/v1/deployments/\(first)", token: try await server.observer).status == 200)
        let scoped = try await server.send("GET", "/v1/deployments/\(first)", token: try await server.stranger)
        #expect(scoped.status == 403)
        #expect(scoped.code == "DELIVERY_GROUP_SCOPE_REQUIRED")
        let asAdmin = try await server.send("GET", "/v1/deployments/\(first)", token: try await server.admin)
        #expect(asAdmin.json["engineExecutionId"] is String, "admins see the execution")
        for method in ["PATCH", "PUT", "POST", "DELETE"] {
            let refused = try await server.send(method, "/v1/deployments/\(first)", token: owner, json: "{}")
            #expect(refused.status == 405, "\(method)")
            #expect(refused.json["detail"] as? String == "Method Not Allowed")
        }
        // The paths answered without a token refuse other methods with the same body.
        for path in ["/v1/health", "/livez", "/readyz", "/metrics", "/v1/openapi.yaml"] {
            let refused = try await server.send("POST", path, json: "{}")
            #expect(refused.status == 405, "\(path)")
            #expect(refused.code == "METHOD_NOT_ALLOWED", "\(path)")
            #expect(refused.json["detail"] as? String == "Method Not Allowed", "\(path)")
        }

        // The engine ends the first deployment; the second version goes out and ends too.
        let poller = ExecutionPoller(store: server.store, gate: GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL)))
        let executionId = try #require(asAdmin.json["engineExecutionId"] as? String)
        try emulator.control("/_emulator/executions/\(executionId)", #"{"status": "SUCCEEDED"}"#)
        _ = try await poller.pollOnce(now: currentTime(), requestId: "t")
        let second = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody("1.0.1"), headers: ["Idempotency-Key": "d3"])
        #expect(second.status == 201)
        let secondId = try #require(second.json["id"] as? String)
        let secondExecution = try #require(try await server.send("GET", "/v1/deployments/\(secondId)", token: try await server.admin).json["engineExecutionId"] as? String)
        try emulator.control("/_emulator/executions/\(secondExecution)", #"{"status": "SUCCEEDED"}"#)
        _ = try await poller.pollOnce(now: currentTime(), requestId: "t")

        let noKey = try await server.send("POST", "/v1/deployments/\(secondId)/rollback", token: owner)
        #expect(noKey.code == "IDMP_KEY_REQUIRED")
        let rollback = try await server.send("POST", "/v1/deployments/\(secondId)/rollback", token: owner, headers: ["Idempotency-Key": "r1"])
        #expect(rollback.status == 201)
        #expect(rollback.json["deploymentKind"] as? String == "ROLLBACK")
        #expect(rollback.json["rollbackOf"] as? String == secondId)
        #expect(rollback.json["version"] as? String == "1.0.0")
        #expect(rollback.headers["idempotency-replayed"] == nil, "rollback reports no replay header")
        let timeline = try #require(try JSONSerialization.jsonObject(with: try await server.send("GET", "/v1/deployments/\(first)/timeline", token: owner).body) as? [[String: Any]])
        #expect(timeline.map { $0["key"] as? String } == ["submitted", "validated", "succeeded"])
        let failures = try await server.send("GET", "/v1/deployments/\(first)/failures", token: owner)
        #expect(failures.status == 200)
        #expect(String(decoding: failures.body, as: UTF8.self) == "[]")
        let list = try await server.send("GET", "/v1/deployments?service=demo-service", token: owner)
        let records = try #require(try JSONSerialization.jsonObject(with: list.body) as? [[String: Any]])
        #expect(records.count == 3)
        #expect(records.first?["deploymentKind"] as? String == "ROLLBACK", "newest first")
    }

    @Test func killSwitchCoversMutationsAndKeepsTheToggleUsable() async throws {
        let server = try await RunningServer()
        let admin = try await server.admin
        let on = try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": true, "reason": "freeze"}"#)
        #expect(on.status == 200)
        #expect(on.json["mutations_disabled"] as? Bool == true)
        let deploy = try await server.send("POST", "/v1/deployments", token: try await server.owner, json: deployBody(), headers: ["Idempotency-Key": "k"])
        #expect(deploy.status == 503)
        #expect(deploy.code == "MUTATIONS_DISABLED")
        let register = try await server.send("POST", "/v1/builds/register", token: try await server.ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": "b"])
        #expect(register.code == "MUTATIONS_DISABLED")
        let publishers = try await server.send("PUT", "/v1/admin/system/ci-publishers", token: admin, json: #"{"publishers": []}"#, headers: ["Idempotency-Key": "p"])
        #expect(publishers.code == "MUTATIONS_DISABLED")
        let off = try await server.send("PATCH", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": false}"#)
        #expect(off.status == 200)
        let validate = try await server.send("POST", "/v1/deployments/validate", token: try await server.owner, json: deployBody())
        #expect(validate.code != "MUTATIONS_DISABLED")
        let audited = try server.store.auditEntries().filter { $0.eventType == "ADMIN_CONFIG_CHANGE" }
        #expect(audited.count == 2)
        #expect(audited.first?.summary.contains("\"reason\":\"freeze\"") == true)
    }
}

import Engine
import Foundation
import GovernanceStore
import Rules
import TestSupport
import Testing

/// The Spinnaker webhook decisions over real HTTP, with the Gate emulator standing in for
/// Spinnaker: the exact JSON the documented stage sends (docs/integrations/spinnaker), check,
/// admit, a retried stage, denial codes Spinnaker will not retry, and the slot released when the
/// execution ends.
@Suite(.serialized) struct SpinnakerWebhookTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/integrations/spinnaker")

    /// The documented payload with its SpEL expressions evaluated as Spinnaker would for
    /// `execution`: each `${…}` replaced by its value.
    static func payload(_ values: [String: String]) throws -> String {
        var text = try String(contentsOf: docs.appendingPathComponent("webhook-payload.json"), encoding: .utf8)
        for (expression, value) in values { text = text.replacingOccurrences(of: "${\(expression)}", with: value) }
        #expect(!text.contains("${"), "every expression of the documented payload is evaluated")
        return text
    }

    static func values(execution: String, user: String = "owner@example.com", pipeline: String = "demo-deploy", version: String = "1.0.0", dxcpDeploymentId: String = "") -> [String: String] {
        [
            "execution.application": "demo-app", "execution.name": pipeline, "execution.id": execution, "trigger.user": user,
            "parameters.service": "demo-service", "parameters.environment": "sandbox", "parameters.version": version,
            "parameters.changeSummary ?: ''": "started in Spinnaker", "parameters.dxcpDeploymentId ?: ''": dxcpDeploymentId,
        ]
    }

    /// A pipeline started in Spinnaker directly: the emulator creates the execution.
    static func startInSpinnaker(_ emulator: EmulatorProcess, pipeline: String = "demo-deploy") throws -> String {
        let reply = try emulator.control("/pipelines/demo-app/\(pipeline)", #"{"parameters":{"service":"demo-service","version":"1.0.0"}}"#)
        let ref = try #require((try JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any])?["ref"] as? String)
        return String(ref.split(separator: "/").last ?? "")
    }

    func ask(_ server: RunningServer, _ mode: String, _ values: [String: String], token: String? = RunningServer.webhookToken) async throws -> RunningServer.Reply {
        var headers = ["Content-Type": "application/json"]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        return try await server.send("POST", "/v1/spinnaker/webhook/\(mode)", body: Data(try Self.payload(values).utf8), headers: headers)
    }

    @Test func theDocumentedStageSendsTheDocumentedPayload() throws {
        let stage = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.docs.appendingPathComponent("pipeline-stage.json"))) as? [String: Any])
        let payload = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.docs.appendingPathComponent("webhook-payload.json"))) as? [String: String])
        #expect(stage["payload"] as? [String: String] == payload)
        #expect(stage["type"] as? String == "webhook")
        let failFast = Set(stage["failFastStatusCodes"] as? [Int] ?? [])
        // Every status a denial can have is one the stage fails on at once.
        #expect(failFast.isSuperset(of: [400, 401, 403, 404, 409, 413]))
        #expect(!failFast.contains(429) && !failFast.contains(503))
    }

    @Test func checkAdmitReplayAndRelease() async throws {
        let emulator = try EmulatorProcess(["--run-seconds", "600"])
        let server = try await RunningServer(gate: emulator.baseURL)
        let ci = try await server.ci
        #expect(try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": "b1"]).status == 201)
        let first = try Self.startInSpinnaker(emulator)

        // check: allowed, nothing changes.
        let check = try await ask(server, "check", Self.values(execution: first))
        #expect(check.status == 200, "\(String(decoding: check.body, as: UTF8.self))")
        #expect(check.json["decision"] as? String == "ALLOW")
        #expect(check.json["decision_id"] as? String == check.headers["x-decision-id"])
        #expect(try server.store.deployments().isEmpty)

        // admit: a deployment bound to the execution, holding the slot.
        let admit = try await ask(server, "admit", Self.values(execution: first))
        #expect(admit.status == 200)
        #expect(admit.headers["idempotency-replayed"] == "false")
        let id = try #require(admit.json["deployment_id"] as? String)
        let record = try #require(try server.store.deployment(id: id))
        #expect(record.engineExecutionId == first && record.state == .inProgress && record.actor.actorId == "owner@example.com")
        #expect(try emulator.calls().filter { ($0["method"] as? String) == "POST" }.count == 1, "admission triggers nothing: the pipeline already runs")

        // A retried stage replays: same deployment, nothing spent again.
        let retry = try await ask(server, "admit", Self.values(execution: first))
        #expect(retry.status == 200 && retry.headers["idempotency-replayed"] == "true")
        #expect(retry.json["deployment_id"] as? String == id)
        #expect(try server.store.deployments().count == 1)

        // A second execution meets the concurrency limit: 409, which Spinnaker does not retry.
        let second = try Self.startInSpinnaker(emulator)
        let busy = try await ask(server, "admit", Self.values(execution: second))
        #expect(busy.status == 409)
        #expect(busy.json["code"] as? String == "CONCURRENCY_LIMIT_REACHED")
        #expect(busy.json["decision"] as? String == "DENY")
        #expect(busy.headers["x-decision-reason"] == "CONCURRENCY_LIMIT_REACHED")

        // The first execution ends in Spinnaker; the poller records it and frees the slot.
        try emulator.control("/_emulator/executions/\(first)", #"{"status":"SUCCEEDED"}"#)
        let poller = ExecutionPoller(store: server.store, gate: GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL)))
        let report = try await poller.pollOnce(now: currentTime(), requestId: "poll-1")
        #expect(report.changed[id] == .succeeded)
        #expect(try server.store.deployment(id: id)?.state == .succeeded)
        let now = try await ask(server, "admit", Self.values(execution: second))
        #expect(now.status == 200, "the slot is free again: \(now.json["code"] ?? "")")
        let audited = try server.store.auditEntries().map(\.eventType)
        #expect(audited.filter { $0 == "SPINNAKER_ADMIT" }.count == 2)
        #expect(audited.contains("SPINNAKER_ADMIT_DENIED") && audited.contains("DEPLOYMENT_SUCCEEDED"))
    }

    @Test func denialsAreFourHundredsSpinnakerFailsFastOn() async throws {
        try await startWithinOneMinute()
        let emulator = try EmulatorProcess(["--run-seconds", "600"])
        let server = try await RunningServer(gate: emulator.baseURL)
        let (ci, admin) = (try await server.ci, try await server.admin)
        _ = try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": "b1"])
        var statuses: Set<Int> = []
        func expectDenial(_ reply: RunningServer.Reply, _ status: Int, _ code: String, _ label: String) {
            statuses.insert(reply.status)
            #expect(reply.status == status, "\(label): \(reply.status)")
            #expect(reply.json["code"] as? String == code, "\(label): \(reply.json["code"] ?? "none")")
            #expect(reply.json["decision_id"] as? String != nil || status == 401 || status == 400, "\(label)")
        }
        // The webhook decisions are the webhook door's only: a user's token on a bent path that
        // routes to them reaches no endpoint.
        let owner = try await server.owner
        for path in ["/v1/spinnaker//webhook/admit", "/v1//spinnaker/webhook/admit", "/v1/spinnaker//webhook/check"] {
            let bent = try await server.send("POST", path, token: owner, body: Data(try Self.payload(Self.values(execution: "e1")).utf8))
            #expect(bent.status == 404, "\(path): \(bent.status) \(bent.code ?? "")")
        }
        #expect(try server.store.deployments().isEmpty, "nothing was admitted")
        expectDenial(try await ask(server, "admit", Self.values(execution: "e1"), token: nil), 401, "UNAUTHORIZED", "no token")
        expectDenial(try await ask(server, "admit", Self.values(execution: "e1"), token: "wrong"), 401, "UNAUTHORIZED", "wrong token")
        expectDenial(try await ask(server, "check", Self.values(execution: "e1", user: "stranger@example.com")), 403, "DELIVERY_GROUP_SCOPE_REQUIRED", "not an owner")
        expectDenial(try await ask(server, "admit", Self.values(execution: "e1", pipeline: "demo-deploy-canary")), 403, "PIPELINE_NOT_ROUTED", "another pipeline")
        expectDenial(try await ask(server, "admit", Self.values(execution: "e1", version: "9.9.9")), 400, "VERSION_NOT_FOUND", "unregistered version")
        expectDenial(try await ask(server, "admit", Self.values(execution: "e1", dxcpDeploymentId: "no-such-deployment")), 404, "NOT_FOUND", "unknown DXCP deployment")
        let bad = try await server.send("POST", "/v1/spinnaker/webhook/admit", body: Data(#"{"application": 1}"#.utf8),
            headers: ["Authorization": "Bearer \(RunningServer.webhookToken)"])
        expectDenial(bad, 400, "INVALID_REQUEST", "malformed body")

        // The kill switch (a 503 on the API) and rate limits and quotas (429) are 403 here.
        #expect(try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": true}"#).status == 200)
        expectDenial(try await ask(server, "admit", Self.values(execution: "e1")), 403, "MUTATIONS_DISABLED", "kill switch")
        expectDenial(try await ask(server, "check", Self.values(execution: "e1")), 403, "MUTATIONS_DISABLED", "kill switch, check")
        #expect(try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": false}"#).status == 200)
        #expect(try await server.send("PUT", "/v1/admin/system/rate-limits", token: admin,
            json: #"{"read_rpm": 2, "mutate_rpm": 1, "daily_quota_build_register": 50}"#).status == 200)
        // The owner's read window holds the kill-switch check above: one more check fits.
        #expect(try await ask(server, "check", Self.values(execution: "e2")).status == 200)
        expectDenial(try await ask(server, "check", Self.values(execution: "e2")), 403, "RATE_LIMITED", "read rate limit")
        #expect(statuses.isDisjoint(with: [429, 500, 502, 503, 504]), "no denial Spinnaker would retry: \(statuses.sorted())")
        #expect(try server.store.deployments().isEmpty, "no denial recorded anything")
    }

    /// A pipeline dxcp-policy triggered carries its deployment id: its first stage is allowed
    /// without a second admission (the deployment already holds the slot).
    @Test func aPipelineDXCPTriggeredPassesItsOwnStage() async throws {
        let emulator = try EmulatorProcess(["--run-seconds", "600"])
        let server = try await RunningServer(gate: emulator.baseURL)
        let (ci, owner) = (try await server.ci, try await server.owner)
        _ = try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": "b1"])
        let deployed = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "d1"])
        #expect(deployed.status == 201)
        let id = try #require(deployed.json["id"] as? String)
        // The execution is recorded just after the 201 (DECISIONS 52); an admission before that is
        // allowed too (the deployment is not yet bound to an execution).
        await server.dispatcher?.settle()
        let execution = try #require(try server.store.deployment(id: id)?.engineExecutionId)
        let trigger = try #require(try emulator.calls().first { ($0["method"] as? String) == "POST" })
        #expect((trigger["body"] as? String)?.contains(id) == true, "the trigger carries dxcpDeploymentId")
        let stage = try await ask(server, "admit", Self.values(execution: execution, dxcpDeploymentId: id))
        #expect(stage.status == 200, "\(stage.json["code"] ?? "")")
        #expect(stage.json["deployment_id"] as? String == id)
        #expect(try server.store.deployments().count == 1, "nothing admitted twice")
    }
}

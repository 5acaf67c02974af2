import Engine
import Foundation
import GovernanceStore
import Rules
import TestSupport
import Testing

/// Every engine fault over real HTTP, as a client meets it (DECISIONS D6, D8): an ambiguous answer
/// holds the reservation — the key answers 409 until the reconciler confirms, another key meets the
/// held slot, Gate runs one execution, quota is spent once; an answer that proves nothing started
/// releases it all.
@Suite(.serialized) struct EngineFaultTests {
    /// A server whose Gate calls time out after a second, with version 1.0.0 registered.
    static func start(_ emulator: EmulatorProcess) async throws -> RunningServer {
        // 5 s: on a test machine loaded by many servers at once, a trigger must still start
        // within one call timeout of its reservation (else it is, rightly, "not sent").
        let server = try await RunningServer(gate: emulator.baseURL, gateTimeoutMs: 5_000)
        let registered = try await server.send("POST", "/v1/builds/register", token: try await server.ci, json: registerBody("1.0.0"),
            headers: ["Idempotency-Key": "b-1"])
        #expect(registered.status == 201)
        return server
    }

    /// Executions Gate runs for a deployment id.
    static func executions(_ emulator: EmulatorProcess, for deploymentId: String? = nil) throws -> [[String: Any]] {
        let list = (try JSONSerialization.jsonObject(with: Data(try emulator.control("/applications/demo-app/pipelines", "GET").utf8)) as? [[String: Any]]) ?? []
        return list.filter { execution in
            deploymentId == nil
                || (((execution["trigger"] as? [String: Any])?["parameters"] as? [String: Any])?["dxcpDeploymentId"] as? String) == deploymentId
        }
    }

    /// Deploy quota spent today and yesterday (a test may cross midnight UTC).
    static func quotaUsed(_ server: RunningServer) throws -> Int {
        let today = currentTime().day
        return try [today - 1, today].reduce(0) { $0 + (try server.store.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: $1)) }
    }

    /// Triggers Gate received for a deployment id.
    static func triggers(_ emulator: EmulatorProcess, for deploymentId: String) throws -> Int {
        try emulator.calls().filter { call in
            guard call["method"] as? String == "POST", let body = call["body"] as? String,
                let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            else { return false }
            return (object["parameters"] as? [String: Any])?["dxcpDeploymentId"] as? String == deploymentId
        }.count
    }

    @Test(arguments: [
        (#"{"afterStart": "late", "delayMs": 6000, "times": 1}"#, 504, "ENGINE_TIMEOUT"),
        (#"{"afterStart": "status", "afterStatus": 502, "times": 1}"#, 502, "ENGINE_CALL_FAILED"),
        (#"{"afterStart": "close", "times": 1}"#, 503, "ENGINE_UNAVAILABLE"),
        (#"{"afterStart": "noExecutionId", "times": 1}"#, 502, "ENGINE_CALL_FAILED"),
        // Gate's 422: its own call to Orca failed after Orca stored the execution.
        (#"{"afterStart": "status", "afterStatus": 422, "times": 1}"#, 502, "ENGINE_CALL_FAILED"),
    ])
    func anAmbiguousAnswerHoldsTheReservationUntilConfirmed(_ fault: String, _ status: Int, _ code: String) async throws {
        let emulator = try EmulatorProcess(["--run-seconds", "600"])
        let server = try await Self.start(emulator)
        let owner = try await server.owner
        try emulator.control("/_emulator/faults", fault)

        let first = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "k1"])
        #expect(first.status == status)
        #expect(first.code == code)
        let details = try #require(first.json["details"] as? [String: Any])
        #expect(details["engine_outcome"] as? String == "UNCONFIRMED")
        let id = try #require(details["deployment_id"] as? String)
        #expect((details["engine_outcome_detail"] as? String)?.contains("same Idempotency-Key") == true)

        // Ten retries one after another, ten at once: the key is bound to this deployment.
        for _ in 0..<10 {
            let retry = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "k1"])
            #expect(retry.status == 409)
            #expect(retry.code == "IDEMPOTENCY_CONFLICT")
        }
        let port = server.port
        let concurrent = try await withThrowingTaskGroup(of: RunningServer.Reply.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    try await exchange("POST", port: port, "/v1/deployments", token: owner, body: Data(deployBody().utf8), headers: ["Idempotency-Key": "k1"])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(concurrent.allSatisfy { $0.status == 409 && $0.code == "IDEMPOTENCY_CONFLICT" })
        let other = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(summary: "other"), headers: ["Idempotency-Key": "k2"])
        #expect(other.status == 409)
        #expect(other.code == "CONCURRENCY_LIMIT_REACHED", "the held slot")
        #expect(try Self.executions(emulator, for: id).count == 1, "Gate runs exactly one execution")
        #expect(try Self.triggers(emulator, for: id) == 1, "and was asked once")
        #expect(try Self.executions(emulator).count == 1)
        #expect(try Self.quotaUsed(server) == 1)

        // The reconciler, once the grace period has passed, finds the execution.
        let reconciler = Reconciler(store: server.store, gate: GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 1_000)),
            dispatcher: server.dispatcher)
        try await Task.sleep(for: .milliseconds(2_600))  // the late answer, if any, has come and gone
        let report = try await reconciler.reconcileOnce(now: currentTime(), requestId: "t")
        #expect(report.recorded == [id])
        let executionId = try #require(Self.executions(emulator, for: id).first?["id"] as? String)
        let asAdmin = try await server.send("GET", "/v1/deployments/\(id)", token: try await server.admin)
        #expect(asAdmin.json["engineExecutionId"] as? String == executionId)
        let replay = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "k1"])
        #expect(replay.status == 201)
        #expect(replay.headers["idempotency-replayed"] == "true")
        #expect(replay.json["id"] as? String == id)

        // The slot follows the execution: it ends, the slot frees, the next deploy goes.
        let stillHeld = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(summary: "other"), headers: ["Idempotency-Key": "k2"])
        #expect(stillHeld.code == "CONCURRENCY_LIMIT_REACHED")
        try emulator.control("/_emulator/executions/\(executionId)", #"{"status": "SUCCEEDED"}"#)
        _ = try await ExecutionPoller(store: server.store, gate: GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL)))
            .pollOnce(now: currentTime(), requestId: "t")
        let next = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(summary: "other"), headers: ["Idempotency-Key": "k2"])
        #expect(next.status == 201)
        await server.dispatcher?.settle()
        #expect(try Self.executions(emulator, for: id).count == 1)
        #expect(try Self.triggers(emulator, for: id) == 1)
        #expect(try Self.executions(emulator).count == 2)
        #expect(try Self.quotaUsed(server) == 2, "one unit per execution started")
    }

    @Test func whenGateHasNoExecutionTheReconcilerReleases() async throws {
        let emulator = try EmulatorProcess(["--run-seconds", "600"])
        let server = try await Self.start(emulator)
        let owner = try await server.owner
        // A proxy in front of Gate answers 502 without passing the trigger on.
        try emulator.control("/_emulator/faults", #"{"path": "/pipelines/", "status": 502, "times": 1}"#)
        let first = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "k1"])
        #expect(first.status == 502)
        let id = try #require((first.json["details"] as? [String: Any])?["deployment_id"] as? String)
        #expect(try Self.quotaUsed(server) == 1, "held while unconfirmed")
        let reconciler = Reconciler(store: server.store, gate: GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 1_000)),
            dispatcher: server.dispatcher, settle: .zero)
        let look = try await reconciler.reconcileOnce(now: currentTime().adding(seconds: 3), requestId: "t")
        #expect(look.confirming == [id])
        let report = try await reconciler.reconcileOnce(now: currentTime().adding(seconds: 4), requestId: "t")
        #expect(report.released == [id])
        #expect(try Self.quotaUsed(server) == 0, "refunded")
        #expect(try server.store.deployment(id: id) == nil)
        let retry = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "k1"])
        #expect(retry.status == 201, "the key is free again")
        #expect(retry.headers["idempotency-replayed"] == "false")
        await server.dispatcher?.settle()
        #expect(try Self.executions(emulator).count == 1)
    }

    @Test(arguments: [
        (#"{"status": 400, "times": 1}"#, 502, "ENGINE_CALL_FAILED"),
        (#"{"status": 403, "times": 1}"#, 502, "ENGINE_UNAUTHORIZED"),
    ])
    func aRefusalReleasesEverything(_ fault: String, _ status: Int, _ code: String) async throws {
        let emulator = try EmulatorProcess(["--run-seconds", "600"])
        let server = try await Self.start(emulator)
        let owner = try await server.owner
        try emulator.control("/_emulator/faults", fault)
        let refused = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "k1"])
        #expect(refused.status == status)
        #expect(refused.code == code)
        #expect((refused.json["details"] as? [String: Any])?["engine_outcome"] as? String == "NOT_STARTED")
        #expect(try Self.quotaUsed(server) == 0)
        #expect(try server.store.pendingDispatches().isEmpty)
        #expect(try server.store.deployments().isEmpty)
        let retry = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "k1"])
        #expect(retry.status == 201, "the key is free")
        await server.dispatcher?.settle()
        #expect(try Self.quotaUsed(server) == 1)
        #expect(try Self.executions(emulator).count == 1)
    }

    @Test func nothingSentReleasesEverything() async throws {
        let server = try await RunningServer(gate: "http://127.0.0.1:9", gateTimeoutMs: 1_000)
        let registered = try await server.send("POST", "/v1/builds/register", token: try await server.ci, json: registerBody("1.0.0"),
            headers: ["Idempotency-Key": "b-1"])
        #expect(registered.status == 201)
        let owner = try await server.owner
        for _ in 0..<2 {
            let refused = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "k1"])
            #expect(refused.status == 503)
            #expect(refused.code == "ENGINE_UNAVAILABLE")
            #expect((refused.json["details"] as? [String: Any])?["engine_outcome"] as? String == "NOT_STARTED")
        }
        #expect(try Self.quotaUsed(server) == 0)
        #expect(try server.store.pendingDispatches().isEmpty)
        #expect(try server.store.activeDeployments(group: "default", environment: "sandbox").isEmpty)
    }
}

import TestSupport
import Engine
import Foundation
import GovernanceStore
import Rules
import Testing

/// Random interleavings of deploys, retries with the same key, engine faults of every class,
/// processes killed between reservation and trigger and between trigger and record, reconciler
/// passes and executions ending — against a real store, a real Gate emulator and real `drive`
/// processes. After every step: at most one execution per deployment id and per key, never two
/// executions of the group+environment running at once (limit 1); at the end, with every
/// reservation resolved, quota units spent = executions started (DECISIONS D6, D8, D11).
///
/// `DXCP_PROPERTY_SEED` and `DXCP_PROPERTY_STEPS` replay or lengthen a run.
@Suite(.serialized) struct DispatchPropertyTests {
    enum Step: CustomStringConvertible {
        case deploy(key: Int, fault: String?)
        case deployUnreachable(key: Int)
        case killedDrive(tag: Int, after: String)
        case driveRetry(tag: Int)
        case reconcile
        case end(status: String)

        var description: String {
            switch self {
            case .deploy(let key, let fault): "deploy k\(key)\(fault.map { " with fault \($0)" } ?? "")"
            case .deployUnreachable(let key): "deploy k\(key) to an unreachable Gate"
            case .killedDrive(let tag, let after): "drive t\(tag) killed after the \(after)"
            case .driveRetry(let tag): "drive t\(tag) retried"
            case .reconcile: "reconcile"
            case .end(let status): "end the running execution \(status)"
            }
        }
    }

    static let faults = [
        #"{"afterStart": "late", "delayMs": 700, "times": 1}"#, #"{"afterStart": "status", "afterStatus": 502, "times": 1}"#,
        #"{"afterStart": "close", "times": 1}"#, #"{"afterStart": "noExecutionId", "times": 1}"#,
        #"{"status": 502, "times": 1}"#, #"{"status": 400, "times": 1}"#, #"{"status": 503, "times": 1}"#,
    ]

    static func plan(seed: UInt64, steps: Int) -> [Step] {
        var random = SplitMix64(seed: seed)
        var plan: [Step] = []
        var drives = 0
        for _ in 0..<steps {
            switch random.below(100) {
            case 0..<30: plan.append(.deploy(key: random.below(6), fault: nil))
            case 30..<50: plan.append(.deploy(key: random.below(6), fault: random.pick(faults)))
            case 50..<54: plan.append(.deployUnreachable(key: random.below(6)))
            case 54..<62:
                drives += 1
                plan.append(.killedDrive(tag: drives, after: random.chance(50) ? "reservation" : "trigger"))
            case 62..<67 where drives > 0: plan.append(.driveRetry(tag: 1 + random.below(drives)))
            case 67..<82: plan.append(.reconcile)
            default: plan.append(.end(status: random.pick(["SUCCEEDED", "TERMINAL", "CANCELED"])))
            }
        }
        return plan
    }

    struct Execution {
        var id: String
        var deploymentId: String?
        var status: String
    }

    static func executions(_ emulator: EmulatorProcess) throws -> [Execution] {
        let text = try emulator.control("/applications/demo-app/pipelines", "GET")
        let list = (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
        return list.map {
            Execution(
                id: $0["id"] as? String ?? "", deploymentId: (($0["trigger"] as? [String: Any])?["parameters"] as? [String: Any])?["dxcpDeploymentId"] as? String,
                status: $0["status"] as? String ?? "")
        }
    }

    @Test func exactlyOnceThroughRandomFaultsAndKills() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["DXCP_PROPERTY_SEED"].flatMap { UInt64($0) } ?? 20_261_206
        let steps = environment["DXCP_PROPERTY_STEPS"].flatMap { Int($0) } ?? 200
        let plan = Self.plan(seed: seed, steps: steps)
        print("dispatch property run: seed \(seed), \(plan.count) steps")

        let fixture = try await DispatchTests.Fixture(dailyDeployQuota: 100_000)
        let emulator = try EmulatorProcess(["--run-seconds", "3600"])
        let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 400))
        let unreachable = GateClient(configuration: GateConfiguration(baseURL: "http://127.0.0.1:9", requestTimeoutMs: 400))
        let dispatcher = Dispatcher(store: fixture.store, gate: gate, clock: wallClock)
        let lost = Dispatcher(store: fixture.store, gate: unreachable, clock: wallClock)
        // Released as soon as two looks agree: the run is about interleavings, not Gate's latency.
        let reconciler = Reconciler(store: fixture.store, gate: gate, dispatcher: dispatcher, settle: .zero)
        let poller = ExecutionPoller(store: fixture.store, gate: gate)
        // Which request (actor and key) each deployment id was reserved for.
        var requestOf: [String: String] = [:]
        var done: [String] = []
        var reconciles = 0
        var outcomes: [String: Int] = [:]

        func check(_ step: Step) throws {
            let executions = try Self.executions(emulator)
            let trail = "seed \(seed), after: \(done.joined(separator: " → "))"
            var perDeployment: [String: Int] = [:]
            var perRequest: [String: Int] = [:]
            for execution in executions {
                let id = try #require(execution.deploymentId, "every execution carries its deployment id")
                perDeployment[id, default: 0] += 1
                perRequest[requestOf[id] ?? "unknown \(id)", default: 0] += 1
            }
            #expect(perDeployment.values.allSatisfy { $0 == 1 }, "one execution per deployment id; \(trail)")
            var triggers: [String: Int] = [:]
            for call in try emulator.calls() where call["method"] as? String == "POST" {
                let body = (try? JSONSerialization.jsonObject(with: Data((call["body"] as? String ?? "").utf8))) as? [String: Any]
                if let id = (body?["parameters"] as? [String: Any])?["dxcpDeploymentId"] as? String { triggers[id, default: 0] += 1 }
            }
            #expect(triggers.values.allSatisfy { $0 == 1 }, "Gate asked once per deployment id; \(trail)")
            #expect(perRequest.values.allSatisfy { $0 == 1 }, "one execution per key; \(trail)")
            #expect(executions.filter { $0.status == "RUNNING" }.count <= 1, "no two executions of default/sandbox at once; \(trail)")
        }

        func deploy(_ key: Int, through engine: Dispatcher) async throws {
            let context = DecisionContext(now: wallClock(), decisionId: RecordID.make(at: wallClock()), newId: RecordID.make(at: wallClock()), idempotencyKey: "k\(key)")
            let decision = try await fixture.store.decide(
                .deploy(DeploymentIntent(service: "demo-service", environment: "sandbox", version: "1.0.0", changeSummary: "k\(key)")),
                by: DispatchTests.owner, context: context, requestId: nil)
            guard decision.allowed, !decision.replayed, case .deployment(let record)? = decision.result else { return }
            requestOf[record.id] = "owner-1/k\(key)"
            switch await engine.dispatch(record, requestId: "r") {
            case .started: outcomes["started", default: 0] += 1
            case .released: outcomes["released", default: 0] += 1
            case .unconfirmed: outcomes["unconfirmed", default: 0] += 1
            case .untracked: outcomes["untracked", default: 0] += 1
            }
        }

        func drive(_ arguments: [String], tag: Int) async throws {
            let run = try await DispatchCrashTests.drive(["--data-dir", fixture.dir, "--gate", emulator.baseURL, "--count", "1", "--tag", "t\(tag)"] + arguments)
            for line in run.lines where line.hasPrefix("ALLOW ") { requestOf[String(line.dropFirst(6))] = "t\(tag)-actor/t\(tag)-0" }
        }

        for step in plan {
            switch step {
            case .deploy(let key, let fault):
                if let fault { try emulator.control("/_emulator/faults", fault) }
                try await deploy(key, through: dispatcher)
                try emulator.control("/_emulator/faults/clear")
            case .deployUnreachable(let key):
                try await deploy(key, through: lost)
            case .killedDrive(let tag, let after):
                try await drive(["--crash-after", after], tag: tag)
            case .driveRetry(let tag):
                try await drive([], tag: tag)
            case .reconcile:
                // As if the grace period had passed (and, every other pass, the confirmation period
                // too): this process's live dispatches are still skipped.
                reconciles += 1
                _ = try await reconciler.reconcileOnce(now: wallClock().adding(seconds: 2 + Int64(reconciles)), requestId: "r")
            case .end(let status):
                if let running = try Self.executions(emulator).first(where: { $0.status == "RUNNING" }) {
                    try emulator.control("/_emulator/executions/\(running.id)", #"{"status": "\#(status)"}"#)
                }
                // A poller pass, as the server makes every two seconds: it also frees the slot of an
                // execution that ended before the reconciler recorded it.
                _ = try await poller.pollOnce(now: wallClock(), requestId: "r")
            }
            done.append(step.description)
            try check(step)
        }

        // Everything settles: no dispatch in flight, every reservation resolved.
        await dispatcher.settle()
        await lost.settle()
        try await Task.sleep(for: .milliseconds(800))  // late answers have come and gone
        // Two looks a call timeout apart release what Gate never started.
        for look in 1...3 { _ = try await reconciler.reconcileOnce(now: wallClock().adding(seconds: 2 + Int64(reconciles + look)), requestId: "r") }
        #expect(try fixture.node.pendingDispatches().isEmpty)
        let executions = try Self.executions(emulator)
        let days = Set(try fixture.node.deployments().map(\.createdAt.day) + [wallClock().day])
        var spent = 0
        for day in days { spent += try await fixture.quotaUsed(on: Timestamp(microseconds: day * 86_400_000_000)) }
        #expect(spent == executions.count, "quota units spent = executions started (seed \(seed))")
        let recorded = try fixture.node.deployments().filter { $0.engineExecutionId != nil }
        #expect(Set(recorded.compactMap(\.engineExecutionId)) == Set(executions.map(\.id)), "every execution is recorded, and only those")
        print("dispatch property run: seed \(seed), \(plan.count) steps, \(executions.count) executions, \(requestOf.count) reservations, "
            + "in-process dispatches \(outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        #expect(outcomes["unconfirmed", default: 0] > 0 && outcomes["released", default: 0] > 0, "the run met ambiguous and refused answers")
    }
}

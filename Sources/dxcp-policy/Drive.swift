import ArgumentParser
import Engine
import GovernanceStore
import Rules
import FoundationEssentials
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `dxcp-policy drive`: submits deploy decisions under load against a data directory, printing
/// one line per decision as soon as it is durable. An operator's load check of a store, and what
/// the multi-process and crash tests run.
struct Drive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit concurrent deploy decisions against a data directory (load and crash testing).",
        shouldDisplay: false)

    @Option(name: .long, help: "Data directory (seeded).")
    var dataDir: String

    @Option(name: .long, help: "Number of deploy decisions.")
    var count: Int = 100

    @Option(name: .long, help: "Concurrent callers.")
    var concurrency: Int = 16

    @Option(name: .long, help: "Service to deploy.")
    var service: String = "demo-service"

    @Option(name: .long, help: "Environment to deploy to.")
    var environment: String = "sandbox"

    @Option(name: .long, help: "Version to deploy (must be registered).")
    var version: String = "1.0.0"

    @Option(name: .long, help: "Owner email of the deploying principal.")
    var owner: String = "owner@example.com"

    @Option(name: .long, help: "Prefix of idempotency keys and actor ids, to tell processes apart.")
    var tag: String = "drive"

    @Flag(name: .long, help: "Also record each accepted deployment's engine dispatch and release its slot (a stand-in engine that succeeds at once).")
    var complete = false

    @Option(name: .long, help: "Gate base URL: dispatch every reservation to it through the dispatcher.")
    var gate: String?

    @Option(name: .long, help: "With --gate: kill this process with SIGKILL right after the first reservation or trigger (crash tests).")
    var crashAfter: CrashPoint?

    @Option(name: .long, help: "First register this version of the service as the CI identity `ci-bot` (demo data).")
    var registerVersion: String?

    /// Where `--crash-after` stops the process.
    enum CrashPoint: String, ExpressibleByArgument {
        case reservation, trigger
    }

    func run() async throws {
        let store = try openNode(dataDir)
        let principal = Principal(claims: Claims(
            subject: "\(tag)-actor", email: owner, roles: .values(["dxcp-delivery-owners"])))
        if let registerVersion {
            let ci = Principal(claims: Claims(subject: "ci-bot", roles: .values(["dxcp-ci-publishers"])))
            let registration = BuildRegistration(
                service: service, version: registerVersion,
                artifactRef: "s3://dxcp-artifacts/\(service)/\(service)-\(registerVersion).zip", gitSha: "0000000",
                gitBranch: "main", ciProvider: "demo", ciRunId: "1", builtAt: currentTime().iso8601)
            let registered = try await store.decide(
                .registerExistingBuild(registration), by: ci,
                context: DecisionContext(now: currentTime(), decisionId: newId(), newId: newId(), idempotencyKey: newId()))
            emit(registered.allowed ? "REGISTERED \(service) \(registerVersion)" : "REGISTER DENIED \(registered.code?.rawValue ?? "?")")
        }
        let intent = DeploymentIntent(service: service, environment: environment, version: version, changeSummary: "drive")
        let complete = self.complete
        let tag = self.tag
        let next = Counter()
        var dispatcher: Dispatcher?
        if let gate {
            var hooks = Dispatcher.Hooks()
            switch crashAfter {
            case .reservation?: hooks.afterReservation = { _ in kill(getpid(), SIGKILL) }
            case .trigger?: hooks.afterTrigger = { _ in kill(getpid(), SIGKILL) }
            case nil: break
            }
            let client = GateClient(configuration: GateConfiguration(baseURL: gate))
            dispatcher = Dispatcher(store: store, gate: client, clock: currentTime, hooks: hooks)
        }
        let engine = dispatcher
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, concurrency) {
                group.addTask {
                    while let n = next.take(below: count) {
                        let context = DecisionContext(now: currentTime(), decisionId: newId(), newId: newId(), idempotencyKey: "\(tag)-\(n)")
                        let decision = try await store.decide(.deploy(intent), by: principal, context: context)
                        if decision.replayed, case .deployment(let record)? = decision.result {
                            emit("REPLAY \(record.id)")
                        } else if decision.allowed, case .deployment(let record)? = decision.result {
                            emit("ALLOW \(record.id)")
                            if let engine {
                                switch await engine.dispatch(record, requestId: newId()) {
                                case .started(let dispatched): emit("DISPATCHED \(record.id) \(dispatched.engineExecutionId ?? "?")")
                                case .released(let error): emit("RELEASED \(record.id) \(error.code.rawValue)")
                                case .unconfirmed(_, let error): emit("UNCONFIRMED \(record.id) \(error.code.rawValue)")
                                case .untracked(_, let executionId): emit("UNTRACKED \(record.id) \(executionId)")
                                }
                            } else if complete {
                                _ = try await store.recordDispatch(deploymentId: record.id, executionId: "exec-\(record.id)", executionURL: nil, now: currentTime())
                                _ = try await store.recordEngineState(deploymentId: record.id, state: .succeeded, failures: [], now: currentTime())
                                emit("DONE \(record.id)")
                            }
                        } else {
                            emit("DENY \(decision.code?.rawValue ?? "?")")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        await engine?.settle()
        await store.close()
    }
}

/// Hands out 0, 1, 2, … below a bound to concurrent workers.
final class Counter: Sendable {
    private let value = Mutex(0)

    func take(below bound: Int) -> Int? {
        value.withLock { v in
            guard v < bound else { return nil }
            defer { v += 1 }
            return v
        }
    }
}

/// Prints a line unbuffered, so a reader sees every line written before a crash.
func emit(_ line: String) {
    writeLine(line, to: 1)
}

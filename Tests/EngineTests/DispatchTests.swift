import TestSupport
import Engine
import Foundation
import GovernanceStore
import Rules
import Testing

/// Reservations reach the engine at most once and are never lost; slots are freed when — and
/// only when — the engine says an execution ended (REFERENCE §7, §10; DECISIONS D6, D8, D11, D13).
@Suite(.serialized) struct DispatchTests {
    static let owner = Principal(claims: Claims(subject: "owner-1", email: "owner@example.com", roles: .values(["dxcp-delivery-owners"])))
    static let ci = Principal(claims: Claims(subject: "ci-bot", roles: .values(["dxcp-ci-publishers"])))
    static let start = Timestamp(seconds: 1_795_608_000)

    /// A fresh store of `backend` (one group, `demo-service` in `sandbox`, limit 1, recipe on
    /// `demo-app`) with version 1.0.0 registered; one node's is removed with its directory when
    /// released, a fleet's is a fresh database.
    final class Fixture {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-dispatch-\(UUID().uuidString)").path
        let store: any GovernanceBackend

        init(_ backend: Backend = .lmdb, dailyDeployQuota: Int = 25, maxConcurrent: Int? = nil) async throws {
            switch backend {
            case .lmdb:
                store = try GovernanceStore(directory: dir, options: .init(mapSize: 64 << 20, create: true))
            case .postgres:
                guard let location = PostgresLocation(url: try TestDatabase().url) else { throw EmulatorError(message: "not a database URL") }
                store = try FleetStore(location: location, options: .init(migrate: true, readers: 2))
            }
            let policy = PolicySnapshot(
                deliveryGroups: [DeliveryGroup(id: "default", name: "Default", owners: ["owner@example.com"], services: ["demo-service"], allowedRecipes: ["default"],
                    guardrails: Guardrails(maxConcurrentDeployments: maxConcurrent))],
                recipes: [Recipe(id: "default", name: "Default", spinnakerApplication: "demo-app", deployPipeline: "demo-deploy",
                    rollbackPipeline: "rollback-demo-service", effectiveBehaviorSummary: "Standard")],
                services: [ServiceEntry(name: "demo-service", allowedRecipes: ["default"])],
                environments: [Rules.Environment(id: "sandbox")],
                bindings: [EnvironmentBinding(deliveryGroupId: "default", environmentId: "sandbox")],
                routes: [Route(service: "demo-service", environment: "sandbox", recipeId: "default")],
                settings: Settings(readRPM: 1000, mutateRPM: 1000, dailyQuotaDeploy: dailyDeployQuota, ciPublishers: [CIPublisher(name: "ci", subjects: ["ci-bot"])]))
            try await store.replacePolicy(policy, actorId: "test", now: DispatchTests.start)
            let registration = BuildRegistration(
                service: "demo-service", version: "1.0.0", artifactRef: "s3://artifacts/demo-service-1.0.0.zip", gitSha: "abc",
                gitBranch: "main", ciProvider: "github", ciRunId: "1", builtAt: "2026-11-25T11:00:00Z")
            _ = try await store.decide(.registerExistingBuild(registration), by: DispatchTests.ci,
                context: DecisionContext(now: DispatchTests.start, decisionId: "b", newId: "b", idempotencyKey: "b"), requestId: nil)
        }

        /// The one node's store, for tests of a node's processes sharing its directory.
        var node: GovernanceStore {
            get throws {
                guard let node = store as? GovernanceStore else { throw EmulatorError(message: "not a node's store") }
                return node
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }

        /// Reserves a deployment (the decision only, no dispatch).
        func reserve(_ key: String, at time: Timestamp = DispatchTests.start) async throws -> DeploymentRecord {
            let decision = try await store.decide(
                .deploy(DeploymentIntent(service: "demo-service", environment: "sandbox", version: "1.0.0", changeSummary: key)),
                by: DispatchTests.owner, context: DecisionContext(now: time, decisionId: "d-\(key)", newId: RecordID.make(at: time), idempotencyKey: key),
                requestId: nil)
            guard decision.allowed, case .deployment(let record)? = decision.result else {
                throw EmulatorError(message: "deploy denied: \(decision.code?.rawValue ?? "?")")
            }
            return record
        }

        /// A deployment reserved for `key` and started on `emulator` (its execution recorded), and
        /// a poller of that Gate.
        func started(_ key: String, through emulator: EmulatorProcess) async throws -> (DeploymentRecord, ExecutionPoller) {
            let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL))
            let dispatcher = Dispatcher(store: store, gate: gate, clock: { DispatchTests.start })
            guard case .started(let record) = await dispatcher.dispatch(try await reserve(key), requestId: "r") else {
                throw EmulatorError(message: "the dispatch did not start")
            }
            await dispatcher.settle()
            return (record, ExecutionPoller(store: store, gate: gate))
        }

        /// Deploy quota spent on the day of `time`: by default that of the in-process decisions
        /// (decisions of a `drive` process use the real clock).
        func quotaUsed(on time: Timestamp = DispatchTests.start) async throws -> Int {
            try await store.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: time.day)
        }
    }

    static func executions(_ emulator: EmulatorProcess, for deploymentId: String) throws -> Int {
        let text = try emulator.control("/applications/demo-app/pipelines", "GET")
        let list = (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
        return list.filter { (($0["trigger"] as? [String: Any])?["parameters"] as? [String: Any])?["dxcpDeploymentId"] as? String == deploymentId }.count
    }

    @Test(arguments: Backend.underTest) func acceptedTriggerIsRecordedAndReplaysWithItsExecution(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let dispatcher = Dispatcher(store: fixture.store, gate: GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL)), clock: { DispatchTests.start })
        let record = try await fixture.reserve("k1")
        guard case .started(let dispatched) = await dispatcher.dispatch(record, requestId: "req-1") else {
            Issue.record("not started")
            return
        }
        #expect(dispatched.engineExecutionId != nil)
        // A retry the moment the caller has its answer is decided after the execution is recorded.
        let replay = try await fixture.store.decide(
            .deploy(DeploymentIntent(service: "demo-service", environment: "sandbox", version: "1.0.0", changeSummary: "k1")),
            by: Self.owner, context: DecisionContext(now: Self.start, decisionId: "d2", newId: "n2", idempotencyKey: "k1"), requestId: nil)
        #expect(replay.replayed)
        guard case .deployment(let replayed)? = replay.result else { Issue.record("no replay"); return }
        #expect(replayed.engineExecutionId == dispatched.engineExecutionId)
        #expect(try Self.executions(emulator, for: record.id) == 1, "a replay never triggers")
        await dispatcher.settle()
        #expect(try await fixture.store.deployment(id: record.id) == dispatched, "the record answered is the record stored")
        #expect(try await fixture.store.pendingDispatches().isEmpty)
    }

    @Test(arguments: Backend.underTest) func refusedTriggerReleasesTheReservationAndSpendsNothing(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let emulator = try EmulatorProcess()
        let dispatcher = Dispatcher(store: fixture.store, gate: GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL)), clock: { DispatchTests.start })
        try emulator.control("/_emulator/faults", #"{"status": 400, "times": 1}"#)
        let record = try await fixture.reserve("k1")
        #expect(try await fixture.quotaUsed() == 1)
        guard case .released(let error) = await dispatcher.dispatch(record, requestId: "r") else { Issue.record("expected a release"); return }
        #expect(error.code == .engineCallFailed)
        #expect(error.upstreamStatus == 400)
        #expect(try await fixture.store.deployment(id: record.id) == nil)
        #expect(try await fixture.quotaUsed() == 0)
        #expect(try await fixture.store.activeDeployments(group: "default", environment: "sandbox").isEmpty)
        // The key is free: the same request runs again, and this time the engine accepts it.
        let retry = try await fixture.reserve("k1")
        guard case .started = await dispatcher.dispatch(retry, requestId: "r") else { Issue.record("not started"); return }
        await dispatcher.settle()
        #expect(try await fixture.quotaUsed() == 1)
    }

    @Test(arguments: Backend.underTest, ["SUCCEEDED", "TERMINAL", "CANCELED"])
    func theEndOfAnExecutionFreesTheSlot(_ backend: Backend, _ outcome: String) async throws {
        let fixture = try await Fixture(backend)
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let (first, poller) = try await fixture.started("k1", through: emulator)
        await #expect(throws: EmulatorError.self, "the slot is held") { _ = try await fixture.reserve("k2") }
        let early = try await poller.pollOnce(now: Self.start, requestId: "r")
        #expect(early.changed.isEmpty, "still running")
        let executionId = try #require(first.engineExecutionId)
        try emulator.control("/_emulator/executions/\(executionId)", #"{"status": "\#(outcome)"}"#)
        let report = try await poller.pollOnce(now: Self.start.adding(seconds: 1), requestId: "r")
        let expected = ExecutionStatus.state(for: outcome)
        #expect(report.changed == [first.id: expected])
        let ended = try #require(try await fixture.store.deployment(id: first.id))
        #expect(ended.state == expected)
        #expect(ended.failures.isEmpty == (outcome != "TERMINAL"))
        #expect(try await fixture.store.activeDeployments(group: "default", environment: "sandbox").isEmpty)
        _ = try await fixture.reserve("k2")
    }

    /// An execution Gate reports with a status the contract does not map (REDIRECT) still exists:
    /// its slot is kept alive by the poller's heartbeat, never left to go stale while Gate answers.
    @Test func anUnmappedStatusKeepsTheSlotAlive() async throws {
        let fixture = try await Fixture()
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let (first, poller) = try await fixture.started("k1", through: emulator)
        try emulator.control("/_emulator/executions/\(try #require(first.engineExecutionId))", #"{"status": "REDIRECT"}"#)
        let report = try await poller.pollOnce(now: Self.start.adding(seconds: 400), requestId: "r")
        #expect(report.changed.isEmpty && report.failed.isEmpty)
        #expect(try await fixture.store.deployment(id: first.id)?.state == .inProgress)
        // Past the stale-lock limit (900 s) since the reservation, within it since the heartbeat.
        await #expect(throws: EmulatorError.self, "the slot is held") { _ = try await fixture.reserve("k2", at: Self.start.adding(seconds: 1_000)) }
    }

    /// A deployment whose execution runs (for an hour) in an emulator that then answers with `fault`.
    static func runningBehind(_ fault: String) async throws -> (Fixture, EmulatorProcess, DeploymentRecord, ExecutionPoller) {
        let fixture = try await Fixture()
        let emulator = try EmulatorProcess(["--run-seconds", "3600"])
        let (record, poller) = try await fixture.started("k1", through: emulator)
        try emulator.control("/_emulator/faults", fault)
        return (fixture, emulator, record, poller)
    }

    /// Gate answers 200 for the execution with more than the transport reads (4 MiB: stages
    /// carrying large outputs). Gate has it all the same: the poller reads its state through the
    /// execution search, which answers without the stages, so the slot is kept alive while it runs
    /// and freed when it ends — never expired as if Gate could not be asked.
    @Test func anExecutionTooLargeToReadIsFollowedThroughTheSearch() async throws {
        let (fixture, emulator, first, poller) = try await Self.runningBehind(#"{"path": "/pipelines/", "hugeBytes": 5000000}"#)
        let running = try await poller.pollOnce(now: Self.start.adding(seconds: 901), requestId: "r")
        #expect(running.changed.isEmpty && running.failed.isEmpty && running.expired.isEmpty)
        let kept = try #require(try await fixture.store.deployment(id: first.id))
        #expect(kept.state == .inProgress)
        #expect(kept.updatedAt >= Self.start.adding(seconds: 901), "a heartbeat was written")
        await #expect(throws: EmulatorError.self, "the slot is held") { _ = try await fixture.reserve("k2", at: Self.start.adding(seconds: 1_000)) }

        try emulator.control("/_emulator/executions/\(try #require(first.engineExecutionId))", #"{"status": "SUCCEEDED"}"#)
        let ended = try await poller.pollOnce(now: Self.start.adding(seconds: 1_001), requestId: "r")
        #expect(ended.changed[first.id] == .succeeded)
        #expect(try await fixture.store.activeDeployments(group: "default", environment: "sandbox").isEmpty)
    }

    /// A 2xx answer that is not an execution at all (a proxy's login page in front of Gate) proves
    /// nothing: the call fails, and the stale-lock limit applies as when Gate cannot be asked.
    @Test func anAnswerThatIsNoExecutionProvesNothing() async throws {
        let (fixture, emulator, first, poller) = try await Self.runningBehind(#"{"path": "/pipelines/", "garbage": true}"#)
        let soon = try await poller.pollOnce(now: Self.start.adding(seconds: 60), requestId: "r")
        #expect(soon.failed == [first.id] && soon.expired.isEmpty)
        let late = try await poller.pollOnce(now: Self.start.adding(seconds: 901), requestId: "r")
        #expect(late.expired == [first.id])
        #expect(try await fixture.store.deployment(id: first.id)?.state == .failed)
        withExtendedLifetime(emulator) {}
    }

    /// A pass that takes a while stamps what it writes when Gate answered, not when it began: a
    /// heartbeat is never already old when it lands.
    @Test func aSlowPassStampsItsWritesWhenTheyAreMade() async throws {
        let fixture = try await Fixture()
        let emulator = try EmulatorProcess(["--run-seconds", "3600"])
        let (first, poller) = try await fixture.started("k1", through: emulator)
        try emulator.control("/_emulator/faults", #"{"path": "/pipelines/", "delayMs": 1500, "times": 1}"#)
        _ = try await poller.pollOnce(now: Self.start.adding(seconds: 400), requestId: "r")
        let beat = try #require(try await fixture.store.deployment(id: first.id)).updatedAt
        #expect(beat >= Self.start.adding(seconds: 401), "stamped after Gate's 1.5 s answer: \(beat)")
    }

    /// A state report stamped earlier than the record's last change (a pass of a leader that lost
    /// its lease, overlapping the new leader's) never moves a heartbeat back.
    @Test(arguments: Backend.underTest) func anEarlierReportNeverMovesAHeartbeatBack(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let record = try await fixture.reserve("k1")
        _ = try await fixture.store.recordDispatch(deploymentId: record.id, executionId: "e-1", executionURL: nil, now: Self.start)
        _ = try await fixture.store.recordEngineState(deploymentId: record.id, state: .inProgress, failures: [], now: Self.start.adding(seconds: 500))
        let late = try await fixture.store.recordEngineState(deploymentId: record.id, state: .inProgress, failures: [], now: Self.start.adding(seconds: 400))
        #expect(late?.updatedAt == Self.start.adding(seconds: 500))
        #expect(try await fixture.store.deployment(id: record.id)?.updatedAt == Self.start.adding(seconds: 500))
        // The slot's age follows the record: 801 s after the newer heartbeat (901 after the older).
        await #expect(throws: EmulatorError.self, "the slot is held") { _ = try await fixture.reserve("k2", at: Self.start.adding(seconds: 1_301)) }
    }

    @Test(arguments: Backend.underTest) func staleLockIsExpiredWhenTheEngineCannotBeAsked(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let record = try await fixture.reserve("k1")
        _ = try await fixture.store.recordDispatch(deploymentId: record.id, executionId: "e-1", executionURL: nil, now: Self.start)
        let unreachable = GateClient(configuration: GateConfiguration(baseURL: "http://127.0.0.1:9", connectTimeoutMs: 200))
        let poller = ExecutionPoller(store: fixture.store, gate: unreachable)
        let soon = try await poller.pollOnce(now: Self.start.adding(seconds: 60), requestId: "r")
        #expect(soon.failed == [record.id])
        #expect(soon.expired.isEmpty)
        let late = try await poller.pollOnce(now: Self.start.adding(seconds: 901), requestId: "r")
        #expect(late.expired == [record.id])
        #expect(try await fixture.store.deployment(id: record.id)?.state == .failed)
        #expect(try await fixture.store.activeDeployments(group: "default", environment: "sandbox").isEmpty)
    }

    @Test(arguments: Backend.underTest) func reconcilerRecordsWhatGateStartedAndReleasesWhatItNeverSaw(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 1_000))
        let reconciler = Reconciler(store: fixture.store, gate: gate, dispatcher: nil)
        #expect(reconciler.grace == .seconds(2), "two call timeouts")
        // A crash right after the trigger: Gate runs it, the store never heard.
        let triggered = try await fixture.reserve("k1")
        let execution = try await gate.trigger(TriggerRequest(record: triggered, artifactRef: nil), requestId: "r")
        // Too young to touch: a live dispatcher may still be working on it.
        let young = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 1), requestId: "r")
        #expect(young.recorded.isEmpty && young.released.isEmpty)
        #expect(young.pending == 1)
        #expect(young.oldestPendingSeconds == 1)
        let first = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 3), requestId: "r")
        #expect(first.recorded == [triggered.id])
        #expect(first.pending == 0)
        #expect(try await fixture.store.deployment(id: triggered.id)?.engineExecutionId == execution.id)
        #expect(try Self.executions(emulator, for: triggered.id) == 1)

        // A crash before the trigger: Gate never saw it.
        _ = try await fixture.store.recordEngineState(deploymentId: triggered.id, state: .succeeded, failures: [], now: Self.start)
        let orphan = try await fixture.reserve("k2")
        let firstLook = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 3), requestId: "r")
        #expect(firstLook.confirming == [orphan.id], "one look that finds nothing is not enough")
        #expect(try await fixture.store.deployment(id: orphan.id) != nil)
        let tooSoon = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 3), requestId: "r")
        #expect(tooSoon.released.isEmpty, "the second look must come a call timeout after the first")
        let stepBack = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 2), requestId: "r")
        #expect(stepBack.released.isEmpty && stepBack.confirming == [orphan.id], "a clock stepped back re-arms the period")
        let second = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 3), requestId: "r")
        #expect(second.released.isEmpty && second.confirming == [orphan.id], "younger than the settle period: Gate may still store it")
        let settled = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 120), requestId: "r")
        #expect(settled.released == [orphan.id])
        #expect(try await fixture.store.deployment(id: orphan.id) == nil)
        #expect(try await fixture.quotaUsed() == 1, "only the execution that exists spent quota")
        #expect(try Self.executions(emulator, for: orphan.id) == 0, "the reconciler never triggers")

        // Gate cannot be asked: the reservation is kept.
        let third = try await fixture.reserve("k3")
        try emulator.control("/_emulator/faults", #"{"path": "/applications/", "status": 503, "times": 1}"#)
        let blind = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 3), requestId: "r")
        #expect(blind.unresolved == [third.id])
        #expect(blind.pending == 1)
        #expect(try await fixture.store.deployment(id: third.id) != nil)
        #expect(try await fixture.quotaUsed() == 2)
    }

    /// Gate can store an execution long after this side's call gave up (its own calls to Front50
    /// and Orca have timeouts of their own): two looks that find nothing within the settle period
    /// release nothing, and the execution Gate then stores is recorded.
    @Test func anExecutionGateStoresLateIsRecordedNotReleased() async throws {
        let fixture = try await Fixture()
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 1_000))
        let reconciler = Reconciler(store: fixture.store, gate: gate, dispatcher: nil)
        #expect(reconciler.settle == .seconds(120))
        let reserved = try await fixture.reserve("k1")
        let first = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 3), requestId: "r")
        let second = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 5), requestId: "r")
        #expect(first.confirming == [reserved.id] && second.confirming == [reserved.id])
        #expect(second.released.isEmpty, "two empty looks a call timeout apart, within the settle period")
        let execution = try await gate.trigger(TriggerRequest(record: reserved, artifactRef: nil), requestId: "r")
        let late = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 60), requestId: "r")
        #expect(late.recorded == [reserved.id])
        #expect(try await fixture.store.deployment(id: reserved.id)?.engineExecutionId == execution.id)
        #expect(try await fixture.quotaUsed() == 1)
        await #expect(throws: EmulatorError.self, "the slot follows the execution") { _ = try await fixture.reserve("k2") }
    }

    /// A settle period set too short for the Gate in front of it: an execution Gate stores after
    /// its reservation was released is nothing this service tracks. The reconciler keeps asking
    /// about what it released for a settle period, and reports such an execution once.
    @Test func anExecutionThatAppearsAfterARelease() async throws {
        let fixture = try await Fixture()
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 1_000))
        let reconciler = Reconciler(store: fixture.store, gate: gate, dispatcher: nil, settle: .seconds(10))
        let reserved = try await fixture.reserve("k1")
        _ = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 9), requestId: "r")
        let release = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 10), requestId: "r")
        #expect(release.released == [reserved.id])
        let quiet = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 11), requestId: "r")
        #expect(quiet.untracked.isEmpty, "Gate still has none")

        _ = try await gate.trigger(TriggerRequest(record: reserved, artifactRef: nil), requestId: "r")
        let found = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 12), requestId: "r")
        #expect(found.untracked == [reserved.id])
        #expect(found.recorded.isEmpty && found.released.isEmpty)
        let once = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 13), requestId: "r")
        #expect(once.untracked.isEmpty, "reported once")
        #expect(try await fixture.store.deployment(id: reserved.id) == nil, "nothing is recorded for it")

        // Past the watch (a settle period after the release), nothing is asked any more.
        let other = try await fixture.reserve("k2", at: Self.start.adding(seconds: 100))
        _ = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 109), requestId: "r")
        #expect(try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 110), requestId: "r").released == [other.id])
        _ = try await gate.trigger(TriggerRequest(record: other, artifactRef: nil), requestId: "r")
        let late = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 121), requestId: "r")
        #expect(late.untracked.isEmpty, "watched for a settle period only")
    }

    /// What the reconciler does is what the store says it did: a reservation resolved by someone
    /// else while Gate was being asked (its execution recorded by a dispatcher, or released by
    /// another replica's reconciler that lost its lease mid-pass) is neither counted nor watched
    /// as released, and an execution found for a reservation released meanwhile is reported as
    /// untracked, not as recorded.
    @Test(arguments: Backend.underTest) func aReservationResolvedDuringALookIsReportedAsItIs(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 10_000))
        let reconciler = Reconciler(store: fixture.store, gate: gate, dispatcher: nil, settle: .seconds(10))
        /// Runs a pass whose search Gate answers 4 s late, and `meanwhile` once the search has arrived.
        func passWithASlowSearch(at now: Timestamp, meanwhile: () async throws -> Void) async throws -> Reconciler.Report {
            func searches() throws -> Int { try emulator.calls().filter { ($0["path"] as? String ?? "").contains("/executions/search") }.count }
            let before = try searches()
            try emulator.control("/_emulator/faults", #"{"path": "/applications/", "delayMs": 4000, "times": 1}"#)
            let pass = Task { try await reconciler.reconcileOnce(now: now, requestId: "r") }
            let deadline = ContinuousClock.now + .seconds(30)
            while try searches() == before {
                guard ContinuousClock.now < deadline else { throw EmulatorError(message: "the search never reached Gate") }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await meanwhile()
            return try await pass.value
        }

        // Recorded by its dispatcher while the reconciler asked Gate: nothing is released.
        let recorded = try await fixture.reserve("k1")
        let look = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 20), requestId: "r")
        #expect(look.confirming == [recorded.id])
        let race = try await passWithASlowSearch(at: Self.start.adding(seconds: 30)) {
            _ = try await fixture.store.recordDispatch(deploymentId: recorded.id, executionId: "E-recorded", executionURL: nil, now: Self.start)
        }
        #expect(race.released.isEmpty && race.resolvedElsewhere == [recorded.id], "the store released nothing")
        #expect(race.pending == 0)
        #expect(try await fixture.store.deployment(id: recorded.id)?.engineExecutionId == "E-recorded")
        #expect(try await fixture.quotaUsed() == 1)
        _ = try await fixture.store.recordEngineState(deploymentId: recorded.id, state: .succeeded, failures: [], now: Self.start.adding(seconds: 31))

        // Released by another reconciler while this one found the execution: it is untracked.
        let released = try await fixture.reserve("k2", at: Self.start.adding(seconds: 40))
        let execution = try await gate.trigger(TriggerRequest(record: released, artifactRef: nil), requestId: "r")
        let found = try await passWithASlowSearch(at: Self.start.adding(seconds: 60)) {
            _ = try await fixture.store.releaseReservation(deploymentId: released.id, reason: "another replica", now: Self.start.adding(seconds: 60))
        }
        #expect(found.recorded.isEmpty, "nothing was recorded")
        #expect(found.untracked == [released.id], "execution \(execution.id) runs with nothing tracking it")
        #expect(found.pending == 0)
        #expect(try await fixture.store.deployment(id: released.id) == nil)
    }

    @Test(arguments: Backend.underTest) func aLiveDispatchIsLeftToItsDispatcher(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        try emulator.control("/_emulator/faults", #"{"delayMs": 1500, "times": 1}"#)
        let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 5_000))
        let dispatcher = Dispatcher(store: fixture.store, gate: gate, clock: { DispatchTests.start })
        let reconciler = Reconciler(store: fixture.store, gate: gate, dispatcher: dispatcher)
        let record = try await fixture.reserve("k1")
        let dispatching = Task { await dispatcher.dispatch(record, requestId: "r") }
        while !dispatcher.isDispatching(record.id) { try await Task.sleep(for: .milliseconds(10)) }
        let pass = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 3600), requestId: "r")
        #expect(pass.released.isEmpty && pass.recorded.isEmpty, "the slow trigger is still this process's")
        guard case .started = await dispatching.value else { Issue.record("not started"); return }
        await dispatcher.settle()
        #expect(try Self.executions(emulator, for: record.id) == 1)
        #expect(try await fixture.store.pendingDispatches().isEmpty)
    }

    @Test(arguments: Backend.underTest) func anExecutionThatAlreadyEndedIsRecordedWithItsEnd(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let emulator = try EmulatorProcess(["--outcome", "TERMINAL", "--run-seconds", "0"])
        let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 1_000))
        let record = try await fixture.reserve("k1")
        _ = try await gate.trigger(TriggerRequest(record: record, artifactRef: nil), requestId: "r")
        let report = try await Reconciler(store: fixture.store, gate: gate, dispatcher: nil).reconcileOnce(now: Self.start.adding(seconds: 3), requestId: "r")
        #expect(report.recorded == [record.id])
        let ended = try #require(try await fixture.store.deployment(id: record.id))
        #expect(ended.state == .failed)
        #expect(ended.failures.first?.category == .infrastructure)
        #expect(try await fixture.store.activeDeployments(group: "default", environment: "sandbox").isEmpty, "the slot is free without a poller pass")
    }

    @Test(arguments: Backend.underTest) func aGateThatStoresTheExecutionLateIsFoundOnTheSecondLook(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 1_000))
        let dispatcher = Dispatcher(store: fixture.store, gate: gate, clock: { DispatchTests.start })
        let reconciler = Reconciler(store: fixture.store, gate: gate, dispatcher: dispatcher)
        // Stored 1.5 s after the connection closes: well after the first look even on a loaded
        // machine (the first look must find nothing yet), and before the second.
        try emulator.control("/_emulator/faults", #"{"afterStart": "later", "delayMs": 1500, "times": 1}"#)
        let record = try await fixture.reserve("k1")
        guard case .unconfirmed = await dispatcher.dispatch(record, requestId: "r") else { Issue.record("expected unconfirmed"); return }
        let first = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 3), requestId: "r")
        #expect(first.confirming == [record.id], "Gate has not stored it yet")
        try await Task.sleep(for: .milliseconds(1700))
        let second = try await reconciler.reconcileOnce(now: Self.start.adding(seconds: 4), requestId: "r")
        #expect(second.recorded == [record.id])
        #expect(try await fixture.store.deployment(id: record.id)?.engineExecutionId != nil)
        #expect(try await fixture.quotaUsed() == 1)
    }

    @Test(arguments: Backend.underTest) func aReservationAwaitingTheEngineIsNeverAStaleLockAndItsKeyNeverExpires(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let record = try await fixture.reserve("k1")
        // Far past the stale-lock limit (900 s) and the key's TTL (24 h), still unconfirmed.
        let later = Self.start.adding(seconds: 2 * 86_400)
        await #expect(throws: EmulatorError.self, "the slot is still held") { _ = try await fixture.reserve("k2", at: later) }
        #expect(try await fixture.store.deployment(id: record.id)?.state == .inProgress)
        let retry = try await fixture.store.decide(
            .deploy(DeploymentIntent(service: "demo-service", environment: "sandbox", version: "1.0.0", changeSummary: "k1")),
            by: Self.owner, context: DecisionContext(now: later, decisionId: "d", newId: RecordID.make(at: later), idempotencyKey: "k1"), requestId: nil)
        #expect(retry.code == .idempotencyConflict, "the key stays bound while its reservation awaits the engine")
        // Once an execution is known, REFERENCE §7's stale lock applies.
        _ = try await fixture.store.recordDispatch(deploymentId: record.id, executionId: "e-1", executionURL: nil, now: Self.start)
        _ = try await fixture.reserve("k2", at: later)
        #expect(try await fixture.store.deployment(id: record.id)?.state == .failed)
    }

    @Test func readinessReportsTheEngineState() async throws {
        let emulator = try EmulatorProcess()
        let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL))
        #expect(await gate.readiness(requestId: "r") == .ready)
        try emulator.control("/_emulator/faults", #"{"path": "/health", "status": 503, "times": 1}"#)
        #expect(await gate.readiness(requestId: "r", waits: [.zero, .milliseconds(50)]) == .ready, "a retry gets through")
        try emulator.control("/_emulator/faults", #"{"path": "/health", "status": 503}"#)
        guard case .unavailable(let code, _) = await gate.readiness(requestId: "r", waits: [.zero, .milliseconds(10)]) else {
            Issue.record("expected unavailable")
            return
        }
        #expect(code == .engineCallFailed)
    }
}

/// The shared readiness probe asks Gate once for many validates, and again after its lifetime.
@Suite(.serialized) struct ReadinessProbeTests {
    @Test func oneProbeServesManyValidates() async throws {
        let emulator = try EmulatorProcess()
        let probe = ReadinessProbe(gate: GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL)), lifetime: .seconds(1))
        let results = await withTaskGroup(of: EngineReadiness.self) { group in
            for _ in 0..<50 { group.addTask { await probe.readiness(requestId: "r") } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0 == .ready })
        #expect(try emulator.calls().count == 1, "fifty validates, one health call")
        try await Task.sleep(for: .milliseconds(1100))
        _ = await probe.readiness(requestId: "r")
        #expect(try emulator.calls().count == 2, "asked again once the result aged")
    }
}

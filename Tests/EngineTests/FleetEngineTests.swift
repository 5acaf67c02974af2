import TestSupport
import Engine
import Foundation
import GovernanceStore
import Rules
import Testing

/// Dispatch across a fleet's replicas: a reconciler on one replica never releases a reservation
/// whose trigger another replica may still be sending, and a trigger that lands after a release
/// is never answered as a deployment (DECISIONS 50, 83).
@Suite(.serialized) struct FleetEngineTests {
    /// Replica A triggers with a 1 s call timeout; replica B publishes 30 s. While B is connected,
    /// A's reconciler waits out B's grace (60 s) before it even looks; once B is gone, A's own.
    @Test func theReconcilerWaitsOutTheLongestCallTimeoutOfTheLiveReplicas() async throws {
        let fixture = try await DispatchTests.Fixture(.postgres)
        let location = try #require((fixture.store as? FleetStore)?.location)
        let replicaB = try FleetStore(location: location, options: .init(readers: 1, engineTimeoutMs: 30_000))
        #expect(try await fixture.store.longestEngineTimeoutMs() == 30_000)
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 1_000))
        let reconciler = Reconciler(store: fixture.store, gate: gate, dispatcher: nil)
        let reserved = try await fixture.reserve("k1")

        let whileBLives = try await reconciler.reconcileOnce(now: DispatchTests.start.adding(seconds: 3), requestId: "r")
        #expect(whileBLives.confirming.isEmpty && whileBLives.released.isEmpty, "B may still be sending its trigger")
        #expect(whileBLives.pending == 1)
        await replicaB.close()
        var looked = Reconciler.Report()
        for _ in 0..<50 {
            looked = try await reconciler.reconcileOnce(now: DispatchTests.start.adding(seconds: 3), requestId: "r")
            if !looked.confirming.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))  // B's sessions leave pg_stat_activity
        }
        #expect(looked.confirming == [reserved.id], "with B gone, A's own grace applies")
    }

    /// The trigger reaches Gate only after the fleet's reconciler released the reservation (Gate
    /// answers late; the release is made here as the leader would): the dispatcher finds its
    /// record gone and answers that Gate runs an execution nothing tracks, never 201.
    @Test func aTriggerThatLandsAfterARelease() async throws {
        let fixture = try await DispatchTests.Fixture(.postgres)
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        try emulator.control("/_emulator/faults", #"{"delayMs": 1500, "times": 1}"#)
        let dispatcher = Dispatcher(
            store: fixture.store, gate: GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 5_000)),
            clock: { DispatchTests.start })
        let reserved = try await fixture.reserve("k1")
        let dispatching = Task { await dispatcher.dispatch(reserved, requestId: "r") }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await fixture.store.releaseReservation(deploymentId: reserved.id, reason: "test", now: DispatchTests.start)?.id == reserved.id)
        let outcome = await dispatching.value
        guard case .untracked(_, let executionId) = outcome else {
            Issue.record("answered \(outcome)")
            return
        }
        #expect(try DispatchTests.executions(emulator, for: reserved.id) == 1)
        let listed = try emulator.control("/applications/demo-app/pipelines", "GET")
        #expect(listed.contains(executionId), "the answer names the execution Gate runs")
        #expect(try await fixture.store.deployment(id: reserved.id) == nil)
    }

    /// One reservation that cannot be read (its stored record damaged) and one whose record is
    /// missing (an outbox entry without its reservation) do not stop a pass: the others are
    /// still asked about, and both are reported damaged and counted pending, every pass, without
    /// making the reconciler back off as from a Gate it cannot ask.
    @Test func aReservationThatCannotBeReadDoesNotStopThePass() async throws {
        let fixture = try await DispatchTests.Fixture(.postgres, maxConcurrent: 3)
        let location = try #require((fixture.store as? FleetStore)?.location)
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let gate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, requestTimeoutMs: 1_000))
        let reconciler = Reconciler(store: fixture.store, gate: gate, dispatcher: nil)
        // Ids follow their times, so the pass meets the damaged one first.
        let damaged = try await fixture.reserve("k1", at: DispatchTests.start)
        let orphaned = try await fixture.reserve("k2", at: DispatchTests.start.adding(seconds: 1))
        let sound = try await fixture.reserve("k3", at: DispatchTests.start.adding(seconds: 2))
        try TestDatabase.psql(location.description, "UPDATE deployments SET record = '{\"damaged\": true}' WHERE id = '\(damaged.id)'")
        try TestDatabase.psql(location.description, "DELETE FROM deployments WHERE id = '\(orphaned.id)'")

        let report = try await reconciler.reconcileOnce(now: DispatchTests.start.adding(seconds: 10), requestId: "r")
        #expect(report.confirming == [sound.id], "the sound reservation is looked at")
        #expect(Set(report.damaged) == [damaged.id, orphaned.id])
        #expect(report.unresolved.isEmpty, "nothing to back off for")
        #expect(report.pending == 3)
    }
}

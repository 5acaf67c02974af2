@testable import GovernanceStore
import Rules
import Testing

/// A batch takes the head of the queue in order, up to its size, and stops before a mutation past
/// the per-batch cap: a decision never overtakes work queued before it.
@Suite struct BatchSelectionTests {
    static func mutation(_ n: Int) -> WritePath.Job {
        WritePath.Job(work: .mutation(.recordEngineState("m\(n)", state: .succeeded, failures: [], now: baseTime)), complete: { _ in })
    }

    static func decision(_ n: Int) -> WritePath.Job {
        WritePath.Job(work: .decide(.deploy(deployIntent(summary: "d\(n)")), owner, context("d\(n)"), requestId: nil), complete: { _ in })
    }

    static func names(_ jobs: [WritePath.Job]) -> [String] {
        jobs.map { job in
            switch job.work {
            case .mutation(.recordEngineState(let id, _, _, _)): id
            case .decide(.deploy(let intent), _, _, _): intent.changeSummary
            default: "?"
            }
        }
    }

    @Test func mutationsPastTheCapWaitAndNothingOvertakesThem() {
        let cap = WritePath.maxMutationsPerBatch
        var queue = (0..<cap + 4).map(Self.mutation) + [Self.decision(0)]
        let first = WritePath.takeBatch(from: &queue, maxBatch: 256)
        #expect(Self.names(first) == (0..<cap).map { "m\($0)" })
        #expect(Self.names(queue) == (cap..<cap + 4).map { "m\($0)" } + ["d0"], "the decision stays behind the mutations queued before it")
        let second = WritePath.takeBatch(from: &queue, maxBatch: 256)
        #expect(Self.names(second) == (cap..<cap + 4).map { "m\($0)" } + ["d0"])
        #expect(queue.isEmpty)
    }

    /// What joins a batch after its first take (a replica that waited for the fleet lock) counts
    /// against the same cap.
    @Test func whatJoinsABatchCountsAgainstItsCap() {
        let cap = WritePath.maxMutationsPerBatch
        var queue = [Self.decision(0)] + (0..<4).map(Self.mutation) + [Self.decision(1)]
        let more = WritePath.takeBatch(from: &queue, maxBatch: 256, mutationsTaken: cap - 2)
        #expect(Self.names(more) == ["d0", "m0", "m1"])
        #expect(Self.names(queue) == ["m2", "m3", "d1"])
    }

    @Test func decisionsFillABatchUpToItsSize() {
        var queue = (0..<5).map(Self.decision) + [Self.mutation(0)] + (5..<10).map(Self.decision)
        let first = WritePath.takeBatch(from: &queue, maxBatch: 8)
        #expect(Self.names(first) == ["d0", "d1", "d2", "d3", "d4", "m0", "d5", "d6"])
        #expect(Self.names(queue) == ["d7", "d8", "d9"])
    }
}

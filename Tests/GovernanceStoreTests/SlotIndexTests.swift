import Foundation
@testable import GovernanceStore
import LMDB
import Rules
import TestSupport
import Testing

/// The slot count and age index answer what a scan of every slot entry answers, whatever happens
/// to the deployments: reserved, dispatched, heartbeat, ended, released, expired (DECISIONS D11,
/// D21: a decision's cost does not grow with the number of deployments holding slots).
@Suite struct SlotIndexTests {
    @Test(arguments: Backend.underTest) func theIndexAgreesWithAScanOfTheSlots(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend, policy: testPolicy(maxConcurrent: 1_000, dailyDeploy: 100_000))
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        var random = SplitMix64(seed: 42)
        var clock = baseTime
        var ids: [String] = []
        for step in 0..<400 {
            clock = clock.adding(seconds: Int64(random.below(120)))
            switch random.below(10) {
            case 0..<4:
                let decision = try await store.decide(.deploy(deployIntent(summary: "s\(step)")), by: owner, context: context("k\(step)", at: clock, id: "dep-\(step)"), requestId: nil)
                if decision.allowed { ids.append("dep-\(step)") }
            case 4..<6 where !ids.isEmpty:
                _ = try await store.recordDispatch(deploymentId: random.pick(ids), executionId: "e-\(step)", executionURL: nil, now: clock)
            case 6 where !ids.isEmpty:
                _ = try await store.recordEngineState(deploymentId: random.pick(ids), state: .inProgress, failures: [], now: clock)
            case 7 where !ids.isEmpty:
                _ = try await store.recordEngineState(deploymentId: random.pick(ids), state: random.pick([.succeeded, .failed, .canceled]), failures: [], now: clock)
            case 8 where !ids.isEmpty:
                _ = try await store.releaseReservation(deploymentId: random.pick(ids), reason: "test", now: clock)
            default:
                break
            }
            let staleBefore = clock.adding(seconds: -900)
            let scanned = try await store.activeDeployments(group: "default", environment: "sandbox")
            // As a decision reads it: one node's index, a fleet's batch read (`dxcp_fetch`).
            let usage = try await store.viewing { $0.slotUsage(group: "default", environment: "sandbox", staleBefore: staleBefore) }
            #expect(usage.holding == scanned.count, "step \(step)")
            let stale = scanned.filter { $0.canBeStale && $0.updatedAt <= staleBefore }
            #expect(Set(usage.stale.map(\.id)) == Set(stale.map(\.id)), "step \(step)")
            #expect(usage.stale.map(\.updatedAt) == usage.stale.map(\.updatedAt).sorted(), "oldest first")
        }
        #expect(try await store.allDeployments().count > 50, "the run made deployments")
    }

    /// The poller's walk (one jump per scope, then its slot entries) finds exactly the records
    /// holding a slot, across groups and environments whose quota counters of several days sit
    /// beside their slots.
    @Test(arguments: Backend.underTest) func thePollersWalkFindsEveryHolderAcrossScopes(_ backend: Backend) async throws {
        let groups = threeGroups, environments = ["sandbox", "staging"]
        let seeded = try await seededThreeGroupBackend(backend, policy: threeGroupPolicy(environments: environments))
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        var random = SplitMix64(seed: 11)
        var clock = baseTime
        var ids: [String] = []
        for step in 0..<300 {
            clock = clock.adding(seconds: Int64(random.below(3 * 3_600)))
            if random.below(2) == 0 || ids.isEmpty {
                let g = random.pick(groups)
                let intent = DeploymentIntent(service: "svc-\(g)", environment: random.pick(environments), version: "1.0.0", changeSummary: "s\(step)")
                if try await store.decide(.deploy(intent), by: owner, context: context("k\(step)", at: clock, id: "dep-\(step)"), requestId: nil).allowed {
                    ids.append("dep-\(step)")
                }
            } else if random.below(2) == 0 {
                _ = try await store.recordDispatch(deploymentId: random.pick(ids), executionId: "e-\(step)", executionURL: nil, now: clock)
            } else {
                _ = try await store.recordEngineState(deploymentId: random.pick(ids), state: random.pick([.succeeded, .failed, .inProgress]), failures: [], now: clock)
            }
            let holders = Set(try await store.allDeployments().filter(\.state.holdsSlot).map(\.id))
            #expect(Set(try await store.slotHolders().map(\.id)) == holders, "step \(step)")
        }
        #expect(try await store.allDeployments().count > 100)
        #expect(try await store.slotHolders().count > 10, "the run ends with holders in several scopes")
    }
}

/// A data directory of schema 1 (slot entries without the awaiting-engine flag, no counts, no age
/// index) is upgraded when opened.
@Suite struct SlotIndexMigrationTests {
    @Test func aSchemaOneDirectoryGetsItsSlotIndex() async throws {
        let dir = TempDirectory()
        do {
            let store = try await seededStore(dir, policy: testPolicy(maxConcurrent: 10))
            for n in 0..<4 {
                _ = try await store.decide(.deploy(deployIntent(summary: "s\(n)")), by: owner, context: context("k\(n)", at: baseTime, id: "dep-\(n)"))
            }
            _ = try await store.recordDispatch(deploymentId: "dep-1", executionId: "e-1", executionURL: nil, now: baseTime)
            _ = try await store.recordDispatch(deploymentId: "dep-2", executionId: "e-2", executionURL: nil, now: baseTime)
            _ = try await store.recordEngineState(deploymentId: "dep-2", state: .succeeded, failures: [], now: baseTime)
            await store.close()
        }
        // Back to schema 1, as an older dxcp-policy left it (the raw handle is closed before the store opens).
        do {
            let env = try LMDB.Environment(path: dir.path, options: .init(mapSize: 64 << 20, maxDatabases: 16))
            let scopes = try env.database("scopes", create: false)
            let meta = try env.database("meta", create: false)
            try env.write { txn in
                for (key, value) in try txn.entries(scopes, prefix: StoreKey().adding("default:sandbox").bytes) {
                    let kind = StoreKey.string(in: key, at: StoreKey().adding("default:sandbox").bytes.count)
                    if kind == "slots" || kind == "slot-age" { _ = try txn.delete(scopes, key) }
                    if kind == "slot" { try txn.put(scopes, key, [value[0] & 1] + value[1...]) }
                }
                try txn.put(meta, Array("schema_version".utf8), Array("1".utf8))
            }
        }
        let store = try GovernanceStore(directory: dir.path)
        let usage = try store.slotUsage(group: "default", environment: "sandbox", staleBefore: baseTime.adding(seconds: 1))
        #expect(usage.holding == 3)
        #expect(usage.stale.map(\.id) == ["dep-1"], "only the one with an execution can be a stale lock")
        let active = try store.activeDeployments(group: "default", environment: "sandbox")
        #expect(Set(active.filter(\.awaitingEngine).map(\.id)) == ["dep-0", "dep-3"])
    }
}

import Foundation
@testable import GovernanceStore
import LMDB
import Rules
import TestSupport
import Testing

/// The record indexes of schema 3 — newest record per service and environment, SUCCEEDED
/// versions, insight counters — answer what a scan of every record answers, whatever happens to
/// the deployments, and a schema-2 directory gets them when opened.
@Suite struct DeploymentIndexTests {
    /// What the indexes must say, computed from the records themselves.
    struct Expected: Equatable {
        var latest: String?
        var succeeded: Set<String>
        var counts: [String: Int]

        init(_ records: [DeploymentRecord]) {
            let scope = records.filter { $0.service == "demo-service" && $0.environment == "sandbox" }
            latest = scope.max { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }?.id
            succeeded = Set(scope.filter { $0.state == .succeeded }.map(\.version))
            counts = [:]
            for r in records {
                counts["\(r.createdAt.hour)|\(r.kind == .rollback ? "rollback" : "deploy")|\(r.recipeId)", default: 0] += 1
                for f in r.failures { counts["\(r.createdAt.hour)|failure|\(f.category.rawValue)", default: 0] += 1 }
            }
        }

        /// What the rules' view of `store` answers.
        static func of(_ store: any GovernanceBackend, versions: [String]) async throws -> Expected {
            let (latest, succeeded, counts) = try await store.viewing { view in
                let latest = view.latestDeployment(service: "demo-service", environment: "sandbox")?.id
                let succeeded = Set(versions.filter { view.hasSucceeded(service: "demo-service", environment: "sandbox", version: $0) })
                var counts: [String: Int] = [:]
                for c in view.insightCounts(hours: Int64.min...Int64.max) {
                    counts["\(c.hour)|\(c.measure.rawValue)|\(c.label)", default: 0] += c.count
                }
                return (latest, succeeded, counts)
            }
            return Expected(latest: latest, succeeded: succeeded, counts: counts)
        }

        init(latest: String?, succeeded: Set<String>, counts: [String: Int]) {
            self.latest = latest
            self.succeeded = succeeded
            self.counts = counts
        }
    }

    static let versions = ["1.0.0", "1.0.1", "1.0.2"]

    @Test(arguments: Backend.underTest) func theIndexesAgreeWithAScanOfTheRecords(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend, policy: testPolicy(maxConcurrent: 1_000, dailyDeploy: 100_000), versions: Self.versions)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        var random = SplitMix64(seed: 7)
        var clock = baseTime
        var ids: [String] = []
        for step in 0..<300 {
            clock = clock.adding(seconds: Int64(random.below(1_800)))
            switch random.below(10) {
            case 0..<4:
                let decision = try await store.decide(
                    .deploy(deployIntent(random.pick(Self.versions), summary: "s\(step)")), by: owner, context: context("k\(step)", at: clock, id: "dep-\(step)"), requestId: nil)
                if decision.allowed { ids.append("dep-\(step)") }
            case 4..<6 where !ids.isEmpty:
                _ = try await store.recordDispatch(deploymentId: random.pick(ids), executionId: "e-\(step)", executionURL: nil, now: clock)
            case 6..<8 where !ids.isEmpty:
                let failures = random.chance(50) ? [] : [Failure(category: random.pick(Failure.Category.allCases), summary: "x", actionHint: "y", observedAt: clock)]
                _ = try await store.recordEngineState(
                    deploymentId: random.pick(ids), state: random.pick([.succeeded, .failed, .rolledBack, .inProgress]), failures: failures, now: clock)
            case 8 where !ids.isEmpty:
                _ = try await store.releaseReservation(deploymentId: random.pick(ids), reason: "test", now: clock)
            default:
                break
            }
            let records = try await store.allDeployments()
            #expect(try await Expected.of(store, versions: Self.versions) == Expected(records), "step \(step)")
            // The list of a service and environment, read from its index, is the scan's, newest first.
            let listed = try await store.deployments(matching: DeploymentQuery(service: "demo-service", environment: "sandbox"), groups: nil).map(\.id)
            let scanned = records.filter { $0.service == "demo-service" && $0.environment == "sandbox" }
                .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }.map(\.id)
            #expect(listed == scanned, "step \(step)")
        }
        let records = try await store.allDeployments()
        #expect(records.contains { $0.state == .succeeded } && records.contains { !$0.failures.isEmpty }, "the run reached successes and failures")
    }

    @Test func aSchemaTwoDirectoryGetsTheIndexes() async throws {
        let dir = TempDirectory()
        do {
            let store = try await seededStore(dir, policy: testPolicy(maxConcurrent: 10), versions: Self.versions)
            for (n, version) in Self.versions.enumerated() {
                _ = try await store.decide(.deploy(deployIntent(version, summary: "s\(n)")), by: owner, context: context("k\(n)", at: baseTime.adding(seconds: Int64(n)), id: "dep-\(n)"))
                _ = try await store.recordDispatch(deploymentId: "dep-\(n)", executionId: "e-\(n)", executionURL: nil, now: baseTime)
            }
            _ = try await store.recordEngineState(deploymentId: "dep-0", state: .succeeded, failures: [], now: baseTime)
            _ = try await store.recordEngineState(
                deploymentId: "dep-1", state: .failed, failures: [Failure(category: .timeout, summary: "x", actionHint: "y", observedAt: baseTime)], now: baseTime)
            await store.close()
        }
        let expected = Expected(try GovernanceStore(directory: dir.path).deployments())
        #expect(expected.latest == "dep-2")
        #expect(expected.succeeded == ["1.0.0"])
        // Back to schema 2, as an older dxcp-policy left it.
        do {
            let env = try LMDB.Environment(path: dir.path, options: .init(mapSize: 64 << 20, maxDatabases: 16))
            let indexes = try ["deployments_by_scope", "succeeded_versions", "insights"].map { try env.database($0, create: false) }
            let meta = try env.database("meta", create: false)
            try env.write { txn in
                for db in indexes { try txn.drop(db) }
                try txn.put(meta, Array("schema_version".utf8), Array("2".utf8))
            }
        }
        // Opened as `audit verify` opens it (create: false): the missing databases are created and filled.
        let store = try GovernanceStore(directory: dir.path, options: .init(mapSize: 64 << 20, create: false))
        #expect(try await Expected.of(store, versions: Self.versions) == expected)
    }
}

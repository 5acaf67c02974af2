import Foundation
import Audit
import Rules
@testable import GovernanceStore
import TestSupport
import Testing

/// A policy with one group (`default`: `demo-service` in `sandbox`, owner `owner@example.com`),
/// the recipe `default`, a CI publisher matching subject `ci-bot`, and the given limits.
func testPolicy(maxConcurrent: Int = 1, dailyDeploy: Int = 25, mutateRPM: Int = 5000) -> PolicySnapshot {
    PolicySnapshot(
        deliveryGroups: [DeliveryGroup(
            id: "default", name: "Default", owners: ["owner@example.com"], services: ["demo-service"],
            allowedRecipes: ["default"],
            guardrails: Guardrails(maxConcurrentDeployments: maxConcurrent, dailyDeployQuota: dailyDeploy, dailyRollbackQuota: 10))],
        recipes: [Recipe(
            id: "default", name: "Default", spinnakerApplication: "demo-app", deployPipeline: "demo-deploy",
            rollbackPipeline: "rollback-demo-service", effectiveBehaviorSummary: "Standard deploy")],
        services: [ServiceEntry(name: "demo-service", allowedRecipes: ["default"], allowedArtifactSources: ["s3://artifacts/"])],
        environments: [Rules.Environment(id: "sandbox")],
        bindings: [EnvironmentBinding(deliveryGroupId: "default", environmentId: "sandbox")],
        routes: [Route(service: "demo-service", environment: "sandbox", recipeId: "default")],
        settings: Settings(readRPM: 5000, mutateRPM: mutateRPM, ciPublishers: [CIPublisher(name: "ci", subjects: ["ci-bot"])]))
}

let owner = Principal(claims: Claims(subject: "owner-1", email: "owner@example.com", roles: .values(["dxcp-delivery-owners"])))
let ciBot = Principal(claims: Claims(subject: "ci-bot", roles: .values(["dxcp-ci-publishers"])))
let admin = Principal(claims: Claims(subject: "admin-1", email: "admin@example.com", roles: .values(["dxcp-platform-admins"])))

/// A fixed base time: 2026-11-25T12:00:00Z.
let baseTime = Timestamp(seconds: 1_795_608_000)

func context(_ key: String? = nil, at time: Timestamp = baseTime, id: String = UUID().uuidString.lowercased()) -> DecisionContext {
    DecisionContext(now: time, decisionId: "d-\(id)", newId: id, idempotencyKey: key)
}

func deployIntent(_ version: String = "1.0.0", summary: String = "test") -> DeploymentIntent {
    DeploymentIntent(service: "demo-service", environment: "sandbox", version: version, changeSummary: summary)
}

/// A fresh temporary directory, removed when the test's scope ends.
final class TempDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-test-\(UUID().uuidString)").path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Creates and seeds a store: the test policy and a registered build of each version.
func seededStore(_ dir: TempDirectory, policy: PolicySnapshot = testPolicy(), versions: [String] = ["1.0.0"], mapSize: Int = 64 << 20) async throws -> GovernanceStore {
    let store = try GovernanceStore(directory: dir.path, options: .init(mapSize: mapSize, create: true))
    try await store.replacePolicy(policy, actorId: "test", now: baseTime)
    for version in versions {
        let registration = BuildRegistration(
            service: "demo-service", version: version, artifactRef: "s3://artifacts/demo-service-\(version).zip",
            gitSha: "abc\(version)", gitBranch: "main", ciProvider: "github", ciRunId: "1", builtAt: "2026-11-25T11:00:00Z")
        let decision = try await store.decide(.registerExistingBuild(registration), by: ciBot, context: context("build-\(version)"))
        #expect(decision.allowed, "build registration: \(decision.code.map(\.rawValue) ?? "")")
    }
    return store
}

/// The groups of ``threeGroupPolicy(environments:guardrails:)``.
let threeGroups = ["alpha", "beta", "gamma"]

/// Three groups (`alpha`, `beta`, `gamma`), each owning `svc-<group>` in every environment given,
/// owned by `<group>@example.com`, `all@example.com` and `owner@example.com`.
func threeGroupPolicy(
    environments: [String] = ["sandbox"],
    guardrails: Guardrails = Guardrails(maxConcurrentDeployments: 1_000, dailyDeployQuota: 100_000, dailyRollbackQuota: 10)
) -> PolicySnapshot {
    let base = testPolicy()
    return PolicySnapshot(
        deliveryGroups: threeGroups.map { g in
            DeliveryGroup(id: g, name: g, owners: ["\(g)@example.com", "all@example.com", "owner@example.com"], services: ["svc-\(g)"],
                allowedRecipes: ["default"], guardrails: guardrails)
        },
        recipes: Array(base.recipes.values),
        services: threeGroups.map { ServiceEntry(name: "svc-\($0)", allowedRecipes: ["default"], allowedArtifactSources: ["s3://artifacts/"]) },
        environments: environments.map { Rules.Environment(id: $0) },
        bindings: threeGroups.flatMap { g in environments.map { EnvironmentBinding(deliveryGroupId: g, environmentId: $0) } },
        routes: threeGroups.flatMap { g in environments.map { Route(service: "svc-\(g)", environment: $0, recipeId: "default") } },
        settings: base.settings)
}

/// Creates a store with `policy` (one of ``threeGroupPolicy(environments:guardrails:)``) and
/// version 1.0.0 of each group's service registered at `time`.
func seededThreeGroupStore(_ dir: TempDirectory, policy: PolicySnapshot, mapSize: Int = 64 << 20, at time: Timestamp = baseTime) async throws -> GovernanceStore {
    let store = try GovernanceStore(directory: dir.path, options: .init(mapSize: mapSize, create: true))
    try await seedThreeGroups(store, policy: policy, at: time)
    return store
}

/// A store of `backend` seeded as ``seededThreeGroupStore(_:policy:mapSize:at:)`` seeds one.
func seededThreeGroupBackend(_ backend: Backend, policy: PolicySnapshot, at time: Timestamp = baseTime) async throws -> SeededBackend {
    switch backend {
    case .lmdb:
        let dir = TempDirectory()
        return SeededBackend(store: try await seededThreeGroupStore(dir, policy: policy, at: time), directory: dir)
    case .postgres:
        let database = try TestDatabase()
        let store = try FleetStore(location: database.location, options: .init(migrate: true, readers: 2))
        try await seedThreeGroups(store, policy: policy, at: time)
        return SeededBackend(store: store, database: database)
    }
}

private func seedThreeGroups(_ store: any GovernanceBackend, policy: PolicySnapshot, at time: Timestamp) async throws {
    try await store.replacePolicy(policy, actorId: "test", now: time)
    for g in threeGroups {
        let registration = BuildRegistration(
            service: "svc-\(g)", version: "1.0.0", artifactRef: "s3://artifacts/svc-\(g).zip", gitSha: "abc", gitBranch: "main",
            ciProvider: "github", ciRunId: "1", builtAt: "2026-11-25T11:00:00Z")
        #expect(try await store.decide(.registerExistingBuild(registration), by: ciBot, context: context("b-\(g)", at: time), requestId: nil).allowed)
    }
}

/// The path of the `dxcp-policy` executable built beside the test bundle.
func dxcpPolicyExecutable() -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("dxcp-policy").path
}

/// Bytes of the store's map in use (an LMDB store always has a map).
func mapUsed(_ store: GovernanceStore) -> Int {
    store.usage().map(\.used) ?? -1
}

/// A seeded store of one backend, and where its state lives (which keeps the LMDB directory alive).
final class SeededBackend: @unchecked Sendable {
    let store: any GovernanceBackend
    private let directory: TempDirectory?
    private let database: TestDatabase?

    init(store: any GovernanceBackend, directory: TempDirectory? = nil, database: TestDatabase? = nil) {
        self.store = store
        self.directory = directory
        self.database = database
    }

    /// Closes the seeded store and opens the same state again with a writer of these bounds.
    func reopened(maxBatch: Int, maxQueue: Int) async throws -> any GovernanceBackend {
        await store.close()
        if let directory {
            return try GovernanceStore(directory: directory.path, options: .init(mapSize: 64 << 20, maxBatch: maxBatch, maxQueue: maxQueue))
        }
        guard let database else { throw StoreError(.missing, path: "", "the seeded state is gone") }
        return try FleetStore(location: database.location, options: .init(maxBatch: maxBatch, maxQueue: maxQueue, readers: 2))
    }
}

/// A store of `backend` with the test policy and a registered build of each version.
func seededBackend(_ backend: Backend, policy: PolicySnapshot = testPolicy(), versions: [String] = ["1.0.0"]) async throws -> SeededBackend {
    switch backend {
    case .lmdb:
        let dir = TempDirectory()
        return SeededBackend(store: try await seededStore(dir, policy: policy, versions: versions), directory: dir)
    case .postgres:
        let database = try TestDatabase()
        let replica = try await seededFleet(database, policy: policy, versions: versions, count: 1)[0]
        return SeededBackend(store: replica, database: database)
    }
}

extension GovernanceBackend {
    /// Reads through the rules' view of what the backend holds (a test's window into it).
    func viewing<T: Sendable>(_ body: @escaping @Sendable (any StateView) -> T) async throws -> T {
        switch self {
        case let node as GovernanceStore: return try node.read { view, _ in body(view) }
        case let fleet as FleetStore: return try await fleet.viewing { body($0) }
        default: throw StoreError(.storage, path: path, "no view of this backend")
        }
    }

    /// Rate windows held: one node's persisted (mutate) windows; a fleet's, read windows too.
    func rateWindowCount() async throws -> Int {
        switch self {
        case let node as GovernanceStore: return try node.read { view, _ in try view.txn.count(node.schema.rateWindows) }
        case let fleet as FleetStore: return try await fleet.read { try $0.rows("SELECT count(*)::bigint FROM rate_windows").first?.decode(Int.self) ?? 0 }
        default: throw StoreError(.storage, path: path, "no rate windows in this backend")
        }
    }

    /// Every record, newest first.
    func allDeployments() async throws -> [DeploymentRecord] { try await deployments(matching: DeploymentQuery(), groups: nil) }
    /// The whole audit log, oldest first.
    func allAuditEntries() async throws -> [AuditEntry] { try await auditEntries(after: 0, limit: .max) }
}

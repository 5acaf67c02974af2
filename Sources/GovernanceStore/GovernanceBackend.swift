public import Rules
public import Audit

/// What the service, the engine and the commands need of governance state, whichever backend
/// holds it: ``GovernanceStore`` (one LMDB environment, one node) or ``FleetStore`` (PostgreSQL,
/// shared by a fleet's replicas). The backends differ only in how they read state for the rules
/// and how they commit effects; the rules, the effects and the write path are shared.
public protocol GovernanceBackend: AnyObject, Sendable {
    /// Where the state lives, for logs and errors (a data directory, or a database URL without
    /// its password).
    var path: String { get }

    /// The write path: engine outcomes, policy loads, expiry (see the extension below).
    var writes: StoreWrites { get }

    /// Decides `request`: mutating requests through the write path, committed durably before this
    /// returns; others on the current state, committing nothing (their read window is counted in
    /// this process's memory).
    func decide(_ request: Request, by principal: Principal, context: DecisionContext, requestId: String?) async throws -> Decision

    /// The policy data and settings every replica decides with.
    func policy() async throws(StoreError) -> PolicySnapshot
    /// How many times the policy data was replaced (0: never loaded).
    func policyGeneration() async throws(StoreError) -> UInt64
    func deployment(id: String) async throws(StoreError) -> DeploymentRecord?
    /// Records newest first, filtered as the rules' list filters them.
    func deployments(matching query: DeploymentQuery, groups: Set<String>?) async throws(StoreError) -> [DeploymentRecord]
    /// Deployments holding a slot in a group and environment.
    func activeDeployments(group: String, environment: String) async throws(StoreError) -> [ActiveDeployment]
    /// Units spent of a daily quota.
    func quotaUsed(_ scope: QuotaScope, day: Int64) async throws(StoreError) -> Int
    /// The idempotency record under a scope.
    func idempotencyRecord(_ scope: IdempotencyScope) async throws(StoreError) -> IdempotencyRecord?
    /// Audit entries after `sequence`, oldest first.
    func auditEntries(after sequence: UInt64, limit: Int) async throws(StoreError) -> [AuditEntry]
    /// Verifies the whole stored chain, from the retention checkpoint to the recorded head.
    func verifyAudit() async throws(StoreError) -> AuditVerifier.Verdict
    func build(service: String, version: String) async throws(StoreError) -> Build?
    /// Every deployment holding a slot (for the execution poller).
    func slotHolders() async throws(StoreError) -> [ActiveDeployment]
    /// Reservations whose engine trigger is neither recorded nor released (for the reconciler).
    func pendingDispatches() async throws(StoreError) -> [DispatchOrder]
    /// The longest Gate call timeout another process deciding on this state may trigger with (a
    /// fleet's live replicas publish theirs); nil when no other process dispatches.
    func longestEngineTimeoutMs() async throws(StoreError) -> Int?
    /// A page of the audit log, newest first.
    func auditEvents(_ query: AuditQuery) async throws(StoreError) -> (entries: [AuditEntry], next: UInt64?)
    /// Whether other processes decide on this state too (a fleet's replicas): then a write queued
    /// here is not yet seen by them, and what a later request on another replica must see is
    /// committed before the answer.
    var sharedByReplicas: Bool { get }
    /// Whether this process runs the background work of the state it shares (the reconciler,
    /// the execution poller, expiry and retention) now: always for one node; in a fleet, the one
    /// replica holding the lease, until its connection to the database ends.
    func leadsBackgroundWork() async -> Bool
    /// Bytes of map configured and used, for a store with a fixed map (LMDB); nil otherwise.
    func usage() -> (mapSize: Int, used: Int)?
    /// Stops taking writes once those already queued have committed.
    func close() async
}

/// The write path's operations that are not decisions, the same for every backend.
public struct StoreWrites: Sendable {
    let writer: WritePath

    init(_ writer: WritePath) { self.writer = writer }
}

extension GovernanceBackend {
    /// Replaces the policy data (the `seed` and admin path); audited as `ADMIN_POLICY_LOAD`.
    public func replacePolicy(_ snapshot: PolicySnapshot, actorId: String, now: Timestamp) async throws {
        _ = try await writes.writer.submit(.mutation(.replacePolicy(snapshot, actorId: actorId, now: now, onlyIfNone: false)))
    }

    /// Loads the policy data only if none was ever loaded, decided in the write transaction (in a
    /// fleet, under the fleet lock: of replicas starting together on an empty database, one
    /// loads it). Returns whether it was loaded.
    public func loadPolicyIfNone(_ snapshot: PolicySnapshot, actorId: String, now: Timestamp) async throws -> Bool {
        guard case .policyLoaded(let loaded) = try await writes.writer.submit(.mutation(.replacePolicy(snapshot, actorId: actorId, now: now, onlyIfNone: true))) else {
            throw writes.writer.mismatchedOutcome
        }
        return loaded
    }

    /// Records the execution the engine started for a reservation and completes its key. A
    /// deployment's execution is recorded once; a second report changes nothing.
    public func recordDispatch(
        deploymentId: String, executionId: String, executionURL: String?, now: Timestamp, reservation: DeploymentRecord? = nil
    ) async throws -> DeploymentRecord? {
        try await writes.writer.submit(.mutation(.recordDispatch(
            deploymentId, executionId: executionId, executionURL: executionURL, now: now, reservation: reservation))).record
    }

    /// Queues the record of a dispatch now and returns at once: any decision queued after this
    /// call (a replay of the same key, say) is evaluated after the execution is recorded. `done`
    /// hears the record once it is durable, or the error.
    public func recordDispatchSoon(
        deploymentId: String, executionId: String, executionURL: String?, now: Timestamp, reservation: DeploymentRecord?,
        done: @escaping @Sendable (Result<DeploymentRecord?, any Error>) -> Void
    ) {
        writes.writer.enqueue(.mutation(.recordDispatch(
            deploymentId, executionId: executionId, executionURL: executionURL, now: now, reservation: reservation))
        ) { result in done(result.map(\.record)) }
    }

    /// Releases a reservation the engine never accepted: the record, its slot and its quota unit
    /// are gone and the idempotency key is free again (DECISIONS D8). Audited as FAILED.
    public func releaseReservation(deploymentId: String, reason: String, now: Timestamp) async throws -> DeploymentRecord? {
        try await writes.writer.submit(.mutation(.releaseReservation(deploymentId, reason: reason, now: now))).record
    }

    /// Records a state the engine reported. Terminal states release the slot; a terminal record
    /// never changes again.
    public func recordEngineState(deploymentId: String, state: DeploymentRecord.State, failures: [Failure], now: Timestamp) async throws -> DeploymentRecord? {
        try await writes.writer.submit(.mutation(.recordEngineState(deploymentId, state: state, failures: failures, now: now))).record
    }

    /// Queues a state the engine reported and returns at once; `done` hears the record once the
    /// change is durable, or the error.
    public func recordEngineStateSoon(
        deploymentId: String, state: DeploymentRecord.State, failures: [Failure], now: Timestamp,
        done: @escaping @Sendable (Result<DeploymentRecord?, any Error>) -> Void
    ) {
        writes.writer.enqueue(.mutation(.recordEngineState(deploymentId, state: state, failures: failures, now: now))) { done($0.map(\.record)) }
    }

    /// Removes, in passes of at most `batch`, idempotency records past their TTL (keys in flight
    /// are kept), expired upload capabilities, refusal tallies of past minutes (each audited once)
    /// and mutate rate windows of past minutes.
    /// Each pass is one write transaction, so a pass never holds the writer for long.
    public func expire(now: Timestamp, batch: Int = 500) async throws -> Expiry {
        var total = Expiry()
        let batch = max(1, batch)
        while true {
            guard case .expired(let pass) = try await writes.writer.submit(.mutation(.expire(now: now, limit: batch))) else { return total }
            total.idempotencyRecords += pass.idempotencyRecords
            total.uploadCapabilities += pass.uploadCapabilities
            total.refusalMinutes += pass.refusalMinutes
            total.rateWindows += pass.rateWindows
            if pass.total < batch { return total }
        }
    }

    /// Removes entries older than `cutoff` (and, when given, numbered at most `upTo`: what a log
    /// shipper has confirmed), oldest first, leaving a checkpoint so that the rest still verifies
    /// (DECISIONS 38). Every removed entry is verified first: a log that does not verify loses
    /// nothing. Each pass (at most `batch` entries, one transaction) is itself audited as
    /// `AUDIT_RETENTION`.
    ///
    /// - Returns: one ``AuditPruning`` per pass; empty when nothing was old enough.
    public func pruneAudit(olderThan cutoff: Timestamp, upTo: UInt64 = .max, actorId: String, now: Timestamp, batch: Int = 10_000) async throws -> [AuditPruning] {
        var passes: [AuditPruning] = []
        while true {
            let retention = AuditRetention(cutoff: cutoff, upTo: upTo, actorId: actorId, now: now, limit: max(1, batch))
            guard case .pruned(let pass?) = try await writes.writer.submit(.mutation(.pruneAudit(retention))) else { return passes }
            passes.append(pass)
            if pass.removed.count < batch { return passes }
        }
    }

    /// What the write path has committed since the store was opened.
    public func writeStatistics() -> WriteStats { writes.writer.statistics }
}

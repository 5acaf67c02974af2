public import Rules
public import GovernanceStore
public import Logging

/// Passes reserved deployments to the engine at most once, and never loses one (DECISIONS D6,
/// D8, D13).
///
/// A deploy or rollback decision commits its reservation (record, slot, quota unit, in-flight
/// idempotency key, outbox entry) before the engine is called. Then:
/// - the trigger succeeds → the execution is recorded in a second commit, completing the key;
/// - Gate refuses or fails → the reservation is released: record, slot and quota unit are gone
///   and the key is free for a retry;
/// - the process dies in between → ``recover(olderThan:now:requestId:)`` finds the outbox entry
///   and asks Gate for an execution carrying the deployment id: found, it is recorded; not found,
///   the reservation is released. Recovery never triggers, so no deployment runs twice.
public final class Dispatcher: Sendable {
    /// Points where a test can stop the process (crash tests only).
    public struct Hooks: Sendable {
        /// After the reservation committed, before the trigger.
        public var afterReservation: @Sendable (DeploymentRecord) -> Void = { _ in }
        /// After Gate accepted the trigger, before the execution is recorded.
        public var afterTrigger: @Sendable (DeploymentRecord) -> Void = { _ in }

        /// No hooks.
        public init() {}
    }

    private let store: GovernanceStore
    private let gate: GateClient
    private let logger: Logger
    private let hooks: Hooks

    /// A dispatcher between `store` and `gate`.
    public init(store: GovernanceStore, gate: GateClient, logger: Logger = Logger(label: "dxcp.engine"), hooks: Hooks = Hooks()) {
        self.store = store
        self.gate = gate
        self.logger = logger
        self.hooks = hooks
    }

    /// Triggers the engine for a reservation just committed and records the outcome: the record
    /// with its execution, or the engine error after the reservation was released.
    public func dispatch(_ record: DeploymentRecord, requestId: String, now: @Sendable () -> Timestamp) async throws -> Result<DeploymentRecord, EngineError> {
        hooks.afterReservation(record)
        let artifactRef = try store.build(service: record.service, version: record.version)?.artifactRef
        let execution: GateClient.Execution
        do {
            execution = try await gate.trigger(TriggerRequest(record: record, artifactRef: artifactRef), requestId: requestId)
        } catch {
            logger.warning("engine refused the trigger; releasing the reservation", metadata: [
                "deployment_id": "\(record.id)", "request_id": "\(requestId)", "error": "\(error)",
            ])
            _ = try await store.releaseReservation(deploymentId: record.id, reason: error.code.rawValue, now: now())
            return .failure(error)
        }
        hooks.afterTrigger(record)
        logger.info("engine accepted the trigger", metadata: [
            "deployment_id": "\(record.id)", "execution_id": "\(execution.id)", "request_id": "\(requestId)",
        ])
        let recorded = try await store.recordDispatch(deploymentId: record.id, executionId: execution.id, executionURL: execution.url, now: now())
        return .success(recorded ?? record)
    }

    /// What recovery did.
    public struct RecoveryReport: Sendable, Hashable {
        /// Reservations whose execution Gate had: now recorded.
        public var recorded: [String] = []
        /// Reservations Gate never started: released.
        public var released: [String] = []
        /// Reservations left for later because Gate could not be asked.
        public var unresolved: [String] = []

        /// An empty report.
        public init() {}
    }

    /// Resolves reservations older than `grace` seconds that were never recorded as dispatched,
    /// asking Gate whether it started them. Younger ones may still be in a live dispatch (this or
    /// another process) and are left alone.
    public func recover(olderThan grace: Int64, now: Timestamp, requestId: String) async throws -> RecoveryReport {
        var report = RecoveryReport()
        for order in try store.pendingDispatches() {
            guard let record = try store.deployment(id: order.deploymentId) else { continue }
            guard record.createdAt <= now.adding(seconds: -grace) else { continue }
            let found: [ExecutionStatus]
            do {
                found = try await gate.executions(
                    application: record.spinnakerApplication, deploymentId: record.id, user: record.actor.engineUser,
                    requestId: requestId)
            } catch {
                logger.warning("cannot ask the engine about a reservation", metadata: ["deployment_id": "\(record.id)", "error": "\(error)"])
                report.unresolved.append(record.id)
                continue
            }
            if let execution = found.first {
                _ = try await store.recordDispatch(
                    deploymentId: record.id, executionId: execution.id,
                    executionURL: "\(gate.configuration.baseURL)/pipelines/\(execution.id)", now: now)
                report.recorded.append(record.id)
            } else {
                _ = try await store.releaseReservation(deploymentId: record.id, reason: "not started by the engine before a restart", now: now)
                report.released.append(record.id)
            }
        }
        return report
    }
}

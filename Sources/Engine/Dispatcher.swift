public import Rules
public import GovernanceStore
public import Logging
import Synchronization

/// Passes reserved deployments to the engine: exactly one execution per deployment, never lost
/// (DECISIONS D6, D8, D13).
///
/// A deploy or rollback decision commits its reservation (record, slot, quota unit, in-flight
/// idempotency key, outbox entry) before the engine is called; that commit is the only one a
/// deploy waits for. Then, by what the trigger's answer proves (``EngineError/Delivery``):
/// - **started**: Gate answered with an execution id. The caller is answered at once; the
///   execution is recorded in the background, which completes the key.
/// - **not sent or refused**: nothing can have started. The reservation is released: record, slot
///   and quota unit are gone, and the key is free for a retry.
/// - **ambiguous**: Gate may have started it. The reservation is kept — slot, quota unit, and the
///   key bound to this deployment — until the ``Reconciler`` finds the execution or learns from Gate
///   that none exists.
///
/// A crash anywhere in between leaves the outbox entry, which the reconciler resolves the same
/// way. Nothing but this dispatch ever triggers, so no deployment runs twice.
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

    /// What became of a dispatch.
    public enum Outcome: Sendable {
        /// Gate started the execution; the record carries it (and is being recorded).
        case started(DeploymentRecord)
        /// Nothing started: the reservation was released and the key is free.
        case released(EngineError)
        /// Gate may have started it: the reservation is held until the reconciler confirms.
        case unconfirmed(DeploymentRecord, EngineError)
        /// Gate started an execution for a reservation that was released meanwhile (a fleet's
        /// reconciler gave up on it): nothing tracks that execution, and the key is free. A retry
        /// would start another; an operator must look at the execution.
        case untracked(DeploymentRecord, executionId: String)
    }

    let store: any GovernanceBackend
    /// The Gate it triggers.
    public let gate: GateClient
    private let logger: Logger
    private let hooks: Hooks
    private let clock: @Sendable () -> Timestamp
    /// Deployments whose trigger is under way or whose execution is still being recorded.
    private let live = InFlight()
    /// Artifact references of registered builds, by service and version. A registered build never
    /// changes (REFERENCE §2.6 refuses a different artifact for a registered version), so it is
    /// read from the store once; the cache is bounded.
    private let artifacts = Mutex<[BuildKey: String]>([:])
    /// A build's service and version as the store keys them: by their bytes (Swift's `String`
    /// equality would make two builds whose names differ only in Unicode normalisation one).
    private struct BuildKey: Hashable {
        let bytes: [UInt8]

        init(service: String, version: String) {
            bytes = Array(service.utf8) + [0] + Array(version.utf8)
        }
    }

    /// A dispatcher between `store` and `gate`, reading the time from `clock`.
    public init(
        store: any GovernanceBackend, gate: GateClient, clock: @escaping @Sendable () -> Timestamp, logger: Logger = Logger(label: "dxcp.engine"),
        hooks: Hooks = Hooks()
    ) {
        self.store = store
        self.gate = gate
        self.clock = clock
        self.logger = logger
        self.hooks = hooks
    }

    /// Whether a dispatch of `deploymentId` is under way in this process (the reconciler leaves it alone).
    public func isDispatching(_ deploymentId: String) -> Bool { live.contains(deploymentId) }

    /// Waits until every dispatch under way, and every execution being recorded, has finished
    /// (before the store closes).
    public func settle() async { await live.settled() }

    /// Triggers the engine for a reservation just committed. The trigger is sent only while the
    /// reservation is younger than the call timeout, so every trigger has ended, one way or the
    /// other, two call timeouts after its reservation: the reconciler's grace period.
    public func dispatch(_ record: DeploymentRecord, requestId: String) async -> Outcome {
        live.begin(record.id)
        hooks.afterReservation(record)
        let artifactRef: String?
        do {
            artifactRef = try await artifact(service: record.service, version: record.version)
        } catch {
            return await release(record, EngineError(.engineUnavailable, delivery: .notSent, "the build could not be read: \(error)"), requestId: requestId)
        }
        let timeout = Int64(gate.configuration.requestTimeoutMs)
        let age = (clock().microseconds - record.createdAt.microseconds) / 1000
        // A clock stepped back (or another replica's ahead when it reserved) makes the age negative:
        // the deadline is never later than one timeout from now.
        let startBy = ContinuousClock.now + .milliseconds(min(timeout, max(0, timeout - age)))
        let execution: GateClient.Execution
        do {
            execution = try await gate.trigger(TriggerRequest(record: record, artifactRef: artifactRef), requestId: requestId, startBy: startBy)
        } catch where error.delivery.mayHaveStarted {
            logger.warning("engine outcome unknown; the reservation is held until the reconciler confirms it", metadata: [
                "deployment_id": "\(record.id)", "request_id": "\(requestId)", "error": "\(error)",
            ])
            live.end(record.id)
            return .unconfirmed(record, error)
        } catch {
            return await release(record, error, requestId: requestId)
        }
        hooks.afterTrigger(record)
        logger.info("engine accepted the trigger", metadata: [
            "deployment_id": "\(record.id)", "execution_id": "\(execution.id)", "request_id": "\(requestId)",
        ])
        let now = clock()
        var started = record
        started.engineExecutionId = execution.id
        started.engineExecutionURL = execution.url
        started.updatedAt = now
        // In a fleet, a retry of the same key may reach another replica, whose writer would not see
        // a record still queued here: the record is committed before the answer (DECISIONS 80).
        if store.sharedByReplicas {
            do {
                let recorded = try await store.recordDispatch(
                    deploymentId: record.id, executionId: execution.id, executionURL: execution.url, now: now, reservation: record)
                if recorded?.engineExecutionId != execution.id {
                    // The fleet's reconciler released this reservation while the trigger was on
                    // its way (it waits out the longest call timeout a live replica publishes, so
                    // only a replica it could not see sends this late): Gate runs an execution
                    // nothing tracks. That is never answered as a deployment.
                    logger.error("the engine started an execution for a reservation already released; it is not tracked", metadata: [
                        "deployment_id": "\(record.id)", "execution_id": "\(execution.id)", "request_id": "\(requestId)",
                    ])
                    live.end(record.id)
                    return .untracked(record, executionId: execution.id)
                }
            } catch {
                logger.error("recording the execution failed; the reconciler will record it", metadata: [
                    "deployment_id": "\(record.id)", "execution_id": "\(execution.id)", "error": "\(error)",
                ])
            }
            live.end(record.id)
            return .started(started)
        }
        // The caller is answered now; the record follows. It is queued before the answer leaves,
        // so a retry of the same key is decided after it. A crash before it is durable leaves the
        // outbox entry, and the reconciler finds the execution by the deployment id.
        store.recordDispatchSoon(
            deploymentId: record.id, executionId: execution.id, executionURL: execution.url, now: now, reservation: record
        ) { [logger] result in
            if case .failure(let error) = result {
                logger.error("recording the execution failed; the reconciler will record it", metadata: [
                    "deployment_id": "\(record.id)", "execution_id": "\(execution.id)", "error": "\(error)",
                ])
            }
            self.live.end(record.id)
        }
        return .started(started)
    }

    private func artifact(service: String, version: String) async throws -> String? {
        let key = BuildKey(service: service, version: version)
        if let cached = artifacts.withLock({ $0[key] }) { return cached }
        guard let artifactRef = try await store.build(service: service, version: version)?.artifactRef else { return nil }
        artifacts.withLock { cache in
            if cache.count >= 4_096 { cache.removeAll(keepingCapacity: true) }
            cache[key] = artifactRef
        }
        return artifactRef
    }

    private func release(_ record: DeploymentRecord, _ failure: EngineError, requestId: String) async -> Outcome {
        defer { live.end(record.id) }
        logger.warning("engine did not start the deployment; releasing the reservation", metadata: [
            "deployment_id": "\(record.id)", "request_id": "\(requestId)", "error": "\(failure)",
        ])
        do {
            _ = try await store.releaseReservation(deploymentId: record.id, reason: failure.code.rawValue, now: clock())
            return .released(failure)
        } catch {
            // The reservation stands, key bound, until the reconciler learns from Gate that nothing
            // started: to the caller that is an unconfirmed outcome.
            logger.error("releasing the reservation failed; the reconciler will release it", metadata: [
                "deployment_id": "\(record.id)", "error": "\(error)",
            ])
            return .unconfirmed(record, failure)
        }
    }
}

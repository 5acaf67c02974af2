public import Rules
public import GovernanceStore
public import Logging
import Synchronization

/// Follows the executions of deployments that hold a concurrency slot (DECISIONS D11): records
/// what Gate reports, so terminal states free their slots without anyone reading the record, and
/// expires locks that stayed IN_PROGRESS past `deployment_lock_stale_seconds` while Gate could not
/// be asked. Survives Gate outages by backing off.
public final class ExecutionPoller: Sendable {
    private let store: any GovernanceBackend
    private let gate: GateClient
    private let logger: Logger
    /// What polling needs of a deployment that never changes once its execution is known, by id:
    /// read from its record once, kept while it holds its slot.
    private let targets = Mutex<[String: Target]>([:])

    /// A deployment to ask Gate about.
    private struct Target: Sendable {
        var executionId: String
        var engineUser: String
        var isRollback: Bool
        /// Where Gate's execution search looks for it, when its own answer is too large to read.
        var application: String
        var createdAt: Timestamp
    }

    /// A poller between `store` and `gate`.
    public init(store: any GovernanceBackend, gate: GateClient, logger: Logger = Logger(label: "dxcp.poller")) {
        self.store = store
        self.gate = gate
        self.logger = logger
    }

    /// What one pass did.
    public struct Report: Sendable, Hashable {
        /// Deployments whose state changed, with the new state.
        public var changed: [String: DeploymentRecord.State] = [:]
        /// Deployments whose stale lock was expired.
        public var expired: [String] = []
        /// Deployments Gate could not be asked about.
        public var failed: [String] = []
    }

    /// What polling one deployment did.
    private enum Polled {
        case unchanged
        case changed(DeploymentRecord.State)
        case expired
        case failed
    }

    /// The state changes one pass queued: awaited together at its end, so the calls to Gate go on
    /// while the changes they found commit in the write path's batches.
    private final class Writes: Sendable {
        let queued = InFlight()
        let failed = Mutex<[String]>([])
    }

    /// How many calls to Gate one pass makes at once. Few: a pass over thousands of executions
    /// then spreads over its interval instead of bursting onto the cores decisions run on (16 at
    /// once tripled the deploy p99 in the benchmark). The state changes found are queued without
    /// waiting and commit in the write path's batches.
    static let concurrency = 4

    /// One pass over every deployment holding a slot whose execution is known. The slots are read
    /// from their compact entries; a record is decoded only the first time its deployment is seen.
    public func pollOnce(now: Timestamp, requestId: String) async throws -> Report {
        let clock = PassClock(now)
        let staleSeconds = try await store.policy().settings.deploymentLockStaleSeconds
        // A reservation awaiting the engine belongs to its dispatcher, or to the reconciler.
        let holders = try await store.slotHolders().filter { !$0.awaitingEngine }
        let known = targets.withLock { targets in
            let held = Set(holders.map(\.id))
            targets = targets.filter { held.contains($0.key) }
            return targets
        }
        var work: [(ActiveDeployment, Target)] = []
        for holder in holders {
            if let target = known[holder.id] {
                work.append((holder, target))
            } else if let record = try await store.deployment(id: holder.id), let executionId = record.engineExecutionId {
                let target = Target(
                    executionId: executionId, engineUser: record.actor.engineUser, isRollback: record.kind == .rollback,
                    application: record.spinnakerApplication, createdAt: record.createdAt)
                targets.withLock { $0[holder.id] = target }
                work.append((holder, target))
            }
        }
        // The slots that have waited longest for a heartbeat are asked about first.
        work.sort { ($0.0.updatedAt, $0.0.id) < ($1.0.updatedAt, $1.0.id) }
        var report = Report()
        let writes = Writes()
        await withTaskGroup(of: (String, Polled).self) { group in
            var next = work.makeIterator()
            func startNext() {
                guard let (holder, target) = next.next() else { return }
                group.addTask {
                    (holder.id, await self.poll(holder, target, staleSeconds: staleSeconds, clock: clock, requestId: requestId, writes: writes))
                }
            }
            for _ in 0..<Self.concurrency { startNext() }
            while let (id, polled) = await group.next() {
                switch polled {
                case .unchanged: break
                case .changed(let state): report.changed[id] = state
                case .expired: report.failed.append(id); report.expired.append(id)
                case .failed: report.failed.append(id)
                }
                startNext()
            }
        }
        await writes.queued.settled()
        for id in writes.failed.withLock({ $0 }) {
            // Not recorded: the next pass asks again.
            report.changed[id] = nil
            report.expired.removeAll { $0 == id }
            report.failed.append(id)
        }
        return report
    }

    /// Queues a state change for the write path, counted in `writes`.
    private func record(_ id: String, _ state: DeploymentRecord.State, _ failures: [Failure], now: Timestamp, _ writes: Writes) {
        writes.queued.begin(id)
        store.recordEngineStateSoon(deploymentId: id, state: state, failures: failures, now: now) { [logger] result in
            if case .failure(let error) = result {
                logger.error("recording an execution's state failed", metadata: ["deployment_id": "\(id)", "error": "\(error)"])
                writes.failed.withLock { $0.append(id) }
            }
            writes.queued.end(id)
        }
    }

    private func poll(
        _ holder: ActiveDeployment, _ target: Target, staleSeconds: Int64, clock: PassClock, requestId: String, writes: Writes
    ) async -> Polled {
        do {
            guard var status = try await gate.execution(target.executionId, user: target.engineUser, requestId: requestId) else {
                return .unchanged  // Gate does not know it (404): nothing to record (REFERENCE §7).
            }
            if status.unreadable == .tooLarge,
                case .found(let found) = try await gate.findExecution(
                    application: target.application, deploymentId: holder.id, createdAt: target.createdAt, user: target.engineUser, requestId: requestId),
                found.id == target.executionId
            {
                // The search answers without the stages that made the execution too large to read.
                status = found
            }
            // What is decided and written is stamped when Gate answered, not when the pass began:
            // a long pass must not write heartbeats that are already old.
            let now = clock.current()
            let heartbeatDue = holder.updatedAt <= now.subtracting(seconds: max(1, staleSeconds / 3))
            // An unrecognised status, or an answer that cannot be read, maps to PENDING, which holds
            // no slot; it is never a reason to free one, and Gate still has the execution: its slot
            // is kept alive.
            guard status.state != .pending else {
                if heartbeatDue {
                    logger.warning("the engine's answer maps to no contract state; the execution keeps its slot", metadata: [
                        "deployment_id": "\(holder.id)", "execution_id": "\(target.executionId)", "engine_status": "\(status.engineStatus)",
                    ])
                    record(holder.id, holder.state, [], now: now, writes)
                }
                return .unchanged
            }
            guard status.state != holder.state || heartbeatDue else { return .unchanged }
            let failures = status.failure(isRollback: target.isRollback, at: now).map { [$0] } ?? []
            record(holder.id, status.state, failures, now: now, writes)
            return status.state != holder.state ? .changed(status.state) : .unchanged
        } catch {
            let now = clock.current()
            guard holder.state == .inProgress, holder.updatedAt <= now.subtracting(seconds: staleSeconds) else { return .failed }
            let failure = Failure(
                category: .infrastructure, summary: "Deployment lock expired due to stale in-progress state.",
                detail: "The engine could not be asked for \(staleSeconds) seconds: \(error.code.rawValue)",
                actionHint: "Check the deployment in the engine, then retry.", observedAt: now)
            record(holder.id, .failed, [failure], now: now, writes)
            return .expired
        }
    }

    /// Polls every `interval` until the task is cancelled, waiting up to eight intervals between
    /// passes while Gate keeps failing.
    public func run(
        every interval: Duration, now: @Sendable () -> Timestamp, requestId: @Sendable () -> String, leads: @Sendable () async -> Bool = { true }
    ) async {
        var backoff = 1
        while !Task.isCancelled {
            do {
                guard await leads() else {
                    try? await Task.sleep(for: interval)
                    continue
                }
                let report = try await pollOnce(now: now(), requestId: requestId())
                backoff = report.failed.isEmpty ? 1 : min(backoff * 2, 8)
                if !report.changed.isEmpty || !report.expired.isEmpty {
                    logger.info("executions updated", metadata: ["changed": "\(report.changed.count)", "expired": "\(report.expired.count)"])
                }
            } catch {
                backoff = min(backoff * 2, 8)
                logger.error("poll failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval * backoff)
        }
    }
}

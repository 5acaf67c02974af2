public import Rules
public import GovernanceStore
public import Logging

/// Follows the executions of deployments that hold a concurrency slot (DECISIONS D11): records
/// what Gate reports, so terminal states free their slots without anyone reading the record, and
/// expires locks that stayed IN_PROGRESS past `deployment_lock_stale_seconds` while Gate could not
/// be asked. Survives Gate outages by backing off.
public final class ExecutionPoller: Sendable {
    private let store: GovernanceStore
    private let gate: GateClient
    private let logger: Logger

    /// A poller between `store` and `gate`.
    public init(store: GovernanceStore, gate: GateClient, logger: Logger = Logger(label: "dxcp.poller")) {
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

    /// How many deployments one pass asks Gate about at once: their state changes then commit
    /// together instead of one durable commit after another.
    static let concurrency = 16

    /// One pass over every deployment holding a slot.
    public func pollOnce(now: Timestamp, requestId: String) async throws -> Report {
        let staleSeconds = try store.policy().settings.deploymentLockStaleSeconds
        // A reservation not yet dispatched belongs to its dispatcher, or to the reconciler.
        let records = try store.deploymentsHoldingSlots().filter { $0.engineExecutionId != nil }
        var report = Report()
        await withTaskGroup(of: (String, Polled).self) { group in
            var next = records.makeIterator()
            func startNext() {
                guard let record = next.next() else { return }
                group.addTask {
                    do {
                        return (record.id, try await self.poll(record, staleSeconds: staleSeconds, now: now, requestId: requestId))
                    } catch {
                        // The store could not record it: the next pass asks again.
                        self.logger.error("recording an execution's state failed", metadata: ["deployment_id": "\(record.id)", "error": "\(error)"])
                        return (record.id, .failed)
                    }
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
        return report
    }

    private func poll(_ record: DeploymentRecord, staleSeconds: Int64, now: Timestamp, requestId: String) async throws -> Polled {
        guard let executionId = record.engineExecutionId else { return .unchanged }
        do {
            guard let status = try await gate.execution(executionId, user: record.actor.engineUser, requestId: requestId) else {
                return .unchanged  // Gate does not know it (404): nothing to record (REFERENCE §7).
            }
            // An unrecognised status maps to PENDING, which holds no slot; it is not taken as a
            // reason to free one.
            guard status.state != .pending else { return .unchanged }
            let heartbeatDue = record.updatedAt <= now.adding(seconds: -max(1, staleSeconds / 3))
            guard status.state != record.state || heartbeatDue else { return .unchanged }
            let failures = status.failure(isRollback: record.kind == .rollback, at: now).map { [$0] } ?? []
            _ = try await store.recordEngineState(deploymentId: record.id, state: status.state, failures: failures, now: now)
            return status.state != record.state ? .changed(status.state) : .unchanged
        } catch let error as EngineError {
            guard record.state == .inProgress, record.updatedAt <= now.adding(seconds: -staleSeconds) else { return .failed }
            let failure = Failure(
                category: .infrastructure, summary: "Deployment lock expired due to stale in-progress state.",
                detail: "The engine could not be asked for \(staleSeconds) seconds: \(error.code.rawValue)",
                actionHint: "Check the deployment in the engine, then retry.", observedAt: now)
            _ = try await store.recordEngineState(deploymentId: record.id, state: .failed, failures: [failure], now: now)
            return .expired
        }
    }

    /// Polls every `interval` until the task is cancelled, waiting up to eight intervals between
    /// passes while Gate keeps failing.
    public func run(every interval: Duration, now: @Sendable () -> Timestamp, requestId: @Sendable () -> String) async {
        var backoff = 1
        while !Task.isCancelled {
            do {
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

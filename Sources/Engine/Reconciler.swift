public import Rules
public import GovernanceStore
public import Logging
import Synchronization

/// Resolves reservations whose trigger outcome is not recorded, all the time (DECISIONS D6): those
/// Gate answered ambiguously, and those a crash left between reservation and record.
///
/// Every pass takes the outbox entries older than the grace period — two call timeouts, after
/// which every trigger this or an earlier process sent has ended on the sender's side
/// (``Dispatcher`` sends none later than one call timeout after its reservation) — and asks Gate
/// for an execution carrying the deployment id: found, it is recorded (the key completes with it,
/// and the slot follows the execution). Gate may still be storing what it received at the last
/// instant, so a reservation is released only when Gate has had none on two looks at least one
/// call timeout apart, and the reservation is older than the settle period: Gate's own calls to
/// Front50 and Orca, with timeouts of their own, can store an execution well after this side's
/// call gave up. When Gate cannot be asked, or its answer proves neither, the reservation is kept
/// and asked about again later. The reconciler never triggers.
public final class Reconciler: Sendable {
    private let store: any GovernanceBackend
    private let gate: GateClient
    private let dispatcher: Dispatcher?
    private let logger: Logger
    /// Reservations younger than this may still be in a live dispatch and are left alone.
    public let grace: Duration
    /// How long after a first look that found nothing a second look must come before a release.
    public let confirmation: Duration
    /// How long Gate may take to turn a trigger it received into a stored execution: no
    /// reservation younger than this is released, whatever the looks found.
    public let settle: Duration
    private let settleMicros: Int64
    /// The settle period unless configured: longer than Gate's default timeouts to Front50 and
    /// Orca together (a connection and a read each).
    public static let defaultSettle: Duration = .seconds(120)
    /// When a look first found no execution, by deployment id.
    private let firstEmptyLook = Mutex<[String: Timestamp]>([:])
    /// Reservations released by this reconciler, still asked about for a settle period after
    /// their release: an execution Gate stores after all is nothing this service tracks, and
    /// an operator must hear of it.
    private let released = Mutex<[String: Released]>([:])

    private struct Released {
        var application: String
        var createdAt: Timestamp
        var engineUser: String
        var releasedAt: Timestamp
    }

    /// A reconciler between `store` and `gate`; `dispatcher` is this process's own, whose live
    /// dispatches it skips. The grace period is twice Gate's call timeout.
    public init(
        store: any GovernanceBackend, gate: GateClient, dispatcher: Dispatcher?, settle: Duration = Reconciler.defaultSettle,
        logger: Logger = Logger(label: "dxcp.reconciler")
    ) {
        self.store = store
        self.gate = gate
        self.dispatcher = dispatcher
        self.settle = max(.zero, settle)
        let (seconds, attoseconds) = self.settle.components
        self.settleMicros = seconds > Int64.max / 1_000_000 ? .max : seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        self.logger = logger
        self.grace = .milliseconds(2 * gate.configuration.requestTimeoutMs)
        self.confirmation = .milliseconds(gate.configuration.requestTimeoutMs)
    }

    /// What one pass did and saw.
    public struct Report: Sendable, Hashable {
        /// Reservations whose execution Gate had: now recorded.
        public var recorded: [String] = []
        /// Reservations Gate never started: released.
        public var released: [String] = []
        /// Reservations Gate had no execution for at a first look: released if a later look agrees.
        public var confirming: [String] = []
        /// Reservations left for a later pass because Gate could not be asked or proved nothing.
        public var unresolved: [String] = []
        /// Reservations that cannot be read or resolved from what is stored (a damaged record, an
        /// outbox entry without its reservation): reported every pass, never touched.
        public var damaged: [String] = []
        /// Reservations this reconciler released for which Gate has since shown an execution:
        /// nothing tracks it (its slot and quota unit were given back), so it is reported once.
        public var untracked: [String] = []
        /// Reservations someone else resolved while this pass asked Gate about them (recorded by
        /// their dispatcher, or released by another replica's reconciler): nothing done here.
        public var resolvedElsewhere: [String] = []
        /// Reservations still waiting after the pass (younger ones included).
        public var pending = 0
        /// Seconds since the oldest of them was reserved (0 when none wait).
        public var oldestPendingSeconds: Double = 0

        /// An empty report.
        public init() {}
    }

    /// One pass over the outbox at `now`.
    public func reconcileOnce(now: Timestamp, requestId: String) async throws -> Report {
        let clock = PassClock(now)
        var report = Report()
        // In a fleet, another replica may trigger with a longer call timeout (a rolling change of
        // it): its triggers are waited out too.
        let timeoutMs = max(gate.configuration.requestTimeoutMs, try await store.longestEngineTimeoutMs() ?? 0)
        let timeoutMicros = Int64(timeoutMs) * 1_000
        let graceMicros = 2 * timeoutMicros, confirmationMicros = timeoutMicros
        var waiting: [Timestamp] = []
        let orders = try await store.pendingDispatches()
        let pendingIds = Set(orders.map(\.deploymentId))
        firstEmptyLook.withLock { $0 = $0.filter { pendingIds.contains($0.key) } }
        for order in orders {
            // A reservation that cannot be read or written is left for the next pass, and the
            // pass goes on with the others.
            do {
                try await reconcile(order, now: now, clock: clock, graceMicros: graceMicros, confirmationMicros: confirmationMicros, requestId: requestId,
                    report: &report, waiting: &waiting)
            } catch let error as StoreError where [.unavailable, .unconfirmed, .busy, .closed].contains(error.kind) {
                // The store itself cannot be used now: the pass ends, and the next one tries again.
                throw error
            } catch {
                logger.error("cannot reconcile a dispatch; keeping its reservation", metadata: [
                    "deployment_id": "\(order.deploymentId)", "error": "\(error)",
                ])
                report.damaged.append(order.deploymentId)
            }
        }
        // Neither recorded, released nor resolved otherwise: still pending (waiting for their grace
        // or a second look, or left unresolved). Untracked ones so far are this pass's own finds.
        report.pending = orders.count - report.recorded.count - report.released.count - report.resolvedElsewhere.count - report.untracked.count
        await watchReleased(now: now, graceMicros: graceMicros, requestId: requestId, report: &report)
        if let oldest = waiting.min(by: { $0.microseconds < $1.microseconds }) {
            report.oldestPendingSeconds = max(0, Double(now.microseconds - oldest.microseconds) / 1_000_000)
        }
        return report
    }

    /// Resolves one reservation, or leaves it waiting.
    private func reconcile(
        _ order: DispatchOrder, now: Timestamp, clock: PassClock, graceMicros: Int64, confirmationMicros: Int64, requestId: String, report: inout Report,
        waiting: inout [Timestamp]
    ) async throws {
        guard let record = try await store.deployment(id: order.deploymentId) else {
            // An outbox entry always has its reservation (both are written and removed together);
            // one without is reported each pass, never touched.
            logger.error("a dispatch order has no reservation; leaving it", metadata: ["deployment_id": "\(order.deploymentId)"])
            report.damaged.append(order.deploymentId)
            return
        }
        guard record.createdAt.microseconds <= now.microseconds - graceMicros, dispatcher?.isDispatching(record.id) != true else {
            waiting.append(record.createdAt)
            return
        }
        let search: GateClient.Search
        do {
            search = try await gate.findExecution(
                application: record.spinnakerApplication, deploymentId: record.id, createdAt: record.createdAt,
                user: record.actor.engineUser, requestId: requestId)
        } catch {
            logger.warning("cannot confirm a dispatch with the engine; keeping its reservation", metadata: [
                "deployment_id": "\(record.id)", "error": "\(error)",
            ])
            report.unresolved.append(record.id)
            waiting.append(record.createdAt)
            return
        }
        switch search {
        case .found(let execution):
            firstEmptyLook.withLock { _ = $0.removeValue(forKey: record.id) }
            let at = clock.current()
            let stored = try await store.recordDispatch(
                deploymentId: record.id, executionId: execution.id,
                executionURL: "\(gate.configuration.baseURL)/pipelines/\(execution.id)", now: at)
            guard stored?.engineExecutionId == execution.id else {
                // Resolved otherwise while Gate was asked (released, or recorded with another
                // execution): the execution found is tracked by nothing.
                logger.critical("the engine runs an execution for a reservation resolved otherwise meanwhile; nothing tracks it", metadata: [
                    "deployment_id": "\(record.id)", "execution_id": "\(execution.id)",
                    "recorded_execution_id": "\(stored?.engineExecutionId ?? "none (released)")",
                ])
                report.untracked.append(record.id)
                return
            }
            if execution.state.isTerminal {
                // It already ended: its slot is freed now rather than at the poller's next pass.
                let failures = execution.failure(isRollback: record.kind == .rollback, at: at).map { [$0] } ?? []
                _ = try await store.recordEngineState(deploymentId: record.id, state: execution.state, failures: failures, now: at)
            }
            logger.info("dispatch confirmed: the engine runs it", metadata: ["deployment_id": "\(record.id)", "execution_id": "\(execution.id)"])
            report.recorded.append(record.id)
        case .none:
            let first = firstEmptyLook.withLock { looks in
                // A clock stepped back re-arms the period rather than stretching it.
                if let first = looks[record.id], first.microseconds <= now.microseconds { return first }
                looks[record.id] = now
                return now
            }
            guard now.microseconds - first.microseconds >= confirmationMicros, now.microseconds - record.createdAt.microseconds >= settleMicros else {
                report.confirming.append(record.id)
                waiting.append(record.createdAt)
                return
            }
            firstEmptyLook.withLock { _ = $0.removeValue(forKey: record.id) }
            let at = clock.current()
            guard try await store.releaseReservation(deploymentId: record.id, reason: "the engine has no execution for it", now: at) != nil else {
                // Resolved otherwise while Gate was asked (its execution recorded, or released
                // already): nothing was released here, and nothing is to be watched.
                report.resolvedElsewhere.append(record.id)
                if let current = try await store.deployment(id: record.id), let executionId = current.engineExecutionId {
                    // Two looks found nothing past the settle period, and yet it runs.
                    logger.warning("an execution was recorded for a dispatch being confirmed as never started; nothing released", metadata: [
                        "deployment_id": "\(record.id)", "execution_id": "\(executionId)",
                    ])
                } else {
                    logger.info("a dispatch was released elsewhere while it was being confirmed", metadata: ["deployment_id": "\(record.id)"])
                }
                return
            }
            logger.info("dispatch confirmed: the engine never started it; reservation released", metadata: ["deployment_id": "\(record.id)"])
            report.released.append(record.id)
            self.released.withLock {
                $0[record.id] = Released(
                    application: record.spinnakerApplication, createdAt: record.createdAt, engineUser: record.actor.engineUser, releasedAt: at)
            }
        }
    }

    /// Asks Gate again about the reservations this reconciler released within the last settle
    /// period (at least the grace period): one found now started after all.
    private func watchReleased(now: Timestamp, graceMicros: Int64, requestId: String, report: inout Report) async {
        let watchMicros = max(graceMicros, settleMicros)
        let watched = released.withLock { entries in
            entries = entries.filter { now.microseconds - $0.value.releasedAt.microseconds <= watchMicros }
            return entries
        }
        for (id, entry) in watched.sorted(by: { $0.key < $1.key }) {
            guard case .found(let execution)? = try? await gate.findExecution(
                application: entry.application, deploymentId: id, createdAt: entry.createdAt, user: entry.engineUser, requestId: requestId)
            else { continue }
            _ = released.withLock { $0.removeValue(forKey: id) }
            logger.critical("the engine started an execution for a reservation released as never started; nothing tracks it", metadata: [
                "deployment_id": "\(id)", "execution_id": "\(execution.id)",
            ])
            report.untracked.append(id)
        }
    }

    /// Reconciles every `interval` until the task is cancelled; while Gate cannot be asked, waits
    /// up to eight intervals between passes. `observe` sees every pass's report.
    public func run(
        every interval: Duration, now: @Sendable () -> Timestamp, requestId: @Sendable () -> String,
        observe: @Sendable (Report) -> Void = { _ in }, leads: @Sendable () async -> Bool = { true }
    ) async {
        var backoff = 1
        while !Task.isCancelled {
            do {
                guard await leads() else {
                    try? await Task.sleep(for: interval)
                    continue
                }
                let report = try await reconcileOnce(now: now(), requestId: requestId())
                observe(report)
                backoff = report.unresolved.isEmpty ? 1 : min(backoff * 2, 8)
            } catch {
                backoff = min(backoff * 2, 8)
                logger.error("reconcile pass failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval * backoff)
        }
    }
}

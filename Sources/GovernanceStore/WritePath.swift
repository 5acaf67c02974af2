import Rules
import Logging
import Dispatch
import Synchronization

/// What the write path is asked to do.
enum WriteWork: Sendable {
    /// Evaluate a mutating request and commit its effects.
    case decide(Request, Principal, DecisionContext, requestId: String?)
    /// A state change that does not come from the rules.
    case mutation(StoreMutation)
}

/// State changes made outside the rules: engine outcomes, policy loads and audit retention.
enum StoreMutation: Sendable {
    /// Replaces the policy data; with `onlyIfNone`, only when none was ever loaded (a first start).
    case replacePolicy(PolicySnapshot, actorId: String, now: Timestamp, onlyIfNone: Bool)
    case recordDispatch(String, executionId: String, executionURL: String?, now: Timestamp, reservation: DeploymentRecord?)
    case releaseReservation(String, reason: String, now: Timestamp)
    case recordEngineState(String, state: DeploymentRecord.State, failures: [Failure], now: Timestamp)
    case pruneAudit(AuditRetention)
    /// Removes up to `limit` idempotency records and upload capabilities that expired by `now`.
    case expire(now: Timestamp, limit: Int)
}

/// What one piece of work produced.
enum WriteOutcome: Sendable {
    /// The decision of a `.decide` job.
    case decision(Decision)
    /// The record a mutation touched, if it existed.
    case mutation(DeploymentRecord?)
    /// What one retention pass removed (nil when nothing was old enough).
    case pruned(AuditPruning?)
    /// What one expiry pass removed.
    case expired(Expiry)
    /// Whether a policy replacement was made.
    case policyLoaded(Bool)

    /// The record of a mutation (nil for decisions).
    var record: DeploymentRecord? {
        if case .mutation(let record) = self { return record }
        return nil
    }
}

/// What the write path commits through: one LMDB environment, or a PostgreSQL database.
protocol BatchBackend: AnyObject, Sendable {
    /// Where the state lives (a data directory, or a database named without its password).
    var path: String { get }
    var logger: Logger { get }
    /// True when a commit is durable only with the next commit or a sync (LMDB's deferred meta
    /// page); false when it is durable as it returns (PostgreSQL with `synchronous_commit`).
    var defersDurability: Bool { get }
    /// Applies a batch in one transaction and commits it; throws, writing nothing, on any failure.
    /// `more` takes further queued work into the batch (a backend that waits for a lock before it
    /// can apply anything takes what queued meanwhile); the outcomes are those of `batch` and then
    /// of what `more` returned, in order.
    func applyBatch(_ batch: [WriteWork], more: () -> [WriteWork], beforeCommit: () -> Void) throws -> [WriteOutcome]
    /// Makes every committed batch durable.
    func syncCommitted() throws
    /// `error` as the store reports it to callers.
    func storeError(_ error: any Error) -> StoreError
}

/// The single writer: queued work is taken in batches, each batch evaluated and applied in one
/// LMDB write transaction and committed, and every caller in the batch is answered only once the
/// commit is durable (group commit). While one batch commits, the next one gathers.
///
/// The environment defers meta-page syncs (`MDB_NOMETASYNC`): a commit syncs its data pages, and
/// its meta page becomes durable with the next commit's data sync. So a committed batch waits in
/// `awaitingSync` until the next batch commits, or, when no work is queued, until an explicit
/// `mdb_env_sync`. Under load that is one fsync per batch instead of two; alone, the same two.
///
/// A batch that fails to commit (a full map, a damaged page) is retried one piece of work at a
/// time, so one bad decision cannot fail its neighbours; whatever still fails is reported to its
/// caller with nothing written.
final class WritePath: Sendable {
    struct Job: Sendable {
        let work: WriteWork
        /// Told the outcome once the job's batch is durable, or its error.
        let complete: @Sendable (Result<WriteOutcome, any Error>) -> Void
        /// When it was queued, where a queue deadline applies.
        var queued: ContinuousClock.Instant? = nil
    }

    private struct Queue {
        var jobs: [Job] = []
        var draining = false
        var closed = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let queue = Mutex(Queue())
    // INVARIANT: touched only on `thread`; holds the last committed batch until its commit is
    // durable, and is empty whenever the writer is idle.
    nonisolated(unsafe) private var awaitingSync: [(Job, WriteOutcome)] = []
    private let stats = Mutex(WriteStats())
    private let thread = DispatchQueue(label: "dxcp.store.writer")
    private let maxBatch: Int
    // INVARIANT: set once by the store's init before any submit; the store outlives its writer.
    nonisolated(unsafe) weak var store: (any BatchBackend)?

    private let observer: (@Sendable (Int, Duration, Duration) -> Void)?

    private let maxQueue: Int
    /// Work that waited longer than this for its batch is refused with nothing done, rather than
    /// started: behind a database that answers each batch only at its timeout (a lock held by a
    /// replica that went away), a caller waits about one timeout, never one per batch ahead of
    /// it. `nil` (an embedded store, whose batches take milliseconds) waits as long as it takes.
    private let queueDeadline: Duration?

    init(maxBatch: Int, maxQueue: Int = .max, queueDeadline: Duration? = nil, observer: (@Sendable (Int, Duration, Duration) -> Void)? = nil) {
        self.maxBatch = max(1, maxBatch)
        self.maxQueue = max(0, maxQueue)
        self.queueDeadline = queueDeadline
        self.observer = observer
    }

    /// `jobs` without those past the queue deadline, which are refused as overload (503 with
    /// `Retry-After`) with nothing done.
    private func dueOnly(_ jobs: [Job]) -> [Job] {
        guard let queueDeadline else { return jobs }
        let now = ContinuousClock.now
        var due: [Job] = []
        due.reserveCapacity(jobs.count)
        var refused = 0
        for job in jobs {
            if let queued = job.queued, now - queued > queueDeadline {
                refused += 1
                job.complete(.failure(StoreError(
                    .busy, path: store?.path ?? "", "waited longer than \(queueDeadline) for the database; nothing was changed; retry shortly")))
            } else {
                due.append(job)
            }
        }
        if refused > 0 {
            store?.logger.warning("work refused after waiting longer than the database timeout", metadata: ["jobs": "\(refused)"])
        }
        return due
    }

    /// Queues `work` and waits until its batch is durable.
    func submit(_ work: WriteWork) async throws -> WriteOutcome {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(work) { continuation.resume(with: $0) }
        }
    }

    /// Queues a mutating decision and waits until its batch is durable.
    func decide(_ request: Request, _ principal: Principal, _ context: DecisionContext, requestId: String?) async throws -> Decision {
        guard case .decision(let decision) = try await submit(.decide(request, principal, context, requestId: requestId)) else {
            throw mismatchedOutcome
        }
        return decision
    }

    /// What a job answered with an outcome of another kind would get (it never happens: each
    /// kind of work yields its own kind of outcome).
    var mismatchedOutcome: StoreError {
        StoreError(.storage, path: store?.path ?? "", "the write path answered with an outcome of another kind; nothing more is known")
    }

    /// Queues `work` now — any work queued later is applied after it — and tells `complete` its
    /// outcome once its batch is durable.
    func enqueue(_ work: WriteWork, complete: @escaping @Sendable (Result<WriteOutcome, any Error>) -> Void) {
        let job = Job(work: work, complete: complete, queued: queueDeadline == nil ? nil : .now)
        enum Start { case closed, busy, queued, drain }
        let start: Start = queue.withLock { q in
            if q.closed { return .closed }
            // INVARIANT: a refused decision was never queued: nothing of it is done.
            if case .decide = work, q.jobs.count >= maxQueue { return .busy }
            q.jobs.append(job)
            if q.draining { return .queued }
            q.draining = true
            return .drain
        }
        switch start {
        case .closed:
            complete(.failure(StoreError(.closed, path: store?.path ?? "", "the store is shutting down")))
        case .busy:
            complete(.failure(StoreError(.busy, path: store?.path ?? "", "\(maxQueue) decisions are waiting for the writer; retry shortly")))
        case .drain:
            thread.async { self.drain() }
        case .queued:
            break
        }
    }

    /// Counts of committed work so far.
    var statistics: WriteStats {
        var statistics = stats.withLock { $0 }
        statistics.queued = queue.withLock { $0.jobs.count }
        return statistics
    }

    /// Refuses new work and waits for queued work to commit.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = queue.withLock { q in
                q.closed = true
                if !q.draining { return true }
                q.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    private func drain() {
        while true {
            let (batch, waiters) = queue.withLock { q -> ([Job], [CheckedContinuation<Void, Never>]) in
                if q.jobs.isEmpty {
                    q.draining = false
                    let waiters = q.idleWaiters
                    q.idleWaiters = []
                    return ([], waiters)
                }
                return (Self.takeBatch(from: &q.jobs, maxBatch: maxBatch), [])
            }
            if batch.isEmpty {
                makeDurable()
                waiters.forEach { $0.resume() }
                return
            }
            let due = dueOnly(batch)
            if !due.isEmpty { commit(due) }
        }
    }

    /// The most state changes from outside the rules (engine outcomes, retention) in one batch.
    static let maxMutationsPerBatch = 16

    /// The next batch: the jobs at the head of the queue, up to `maxBatch`, stopping before a
    /// mutation past ``maxMutationsPerBatch``. Order is kept (a decision never overtakes work
    /// queued before it), and a burst of engine outcomes (the poller ending hundreds of
    /// executions) is spread over several short transactions instead of one long one that every
    /// decision queued behind it waits for.
    static func takeBatch(from jobs: inout [Job], maxBatch: Int, mutationsTaken: Int = 0) -> [Job] {
        var count = 0
        var mutations = mutationsTaken
        for job in jobs {
            if count == maxBatch { break }
            if case .mutation = job.work {
                if mutations == maxMutationsPerBatch { break }
                mutations += 1
            }
            count += 1
        }
        let batch = Array(jobs.prefix(count))
        jobs.removeFirst(count)
        return batch
    }

    /// Applies `first` (with what queued meanwhile when the backend asks for it, unless `alone`).
    private func commit(_ first: [Job], alone: Bool = false) {
        guard let store else {
            first.forEach { $0.complete(.failure(StoreError(.closed, path: "", "the store was released"))) }
            return
        }
        var batch = first
        do {
            let clock = ContinuousClock()
            let start = clock.now
            var applied = start
            let outcomes = try store.applyBatch(first.map(\.work), more: {
                if alone { return [] }
                let taken = batch.count { if case .mutation = $0.work { true } else { false } }
                let extra = dueOnly(queue.withLock { Self.takeBatch(from: &$0.jobs, maxBatch: maxBatch - batch.count, mutationsTaken: taken) })
                batch += extra
                return extra.map(\.work)
            }) { applied = clock.now }
            let end = clock.now
            stats.withLock { s in
                s.transactions += 1
                s.committed += batch.count
                s.largestBatch = max(s.largestBatch, batch.count)
                s.applying += applied - start
                s.committing += end - applied
            }
            observer?(batch.count, applied - start, end - applied)
            if store.defersDurability {
                // This commit synced its data pages, and with them the previous commit's meta page.
                answer(awaitingSync)
                awaitingSync = Array(zip(batch, outcomes))
            } else {
                answer(Array(zip(batch, outcomes)))
            }
        } catch {
            // Nothing of this batch was written, and no sync happened: settle the previous batch.
            makeDurable()
            let failure = store.storeError(error)
            if batch.count == 1 || [.unavailable, .unconfirmed, .busy].contains(failure.kind) {
                // One job; or a failure of the store itself, not of one job: every job gets it
                // (an unconfirmed batch must never be applied again piece by piece).
                store.logger.error("write failed", metadata: ["error": "\(failure)", "jobs": "\(batch.count)"])
                for job in batch { job.complete(.failure(failure)) }
                if failure.unreachable {
                    // The database cannot be reached at all: what queued meanwhile would each wait
                    // for a connection attempt of its own, batch after batch. It is refused now,
                    // with nothing changed; work queued from now on tries again. (One connection
                    // failing is not this: the next batch reconnects.)
                    let queued = queue.withLock { q in defer { q.jobs = [] }; return q.jobs }
                    let refused = StoreError(
                        .unavailable, path: failure.path, "the database cannot be reached (\(failure.message)); nothing was changed", unreachable: true)
                    for job in queued { job.complete(.failure(refused)) }
                }
            } else {
                store.logger.warning("a batch failed; its work is committed one by one", metadata: ["error": "\(failure)", "jobs": "\(batch.count)"])
                for job in dueOnly(batch) { commit([job], alone: true) }
            }
        }
    }

    /// Syncs the environment, then answers the batch that waited for it.
    private func makeDurable() {
        guard !awaitingSync.isEmpty, let store else { return }
        do {
            try store.syncCommitted()
            answer(awaitingSync)
        } catch {
            let failure = store.storeError(error)
            store.logger.error("sync failed", metadata: ["error": "\(failure)"])
            for (job, _) in awaitingSync { job.complete(.failure(failure)) }
        }
        awaitingSync = []
    }

    private func answer(_ settled: [(Job, WriteOutcome)]) {
        for (job, outcome) in settled { job.complete(.success(outcome)) }
    }
}

/// What the write path has committed since the store opened.
public struct WriteStats: Sendable, Hashable {
    /// Durable write transactions committed.
    public var transactions = 0
    /// Pieces of work (decisions and engine updates) committed in them.
    public var committed = 0
    /// The most pieces committed in one transaction.
    public var largestBatch = 0
    /// Time spent evaluating and writing batches, before their commits.
    public var applying: Duration = .zero
    /// Time spent committing (writing pages and syncing them to disk).
    public var committing: Duration = .zero
    /// Pieces of work waiting for the writer now (not yet in a batch).
    public var queued = 0
}

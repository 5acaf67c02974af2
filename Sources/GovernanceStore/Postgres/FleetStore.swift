public import Rules
public import Audit
public import Logging
import PostgresNIO
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import Synchronization

/// Governance state in PostgreSQL, shared by the replicas of a fleet: the same rules and effects
/// as ``GovernanceStore``, read from and committed to tables instead of an LMDB environment.
///
/// Each replica has one writer: queued mutating work is taken in batches (group commit), and each
/// batch is one PostgreSQL transaction that first locks the fleet's head row (`fleet_head`, the
/// head of the one audit chain). Every replica's batches are therefore applied one after another,
/// each seeing all that the previous ones committed, exactly as one LMDB writer sees its own
/// previous commits: no interleaving of replicas can exceed a quota or a concurrency limit or
/// replay one key twice (DECISIONS 80). A caller is answered once its batch's `COMMIT` returned,
/// which with `synchronous_commit` on is durable.
public final class FleetStore: GovernanceBackend, BatchBackend {
    /// How a fleet store is opened.
    public struct Options: Sendable {
        /// Create or upgrade the schema when it is missing or older (else it must be current).
        public var migrate: Bool
        /// The most pieces of work committed in one transaction.
        public var maxBatch: Int
        /// The most decisions waiting for the writer; past it a decision is refused at once.
        public var maxQueue: Int
        /// Connections for reads and read-only decisions (the writer has one of its own).
        public var readers: Int
        /// The longest any statement may wait for PostgreSQL; past it the connection is closed and
        /// the work fails with nothing committed (or, for a commit, unconfirmed).
        public var timeout: Duration
        /// Told of every commit: pieces of work in it, time applying them, time committing.
        public var commitObserver: (@Sendable (Int, Duration, Duration) -> Void)?
        /// The Gate call timeout this replica's dispatcher triggers with (nil without a Gate),
        /// published to the fleet in its sessions' `application_name`: the reconciler waits out
        /// the longest of the live replicas' before it touches a reservation (DECISIONS 83).
        public var engineTimeoutMs: Int?

        public init(
            migrate: Bool = false, maxBatch: Int = 256, maxQueue: Int = 4096, readers: Int = 4, timeout: Duration = .seconds(5),
            engineTimeoutMs: Int? = nil, commitObserver: (@Sendable (Int, Duration, Duration) -> Void)? = nil
        ) {
            self.engineTimeoutMs = engineTimeoutMs
            self.migrate = migrate
            self.timeout = timeout
            self.commitObserver = commitObserver
            self.readers = readers
            self.maxBatch = maxBatch
            self.maxQueue = maxQueue
        }
    }

    public let location: PostgresLocation
    public var path: String { location.description }
    let logger: Logger
    let timeout: Duration
    let writer: WritePath
    // INVARIANT: used only on the writer's thread (inside `applyBatch`).
    private let writerSession: SQLSession
    /// Connections for reads, each used only on its own serial queue.
    private let readers: [(session: SQLSession, queue: DispatchQueue)]
    private let nextReader = Atomic<Int>(0)
    /// The connection that holds the background work's lease (connected on first use).
    private let leaseSession = Mutex<SQLSession?>(nil)
    private let leaseQueue = DispatchQueue(label: "dxcp.fleet.lease")
    private let policyCache = Mutex<(generation: UInt64, snapshot: PolicySnapshot)?>(nil)
    /// Every session's `application_name`.
    private let applicationName: String

    /// Connects to the database at `location`; with `options.migrate`, creates or upgrades its
    /// schema first.
    public init(location: PostgresLocation, options: Options = Options(), logger: Logger = Logger(label: "dxcp.fleet")) throws(StoreError) {
        self.location = location
        self.logger = logger
        self.timeout = options.timeout
        let applicationName = "dxcp-policy" + (options.engineTimeoutMs.map { " engine_timeout_ms=\($0)" } ?? "")
        self.applicationName = applicationName
        writerSession = try SQLSession.connect(location, timeout: options.timeout, applicationName: applicationName, logger: logger)
        var readers: [(session: SQLSession, queue: DispatchQueue)] = []
        for n in 0..<max(1, options.readers) {
            readers.append((
                try SQLSession.connect(location, timeout: options.timeout, applicationName: applicationName, logger: logger),
                DispatchQueue(label: "dxcp.fleet.reader.\(n)")))
        }
        self.readers = readers
        writer = WritePath(maxBatch: options.maxBatch, maxQueue: options.maxQueue, queueDeadline: timeout, observer: options.commitObserver)
        if options.migrate {
            // A session of its own, whose statements may take as long as rewriting a large table
            // does (and a replica starting meanwhile waits that long for it): under the decision
            // timeout, a migration of a big database would be cancelled, and rolled back, every time.
            let migration = try SQLSession.connect(
                location, timeout: max(options.timeout, Self.migrationTimeout), connectTimeout: options.timeout, applicationName: applicationName,
                logger: logger)
            defer { migration.close() }
            // A table its DDL needs in use (a long read, an operator's session) fails the attempt
            // after one decision timeout, rolled back whole; it is tried again until the
            // migration's own bound.
            let deadline = ContinuousClock.now + Self.migrationTimeout
            while true {
                do {
                    try Self.migrate(migration, lockTimeout: min(options.timeout, Self.migrationLockWait), logger: logger)
                    break
                } catch let error where error.kind == .busy && ContinuousClock.now < deadline {
                    logger.notice("schema migration waits for a table in use", metadata: ["database": "\(location)", "error": "\(error.message)"])
                    usleep(UInt32(min(options.timeout, .seconds(1)) / .microseconds(1)))
                }
            }
        }
        let version: Int?
        do {
            version = try writerSession.rows("SELECT version FROM dxcp_schema WHERE to_regclass('dxcp_schema') IS NOT NULL").first?.decode(Int.self)
        } catch {
            throw StoreError(.missing, path: location.description, "holds no dxcp-policy schema; run `dxcp-policy migrate-schema --store URL`")
        }
        guard version == PostgresSchema.version else {
            throw StoreError(.corrupt, path: location.description,
                "schema version \(version.map(String.init) ?? "none") is not \(PostgresSchema.version); run `dxcp-policy migrate-schema --store URL`")
        }
        writer.store = self
    }

    /// How long a schema migration's statements may take, its wait for another replica's
    /// migration included.
    static let migrationTimeout: Duration = .seconds(900)
    /// The longest a migration waits for a table lock at a time, whatever the store's timeout (a
    /// one-off command's may be minutes): the sessions queued behind its wait are the replicas'.
    static let migrationLockWait: Duration = .seconds(5)

    /// Creates the schema, or brings an older one to ``PostgresSchema/version``, in one
    /// transaction; a database already at the version is left as it is. Replicas starting at
    /// once wait for each other (an advisory lock).
    /// A table lock the DDL needs is waited for at most `lockTimeout`: a migration never holds
    /// every replica's reads and writes behind it while it waits for one of them.
    static func migrate(_ session: SQLSession, lockTimeout: Duration, logger: Logger) throws(StoreError) {
        do {
            try session.transaction {
            try session.execute("SELECT pg_advisory_xact_lock(4850433)")
            try session.execute("SET LOCAL lock_timeout = \(Int64(lockTimeout / .milliseconds(1)))")
            // A database already at this version is left alone: its DDL would lock the tables
            // every replica writes (a rolling restart must not stall the fleet).
            let installed = try session.rows("SELECT to_regclass('dxcp_schema') IS NOT NULL").first?.decode(Bool.self) ?? false
            if installed, let version = try session.rows("SELECT version FROM dxcp_schema").first?.decode(Int.self), version >= PostgresSchema.version {
                if version > PostgresSchema.version {
                    throw StoreError(.corrupt, path: session.location.description, "schema version \(version) is newer than this dxcp-policy's \(PostgresSchema.version)")
                }
                return
            }
            let current = installed ? try session.rows("SELECT version FROM dxcp_schema").first?.decode(Int.self) : nil
            if let current {
                // An older schema: its upgrade steps, then the current schema's (idempotent) DDL.
                for version in current..<PostgresSchema.version {
                    for statement in PostgresSchema.upgrade[version] ?? [] { try session.execute(statement) }
                }
                for statement in PostgresSchema.current { try session.execute(statement) }
                try session.run("UPDATE dxcp_schema SET version = \(PostgresSchema.version)")
                logger.notice("fleet schema upgraded", metadata: ["from": "\(current)", "version": "\(PostgresSchema.version)", "database": "\(session.location)"])
                return
            }
            for statement in PostgresSchema.current { try session.execute(statement) }
            let genesis = AuditChain()
            try session.run("INSERT INTO dxcp_schema (version) VALUES (\(PostgresSchema.version))")
            try session.run("""
                INSERT INTO fleet_head (audit_sequence, audit_hash, policy_generation, commits)
                VALUES (\(Int64(genesis.sequence)), \(genesis.headHash), 0, 0)
                """)
            let empty = String(decoding: try RecordCodec.shared.encode(PolicySnapshot()), as: UTF8.self)
            try session.run("INSERT INTO policy (generation, snapshot) VALUES (0, \(empty)::json)")
            logger.notice("fleet schema created", metadata: ["version": "\(PostgresSchema.version)", "database": "\(session.location)"])
            }
        } catch let error as StoreError {
            throw error
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55P03" {
            throw StoreError(.busy, path: session.location.description, "a table the schema migration needs is in use (\(SQLSession.reason(error))); nothing was changed")
        } catch {
            throw StoreError(.storage, path: session.location.description, "schema migration failed: \(String(reflecting: error))")
        }
    }

    // MARK: Decisions

    /// Decides `request`: mutating requests through this replica's write path (committed before
    /// this returns), others on a reader's connection.
    public func decide(_ request: Request, by principal: Principal, context: DecisionContext, requestId: String? = nil) async throws -> Decision {
        if request.isMutating { return try await writer.decide(request, principal, context, requestId: requestId) }
        return try await read { session in
            let decision = try self.decideReading(request, principal, context, session)
            // A read's window is counted where every replica reads it (a statement of its own,
            // outside the write path: reads never wait for the fleet lock).
            for case .countRate(let window) in decision.effects where window.bucket.keptInMemory { try FleetWrites.countRead(window, session) }
            return decision
        }
    }

    /// A read-only decision on one snapshot of the fleet's state. Most (a validate, a gateway
    /// check) ask only questions by key: probed against the policy last seen, they are answered,
    /// with the policy's generation, by one statement, and a decision evaluated on those answers
    /// alone stands without a transaction. Any other runs in a `REPEATABLE READ` transaction, as
    /// one LMDB read transaction.
    private func decideReading(_ request: Request, _ principal: Principal, _ context: DecisionContext, _ session: SQLSession) throws -> Decision {
        if let cached = policyCache.withLock({ $0 }) {
            let batch = FleetBatch(session: session, codec: .shared, path: path)
            let probe = FleetView(batch: batch, mode: .probe)
            _ = Evaluator.evaluate(request, by: principal, policy: cached.snapshot, state: probe, context: context)
            if !probe.askedUnkeyed {
                var questions = batch.asked
                questions.generation = true
                try batch.fetch(questions)
                if batch.generation == Int64(cached.generation) {
                    let answered = FleetView(batch: batch, mode: .probe)
                    let decision = Evaluator.evaluate(request, by: principal, policy: cached.snapshot, state: answered, context: context)
                    if answered.guessed == 0 { return decision }
                }
            }
        }
        return try session.rolledBack(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
            let batch = FleetBatch(session: session, codec: .shared, path: path)
            let policy = try self.policy(session)
            try batch.prefetch { probe in _ = Evaluator.evaluate(request, by: principal, policy: policy, state: probe, context: context) }
            let view = FleetView(batch: batch, mode: .live)
            let decision = Evaluator.evaluate(request, by: principal, policy: policy, state: view, context: context)
            if let failure = view.failure { throw failure }
            return decision
        }
    }

    public var writes: StoreWrites { StoreWrites(writer) }

    // MARK: Reads

    /// Runs `body` on the next reader's connection, on that reader's own thread (which blocks
    /// while PostgreSQL answers; the caller's task only waits).
    func read<T: Sendable>(_ body: @escaping @Sendable (SQLSession) throws -> T) async throws(StoreError) -> T {
        let reader = readers[nextReader.add(1, ordering: .relaxed).oldValue % readers.count]
        let queued = ContinuousClock.now
        let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
            reader.queue.async {
                // A read that waited a whole timeout behind others on a connection that then
                // failed (the database hanging or gone) is refused rather than starting a
                // connection attempt of its own; behind a healthy slow read, it runs.
                guard reader.session.isConnected || ContinuousClock.now - queued < self.timeout else {
                    continuation.resume(returning: .failure(StoreError(
                        .unavailable, path: self.path, "waited longer than \(self.timeout) for a connection to PostgreSQL; nothing was read")))
                    return
                }
                do {
                    continuation.resume(returning: .success(try body(reader.session)))
                } catch {
                    continuation.resume(returning: .failure(self.storeError(error)))
                }
            }
        }
        return try result.get()
    }

    /// Runs `body` on the rules' view over a reader's connection; a failed read is thrown, not
    /// answered.
    func viewing<T: Sendable>(_ body: @escaping @Sendable (FleetView) -> T) async throws(StoreError) -> T {
        try await read { session in
            let view = FleetView(batch: FleetBatch(session: session, codec: .shared, path: self.path), mode: .live)
            let value = body(view)
            if let failure = view.failure { throw failure }
            return value
        }
    }

    public func policy() async throws(StoreError) -> PolicySnapshot { try await read { try self.policy($0) } }

    public func deployment(id: String) async throws(StoreError) -> DeploymentRecord? {
        try await viewing { $0.deployment(id: id) }
    }

    public func build(service: String, version: String) async throws(StoreError) -> Build? {
        try await viewing { $0.build(service: service, version: version) }
    }

    public func idempotencyRecord(_ scope: IdempotencyScope) async throws(StoreError) -> IdempotencyRecord? {
        try await viewing { $0.idempotencyRecord(scope) }
    }

    public func quotaUsed(_ scope: QuotaScope, day: Int64) async throws(StoreError) -> Int {
        try await viewing { $0.quotaUsed(scope, day: day) }
    }

    /// Every deployment record, newest first.
    public func deployments() async throws(StoreError) -> [DeploymentRecord] {
        try await deployments(matching: DeploymentQuery(), groups: nil)
    }

    public func deployments(matching query: DeploymentQuery, groups: Set<String>?) async throws(StoreError) -> [DeploymentRecord] {
        try await viewing { $0.deployments(matching: query, groups: groups) }
    }

    public func activeDeployments(group: String, environment: String) async throws(StoreError) -> [ActiveDeployment] {
        try await viewing { $0.activeDeployments(group: group, environment: environment) }
    }

    public func slotHolders() async throws(StoreError) -> [ActiveDeployment] {
        try await read { session in
            try session.rows("SELECT deployment_id, state, updated_at, awaiting_engine FROM slots ORDER BY delivery_group, environment, deployment_id")
                .map(PostgresReads.active)
        }
    }

    public func pendingDispatches() async throws(StoreError) -> [DispatchOrder] {
        try await read { session in
            try session.rows("SELECT deployment_id, actor, endpoint, key FROM outbox ORDER BY deployment_id").map { row in
                let (id, actor, endpoint, key) = try row.decode((String, String, String, String).self)
                return DispatchOrder(deploymentId: id, idempotency: IdempotencyScope(actorId: actor, endpoint: endpoint, key: key))
            }
        }
    }

    /// A page of the audit log, newest first: by sequence, or, when filtered, by (timestamp,
    /// sequence), as ``GovernanceStore/auditEvents(_:)`` pages it.
    public func auditEvents(_ query: AuditQuery) async throws(StoreError) -> (entries: [AuditEntry], next: UInt64?) {
        try await read { session in try session.rolledBack(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
            let filtered = query.deliveryGroupId != nil || query.eventType != nil || query.startTime != nil || query.endTime != nil
            var before = query.before
            if filtered, let cursor = before {
                // As on one node: a cursor beyond the head is no bound; one whose entry retention
                // removed cannot be placed in time order, and is refused rather than ending the listing.
                guard let row = try session.rows("SELECT audit_sequence, audit_checkpoint_sequence FROM fleet_head").first else {
                    throw StoreError(.corrupt, path: self.path, "fleet_head row is missing")
                }
                let (head, checkpoint) = try row.decode((Int64, Int64).self)
                if cursor > UInt64(max(0, head)) {
                    before = nil
                } else if try session.rows("SELECT 1 FROM audit WHERE sequence = \(Int64(clamping: cursor))").isEmpty {
                    if cursor > 0, cursor <= UInt64(max(0, checkpoint)) {
                        throw StoreError(.pruned, path: self.path, "audit entry \(cursor), the page cursor, was removed by retention; read again from the first page")
                    }
                    return ([], nil)
                }
            }
            var binds = PostgresBindings()
            var text = "SELECT sequence, entry::text FROM audit WHERE true"
            if let group = query.deliveryGroupId {
                binds.append(group)
                text += " AND delivery_group = $\(binds.count)"
            }
            if let type = query.eventType {
                binds.append(type)
                text += " AND event_type = $\(binds.count)"
            }
            if let start = query.startTime {
                binds.append(start.microseconds)
                text += " AND timestamp >= $\(binds.count)"
            }
            if let end = query.endTime {
                binds.append(end.microseconds)
                text += " AND timestamp <= $\(binds.count)"
            }
            if let before {
                binds.append(Int64(clamping: before))
                text += filtered
                    ? " AND (timestamp, sequence) < (SELECT timestamp, sequence FROM audit WHERE sequence = $\(binds.count))"
                    : " AND sequence < $\(binds.count)"
            }
            text += filtered ? " ORDER BY timestamp DESC, sequence DESC" : " ORDER BY sequence DESC"
            binds.append(Int64(query.limit) + 1)
            text += " LIMIT $\(binds.count)"
            var entries = try session.rows(PostgresQuery(unsafeSQL: text, binds: binds)).map { row in
                try RecordCodec.shared.decode(AuditEntry.self, Array(try row.decode((Int64, String).self).1.utf8))
            }
            let more = entries.count > query.limit
            if more { entries.removeLast() }
            return (entries, more ? entries.last?.sequence : nil)
        } }
    }

    /// Audit entries after `sequence`, oldest first.
    public func auditEntries(after sequence: UInt64 = 0, limit: Int = .max) async throws(StoreError) -> [AuditEntry] {
        try await read { session in
            try session.rows("SELECT entry::text FROM audit WHERE sequence > \(Int64(clamping: sequence)) ORDER BY sequence LIMIT \(Int64(clamping: limit))")
                .map { try RecordCodec.shared.decode(AuditEntry.self, Array(try $0.decode(String.self).utf8)) }
        }
    }

    /// Checks the whole audit chain: every entry's hash and its link to the one before, up to the
    /// head the fleet recorded.
    public func verifyAudit() async throws(StoreError) -> AuditVerifier.Verdict {
        // One snapshot: the head and the entries as of the same commit.
        try await read { session in try session.rolledBack(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
            guard let head = try session.rows("SELECT audit_sequence, audit_hash, audit_checkpoint_sequence, audit_checkpoint_hash FROM fleet_head").first else {
                throw StoreError(.corrupt, path: self.path, "fleet_head row is missing")
            }
            let (headSequence, headHash, checkpoint, checkpointHash) = try head.decode((Int64, String, Int64, String).self)
            var verifier = AuditVerifier(after: try storedUnsigned(checkpoint, "fleet_head.audit_checkpoint_sequence", path: self.path), headHash: checkpointHash)
            // In pages, each one statement well within the timeout, however long the log.
            var last: Int64 = -1
            while true {
                let page = try session.rows("SELECT sequence, entry::text FROM audit WHERE sequence > \(last) ORDER BY sequence LIMIT 10000")
                for row in page {
                    let (sequence, text) = try row.decode((Int64, String).self)
                    do {
                        verifier.feed(try RecordCodec.shared.decode(AuditEntry.self, Array(text.utf8)))
                    } catch {
                        verifier.unreadable(sequence: UInt64(clamping: sequence), reason: "entry cannot be decoded")
                    }
                    last = sequence
                }
                if page.count < 10000 { break }
            }
            return verifier.verdict(expectedHead: (try storedUnsigned(headSequence, "fleet_head.audit_sequence", path: self.path), headHash))
        } }
    }

    public func policyGeneration() async throws(StoreError) -> UInt64 {
        try await read { session in
            guard let generation = try session.rows("SELECT generation FROM policy").first?.decode(Int64.self) else {
                throw StoreError(.corrupt, path: self.path, "policy row is missing")
            }
            return try storedUnsigned(generation, "policy.generation", path: self.path)
        }
    }

    public var sharedByReplicas: Bool { true }

    /// The longest Gate call timeout the replicas connected now publish (their sessions'
    /// `application_name`); a replica that died takes its own out with its sessions, and with
    /// them every trigger it could still send.
    public func longestEngineTimeoutMs() async throws(StoreError) -> Int? {
        try await read { session in
            try session.rows("""
                SELECT max(substring(application_name FROM 'engine_timeout_ms=([0-9]{1,9})$')::int) FROM pg_stat_activity
                WHERE datname = current_database() AND application_name LIKE 'dxcp-policy engine_timeout_ms=%'
                """).first?.decode(Int?.self)
        }
    }

    /// The replica whose lease connection holds the fleet's advisory lock leads; PostgreSQL
    /// releases the lock when that connection ends (the replica died or lost the database), and
    /// the next replica to ask takes it over. Asking again while holding it keeps it.
    public func leadsBackgroundWork() async -> Bool {
        await withCheckedContinuation { continuation in
            leaseQueue.async {
                continuation.resume(returning: self.leaseSession.withLock { session in
                    do {
                        if session == nil {
                            session = try SQLSession.connect(self.location, timeout: self.timeout, applicationName: self.applicationName, logger: self.logger)
                        }
                        return try session?.rows("SELECT pg_try_advisory_lock(\(Self.leaseKey))").first?.decode(Bool.self) ?? false
                    } catch {
                        session = nil
                        return false
                    }
                })
            }
        }
    }

    /// The advisory lock key of the background work's lease.
    static let leaseKey: Int64 = 4_850_434

    /// PostgreSQL has no fixed map.
    public func usage() -> (mapSize: Int, used: Int)? { nil }

    /// Stops taking work and waits for queued work to commit, then disconnects.
    public func close() async {
        await writer.close()
        writerSession.close()
        for reader in readers { reader.queue.sync { reader.session.close() } }
        leaseQueue.sync { leaseSession.withLock { $0?.close() } }
    }

    /// The stored policy, decoded once per generation.
    private func policy(_ session: SQLSession) throws -> PolicySnapshot {
        guard let generation = try session.rows("SELECT generation FROM policy").first?.decode(Int64.self) else {
            throw StoreError(.corrupt, path: path, "policy row is missing; run `dxcp-policy migrate-schema --store URL`")
        }
        return try policy(session, generation: storedUnsigned(generation, "policy.generation", path: path))
    }

    private func policy(_ session: SQLSession, generation: UInt64) throws -> PolicySnapshot {
        if let cached = policyCache.withLock({ $0 }), cached.generation == generation { return cached.snapshot }
        guard let text = try session.rows("SELECT snapshot::text FROM policy").first?.decode(String.self) else {
            throw StoreError(.corrupt, path: path, "policy row is missing")
        }
        let snapshot = try RecordCodec.shared.decode(PolicySnapshot.self, Array(text.utf8))
        publishPolicy(generation: generation, snapshot)
        return snapshot
    }

    private func publishPolicy(generation: UInt64, _ snapshot: PolicySnapshot) {
        policyCache.withLock { cache in
            if let current = cache, current.generation >= generation { return }
            cache = (generation, snapshot)
        }
    }

    // MARK: BatchBackend

    var defersDurability: Bool { false }

    func syncCommitted() throws {}

    func storeError(_ error: any Error) -> StoreError {
        switch error {
        case let e as StoreError: e
        case let e as PSQLError where ["57014", "55P03", "40P01", "40001"].contains(e.serverInfo?[.sqlState] ?? ""):
            // Cancelled by statement_timeout (waiting for the fleet lock), a lock timeout, a
            // deadlock or a serialization failure: the database is too busy now; nothing was changed.
            StoreError(.busy, path: path, "PostgreSQL did not finish in time (\(e.serverInfo?[.message] ?? "")); nothing was changed")
        case let e as PSQLError:
            StoreError(.storage, path: path, "PostgreSQL failed: \(e.serverInfo?[.message] ?? String(reflecting: e.code)); nothing was changed")
        default: StoreError(.corrupt, path: path, "stored data could not be decoded (\(error))")
        }
    }

    func applyBatch(_ batch: [WriteWork], more: () -> [WriteWork], beforeCommit: () -> Void) throws -> [WriteOutcome] {
        let now = Timestamp(microseconds: Int64(Date.now.timeIntervalSince1970 * 1_000_000))
        let token = RecordID.make(at: now)
        var result: (outcomes: [WriteOutcome], published: (UInt64, PolicySnapshot)?)?
        do {
            try writerSession.transaction {
                result = try applyLocked(batch, more: more, writerSession, token: token, now: now)
                beforeCommit()
            }
        } catch let error as StoreError where error.kind == .unconfirmed {
            // The COMMIT was sent and its answer lost: the batch's token says whether it was applied.
            guard let found = settle(token) else {
                throw StoreError(.unconfirmed, path: path, "\(error.message); the database could not tell within \(timeout) whether it was applied", unreachable: true)
            }
            guard found else {
                throw StoreError(.unavailable, path: path, "the connection to PostgreSQL failed at commit, and the batch was not applied; nothing was changed")
            }
            logger.notice("a commit's answer was lost; its batch was applied", metadata: ["jobs": "\(batch.count)"])
        }
        // Set before every COMMIT; should it be missing, the outcome is what cannot be told.
        guard let applied = result else { throw StoreError(.unconfirmed, path: path, "the batch's outcomes were lost; its outcome is unknown") }
        if let (generation, snapshot) = applied.published { publishPolicy(generation: generation, snapshot) }
        return applied.outcomes
    }

    /// Whether the batch with `token` was applied, asked until the database answers or the store's
    /// timeout has passed (a restarting server answers within moments); nil if it never answered.
    ///
    /// The question waits for the fleet lock first: a `COMMIT` the server received goes on after
    /// the client gave up (flushing, waiting for a synchronous standby) and holds the lock until
    /// its transaction ends, and only then is its token visible. So the answer is taken once
    /// the sent transaction has ended either way, never while it is still committing.
    private func settle(_ token: String) -> Bool? {
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(50)
        while true {
            let rows = try? writerSession.rolledBack {
                _ = try writerSession.rows("SELECT 1 FROM fleet_head FOR UPDATE")
                return try writerSession.rows("SELECT 1 FROM batches WHERE token = \(token)")
            }
            if let rows { return !rows.isEmpty }
            guard ContinuousClock.now + pause < deadline else { return nil }
            usleep(UInt32(pause / .microseconds(1)))
            pause = min(pause * 2, .milliseconds(500))
        }
    }

    private func applyLocked(_ first: [WriteWork], more: () -> [WriteWork], _ session: SQLSession, token: String, now: Timestamp) throws
        -> (outcomes: [WriteOutcome], published: (UInt64, PolicySnapshot)?)
    {
        // The fleet lock: every replica's batch waits here for the one before it to commit.
        guard let head = try session.rows("SELECT audit_sequence, audit_hash, policy_generation FROM fleet_head FOR UPDATE").first else {
            throw StoreError(.corrupt, path: path, "fleet_head row is missing")
        }
        let (sequence, hash, generation) = try head.decode((Int64, String, Int64).self)
        // What queued while this replica waited for the lock joins the batch.
        let work = first + more()
        let policyGeneration = try storedUnsigned(generation, "fleet_head.policy_generation", path: path)
        var state = BatchState(
            policy: try policy(session, generation: policyGeneration), generation: policyGeneration,
            chain: AuditChain(sequence: try storedUnsigned(sequence, "fleet_head.audit_sequence", path: path), headHash: hash))
        let batch = FleetBatch(session: session, codec: .shared, path: path)
        let writes = FleetWrites(batch: batch)
        var outcomes: [WriteOutcome] = []
        outcomes.reserveCapacity(work.count)
        var next = 0
        while next < work.count {
            // What the rest of the batch will ask is read first, in a statement or two; each piece
            // is then applied in order, seeing every earlier one.
            let rest = work[next...]
            let policy = state.policy
            try batch.prefetch { probe in
                for piece in rest {
                    switch piece {
                    case .decide(let request, let principal, let context, _):
                        _ = Evaluator.evaluate(request, by: principal, policy: policy, state: probe, context: context)
                    case .mutation(let mutation):
                        writes.ask(mutation)
                    }
                }
            }
            let view = FleetView(batch: batch, mode: .live)
            for piece in rest {
                next += 1
                switch piece {
                case .decide(let request, let principal, let context, let requestId):
                    let decision = Evaluator.evaluate(request, by: principal, policy: state.policy, state: view, context: context)
                    if let failure = view.failure { throw failure }
                    let origin = AuditOrigin(decisionId: decision.decisionId, requestId: requestId, timestamp: context.now, trail: decision.trail)
                    try writes.apply(decision.effects, origin: origin, &state)
                    outcomes.append(.decision(decision))
                case .mutation(let mutation) where FleetWrites.writesDirectly(mutation):
                    // It writes the tables itself: the batch's writes go first, and what the batch
                    // knew is read again for the pieces after it.
                    try batch.flush()
                    outcomes.append(try writes.apply(mutation, &state))
                    try batch.flush()
                    batch.forget()
                case .mutation(let mutation):
                    outcomes.append(try writes.apply(mutation, &state))
                }
                if case .mutation(let mutation) = piece, FleetWrites.writesDirectly(mutation) { break }
            }
        }
        var published: (UInt64, PolicySnapshot)?
        if state.policyChanged {
            state.generation += 1
            published = (state.generation, state.policy)
        }
        try batch.flush(closing: FleetBatch.Closing(
            token: token, committedAt: now, chain: state.chain, generation: state.generation, policy: state.policyChanged ? state.policy : nil))
        return (outcomes, published)
    }
}

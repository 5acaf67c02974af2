public import Rules
import Audit
public import Logging
import LMDB
import FoundationEssentials
import Synchronization

/// All governance state in one LMDB environment: policy data and settings, builds, deployment
/// records and their indexes, quota and rate counters, idempotency records, the engine outbox and
/// the audit log.
///
/// Mutating decisions go through one write path that batches concurrent callers into one durable
/// transaction (group commit); every decision's effects commit whole or not at all, and no caller
/// is answered before its transaction is on disk. Read-only decisions run on read transactions
/// and never wait for the writer.
public final class GovernanceStore: GovernanceBackend, BatchBackend {
    /// How a store is opened.
    public struct Options: Sendable {
        /// The largest the data file may grow, in bytes.
        public var mapSize: Int
        /// Create and initialise the directory's databases when they do not exist yet.
        public var create: Bool
        /// The most decisions committed in one transaction.
        public var maxBatch: Int
        /// Told of every commit: pieces of work in it, time applying them, time committing.
        public var commitObserver: (@Sendable (Int, Duration, Duration) -> Void)?
        /// Off only in the benchmark that measures what auditing costs; never in a server.
        @_spi(Benchmark) public var writesAudit = true

        /// The most decisions waiting for the writer; past it a mutating decision is refused at once
        /// (``StoreError/Kind/busy``). The store's own work (engine outcomes, expiry) always queues.
        public var maxQueue: Int

        /// 4 GiB of map (sparse), no creation, batches of up to 256, up to 4,096 decisions waiting.
        public init(
            mapSize: Int = 4 << 30, create: Bool = false, maxBatch: Int = 256, maxQueue: Int = 4096,
            commitObserver: (@Sendable (Int, Duration, Duration) -> Void)? = nil
        ) {
            self.mapSize = mapSize
            self.create = create
            self.maxBatch = maxBatch
            self.maxQueue = maxQueue
            self.commitObserver = commitObserver
        }
    }

    /// The data directory.
    public let path: String
    let environment: LMDB.Environment
    let schema: Schema
    let writer: WritePath
    let readWindows = ReadWindows()
    let policyCache = Mutex<(generation: UInt64, snapshot: PolicySnapshot)?>(nil)
    let logger: Logger
    let writesAudit: Bool

    /// Opens the store in `directory`.
    ///
    /// A missing or uninitialised directory is an error unless `options.create` is set; an
    /// unreadable, damaged or foreign one is always an error that names the path. Nothing is
    /// ever reset.
    public init(directory: String, options: Options = Options(), logger: Logger = Logger(label: "dxcp.store")) throws(StoreError) {
        self.path = directory
        self.logger = logger
        self.writesAudit = options.writesAudit
        var isDirectory = false
        let exists = FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory)
        if !exists {
            guard options.create else {
                throw StoreError(.missing, path: directory, "does not exist; create it with `dxcp-policy seed --data-dir \(directory) --policy FILE`")
            }
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw StoreError(.inaccessible, path: directory, "cannot be created: \(error)")
            }
        } else if !isDirectory {
            throw StoreError(.inaccessible, path: directory, "is not a directory; point --data-dir at a directory")
        }
        let dataFile = directory + "/data.mdb"
        if !FileManager.default.fileExists(atPath: dataFile), !options.create {
            throw StoreError(.missing, path: directory, "holds no dxcp-policy data; initialise it with `dxcp-policy seed --data-dir \(directory) --policy FILE`")
        }
        if FileManager.default.fileExists(atPath: dataFile), !FileManager.default.isReadableFile(atPath: dataFile)
            || !FileManager.default.isWritableFile(atPath: dataFile)
        {
            throw StoreError(.inaccessible, path: directory, "data.mdb is not readable and writable by this user; fix its permissions")
        }
        do {
            var envOptions = LMDB.Environment.Options(mapSize: options.mapSize, maxDatabases: 32)
            envOptions.deferMetaSync = true
            let env = try LMDB.Environment(path: directory, options: envOptions)
            self.environment = env
            self.schema = try Schema(env, create: options.create)
        } catch {
            throw StoreError(error)
        }
        self.writer = WritePath(maxBatch: options.maxBatch, maxQueue: options.maxQueue, observer: options.commitObserver)
        try checkSchemaVersion(create: options.create)
        writer.store = self
    }

    private func checkSchemaVersion(create: Bool) throws(StoreError) {
        do {
            try environment.write { txn in
                if let stored = try txn.get(schema.meta, Schema.schemaVersionKey) {
                    var version = Int(String(decoding: stored, as: UTF8.self)) ?? -1
                    if version == 1 {
                        try migrateSlotIndex(txn)
                        try txn.put(schema.meta, Schema.schemaVersionKey, Array(String(2).utf8))
                        version = 2
                    }
                    if version == 2 {
                        try migrateDeploymentIndexes(txn)
                        try txn.put(schema.meta, Schema.schemaVersionKey, Array(String(3).utf8))
                        version = 3
                    }
                    if version == 3 {
                        // Schema 4 packs new records and audit entries (DECISIONS 77) and reads the
                        // JSON ones as they are: no value is rewritten; the rate windows move and
                        // the new indexes are filled.
                        try migrateRateWindows(txn)
                        try indexRecordsAndAudit(txn)
                        try txn.put(schema.meta, Schema.schemaVersionKey, Array(String(4).utf8))
                        logger.notice("data directory upgraded to schema 4 (packed records and audit entries)")
                        version = 4
                    }
                    guard version == Schema.version else {
                        throw StoreError(.corrupt, path: path, "schema version \(version) is not \(Schema.version); use a matching dxcp-policy")
                    }
                } else if create {
                    try txn.put(schema.meta, Schema.schemaVersionKey, Array(String(Schema.version).utf8))
                    if try txn.get(schema.policy, Schema.snapshotKey) == nil {
                        try txn.put(schema.policy, Schema.snapshotKey, RecordCodec.shared.encode(PolicySnapshot()))
                    }
                } else {
                    throw StoreError(.missing, path: path, "is not initialised; run `dxcp-policy seed --data-dir \(path) --policy FILE`")
                }
            }
        } catch let error as StoreError {
            throw error
        } catch let error as LMDBError {
            throw StoreError(error)
        } catch {
            throw StoreError(.storage, path: path, "\(error)")
        }
    }

    /// Schema 1 → 2: slot entries say whether they await the engine, and each group and
    /// environment gets its slot count and age index (`updateSlot`), rebuilt from the slot entries.
    private func migrateSlotIndex(_ txn: Transaction) throws {
        let records = try slotEntries(txn).compactMap { active in
            try txn.get(schema.deployments, Array(active.id.utf8)).map { try StoredEncoding.record($0, id: active.id, .shared) }
        }
        for record in records {
            // Written afresh: the old entry is removed first, so the count starts from nothing.
            _ = try txn.delete(schema.scopes, Schema.slotKey(group: record.deliveryGroupId, environment: record.environment, id: record.id))
            try updateSlot(record, holds: record.state.holdsSlot, txn)
        }
        logger.notice("data directory upgraded to schema 2 (slot counts and age index)", metadata: ["slots": "\(records.count)"])
    }

    /// Schema 3 → 4: mutate rate windows move from the scope entries, keyed (actor, "rate",
    /// bucket, minute), to their own database keyed by minute first.
    private func migrateRateWindows(_ txn: Transaction) throws {
        var moved: [(key: [UInt8], window: [UInt8], count: [UInt8])] = []
        let cursor = try txn.cursor(schema.scopes)
        var entry = try cursor.first()
        while let current = entry {
            if let actor = StoreKey.string(in: current.key, at: 0) {
                let prefix = StoreKey().adding(actor).adding("rate").bytes
                if current.key.starts(with: prefix), let bucket = StoreKey.string(in: current.key, at: prefix.count),
                    let minute = StoreKey.integer(in: current.key, at: prefix.count + StoreKey().adding(bucket).bytes.count)
                {
                    moved.append((current.key, StoreKey().adding(minute).adding(actor).adding(bucket).bytes, current.value))
                }
            }
            entry = try cursor.next()
        }
        for m in moved {
            try txn.put(schema.rateWindows, m.window, m.count)
            _ = try txn.delete(schema.scopes, m.key)
        }
    }

    /// Schema 3 → 4: the records enter the by-group index, the audit entries the by-group, by-type
    /// and by-time indexes.
    private func indexRecordsAndAudit(_ txn: Transaction) throws {
        let records = try txn.cursor(schema.deployments)
        var entry = try records.first()
        while let current = entry {
            let record = try StoredEncoding.record(current.value, id: String(decoding: current.key, as: UTF8.self), .shared)
            try txn.put(schema.deploymentsByGroup, Schema.byGroupKey(record), [])
            entry = try records.next()
        }
        let log = try txn.cursor(schema.audit)
        entry = try log.first()
        while let current = entry {
            // An entry that cannot be read stays as it is, unindexed: `audit verify` reports it.
            if let stored = try? auditEntry(current, .shared) {
                for index in schema.auditIndexEntries(stored) { try txn.put(index.database, index.key, index.value, appending: true) }
            }
            entry = try log.next()
        }
    }

    /// Schema 2 → 3: every record enters the record-by-scope index, the counts of SUCCEEDED
    /// versions and the insight counters (`reindex`), built from the stored records.
    private func migrateDeploymentIndexes(_ txn: Transaction) throws {
        let cursor = try txn.cursor(schema.deployments)
        var records: [DeploymentRecord] = []
        var entry = try cursor.first()
        while let current = entry {
            records.append(try StoredEncoding.record(current.value, id: String(decoding: current.key, as: UTF8.self), .shared))
            entry = try cursor.next()
        }
        for record in records { try reindex(from: nil, to: record, txn) }
        logger.notice("data directory upgraded to schema 3 (records by service and environment, successes by version, insight counters)",
            metadata: ["records": "\(records.count)"])
    }

    // MARK: Decisions

    /// Decides `request`: mutating requests through the write path (their effects committed
    /// durably before this returns), others on a read transaction.
    ///
    /// - Throws: ``StoreError`` when the state cannot be read or the batch cannot be committed;
    ///   nothing of the decision is then stored.
    public func decide(_ request: Request, by principal: Principal, context: DecisionContext, requestId: String? = nil) async throws -> Decision {
        if request.isMutating { return try await writer.decide(request, principal, context, requestId: requestId) }
        return try decideReadOnly(request, by: principal, context: context)
    }

    /// Decides a read-only request on a read transaction; the read window is counted in memory.
    public func decideReadOnly(_ request: Request, by principal: Principal, context: DecisionContext) throws(StoreError) -> Decision {
        precondition(!request.isMutating, "mutating requests go through the write path")
        let decision = try read { view, policy in
            Evaluator.evaluate(request, by: principal, policy: policy, state: view, context: context)
        }
        for case .countRate(let window) in decision.effects where window.bucket.keptInMemory {
            readWindows.hit(window)
        }
        return decision
    }

    /// Evaluates `request` against the stored state with `policy` in place of the stored policy,
    /// committing nothing: what the decision would be (the `eval` command).
    public func dryRun(_ request: Request, by principal: Principal, policy: PolicySnapshot, context: DecisionContext) throws(StoreError) -> Decision {
        try read { view, _ in Evaluator.evaluate(request, by: principal, policy: policy, state: view, context: context) }
    }

    /// Runs `body` with a consistent view of state and policy.
    func read<T>(_ body: (StoreView, PolicySnapshot) throws -> T) throws(StoreError) -> T {
        do {
            return try environment.read { txn in
                let view = StoreView(txn: txn, schema: schema, codec: RecordCodec.shared, readWindows: readWindows)
                let policy = try currentPolicy(txn, codec: view.codec)
                let result = try body(view, policy)
                if let failure = view.failure { throw failure }
                return result
            }
        } catch {
            throw storeError(error)
        }
    }

    /// The policy of the transaction's moment, decoded only when its generation changed.
    func currentPolicy(_ txn: Transaction, codec: RecordCodec) throws -> PolicySnapshot {
        let generation = UInt64(try txn.counter(schema.meta, Schema.generationKey))
        if let cached = policyCache.withLock({ $0 }), cached.generation == generation { return cached.snapshot }
        guard let bytes = try txn.get(schema.policy, Schema.snapshotKey) else {
            throw StoreError(.corrupt, path: path, "policy data is missing; re-run `dxcp-policy seed`")
        }
        let snapshot = try codec.decode(PolicySnapshot.self, bytes)
        publishPolicy(generation: generation, snapshot)
        return snapshot
    }

    func publishPolicy(generation: UInt64, _ snapshot: PolicySnapshot) {
        policyCache.withLock { cache in
            if let current = cache, current.generation >= generation { return }
            cache = (generation, snapshot)
        }
    }

    /// A commit's meta page is synced with the next commit (`MDB_NOMETASYNC`, see WritePath).
    var defersDurability: Bool { true }

    func syncCommitted() throws { try environment.sync() }

    func storeError(_ error: any Error) -> StoreError {
        switch error {
        case let e as StoreError: e
        case let e as LMDBError: StoreError(e)
        default: StoreError(.corrupt, path: path, "stored data could not be decoded (\(error)); restore from a backup")
        }
    }

    // MARK: Reads for operators and the engine

    /// The current policy data and settings.
    public func policy() throws(StoreError) -> PolicySnapshot {
        try read { _, policy in policy }
    }

    /// How many times policy data has been changed; 0 for a store that was never given any.
    public func policyGeneration() throws(StoreError) -> UInt64 {
        do {
            return try environment.read { txn in UInt64(try txn.counter(schema.meta, Schema.generationKey)) }
        } catch {
            throw storeError(error)
        }
    }

    /// A deployment record by id.
    public func deployment(id: String) throws(StoreError) -> DeploymentRecord? {
        try read { view, _ in view.deployment(id: id) }
    }

    /// Every deployment record, newest first.
    public func deployments() throws(StoreError) -> [DeploymentRecord] {
        try deployments(matching: DeploymentQuery(), groups: nil)
    }

    /// Records newest first, filtered as the rules' list filters them.
    public func deployments(matching query: DeploymentQuery, groups: Set<String>?) throws(StoreError) -> [DeploymentRecord] {
        try read { view, _ in view.deployments(matching: query, groups: groups) }
    }

    /// Every `stride`-th record id in creation order, read from the time index without decoding
    /// a record (the scale benchmark's probes).
    @_spi(Benchmark) public func deploymentIds(stride: Int) throws(StoreError) -> [String] {
        try read { view, _ in
            var out: [String] = []
            let cursor = try view.txn.cursor(schema.deploymentsByTime)
            var key = try cursor.first()?.key
            var n = 0
            while let current = key {
                // Key layout: createdAt (8 bytes), id.
                if n % max(1, stride) == 0, let id = StoreKey.string(in: current, at: 8) { out.append(id) }
                n += 1
                key = try cursor.nextKey()
            }
            return out
        }
    }

    /// The build registered for a service and version.
    public func build(service: String, version: String) throws(StoreError) -> Build? {
        try read { view, _ in view.build(service: service, version: version) }
    }

    /// The slot entry of every deployment that holds a concurrency slot (ACTIVE or IN_PROGRESS),
    /// for the poller: read from the compact entries, no record decoded.
    public func slotHolders() throws(StoreError) -> [ActiveDeployment] {
        try read { view, _ in try slotEntries(view.txn) }
    }

    /// Every slot entry, of every group and environment: for each scope of the scope entries, a
    /// jump to its slot entries and a jump past the scope, so the walk costs one seek per scope
    /// plus one step per slot holder, whatever the quota counters and age entries beside them.
    func slotEntries(_ txn: Transaction) throws -> [ActiveDeployment] {
        var out: [ActiveDeployment] = []
        let cursor = try txn.cursor(schema.scopes)
        var entry = try cursor.first()
        while let current = entry {
            // The scope component as stored, up to its terminator (0x00 never occurs inside it).
            guard let end = current.key.firstIndex(of: 0x00) else { throw UndecodableValue(what: "scope key") }
            let scopeKey = Array(current.key[...end])
            let slots = scopeKey + StoreKey().adding("slot").bytes
            var slot = try cursor.seek(prefix: slots)
            while let held = slot {
                guard let active = CompactValues.decodeActive(held.value) else { throw UndecodableValue(what: "slot entry") }
                out.append(active)
                slot = try cursor.next(prefix: slots)
            }
            // Past every key of this scope: its component's terminator (0x00) raised to 0x01.
            entry = try cursor.seek(atLeast: scopeKey.dropLast() + [0x01])
        }
        return out
    }

    /// Units spent of a daily quota.
    public func quotaUsed(_ scope: QuotaScope, day: Int64) throws(StoreError) -> Int {
        try read { view, _ in view.quotaUsed(scope, day: day) }
    }

    /// Deployments holding a slot in a group and environment.
    public func activeDeployments(group: String, environment: String) throws(StoreError) -> [ActiveDeployment] {
        try read { view, _ in view.activeDeployments(group: group, environment: environment) }
    }

    /// Slots held in a group and environment, and the stale locks among them, from the slot count
    /// and age index.
    public func slotUsage(group: String, environment: String, staleBefore: Timestamp) throws(StoreError) -> SlotUsage {
        try read { view, _ in view.slotUsage(group: group, environment: environment, staleBefore: staleBefore) }
    }

    /// The idempotency record under a scope.
    public func idempotencyRecord(_ scope: IdempotencyScope) throws(StoreError) -> IdempotencyRecord? {
        try read { view, _ in view.idempotencyRecord(scope) }
    }

    /// Reservations whose engine trigger has not been recorded, oldest first.
    public func pendingDispatches() throws(StoreError) -> [DispatchOrder] {
        try read { view, _ in
            try view.txn.entries(schema.outbox, prefix: []).map {
                guard let order = CompactValues.decodeOrder($0.value) else { throw UndecodableValue(what: "outbox entry") }
                return order
            }
        }
    }

    public var writes: StoreWrites { StoreWrites(writer) }

    /// One node: every request is decided by this process's one writer.
    public var sharedByReplicas: Bool { false }

    /// One node dispatches alone.
    public func longestEngineTimeoutMs() async throws(StoreError) -> Int? { nil }

    /// One node runs its own background work.
    public func leadsBackgroundWork() async -> Bool { true }

    /// Bytes of map configured and used.
    public func usage() -> (mapSize: Int, used: Int)? { environment.usage() }

    /// Entries and bytes of pages of each database, by name: where the data file's bytes go. The
    /// values of a database of fixed values (the audit indexes) sit in trees of their own that
    /// LMDB's statistics leave out: their bytes are undercounted.
    public func databaseUsage() throws(StoreError) -> [(name: String, entries: Int, bytes: Int)] {
        let pageSize = environment.pageSize
        do {
            return try environment.read { txn in
                try schema.all.map { db in
                    let stat = try txn.statistics(db)
                    return (db.name, stat.entries, stat.pages * pageSize)
                }
            }
        } catch {
            throw storeError(error)
        }
    }

    /// The sizes a map may be given: 16 MiB to 16 TiB.
    public static let mapSizeBounds: ClosedRange<Int> = (16 << 20)...(16 << 40)
    /// The share of the map in use from which the store reports itself nearly full (`/readyz`).
    public static let nearlyFullShare = 0.9

    /// A map size as an operator writes it: bytes, or a number with a binary unit (`512MiB`,
    /// `4GiB`, `1TiB`; `K`, `M`, `G`, `T` alike), within ``mapSizeBounds``; nil otherwise.
    public static func mapSize(parsing text: String) -> Int? {
        let units: [(String, Int)] = [
            ("KiB", 10), ("MiB", 20), ("GiB", 30), ("TiB", 40), ("K", 10), ("M", 20), ("G", 30), ("T", 40), ("B", 0), ("", 0),
        ]
        let trimmed = text.filter { $0 != " " }
        for (suffix, shift) in units where trimmed.hasSuffix(suffix) {
            let digits = trimmed.dropLast(suffix.count)
            guard !digits.isEmpty, digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int(digits) else { continue }
            let (bytes, overflow) = value.multipliedReportingOverflow(by: 1 << shift)
            return !overflow && mapSizeBounds.contains(bytes) ? bytes : nil
        }
        return nil
    }

    /// Stops taking writes after those already queued have committed.
    public func close() async {
        await writer.close()
    }
}

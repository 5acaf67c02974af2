import CLMDB
import Synchronization

/// An open LMDB environment: one directory holding a memory-mapped data file and its lock file.
///
/// Open each directory once per process and share the instance: LMDB ties its locks to the
/// process, and closing a second handle on the same files drops the first one's locks.
/// The environment is opened with `MDB_NOTLS`, so a read transaction may move between threads
/// (Swift tasks do), but a write transaction must begin, run and end on one thread without
/// suspending in between.
public final class Environment: @unchecked Sendable {
    // INVARIANT: `handle` is a live MDB_env* from open until deinit; LMDB makes every call
    // used here safe from any thread under MDB_NOTLS.
    let handle: OpaquePointer
    /// The environment's directory.
    public let path: String
    /// Reset read transactions kept for the next reader: renewing one skips allocating a
    /// transaction and claiming a reader slot under the lock file's mutex, which every read-only
    /// request would otherwise pay. Each keeps its reader slot but pins no snapshot.
    private let idleReaders = Mutex<[IdleReader]>([])
    /// A reset read transaction, owned by whoever took it from ``idleReaders``.
    private struct IdleReader: @unchecked Sendable {
        let handle: OpaquePointer
    }
    /// The most reset read transactions kept (each holds one of ``Options/maxReaders``).
    static let idleReaderLimit = 16

    /// How an environment is opened.
    public struct Options: Sendable {
        /// The largest the data file may grow, in bytes. The file grows sparsely, so a large
        /// value costs nothing until used.
        public var mapSize: Int
        /// How many named databases may be opened.
        public var maxDatabases: UInt32
        /// How many read transactions may be open at once across all processes.
        public var maxReaders: UInt32
        /// Open without write access (no write transaction may begin).
        public var readOnly: Bool
        /// Defer flushing the meta page of each commit to the next commit's data sync or to
        /// ``Environment/sync()`` (`MDB_NOMETASYNC`): integrity is kept, but a commit is durable only
        /// after one of those. Callers must not treat a commit as durable before then.
        public var deferMetaSync: Bool = false

        /// Options with 1 GiB of map, 32 databases and 126 readers, read-write.
        public init(mapSize: Int = 1 << 30, maxDatabases: UInt32 = 32, maxReaders: UInt32 = 126, readOnly: Bool = false) {
            self.mapSize = mapSize
            self.maxDatabases = maxDatabases
            self.maxReaders = maxReaders
            self.readOnly = readOnly
        }
    }

    /// Opens the environment in the existing directory `path`.
    ///
    /// Commits are fully durable (LMDB's default synchronous mode). Reader slots left behind by
    /// crashed processes are cleared on open.
    public init(path: String, options: Options = Options()) throws(LMDBError) {
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create", path: path)
        guard let env else { throw LMDBError(code: ENOMEM, operation: "mdb_env_create", path: path) }
        do {
            try check(mdb_env_set_mapsize(env, options.mapSize), "mdb_env_set_mapsize", path: path)
            try check(mdb_env_set_maxdbs(env, options.maxDatabases), "mdb_env_set_maxdbs", path: path)
            try check(mdb_env_set_maxreaders(env, options.maxReaders), "mdb_env_set_maxreaders", path: path)
            var flags = UInt32(MDB_NOTLS)
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            if options.deferMetaSync { flags |= UInt32(MDB_NOMETASYNC) }
            try check(mdb_env_open(env, path, flags, 0o640), "mdb_env_open", path: path)
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.handle = env
        self.path = path
        var dead: Int32 = 0
        mdb_reader_check(env, &dead)
    }

    deinit {
        for idle in idleReaders.withLock({ $0 }) { mdb_txn_abort(idle.handle) }
        mdb_env_close(handle)
    }

    /// A read-only transaction handle: a kept one renewed, else a new one.
    func beginRead() throws(LMDBError) -> OpaquePointer {
        if let idle = idleReaders.withLock({ $0.popLast() }) {
            if mdb_txn_renew(idle.handle) == MDB_SUCCESS { return idle.handle }
            mdb_txn_abort(idle.handle)
        }
        var txn: OpaquePointer?
        try check(mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin", path: path)
        guard let txn else { throw LMDBError(code: ENOMEM, operation: "mdb_txn_begin", path: path) }
        return txn
    }

    /// Ends a read-only transaction from ``beginRead()``: reset and kept, or aborted when enough
    /// are kept already.
    func endRead(_ txn: OpaquePointer) {
        mdb_txn_reset(txn)
        let kept = idleReaders.withLock { idle in
            guard idle.count < Self.idleReaderLimit else { return false }
            idle.append(IdleReader(handle: txn))
            return true
        }
        if !kept { mdb_txn_abort(txn) }
    }

    /// Opens (and, when `create` is true, creates) the named database.
    ///
    /// A handle stays valid for the life of the environment; open each name once and keep it.
    ///
    /// `fixedValues`: each key holds a sorted set of values of one size (`MDB_DUPSORT` with
    /// `MDB_DUPFIXED`) — an index whose entries under one key are packed side by side, without a
    /// node per entry, and filled to the end of their pages when appended in order.
    public func database(_ name: String, create: Bool = true, fixedValues: Bool = false) throws(LMDBError) -> Database {
        let readOnly = !create
        let txn = try Transaction(environment: self, readOnly: readOnly)
        var dbi: MDB_dbi = 0
        let flags = (create ? MDB_CREATE : 0) | (fixedValues ? MDB_DUPSORT | MDB_DUPFIXED : 0)
        do {
            try check(
                mdb_dbi_open(txn.handle, name, UInt32(flags), &dbi),
                "mdb_dbi_open(\(name))", path: path)
            try txn.commit()
        } catch {
            txn.abort()
            throw error
        }
        return Database(id: dbi, name: name, fixedValues: fixedValues)
    }

    /// Runs `body` in a read-only transaction that sees the last committed state.
    public func read<Result>(_ body: (Transaction) throws -> Result) throws -> Result {
        let txn = try Transaction(environment: self, readOnly: true)
        defer { txn.abort() }
        return try body(txn)
    }

    /// Runs `body` in a write transaction and commits it durably if `body` returns; aborts it,
    /// leaving no trace, if `body` throws.
    ///
    /// Writers are serialised across threads and processes; `body` must not suspend.
    public func write<Result>(_ body: (Transaction) throws -> Result) throws -> Result {
        let txn = try Transaction(environment: self, readOnly: false)
        do {
            let result = try body(txn)
            try txn.commit()
            return result
        } catch {
            txn.abort()
            throw error
        }
    }

    /// Flushes every committed transaction to disk (`mdb_env_sync` with force): after it returns,
    /// all commits so far are durable.
    public func sync() throws(LMDBError) {
        try check(mdb_env_sync(handle, 1), "mdb_env_sync", path: path)
    }

    /// The size of a page of the data file, in bytes.
    public var pageSize: Int {
        var stat = MDB_stat()
        mdb_env_stat(handle, &stat)
        return Int(stat.ms_psize)
    }

    /// The configured map size in bytes and the bytes in use: the file's high-water mark less the
    /// pages on LMDB's free list, which later commits reuse before growing the file.
    public func usage() -> (mapSize: Int, used: Int) {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(handle, &info)
        mdb_env_stat(handle, &stat)
        let pageSize = Int(stat.ms_psize)
        // Page counts are far below overflow in any sound file; a damaged free list is clamped
        // into the map rather than trapping a `/readyz` or `/metrics` that reads it.
        let highWater = min(info.me_mapsize, (info.me_last_pgno &+ 1) &* pageSize)
        let (bytes, overflow) = freePages().multipliedReportingOverflow(by: pageSize)
        return (info.me_mapsize, max(0, highWater - (overflow ? highWater : min(highWater, bytes))))
    }

    /// The pages listed on the free list (its records, in database 0, are page-number lists whose
    /// first word is their length); 0 when it cannot be read.
    private func freePages() -> Int {
        var txn: OpaquePointer?
        guard mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn) == MDB_SUCCESS, let txn else { return 0 }
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        guard mdb_cursor_open(txn, 0, &cursor) == MDB_SUCCESS, let cursor else { return 0 }
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val(), value = MDB_val()
        var total = 0
        var op = MDB_FIRST
        while mdb_cursor_get(cursor, &key, &value, op) == MDB_SUCCESS {
            if value.mv_size >= MemoryLayout<Int>.size, let data = value.mv_data {
                let (sum, overflow) = total.addingReportingOverflow(max(0, data.loadUnaligned(as: Int.self)))
                total = overflow ? .max : sum
            }
            op = MDB_NEXT
        }
        return total
    }

    /// Copies the environment, compacted, into the existing empty directory `destination`
    /// while it stays usable (a consistent snapshot of the last commit).
    public func copy(to destination: String) throws(LMDBError) {
        try check(mdb_env_copy2(handle, destination, UInt32(MDB_CP_COMPACT)), "mdb_env_copy2", path: path)
    }
}

/// A named database inside an environment.
public struct Database: Sendable, Hashable {
    let id: MDB_dbi
    /// The name it was opened with.
    public let name: String
    /// Whether each key holds a sorted set of fixed-size values.
    public let fixedValues: Bool
}

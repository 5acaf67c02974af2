import CLMDB

/// A read or write transaction. Created by ``Environment/read(_:)`` and
/// ``Environment/write(_:)``; valid only inside their closures.
///
/// Keys and values are bytes. Reads copy the value out of the map, so a returned array stays
/// valid after the transaction ends; ``withValue(_:_:_:)`` reads in place without a copy.
public final class Transaction {
    // INVARIANT: `handle` is live until commit() or abort(); `finished` records which.
    let handle: OpaquePointer
    let environment: Environment
    /// Whether this transaction may write.
    public let isReadOnly: Bool
    private(set) var finished = false

    /// The handle for an operation; a transaction used after it ended stops here, since a read
    /// transaction's handle may by then be renewed for another reader.
    var live: OpaquePointer {
        precondition(!finished, "LMDB transaction used after it ended")
        return handle
    }

    init(environment: Environment, readOnly: Bool) throws(LMDBError) {
        if readOnly {
            self.handle = try environment.beginRead()
        } else {
            var txn: OpaquePointer?
            try check(mdb_txn_begin(environment.handle, nil, 0, &txn), "mdb_txn_begin", path: environment.path)
            guard let txn else { throw LMDBError(code: ENOMEM, operation: "mdb_txn_begin", path: environment.path) }
            self.handle = txn
        }
        self.environment = environment
        self.isReadOnly = readOnly
    }

    deinit {
        abort()
    }

    func commit() throws(LMDBError) {
        precondition(!finished, "transaction already finished")
        finished = true
        try check(mdb_txn_commit(handle), "mdb_txn_commit", path: environment.path)
    }

    func abort() {
        guard !finished else { return }
        finished = true
        if isReadOnly { environment.endRead(handle) } else { mdb_txn_abort(handle) }
    }

    private func fail(_ code: Int32, _ operation: String, _ db: Database) -> LMDBError {
        LMDBError(code: code, operation: "\(operation)(\(db.name))", path: environment.path)
    }

    /// The value stored under `key`, copied out, or nil.
    public func get(_ db: Database, _ key: [UInt8]) throws(LMDBError) -> [UInt8]? {
        try withValue(db, key) { Array($0) }
    }

    /// Calls `body` with the value stored under `key` in place (valid only during the call);
    /// returns nil without calling it when the key is absent.
    public func withValue<R>(_ db: Database, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) throws(LMDBError) -> R? {
        var value = MDB_val()
        let rc = key.withUnsafeBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_get(live, db.id, &kv, &value)
        }
        if rc == MDB_NOTFOUND { return nil }
        if rc != MDB_SUCCESS { throw fail(rc, "mdb_get", db) }
        return body(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    /// Stores `value` under `key`, replacing any previous value.
    ///
    /// `appending`: the key is expected to sort after every key of `db` (a log, a time index), or
    /// in a database of fixed values the value after every value of its key. LMDB then fills the
    /// last page instead of splitting it in half, so pages of an append-only tree end full rather
    /// than half empty; an entry that does not sort last is stored as usual.
    ///
    /// In a database of fixed values, `value` joins the values of `key` (a value already there
    /// stays once).
    public func put(_ db: Database, _ key: [UInt8], _ value: [UInt8], appending: Bool = false) throws(LMDBError) {
        func put(_ flags: Int32) -> Int32 {
            key.withUnsafeBytes { k in
                value.withUnsafeBytes { v in
                    var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                    var vv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                    return mdb_put(live, db.id, &kv, &vv, UInt32(flags))
                }
            }
        }
        var rc = put(appending ? (db.fixedValues ? MDB_APPENDDUP : MDB_APPEND) : 0)
        if appending && rc == MDB_KEYEXIST { rc = put(0) }
        if rc != MDB_SUCCESS { throw fail(rc, "mdb_put", db) }
    }

    /// Deletes database `db` from the environment, its entries and its name (`mdb_drop` with
    /// `del` 1); its handle is closed.
    public func drop(_ db: Database) throws(LMDBError) {
        let rc = mdb_drop(live, db.id, 1)
        if rc != MDB_SUCCESS { throw fail(rc, "mdb_drop", db) }
    }

    /// Removes `key`; returns whether it was present.
    @discardableResult
    public func delete(_ db: Database, _ key: [UInt8]) throws(LMDBError) -> Bool {
        let rc = key.withUnsafeBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_del(live, db.id, &kv, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        if rc != MDB_SUCCESS { throw fail(rc, "mdb_del", db) }
        return true
    }

    /// Removes one value of `key` from a database of fixed values; returns whether it was there.
    @discardableResult
    public func delete(_ db: Database, _ key: [UInt8], value: [UInt8]) throws(LMDBError) -> Bool {
        let rc = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var vv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                return mdb_del(live, db.id, &kv, &vv)
            }
        }
        if rc == MDB_NOTFOUND { return false }
        if rc != MDB_SUCCESS { throw fail(rc, "mdb_del", db) }
        return true
    }

    /// Removes every entry of `db` (the database itself stays).
    public func clear(_ db: Database) throws(LMDBError) {
        let rc = mdb_drop(live, db.id, 0)
        if rc != MDB_SUCCESS { throw fail(rc, "mdb_drop", db) }
    }

    /// The number of entries in `db`.
    public func count(_ db: Database) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        let rc = mdb_stat(live, db.id, &stat)
        if rc != MDB_SUCCESS { throw fail(rc, "mdb_stat", db) }
        return stat.ms_entries
    }

    /// How many entries `db` holds and how many pages (branch, leaf and overflow) its tree takes.
    public func statistics(_ db: Database) throws(LMDBError) -> (entries: Int, pages: Int) {
        var stat = MDB_stat()
        let rc = mdb_stat(live, db.id, &stat)
        if rc != MDB_SUCCESS { throw fail(rc, "mdb_stat", db) }
        return (stat.ms_entries, stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages)
    }

    /// A cursor over `db`, valid until the transaction ends.
    public func cursor(_ db: Database) throws(LMDBError) -> Cursor {
        var cursor: OpaquePointer?
        let rc = mdb_cursor_open(live, db.id, &cursor)
        guard rc == MDB_SUCCESS, let cursor else { throw fail(rc, "mdb_cursor_open", db) }
        return Cursor(handle: cursor, transaction: self, database: db)
    }

    /// The entries whose keys start with `prefix`, in key order.
    public func entries(_ db: Database, prefix: [UInt8]) throws(LMDBError) -> [(key: [UInt8], value: [UInt8])] {
        let cursor = try cursor(db)
        var out: [(key: [UInt8], value: [UInt8])] = []
        var entry = try cursor.seek(prefix: prefix)
        while let current = entry {
            out.append(current)
            entry = try cursor.next(prefix: prefix)
        }
        return out
    }

    /// How many keys start with `prefix`.
    public func count(_ db: Database, prefix: [UInt8]) throws(LMDBError) -> Int {
        let cursor = try cursor(db)
        var n = 0
        var hit = try cursor.seekKey(atLeast: prefix)
        while let key = hit, key.starts(with: prefix) {
            n += 1
            hit = try cursor.nextKey()
        }
        return n
    }
}

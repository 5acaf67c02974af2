import CLMDB

/// A position in a database, moving in key order. Valid only while its transaction is.
public final class Cursor {
    // INVARIANT: `handle` is a live MDB_cursor* owned by this object; `transaction` is kept
    // alive so the cursor is closed before its transaction can be freed.
    let handle: OpaquePointer
    let transaction: Transaction
    let database: Database

    init(handle: OpaquePointer, transaction: Transaction, database: Database) {
        self.handle = handle
        self.transaction = transaction
        self.database = database
    }

    deinit {
        mdb_cursor_close(handle)
    }

    /// One key with its value.
    public typealias Entry = (key: [UInt8], value: [UInt8])

    /// Moves, and copies out the entry reached; nil at the end, or when its key does not start
    /// with `prefix` (checked in place, so a scan's last step copies nothing).
    private func move(
        _ op: MDB_cursor_op, key: [UInt8]? = nil, value: [UInt8]? = nil, wantValue: Bool = true, prefix: [UInt8] = []
    ) throws(LMDBError) -> Entry? {
        precondition(!transaction.finished, "LMDB cursor used after its transaction ended")
        var k = MDB_val()
        var v = MDB_val()
        // Copies the entry out while the buffers `k` and `v` may point into are alive: for some
        // operations (`MDB_GET_BOTH_RANGE`) LMDB leaves `k` pointing at the caller's key.
        func reached(_ rc: Int32) -> (rc: Int32, entry: Entry?) {
            guard rc == MDB_SUCCESS else { return (rc, nil) }
            let found = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
            guard found.starts(with: prefix) else { return (rc, nil) }
            return (rc, (Array(found), wantValue ? Array(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)) : []))
        }
        let result: (rc: Int32, entry: Entry?)
        if let key {
            result = key.withUnsafeBytes { raw in
                k = MDB_val(mv_size: raw.count, mv_data: UnsafeMutableRawPointer(mutating: raw.baseAddress))
                guard let value else { return reached(mdb_cursor_get(handle, &k, &v, op)) }
                return value.withUnsafeBytes { rawValue in
                    v = MDB_val(mv_size: rawValue.count, mv_data: UnsafeMutableRawPointer(mutating: rawValue.baseAddress))
                    return reached(mdb_cursor_get(handle, &k, &v, op))
                }
            }
        } else {
            result = reached(mdb_cursor_get(handle, &k, &v, op))
        }
        if result.rc == MDB_NOTFOUND { return nil }
        if result.rc != MDB_SUCCESS {
            throw LMDBError(code: result.rc, operation: "mdb_cursor_get(\(database.name))", path: transaction.environment.path)
        }
        return result.entry
    }

    /// The longest key LMDB stores (its default `mdb_env_get_maxkeysize`): a longer one names no entry.
    public static let maxKeySize = 511

    /// Moves to the first entry whose key is greater than or equal to `key`.
    public func seek(atLeast key: [UInt8]) throws(LMDBError) -> Entry? {
        if key.isEmpty { return try first() }
        return try move(MDB_SET_RANGE, key: key)
    }

    /// Moves to the first entry whose key starts with `prefix`; nil when there is none.
    public func seek(prefix: [UInt8]) throws(LMDBError) -> Entry? {
        try move(prefix.isEmpty ? MDB_FIRST : MDB_SET_RANGE, key: prefix.isEmpty ? nil : prefix, prefix: prefix)
    }

    /// Moves to the next entry when its key starts with `prefix`; nil when it does not.
    public func next(prefix: [UInt8]) throws(LMDBError) -> Entry? { try move(MDB_NEXT, prefix: prefix) }

    /// Like ``seek(atLeast:)`` but reads only the key.
    public func seekKey(atLeast key: [UInt8]) throws(LMDBError) -> [UInt8]? {
        if key.isEmpty { return try move(MDB_FIRST, wantValue: false)?.key }
        return try move(MDB_SET_RANGE, key: key, wantValue: false)?.key
    }

    /// Moves to the first entry.
    public func first() throws(LMDBError) -> Entry? { try move(MDB_FIRST) }
    /// Moves to the last entry.
    public func last() throws(LMDBError) -> Entry? { try move(MDB_LAST) }
    /// Moves to the next entry.
    public func next() throws(LMDBError) -> Entry? { try move(MDB_NEXT) }
    /// Moves to the next entry, reading only its key.
    public func nextKey() throws(LMDBError) -> [UInt8]? { try move(MDB_NEXT, wantValue: false)?.key }
    /// Moves to the previous entry.
    public func previous() throws(LMDBError) -> Entry? { try move(MDB_PREV) }

    // MARK: Databases of fixed values (each returns the value reached; the key is the caller's)

    /// Moves to the first value of `key` that is at least `value`; nil when there is none.
    public func seek(_ key: [UInt8], valueAtLeast value: [UInt8]) throws(LMDBError) -> [UInt8]? {
        guard key.count <= Self.maxKeySize else { return nil }
        return try move(MDB_GET_BOTH_RANGE, key: key, value: value)?.value
    }

    /// Moves to the last value of `key`; nil when the key is absent.
    public func lastValue(of key: [UInt8]) throws(LMDBError) -> [UInt8]? {
        guard key.count <= Self.maxKeySize, try move(MDB_SET_KEY, key: key, wantValue: false) != nil else { return nil }
        return try move(MDB_LAST_DUP)?.value
    }

    /// Moves to the previous value of the current key; nil before its first.
    public func previousValue() throws(LMDBError) -> [UInt8]? { try move(MDB_PREV_DUP)?.value }

    /// Deletes the entry under the cursor (write transactions only).
    public func deleteCurrent() throws(LMDBError) {
        precondition(!transaction.finished, "LMDB cursor used after its transaction ended")
        let rc = mdb_cursor_del(handle, 0)
        if rc != MDB_SUCCESS {
            throw LMDBError(code: rc, operation: "mdb_cursor_del(\(database.name))", path: transaction.environment.path)
        }
    }
}

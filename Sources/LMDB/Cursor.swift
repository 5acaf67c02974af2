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
        let rc: Int32
        if let key {
            rc = key.withUnsafeBytes { raw in
                k = MDB_val(mv_size: raw.count, mv_data: UnsafeMutableRawPointer(mutating: raw.baseAddress))
                guard let value else { return mdb_cursor_get(handle, &k, &v, op) }
                return value.withUnsafeBytes { rawValue in
                    v = MDB_val(mv_size: rawValue.count, mv_data: UnsafeMutableRawPointer(mutating: rawValue.baseAddress))
                    return mdb_cursor_get(handle, &k, &v, op)
                }
            }
        } else {
            rc = mdb_cursor_get(handle, &k, &v, op)
        }
        if rc == MDB_NOTFOUND { return nil }
        if rc != MDB_SUCCESS {
            throw LMDBError(code: rc, operation: "mdb_cursor_get(\(database.name))", path: transaction.environment.path)
        }
        let found = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
        guard found.starts(with: prefix) else { return nil }
        let keyBytes = Array(found)
        let valueBytes = wantValue ? Array(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)) : []
        return (keyBytes, valueBytes)
    }

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
        try move(MDB_GET_BOTH_RANGE, key: key, value: value)?.value
    }

    /// Moves to the last value of `key`; nil when the key is absent.
    public func lastValue(of key: [UInt8]) throws(LMDBError) -> [UInt8]? {
        guard try move(MDB_SET_KEY, key: key, wantValue: false) != nil else { return nil }
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

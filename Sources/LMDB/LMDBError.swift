import CLMDB

/// A failure reported by LMDB, carrying the operation that failed, the environment's path and
/// advice an operator can act on.
///
/// The kinds that matter to an operator — a full map, too many readers, a corrupt or foreign
/// file — are named so callers can match on them; every other code keeps LMDB's own message.
public struct LMDBError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure, derived from LMDB's return code.
    public enum Kind: Sendable, Equatable {
        /// The environment reached its configured map size (`MDB_MAP_FULL`).
        case mapFull
        /// Every reader slot is taken (`MDB_READERS_FULL`).
        case readersFull
        /// The data file is damaged (`MDB_CORRUPTED`, `MDB_PAGE_NOTFOUND`, `MDB_PANIC`).
        case corrupted
        /// The file is not an LMDB environment of a version this library reads
        /// (`MDB_INVALID`, `MDB_VERSION_MISMATCH`).
        case incompatible
        /// A write transaction grew past LMDB's dirty-page limit (`MDB_TXN_FULL`).
        case transactionFull
        /// Another process grew the map beyond this process's view (`MDB_MAP_RESIZED`).
        case mapResized
        /// The path cannot be opened: missing, not a directory, or not permitted (an `errno`).
        case inaccessible
        /// Any other code.
        case other
    }

    /// What went wrong.
    public let kind: Kind
    /// LMDB's (or the system's) return code.
    public let code: Int32
    /// The call that failed, such as `mdb_env_open` or `mdb_txn_commit`.
    public let operation: String
    /// The environment's directory.
    public let path: String

    /// Builds an error from an LMDB return code.
    public init(code: Int32, operation: String, path: String) {
        self.code = code
        self.operation = operation
        self.path = path
        self.kind = switch code {
        case MDB_MAP_FULL: .mapFull
        case MDB_READERS_FULL: .readersFull
        case MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_PANIC: .corrupted
        case MDB_INVALID, MDB_VERSION_MISMATCH: .incompatible
        case MDB_TXN_FULL: .transactionFull
        case MDB_MAP_RESIZED: .mapResized
        case ENOENT, ENOTDIR, EACCES, EPERM, EROFS: .inaccessible
        default: .other
        }
    }

    /// LMDB's own text for the code.
    public var reason: String { String(cString: mdb_strerror(code)) }

    /// What an operator should do about it.
    public var advice: String {
        switch kind {
        case .mapFull:
            "the data directory reached its map size limit; restart with a larger map size "
                + "(--map-size); nothing was written by the failed transaction"
        case .readersFull:
            "all reader slots are in use; stop idle processes using this data directory or "
                + "raise the reader limit"
        case .corrupted:
            "the data file is damaged; restore the data directory from a backup "
                + "(it was not modified or reset)"
        case .incompatible:
            "this is not a dxcp-policy data directory, or it was written by an incompatible "
                + "LMDB version; point --data-dir at the right directory"
        case .transactionFull:
            "a single transaction touched too many pages; split the change"
        case .mapResized:
            "another process grew the data file; retry"
        case .inaccessible:
            "check that the directory exists and that this user may read and write it"
        case .other:
            "unexpected storage error"
        }
    }

    /// One line naming the path, the failed call, LMDB's reason and the advice.
    public var description: String {
        "\(path): \(operation) failed: \(reason) (\(code)); \(advice)"
    }
}

@inline(__always)
func check(_ code: Int32, _ operation: @autoclosure () -> String, path: String) throws(LMDBError) {
    if code != MDB_SUCCESS {
        throw LMDBError(code: code, operation: operation(), path: path)
    }
}

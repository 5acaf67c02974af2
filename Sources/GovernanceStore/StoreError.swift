import Audit
public import LMDB

/// A failure of the governance store, worded for the operator who must act on it: it names the
/// data directory and says what to do. The store never resets or repairs data by itself.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// The class of failure.
    public enum Kind: Sendable, Equatable {
        /// The data directory does not exist, or is not initialised.
        case missing
        /// The data directory cannot be read or written.
        case inaccessible
        /// The data is damaged or not a dxcp-policy data directory.
        case corrupt
        /// The map size limit was reached; nothing of the failed batch was written.
        case full
        /// The store is shutting down and takes no more decisions.
        case closed
        /// The writer's queue is full: the decision was refused before anything was done.
        case busy
        /// Audit entries asked for were already removed by retention.
        case pruned
        /// A fleet's database cannot be reached; nothing of the failed work was committed.
        case unavailable
        /// A fleet's database did not confirm a commit: it may or may not have been applied.
        case unconfirmed
        /// Any other storage failure.
        case storage
    }

    /// What went wrong.
    public let kind: Kind
    /// The data directory.
    public let path: String
    /// What happened and what to do.
    public let message: String
    /// A fleet's database could not be reached at all (no connection could be made, or nothing
    /// answered within the timeout), as opposed to one connection failing: work queued behind
    /// it would meet the same.
    public let unreachable: Bool

    /// An error from its parts.
    public init(_ kind: Kind, path: String, _ message: String, unreachable: Bool = false) {
        self.kind = kind
        self.path = path
        self.message = message
        self.unreachable = unreachable
    }

    /// Wraps an LMDB error, keeping its advice.
    public init(_ error: LMDBError) {
        let kind: Kind = switch error.kind {
        case .mapFull: .full
        case .corrupted, .incompatible: .corrupt
        case .inaccessible: .inaccessible
        default: .storage
        }
        self.init(kind, path: error.path, "\(error.operation) failed: \(error.reason); \(error.advice)")
    }

    public var description: String { path.hasPrefix("postgres://") ? "database \(path): \(message)" : "data directory \(path): \(message)" }
}

/// A stored count, sequence or generation, which is never negative, nor so large that the next
/// one would not fit a signed 64-bit number (PostgreSQL's `bigint`), unless the data was changed
/// by hand: reported as corrupt, never trapping the process.
func storedUnsigned(_ value: some BinaryInteger, _ what: String, path: String) throws(StoreError) -> UInt64 {
    guard let unsigned = UInt64(exactly: value), unsigned <= AuditChain.largestSequence else {
        throw StoreError(.corrupt, path: path, "\(what) is \(value), out of the range this service writes; restore from a backup")
    }
    return unsigned
}

/// Checks a sequence of entries against the chain rules: sequence numbers consecutive from the
/// first one's, each `previousHash` equal to the last entry's hash, each `hash` recomputed.
public struct AuditVerifier: Sendable {
    /// The verdict on a log.
    public enum Verdict: Sendable, Hashable {
        /// Every entry verified; `count` entries, the last with `headHash`.
        case intact(count: UInt64, headHash: String)
        /// The first entry that failed, by sequence number (the expected one when missing).
        case broken(sequence: UInt64, reason: String)
    }

    private var expectedSequence: UInt64
    private var previousHash: String
    private var count: UInt64 = 0
    private var failure: (UInt64, String)?

    /// A verifier for a log that starts after `sequence` with head `headHash` (a checkpoint), or
    /// from the beginning.
    public init(after sequence: UInt64 = 0, headHash: String = AuditChain.genesisHash) {
        self.expectedSequence = sequence + 1
        self.previousHash = headHash
    }

    /// Feeds the next stored entry. After the first failure further entries are ignored.
    public mutating func feed(_ entry: AuditEntry) {
        guard failure == nil else { return }
        if entry.sequence != expectedSequence {
            failure = (expectedSequence, "expected sequence \(expectedSequence), found \(entry.sequence)")
        } else if entry.previousHash != previousHash {
            failure = (entry.sequence, "previous hash does not match the hash of entry \(entry.sequence - 1)")
        } else if AuditChain.hash(of: entry) != entry.hash {
            failure = (entry.sequence, "content does not match its hash")
        } else {
            count += 1
            expectedSequence += 1
            previousHash = entry.hash
        }
    }

    /// Records that the entry at `sequence` could not be read at all.
    public mutating func unreadable(sequence: UInt64, reason: String) {
        if failure == nil { failure = (sequence, reason) }
    }

    /// The verdict so far. `expectedHead`, when given, is the head the store recorded: a log whose
    /// tail was cut verifies as broken at the first missing sequence.
    public func verdict(expectedHead: (sequence: UInt64, hash: String)? = nil) -> Verdict {
        if let (seq, reason) = failure { return .broken(sequence: seq, reason: reason) }
        if let head = expectedHead, head.sequence != expectedSequence - 1 || head.hash != previousHash {
            if head.sequence >= expectedSequence {
                return .broken(sequence: expectedSequence, reason: "entries \(expectedSequence)...\(head.sequence) are missing")
            }
            return .broken(sequence: head.sequence, reason: "recorded head does not match the log")
        }
        return .intact(count: count, headHash: previousHash)
    }
}

public import Rules

/// Where the stored log begins after retention removed older entries: the last removed entry's
/// sequence number and hash. Verification continues the chain from here, so the entries kept
/// still prove they follow on from those removed.
public struct AuditCheckpoint: Sendable, Hashable, Codable {
    /// Sequence number of the last removed entry; the log now starts at `sequence + 1`.
    public var sequence: UInt64
    /// Hash of the last removed entry: the `previous_hash` the first kept entry must carry.
    public var hash: String
    /// Timestamp of the last removed entry.
    public var timestamp: Timestamp

    /// A checkpoint from its parts.
    public init(sequence: UInt64, hash: String, timestamp: Timestamp) {
        self.sequence = sequence
        self.hash = hash
        self.timestamp = timestamp
    }

    private enum CodingKeys: String, CodingKey { case sequence, hash, timestamp }

    /// A stored checkpoint, refused (as undecodable) when changed by hand past
    /// ``AuditChain/largestSequence``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let sequence = try container.decode(UInt64.self, forKey: .sequence)
        guard sequence <= AuditChain.largestSequence else {
            throw DecodingError.dataCorruptedError(forKey: .sequence, in: container, debugDescription: "audit sequence \(sequence) is out of range")
        }
        self.init(sequence: sequence, hash: try container.decode(String.self, forKey: .hash), timestamp: try container.decode(Timestamp.self, forKey: .timestamp))
    }
}

public import Rules
import Crypto
import FoundationEssentials

/// The hash chain: builds the next entry from a note, and verifies a sequence of entries.
///
/// Pure: the caller supplies the previous head, ids and time, and stores the result.
public struct AuditChain: Sendable, Hashable, Codable {
    /// The hash before the first entry.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// Sequence number of the last entry (0 when empty).
    public private(set) var sequence: UInt64
    /// Hash of the last entry (``genesisHash`` when empty).
    public private(set) var headHash: String

    /// A chain continuing after `sequence` / `headHash`.
    public init(sequence: UInt64 = 0, headHash: String = AuditChain.genesisHash) {
        self.sequence = sequence
        self.headHash = headHash
    }

    /// Builds the next entry for `note` and advances the head. `index` tells apart several entries
    /// of one decision (their ids derive from the decision id).
    public mutating func append(_ note: AuditNote, origin: AuditOrigin, index: Int) -> AuditEntry {
        let seq = sequence + 1
        let eventId = Self.eventId(decisionId: origin.decisionId ?? "seq-\(seq)", index: index)
        var entry = AuditEntry(
            sequence: seq, eventId: eventId, eventType: note.eventType, actorId: note.actorId, actorRole: note.actorRole,
            targetType: note.targetType, targetId: note.targetId, timestamp: origin.timestamp, outcome: note.outcome,
            summary: Self.summary(of: note, origin: origin), deliveryGroupId: note.deliveryGroupId,
            serviceName: note.serviceName, environment: note.environment, decisionId: origin.decisionId,
            requestId: origin.requestId, contractVersion: governanceContractVersion, trail: origin.trail,
            previousHash: headHash, hash: "")
        entry.hash = Self.hash(of: entry)
        sequence = seq
        headHash = entry.hash
        return entry
    }

    /// The hash an entry must carry: SHA-256 of its canonical encoding with an empty hash.
    public static func hash(of entry: AuditEntry) -> String {
        SHA256.hash(data: entry.canonicalBytes(hash: "")).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// A UUID-shaped id derived from the decision id and the entry's index within the decision.
    static func eventId(decisionId: String, index: Int) -> String {
        let digest = Array(SHA256.hash(data: Data("\(decisionId)#\(index)".utf8)))
        var bytes = Array(digest.prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        let h = Array(hex)
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-"
            + String(h[20..<32])
    }

    /// The entry summary: the note's line, or for an admin setting change the JSON object of
    /// REFERENCE §11.2 (sorted keys, timestamp with `+00:00`).
    static func summary(of note: AuditNote, origin: AuditOrigin) -> String {
        guard let change = note.change else { return truncated(note.summary) }
        var fields: [String: JSONValue] = [
            "request_id": .optional(origin.requestId),
            "timestamp": .string(String(origin.timestamp.iso8601.dropLast()) + "+00:00"),
            "setting_key": .string(change.key), "old_value": change.oldValue, "new_value": change.newValue,
            "actor_id": .string(note.actorId), "actor_sub": .optional(change.actorSubject),
            "actor_email": .optional(change.actorEmail), "actor_azp": .optional(change.actorAuthorizedParty),
            "actor_role": .optional(note.actorRole?.rawValue),
        ]
        if let reason = change.reason { fields["reason"] = .string(truncated(reason)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(JSONValue.object(fields))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Free text longer than 1,000 characters is cut, so no entry carries unbounded input.
    static func truncated(_ text: String) -> String {
        text.count <= 1000 ? text : String(text.prefix(1000)) + "…"
    }
}

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

    /// The largest sequence a stored head or checkpoint may hold: sequences are also signed
    /// 64-bit numbers (PostgreSQL's `bigint`), and the next entry must still be one.
    public static let largestSequence = UInt64(Int64.max - 1)

    private enum CodingKeys: String, CodingKey { case sequence, headHash }

    /// A stored head, refused (as undecodable) when changed by hand past ``largestSequence``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let sequence = try container.decode(UInt64.self, forKey: .sequence)
        guard sequence <= Self.largestSequence else {
            throw DecodingError.dataCorruptedError(forKey: .sequence, in: container, debugDescription: "audit sequence \(sequence) is out of range")
        }
        self.init(sequence: sequence, headHash: try container.decode(String.self, forKey: .headHash))
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
        hex(SHA256.hash(data: entry.canonicalBytes(hash: "")))
    }

    /// Lower-case hexadecimal of `bytes`.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits: StaticString = "0123456789abcdef"
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits.utf8Start[Int(byte >> 4)])
            out.append(digits.utf8Start[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A UUID-shaped id derived from the decision id and the entry's index within the decision.
    static func eventId(decisionId: String, index: Int) -> String {
        var bytes = Array(SHA256.hash(data: Array("\(decisionId)#\(index)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        var h = Array(hex(bytes).utf8)
        for dash in [20, 16, 12, 8] { h.insert(UInt8(ascii: "-"), at: dash) }
        return String(decoding: h, as: UTF8.self)
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
        text.utf8.count <= 1000 || text.count <= 1000 ? text : String(text.prefix(1000)) + "…"
    }
}

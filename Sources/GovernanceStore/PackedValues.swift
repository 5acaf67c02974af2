import Rules

/// The packed form of stored values (schema 4): what every deploy leaves in the data file for
/// years — its record and its audit entries — written as bytes rather than JSON, so that an
/// allowed deploy costs ≤ 2 KB in steady state (DECISIONS 77).
///
/// A packed value starts with a format byte that JSON never starts with; values written by
/// schema 3 (JSON objects, starting with `{`) are still read. Strings are tagged: the words of
/// ``PackedWords`` (check names, event types, states…) take two bytes, canonical lowercase UUIDs
/// 17 and lowercase SHA-256 hex 33; anything else is its UTF-8 with a length. Every form reads
/// back to exactly the string written.
struct PackedWriter {
    private(set) var bytes: [UInt8]

    init(format: UInt8, capacity: Int = 384) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(format)
    }

    mutating func unsigned(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func integer(_ value: Int64) {
        unsigned(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func integer(_ value: Int) { integer(Int64(value)) }

    mutating func time(_ value: Timestamp) { integer(value.microseconds) }

    mutating func string(_ value: String?) {
        guard var value else { return bytes.append(PackedTag.absent) }
        // Swift's `==` on strings is canonical equivalence: a word is used only for its very bytes
        // ("UN\u{212A}NOWN", with a Kelvin sign, is equal to "UNKNOWN" but is not that word).
        if let word = PackedWords.index[value], value.utf8.elementsEqual(PackedWords.all[word].utf8) {
            bytes.append(PackedTag.word)
            return unsigned(UInt64(word))
        }
        value.withUTF8 { utf8 in
            if utf8.count == 36, packHex(utf8, tag: PackedTag.uuid) { return }
            if utf8.count == 64, packHex(utf8, tag: PackedTag.hex32) { return }
            bytes.append(PackedTag.utf8)
            unsigned(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// Appends `tag` and the bytes of lowercase hex digits — a canonical UUID (8-4-4-4-12, its
    /// dashes at 8, 13, 18, 23) for ``PackedTag/uuid``, else 64 digits — and returns true; leaves
    /// nothing and returns false when `utf8` is not that.
    private mutating func packHex(_ utf8: UnsafeBufferPointer<UInt8>, tag: UInt8) -> Bool {
        let start = bytes.count
        bytes.append(tag)
        var i = 0
        while i < utf8.count {
            if tag == PackedTag.uuid, i == 8 || i == 13 || i == 18 || i == 23 {
                guard utf8[i] == 0x2D else { break }
                i += 1
                continue
            }
            guard let high = Self.nibble(utf8[i]), let low = Self.nibble(utf8[i + 1]) else { break }
            bytes.append(high << 4 | low)
            i += 2
        }
        guard i == utf8.count else {
            bytes.removeSubrange(start...)
            return false
        }
        return true
    }

    /// A lowercase hex digit's value; uppercase is not packed, so that it reads back as written.
    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }
}

/// Reads what ``PackedWriter`` wrote; every read fails (nil) on bytes it did not write.
struct PackedReader {
    private let bytes: [UInt8]
    private var offset: Int

    /// A reader after the format byte, when it is `format`.
    init?(_ bytes: [UInt8], format: UInt8) {
        guard bytes.first == format else { return nil }
        self.bytes = bytes
        offset = 1
    }

    var atEnd: Bool { offset == bytes.count }

    mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func unsigned() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let b = byte() {
            guard shift < 64 else { return nil }
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
        return nil
    }

    mutating func integer() -> Int64? {
        unsigned().map { Int64(bitPattern: ($0 >> 1) ^ (0 &- ($0 & 1))) }
    }

    mutating func int() -> Int? { integer().map { Int($0) } }

    mutating func time() -> Timestamp? { integer().map { Timestamp(microseconds: $0) } }

    /// A string that must be present.
    mutating func string() -> String? {
        guard case .some(let value?) = optionalString() else { return nil }
        return value
    }

    /// `.some(nil)` for an absent optional, nil for bytes that are not a string.
    mutating func optionalString() -> String?? {
        switch byte() {
        case PackedTag.absent: return .some(nil)
        case PackedTag.word:
            guard let i = unsigned(), i < PackedWords.all.count else { return nil }
            return PackedWords.all[Int(i)]
        case PackedTag.uuid:
            guard let raw = take(16) else { return nil }
            return Self.hexString(raw, dashed: true)
        case PackedTag.hex32:
            guard let raw = take(32) else { return nil }
            return Self.hexString(raw, dashed: false)
        case PackedTag.utf8:
            guard let count = unsigned(), let raw = take(Int(clamping: count)) else { return nil }
            return String(decoding: raw, as: UTF8.self)
        default: return nil
        }
    }

    private mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, count <= bytes.count - offset else { return nil }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    /// Lowercase hex of `raw`, with a UUID's dashes (before bytes 4, 6, 8 and 10) when `dashed`.
    private static func hexString(_ raw: ArraySlice<UInt8>, dashed: Bool) -> String {
        String(unsafeUninitializedCapacity: raw.count * 2 + (dashed ? 4 : 0)) { out in
            var n = 0
            for (i, b) in raw.enumerated() {
                if dashed, i == 4 || i == 6 || i == 8 || i == 10 {
                    out[n] = 0x2D
                    n += 1
                }
                out[n] = Self.digits[Int(b >> 4)]
                out[n + 1] = Self.digits[Int(b & 0x0F)]
                n += 2
            }
            return n
        }
    }

    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)
}

enum PackedTag {
    static let absent: UInt8 = 0
    static let utf8: UInt8 = 1
    static let word: UInt8 = 2
    static let uuid: UInt8 = 3
    static let hex32: UInt8 = 4
}

/// Strings that recur in every record and audit entry, stored as their position in this list.
/// **Append only**: a stored value names a word by its position, so a word once listed keeps it
/// for ever. A string not listed is stored in full, so a new check name or event type costs
/// bytes until it is appended here, never correctness.
enum PackedWords {
    static let all: [String] = [
        // check names (CheckName), in the order of schema 4
        "role_recognised", "principal_claim_present", "role_allowed", "ci_publisher_allowlisted", "delivery_group_member",
        "record_read_scope", "intent_well_formed", "read_rate_limit", "mutate_rate_limit", "kill_switch_off",
        "idempotency_key_present", "idempotency_replay", "delivery_group_resolved", "environment_allowed", "recipe_routed",
        "recipe_allowed_by_group", "recipe_id_matches_route", "service_allowlisted", "environment_configured", "version_format",
        "recipe_compatible", "version_registered", "engine_ready", "quota_available", "concurrency_available",
        "engine_target_resolved", "rollback_target_exists", "rollback_target_not_rollback", "rollback_recipe_resolved",
        "prior_successful_version", "promotion_target_differs", "promotion_path_allowed", "promotion_version_eligible",
        "artifact_valid", "built_at_valid", "artifact_source_allowed", "links_valid", "existing_build_consistent",
        "upload_capability_matched", "deployment_exists", "object_exists", "settings_valid", "policy_change_valid",
        "object_absent", "recipe_not_in_use", "environment_writable", "environment_unreferenced", "pipeline_routed",
        "deployment_admitted",
        // audit event and target types, outcomes, roles, contract version
        "DEPLOY_SUBMIT", "DEPLOY_DENIED", "ROLLBACK_SUBMIT", "ROLLBACK_DENIED", "PROMOTION_SUBMIT", "PROMOTION_DENIED",
        "ENGINE_TRIGGERED", "ENGINE_TRIGGER_FAILED", "DEPLOYMENT_SUCCEEDED", "DEPLOYMENT_FAILED", "DEPLOYMENT_CANCELED",
        "DEPLOYMENT_ROLLED_BACK", "DEPLOYMENT_LOCK_EXPIRED", "BUILD_REGISTER", "BUILD_REGISTER_DENIED",
        "UPLOAD_CAPABILITY_ISSUED", "UPLOAD_CAPABILITY_DENIED", "SPINNAKER_ADMIT", "SPINNAKER_ADMIT_DENIED",
        "ADMIN_CONFIG_CHANGE", "ADMIN_CONFIG_DENIED", "ADMIN_CHANGE_DENIED", "ADMIN_CREATE", "ADMIN_UPDATE", "ADMIN_DELETE",
        "ADMIN_POLICY_LOAD", "AUDIT_RETENTION", "RATE_LIMITED_REFUSALS",
        "Deployment", "Build", "Actor", "AdminSetting", "AuditLog", "Policy",
        "SUCCESS", "DENIED", "FAILED",
        "PLATFORM_ADMIN", "DELIVERY_OWNER", "OBSERVER", "CI_PUBLISHER",
        "1.1",
        // deployment states, kinds, failure categories
        "PENDING", "ACTIVE", "IN_PROGRESS", "SUCCEEDED", "CANCELED", "ROLLED_BACK",
        "ROLL_FORWARD", "ROLLBACK", "PROMOTE",
        "INFRASTRUCTURE", "CONFIG", "APP", "POLICY", "VALIDATION", "ARTIFACT", "TIMEOUT", "UNKNOWN",
    ]

    static let index: [String: Int] = Dictionary(all.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
}

import LMDB

/// Builds order-preserving composite keys: each string component is written as its UTF-8 bytes
/// with 0x00 and 0x01 escaped, then a 0x00 terminator; each integer as 8 big-endian bytes with the
/// sign bit flipped. Keys sharing leading components share a byte prefix, so a cursor can scan
/// "all keys of this group and environment" or "all windows of this actor".
struct StoreKey {
    private(set) var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(64) }

    /// Appends a string component.
    consuming func adding(_ text: String) -> StoreKey {
        var copy = self
        var text = text
        text.withUTF8 { utf8 in
            guard utf8.contains(where: { $0 <= 0x01 }) else {
                copy.bytes.append(contentsOf: utf8)
                return
            }
            for b in utf8 {
                switch b {
                case 0x00: copy.bytes.append(contentsOf: [0x01, 0x01])
                case 0x01: copy.bytes.append(contentsOf: [0x01, 0x02])
                default: copy.bytes.append(b)
                }
            }
        }
        copy.bytes.append(0x00)
        return copy
    }

    /// Appends an integer component, ordered as signed integers.
    consuming func adding(_ value: Int64) -> StoreKey {
        var copy = self
        let flipped = UInt64(bitPattern: value) ^ (1 << 63)
        for shift in stride(from: 56, through: 0, by: -8) { copy.bytes.append(UInt8(truncatingIfNeeded: flipped >> UInt64(shift))) }
        return copy
    }

    /// Decodes the integer component starting at `offset` of `key`.
    static func integer(in key: [UInt8], at offset: Int) -> Int64? {
        guard offset + 8 <= key.count else { return nil }
        var value: UInt64 = 0
        for i in offset..<(offset + 8) { value = value << 8 | UInt64(key[i]) }
        return Int64(bitPattern: value ^ (1 << 63))
    }

    /// Decodes the string component that starts at `offset` of `key` (up to its terminator).
    static func string(in key: [UInt8], at offset: Int) -> String? {
        var out: [UInt8] = []
        var i = offset
        while i < key.count {
            switch key[i] {
            case 0x00:
                return String(decoding: out, as: UTF8.self)
            case 0x01 where i + 1 < key.count:
                out.append(key[i + 1] == 0x01 ? 0x00 : 0x01)
                i += 2
            default:
                out.append(key[i])
                i += 1
            }
        }
        return nil
    }

    /// A stored counter: 8 little-endian bytes; anything else reads as 0.
    static func counter(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard bytes.count == 8 else { return 0 }
        var v: UInt64 = 0
        for b in bytes.reversed() { v = v << 8 | UInt64(b) }
        // Never written near 2^62 (counts, quotas, generations); a damaged value reads as that
        // ceiling, so the arithmetic on it can never overflow and trap.
        return Int(min(v, Self.counterCeiling))
    }

    /// The largest counter value read back (see ``counter(_:)``).
    static let counterCeiling: UInt64 = 1 << 62

    static func counterBytes(_ value: Int) -> [UInt8] {
        let v = UInt64(max(0, value))
        return (0..<8).map { UInt8(truncatingIfNeeded: v >> UInt64($0 * 8)) }
    }
}

extension Transaction {
    /// The counter stored under `key` (0 when absent), read in place.
    func counter(_ db: Database, _ key: [UInt8]) throws(LMDBError) -> Int {
        try withValue(db, key) { StoreKey.counter($0) } ?? 0
    }
}

public import Rules
import Synchronization

/// Ids for new records: UUID-shaped, version 7 (RFC 9562): 48 bits of Unix milliseconds, then
/// random bits. Time-ordered ids land at the right edge of the store's id-keyed trees, so a batch
/// of new records dirties a few pages instead of one per record.
public enum RecordID {
    /// A fast generator seeded once from the system's (wyrand): ids are made on every request,
    /// and a system call per id would cost more than the decision.
    private static let generator = Mutex<UInt64>({
        var system = SystemRandomNumberGenerator()
        return system.next()
    }())

    private static func random() -> UInt64 {
        generator.withLock { state in
            state &+= 0xA076_1D64_78BD_642F
            let product = state.multipliedFullWidth(by: state ^ 0xE703_7ED1_A0B4_28DB)
            return product.high ^ product.low
        }
    }

    /// A new id for time `now`.
    public static func make(at now: Timestamp) -> String {
        let millis = UInt64(max(0, now.microseconds / 1000))
        let random = Self.random()
        let random2 = Self.random()
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: millis >> UInt64(8 * (5 - i))) }
        for i in 6..<16 { bytes[i] = UInt8(truncatingIfNeeded: (i < 14 ? random : random2) >> UInt64(8 * (i % 8))) }
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let digits: StaticString = "0123456789abcdef"
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(digits.utf8Start[Int(byte >> 4)])
            out.append(digits.utf8Start[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

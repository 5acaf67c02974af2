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

    /// The id's 128 random bits, under one lock.
    private static func random() -> (UInt64, UInt64) {
        generator.withLock { state in
            func next() -> UInt64 {
                state &+= 0xA076_1D64_78BD_642F
                let product = state.multipliedFullWidth(by: state ^ 0xE703_7ED1_A0B4_28DB)
                return product.high ^ product.low
            }
            return (next(), next())
        }
    }

    /// A new id for time `now`.
    public static func make(at now: Timestamp) -> String {
        let millis = UInt64(max(0, now.microseconds / 1000))
        let (random, random2) = Self.random()
        func byte(_ i: Int) -> UInt8 {
            switch i {
            case 0..<6: UInt8(truncatingIfNeeded: millis >> UInt64(8 * (5 - i)))
            case 6: (UInt8(truncatingIfNeeded: random >> 48) & 0x0F) | 0x70
            case 8: (UInt8(truncatingIfNeeded: random) & 0x3F) | 0x80
            default: UInt8(truncatingIfNeeded: (i < 14 ? random : random2) >> UInt64(8 * (i % 8)))
            }
        }
        // Written straight into the string: ids are made on every request.
        return String(unsafeUninitializedCapacity: 36) { out in
            let digits: StaticString = "0123456789abcdef"
            var at = 0
            for i in 0..<16 {
                if i == 4 || i == 6 || i == 8 || i == 10 {
                    out[at] = UInt8(ascii: "-")
                    at += 1
                }
                let b = byte(i)
                out[at] = digits.utf8Start[Int(b >> 4)]
                out[at + 1] = digits.utf8Start[Int(b & 0xF)]
                at += 2
            }
            return 36
        }
    }
}

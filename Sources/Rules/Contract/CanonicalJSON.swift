/// A minimal JSON value written in the contract's canonical form: compact separators, keys in
/// the order given (callers give them sorted), strings whitespace-normalised and ASCII-escaped
/// (REFERENCE §6). Used for request fingerprints, on every keyed request, so it works on UTF-8
/// bytes and takes a fast path for ASCII strings.
public enum CanonicalJSON: Sendable {
    case null
    case string(String)
    case int(Int64)

    /// `{"k":v,...}` for the given pairs.
    public static func object(_ pairs: [(String, CanonicalJSON)]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(UInt8(ascii: "{"))
        for (i, (key, value)) in pairs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            write(key, normalizing: false, into: &out)
            out.append(UInt8(ascii: ":"))
            switch value {
            case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
            case .int(let n): out.append(contentsOf: String(n).utf8)
            case .string(let s): write(s, normalizing: true, into: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `text` as an escaped JSON string; with `normalizing`, whitespace-normalised first.
    static func write(_ text: String, normalizing: Bool, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let done = text.utf8.withContiguousStorageIfAvailable { buf in
            writeASCII(buf, normalizing: normalizing, into: &out)
        }
        if done != true {
            for scalar in (normalizing ? whitespaceNormalized(text) : text).unicodeScalars {
                if scalar.value < 0x80 {
                    escapeASCII(UInt8(scalar.value), into: &out)
                } else if scalar.value > 0xFFFF {
                    let v = scalar.value - 0x10000
                    hex4(0xD800 + (v >> 10), into: &out)
                    hex4(0xDC00 + (v & 0x3FF), into: &out)
                } else {
                    hex4(scalar.value, into: &out)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Writes an all-ASCII buffer in one pass and returns true; returns false, having written
    /// nothing, when the buffer holds a non-ASCII byte.
    private static func writeASCII(_ buf: UnsafeBufferPointer<UInt8>, normalizing: Bool, into out: inout [UInt8]) -> Bool {
        var plain = true
        var hasSpace = false
        for byte in buf {
            if byte >= 0x80 { return false }
            if byte < 0x20 || byte == 0x22 || byte == 0x5C || byte == 0x7F { plain = false }
            if byte == 0x20 { hasSpace = true }
        }
        // Common case: nothing to escape, and single inner spaces only.
        if plain, !(normalizing && hasSpace && needsFolding(buf)) {
            out.append(contentsOf: buf)
            return true
        }
        var pendingSpace = false
        var wroteAny = false
        for byte in buf {
            if normalizing, byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) {
                pendingSpace = wroteAny
                continue
            }
            if pendingSpace { out.append(0x20) }
            pendingSpace = false
            wroteAny = true
            escapeASCII(byte, into: &out)
        }
        return true
    }

    /// Whether spaces need folding: leading, trailing or doubled.
    private static func needsFolding(_ buf: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = buf.first, let last = buf.last else { return false }
        if first == 0x20 || last == 0x20 { return true }
        var previous: UInt8 = 0
        for byte in buf {
            if byte == 0x20, previous == 0x20 { return true }
            previous = byte
        }
        return false
    }

    @inline(__always)
    private static func escapeASCII(_ byte: UInt8, into out: inout [UInt8]) {
        switch byte {
        case 0x22: out.append(contentsOf: [0x5C, 0x22])
        case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
        case 0x0D: out.append(contentsOf: [0x5C, 0x72])
        case 0x09: out.append(contentsOf: [0x5C, 0x74])
        case 0x20...0x7E: out.append(byte)
        default: hex4(UInt32(byte), into: &out)
        }
    }

    private static func hex4(_ v: UInt32, into out: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        out.append(contentsOf: [0x5C, 0x75])
        for shift in [12, 8, 4, 0] {
            out.append(digits.utf8Start[Int(v >> UInt32(shift) & 0xF)])
        }
    }

    /// Appends `text` as an escaped JSON string (no normalisation), for canonical encodings of
    /// other values.
    static func escape(_ text: String, into out: inout String) {
        var bytes: [UInt8] = []
        write(text, normalizing: false, into: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }
}

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
        var text = text
        let ascii = text.withUTF8 { buf -> Bool in
            guard !buf.contains(where: { $0 >= 0x80 }) else { return false }
            var pendingSpace = false
            var wroteAny = false
            var runStart = 0
            var i = 0
            // Copies the run of plain bytes before `i` at once.
            func flush() {
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<i])) }
            }
            while i < buf.count {
                let byte = buf[i]
                let plain = byte >= 0x20 && byte <= 0x7E && byte != 0x22 && byte != 0x5C
                if plain && !(normalizing && byte == 0x20) {
                    if pendingSpace {
                        out.append(0x20)
                        pendingSpace = false
                        runStart = i
                    }
                    wroteAny = true
                    i += 1
                    continue
                }
                flush()
                if normalizing, byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) {
                    pendingSpace = wroteAny
                } else {
                    if pendingSpace { out.append(0x20) }
                    pendingSpace = false
                    wroteAny = true
                    escapeASCII(byte, into: &out)
                }
                i += 1
                runStart = i
            }
            flush()
            return true
        }
        if !ascii {
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

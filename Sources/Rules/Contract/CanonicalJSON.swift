/// A minimal JSON value written in the contract's canonical form: compact separators, keys in
/// the order given (callers give them sorted), strings whitespace-normalised and ASCII-escaped
/// (REFERENCE §6). Used for request fingerprints.
public enum CanonicalJSON: Sendable {
    case null
    case string(String)
    case int(Int64)

    /// `{"k":v,...}` for the given pairs.
    public static func object(_ pairs: [(String, CanonicalJSON)]) -> String {
        var out = "{"
        for (i, (key, value)) in pairs.enumerated() {
            if i > 0 { out += "," }
            escape(key, into: &out)
            out += ":"
            switch value {
            case .null: out += "null"
            case .int(let n): out += String(n)
            case .string(let s): escape(whitespaceNormalized(s), into: &out)
            }
        }
        return out + "}"
    }

    static func escape(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value > 0x7E:
                if scalar.value > 0xFFFF {
                    let v = scalar.value - 0x10000
                    out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                } else {
                    out += hex4(scalar.value)
                }
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    private static func hex4(_ v: UInt32) -> String {
        let digits = Array("0123456789abcdef")
        return "\\u" + String([digits[Int(v >> 12 & 0xF)], digits[Int(v >> 8 & 0xF)], digits[Int(v >> 4 & 0xF)], digits[Int(v & 0xF)]])
    }
}

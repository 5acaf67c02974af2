@testable import Rules
import Testing

/// Request fingerprints (REFERENCE §6): the byte-level canonical writer gives exactly what a
/// plain scalar-by-scalar reading of the rule gives.
@Suite struct CanonicalJSONTests {
    /// The rule written the obvious way: normalise whitespace, then escape every scalar.
    static func reference(_ pairs: [(String, CanonicalJSON)]) -> String {
        func quoted(_ s: String) -> String {
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar.value {
                case 0x22: out += "\\\""
                case 0x5C: out += "\\\\"
                case 0x0A: out += "\\n"
                case 0x0D: out += "\\r"
                case 0x09: out += "\\t"
                case 0x20...0x7E: out.unicodeScalars.append(scalar)
                case 0x10000...:
                    let v = scalar.value - 0x10000
                    out += hex(0xD800 + (v >> 10)) + hex(0xDC00 + (v & 0x3FF))
                default: out += hex(scalar.value)
                }
            }
            return out + "\""
        }
        func hex(_ v: UInt32) -> String {
            let s = String(v, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - s.count) + s
        }
        func normalized(_ s: String) -> String {
            s.unicodeScalars.split(whereSeparator: { $0.properties.isWhitespace }).map { String(String.UnicodeScalarView($0)) }.joined(separator: " ")
        }
        let body = pairs.map { key, value -> String in
            let v: String = switch value {
            case .null: "null"
            case .int(let n): String(n)
            case .string(let s): quoted(normalized(s))
            }
            return quoted(key) + ":" + v
        }
        return "{" + body.joined(separator: ",") + "}"
    }

    static let pieces = ["a", " ", "  ", "\t", "\n", "\r\n", "\"", "\\", "é", "日本", "😀", "\u{0B}", "\u{7F}", "\u{01}", "x y", "\u{00A0}", "\u{2003}", "/", "1.0.0"]

    @Test func fastWriterMatchesTheReference() {
        var seed: UInt64 = 7
        func next() -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int(seed >> 33)
        }
        for _ in 0..<5000 {
            let text = (0..<(next() % 8)).map { _ in Self.pieces[next() % Self.pieces.count] }.joined()
            let pairs: [(String, CanonicalJSON)] = [("a", .string(text)), ("b", .null), ("c", .int(Int64(next() % 1000) - 500)), ("d", .string("plain"))]
            #expect(CanonicalJSON.object(pairs) == Self.reference(pairs), "for \(text.debugDescription)")
        }
    }

    @Test func deployFingerprintIgnoresWhitespaceDifferencesOnly() {
        let a = DeploymentIntent(service: "svc", environment: "sandbox", version: "1.0.0", changeSummary: "  fix   the\tbug ")
        let b = DeploymentIntent(service: "svc", environment: "sandbox", version: "1.0.0", changeSummary: "fix the bug")
        let c = DeploymentIntent(service: "svc", environment: "sandbox", version: "1.0.1", changeSummary: "fix the bug")
        #expect(a.fingerprint == b.fingerprint)
        #expect(a.fingerprint != c.fingerprint)
        #expect(b.fingerprint == #"{"changeSummary":"fix the bug","environment":"sandbox","recipeId":null,"service":"svc","version":"1.0.0"}"#)
    }
}

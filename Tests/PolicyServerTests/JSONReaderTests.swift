import Foundation
import PolicyServer
import TestSupport
import Testing

/// The edge's JSON reader agrees with Foundation's parser on what is JSON, and on the values.
@Suite struct JSONReaderTests {
    /// Converts a Foundation-parsed value into ours, for comparison.
    static func convert(_ any: Any) -> JSON? {
        switch any {
        case is NSNull: return .null
        case let n as NSNumber:
            switch String(cString: n.objCType) {
            case "c", "B": return .bool(n.boolValue)
            case "d", "f", "Q": return .double(n.doubleValue)  // "Q": above Int64.max, read as unsigned
            default: return .int(n.int64Value)
            }
        case let s as String: return .string(s)
        case let a as [Any]:
            let items = a.compactMap(convert)
            return items.count == a.count ? .array(items) : nil
        case let o as [String: Any]:
            var members: [(String, JSON)] = []
            for key in o.keys.sorted() {
                guard let v = o[key].flatMap(convert) else { return nil }
                members.append((key, v))
            }
            return .object(members)
        default: return nil
        }
    }

    static func sortedKeys(_ json: JSON) -> JSON {
        switch json {
        case .array(let a): return .array(a.map(sortedKeys))
        case .object(let o):
            var unique: [String: JSON] = [:]
            for (k, v) in o { unique[k] = sortedKeys(v) }
            return .object(unique.keys.sorted().map { ($0, unique[$0] ?? .null) })
        default: return json
        }
    }

    static func randomDocument(_ rng: inout SplitMix64, depth: Int = 0) -> String {
        let pieces = ["\"a\"", "\"\\u00e9x\"", "\"tab\\t\"", "1", "-0", "12.5e3", "true", "false", "null", "\"\\ud83d\\ude00\"", "9223372036854775807", "\"日本\""]
        if depth > 3 || rng.below(3) == 0 { return pieces[rng.below(pieces.count)] }
        if rng.below(2) == 0 {
            return "[" + (0..<rng.below(4)).map { _ in randomDocument(&rng, depth: depth + 1) }.joined(separator: ",") + "]"
        }
        return "{" + (0..<rng.below(4)).map { i in "\"k\(i)\" : " + randomDocument(&rng, depth: depth + 1) }.joined(separator: ", ") + "}"
    }

    static func mutate(_ text: String, _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return bytes }
        switch rng.below(4) {
        case 0: bytes.remove(at: rng.below(bytes.count))
        case 1: bytes.insert([UInt8(ascii: "{"), UInt8(ascii: "]"), UInt8(ascii: ","), 0xFF, UInt8(ascii: "\"")][rng.below(5)], at: rng.below(bytes.count))
        case 2: bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
        default: bytes = Array(bytes.prefix(rng.below(bytes.count)))
        }
        return bytes
    }

    /// Whether `text` has a `,` followed (after white space) by `]` or `}` outside strings.
    static func hasTrailingComma(_ text: String) -> Bool {
        var inString = false, escaped = false, pendingComma = false
        for c in text {
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                continue
            }
            switch c {
            case "\"": inString = true; pendingComma = false
            case ",": pendingComma = true
            case "]", "}": if pendingComma { return true }
            case " ", "\n", "\t", "\r": break
            default: pendingComma = false
            }
        }
        return false
    }

    @Test func agreesWithFoundationOnGeneratedAndMalformedDocuments() {
        var rng = SplitMix64(seed: 42)
        var compared = 0
        for _ in 0..<3000 {
            let text = Self.randomDocument(&rng)
            for bytes in [Array(text.utf8), Self.mutate(text, &rng)] {
                let ours = try? JSON.parse(bytes)
                let theirs = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
                let text = String(decoding: bytes, as: UTF8.self)
                if ours == nil, theirs != nil {
                    // Foundation accepts a trailing comma; RFC 8259 does not, and neither do we.
                    #expect(Self.hasTrailingComma(text), "only we refuse \(text)")
                    continue
                }
                #expect((ours == nil) == (theirs == nil), "acceptance differs for \(text)")
                if let ours, let theirs, let converted = Self.convert(theirs) {
                    #expect(Self.sortedKeys(ours) == converted, "values differ for \(String(decoding: bytes, as: UTF8.self))")
                    compared += 1
                }
            }
        }
        #expect(compared > 2000)
    }

    @Test func rejectsDeepNestingAndLoneSurrogates() throws {
        #expect(throws: JSONSyntaxError.self) { try JSON.parse(Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSON.parse(Array(#""\ud800""#.utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSON.parse(Array("\"a\u{01}\"".utf8)) }
        #expect(try JSON.parse(Array(#"{"a":1,"a":2}"#.utf8))["a"] == .int(2))
    }
}

@testable import JSONWriter
import Foundation
import Rules
import TestSupport
import Testing

/// The JSON writer of the canonical encodings and the API's responses: every string reads back
/// exactly as written, and the word-at-a-time scan finds the same first byte to escape as a plain
/// byte-by-byte scan.
@Suite struct CompactJSONWriterTests {
    @Test func theWordScanFindsTheFirstByteToEscape() {
        var rng = SplitMix64(seed: 7)
        let interesting: [UInt8] = [0x00, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7F, 0x80, 0x9F, 0xA0, 0xC3, 0xFF, 0x41, 0x61]
        for length in 0..<48 {
            for _ in 0..<200 {
                var bytes = (0..<length).map { _ in interesting.randomElement(using: &rng)! }
                // Mostly clean strings, as in practice: replace escapes except, sometimes, one.
                if Bool.random(using: &rng) {
                    bytes = bytes.map { CompactJSONWriter.needsEscape($0) ? 0x41 : $0 }
                    if length > 0, Bool.random(using: &rng) { bytes[Int.random(in: 0..<length, using: &rng)] = [0x22, 0x5C, 0x0A, 0x1F].randomElement(using: &rng)! }
                }
                let expected = bytes.firstIndex(where: CompactJSONWriter.needsEscape)
                let found = bytes.withUnsafeBufferPointer { CompactJSONWriter.firstEscape(in: $0) }
                #expect(found == expected, "\(bytes)")
            }
        }
    }

    @Test func stringsReadBackExactly() throws {
        var rng = SplitMix64(seed: 11)
        let scalars: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "€", "🚀", "\u{2028}"]
        for length in 0..<40 {
            for _ in 0..<25 {
                var text = ""
                for _ in 0..<length { text.unicodeScalars.append(scalars.randomElement(using: &rng)!) }
                var w = CompactJSONWriter()
                w.open()
                w.field("text", text)
                w.close()
                let decoded = try JSONDecoder().decode([String: String].self, from: Data(w.bytes))
                #expect(decoded == ["text": text])
            }
        }
    }

    @Test func objectKeysThatAreDataAreEscaped() throws {
        var w = CompactJSONWriter()
        w.value(.object(["a\"b": .int(1), "c\\d\n": .string("x"), "plain": .bool(true)]))
        #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"a\"b":1,"c\\d\n":"x","plain":true}"#)
    }
}

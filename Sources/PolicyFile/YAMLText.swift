import Yams

/// How `PolicyFile.render` spells values in YAML so that the strict reader gets back exactly what
/// was written.
enum YAMLText {
    /// `text` as a YAML scalar: plain when that is unambiguous (it reads back as the same string in
    /// both block and flow context), otherwise double-quoted with escapes.
    static func string(_ text: String) -> String {
        isPlain(text) ? text : doubleQuoted(text)
    }

    /// `items` as a flow list, e.g. `[default, canary]`.
    static func list(_ items: [String]) -> String {
        "[" + items.map(string).joined(separator: ", ") + "]"
    }

    /// Whether `text` can be written without quotes: it starts with a letter, digit, `_`, `.` or
    /// `/`, continues with those, `@`, `+`, `-` and single inner spaces, and YAML does not read it
    /// as anything but a string (so `true`, `yes`, `42`, `1.5`, `null` and dates are quoted).
    private static func isPlain(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last else { return false }
        func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "/": true
            default: false
            }
        }
        guard isWordScalar(first), last != " ", !text.contains("  ") else { return false }
        for scalar in text.unicodeScalars {
            guard isWordScalar(scalar) || scalar == "@" || scalar == "+" || scalar == "-" || scalar == " " else {
                return false
            }
        }
        return Resolver.default.resolveTag(of: Node(text)) == .str
    }

    /// `text` double-quoted, with `\`, `"`, line breaks and non-printable characters escaped.
    private static func doubleQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                let value = scalar.value
                let needsEscape =
                    value < 0x20 || value == 0x7F || (0x80...0x9F).contains(value) || value == 0x2028
                    || value == 0x2029 || value == 0xFEFF || value == 0xFFFE || value == 0xFFFF
                if needsEscape {
                    let hex = String(value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

import Rules
import Yams

/// One node of a policy document together with its field path, so that every typed read can fail
/// with the file, line and field it concerns. Reads are strict: nothing is coerced.
struct PolicyNode {
    /// The YAML node.
    let node: Node
    /// Path from the top of the document, e.g. `delivery_groups[0].owners[1]`; empty for the root.
    let path: String
    /// The file the document came from, for errors.
    let file: String

    /// The 1-based line the node starts on.
    var line: Int? { node.mark?.line }

    /// An error about this node.
    func error(_ message: String) -> PolicyFileError {
        PolicyFileError(file: file, line: line, field: path, message: message)
    }

    /// The node under `key` of this mapping node.
    func child(_ node: Node, key: String) -> PolicyNode {
        PolicyNode(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    /// The node at `index` of this list node.
    func element(_ node: Node, index: Int) -> PolicyNode {
        PolicyNode(node: node, path: "\(path)[\(index)]", file: file)
    }

    // MARK: Kinds

    /// The resolved YAML tag of a scalar (`tag:yaml.org,2002:str`, `…:int`, …); nil otherwise.
    /// Quoted and block scalars are always strings; plain ones are resolved by their text.
    private var scalarTag: String? {
        guard case .scalar = node else { return nil }
        return node.tag.description
    }

    /// Whether the node is an explicit null: `~`, `null`, or nothing after the colon.
    var isNull: Bool { scalarTag == Tag.Name.null.rawValue }

    /// The node, described for an error message: "a list", "the number 42", ….
    var found: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            let text = scalar.string
            switch scalarTag {
            case Tag.Name.str.rawValue: return "the text \(quoted(text))"
            case Tag.Name.int.rawValue, Tag.Name.float.rawValue: return "the number \(text)"
            case Tag.Name.bool.rawValue: return "the YAML boolean \(text)"
            case Tag.Name.null.rawValue: return "nothing (null)"
            case Tag.Name.timestamp.rawValue: return "the date \(text)"
            default: return quoted(text)
            }
        }
    }

    // MARK: Typed reads

    /// The node as text. Only strings count: a plain `42`, `true`, `yes`, `~` or `2024-01-01` is
    /// not text here; quoting makes it text.
    func string() throws(PolicyFileError) -> String {
        guard case .scalar(let scalar) = node else { throw error("expected a string, found \(found)") }
        guard scalarTag == Tag.Name.str.rawValue else {
            throw error("expected a string, found \(found); quote it if it is meant as text")
        }
        return scalar.string
    }

    /// The node as text that is not empty or only whitespace.
    /// The node as the id of a delivery group, recipe or service (``PolicyBounds/isValidId(_:)``,
    /// the rule the admin API applies too).
    func policyId() throws(PolicyFileError) -> String {
        let text = try string()
        guard PolicyBounds.isValidId(text) else { throw error("must be \(PolicyBounds.idRule), found '\(text.prefix(40))'") }
        return text
    }

    func nonEmptyString() throws(PolicyFileError) -> String {
        let text = try string()
        guard text.contains(where: { !$0.isWhitespace }) else { throw error("must not be empty") }
        return text
    }

    /// The node as a decimal integer within `minimum...maximum`. Hexadecimal, octal, `1_000`,
    /// quoted numbers and numbers with a fraction are refused.
    /// An integer within `bounds` (a ``PolicyBounds`` entry).
    func integer<T: FixedWidthInteger>(in bounds: ClosedRange<T>) throws(PolicyFileError) -> T {
        try integer(T.self, minimum: bounds.lowerBound, maximum: bounds.upperBound)
    }

    func integer<T: FixedWidthInteger>(
        _ type: T.Type, minimum: T = .min, maximum: T = .max
    ) throws(PolicyFileError) -> T {
        guard case .scalar(let scalar) = node, scalarTag == Tag.Name.int.rawValue else {
            throw error("expected an integer, found \(found)")
        }
        let text = scalar.string
        guard Self.isDecimal(text) else { throw error("expected a decimal integer, found \(text)") }
        guard let value = T(text, radix: 10) else {
            throw error("\(text) is out of range for a \(T.bitWidth)-bit integer")
        }
        guard value >= minimum, value <= maximum else {
            if maximum == .max { throw error("must be at least \(minimum), found \(text)") }
            throw error("must be between \(minimum) and \(maximum), found \(text)")
        }
        return value
    }

    /// The node as a boolean: exactly `true` or `false` (YAML's `yes`, `no`, `on`, `off` and
    /// capitalised spellings are refused).
    func bool() throws(PolicyFileError) -> Bool {
        if case .scalar(let scalar) = node, scalarTag == Tag.Name.bool.rawValue {
            switch scalar.string {
            case "true": return true
            case "false": return false
            default:
                throw error("expected true or false, found \(scalar.string); only true and false are booleans here")
            }
        }
        throw error("expected true or false, found \(found)")
    }

    /// The node as one of `cases`, spelled by raw value.
    func choice<E: RawRepresentable>(_ cases: [E]) throws(PolicyFileError) -> E where E.RawValue == String {
        let text = try string()
        guard let value = cases.first(where: { $0.rawValue == text }) else {
            let allowed = cases.map(\.rawValue).joined(separator: ", ")
            throw error("expected one of \(allowed), found \(quoted(text))")
        }
        return value
    }

    /// The elements of this list node, each with its indexed path.
    func items() throws(PolicyFileError) -> [PolicyNode] {
        guard case .sequence(let sequence) = node else { throw error("expected a list, found \(found)") }
        return sequence.enumerated().map { element($1, index: $0) }
    }

    /// This list node as strings.
    func strings() throws(PolicyFileError) -> [String] {
        var result: [String] = []
        for item in try items() { result.append(try item.string()) }
        return result
    }

    /// This node as a mapping whose keys must all be in `allowed`.
    func mapping(allowing allowed: [String]) throws(PolicyFileError) -> PolicyMapping {
        let mapping = try PolicyMapping(self)
        try mapping.allowOnly(allowed)
        return mapping
    }

    /// Whether `text` is a decimal integer literal: an optional sign, then `0` or digits without
    /// a leading zero.
    private static func isDecimal(_ text: String) -> Bool {
        var digits = Substring(text)
        if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
        guard let first = digits.first, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return first != "0" || digits.count == 1
    }
}

/// `text` in single quotes, for messages.
func quoted(_ text: String) -> String {
    "'\(text)'"
}

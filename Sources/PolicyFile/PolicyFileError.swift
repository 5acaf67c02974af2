/// A problem with a policy file: which file, which line, which field, and what is wrong.
///
/// `description` reads `<file>:<line>: <field>: <message>`, for example
/// `policy.yaml:12: delivery_groups[0].owners[1]: 'ops' is not an email address …`. The line is
/// left out when it is not known, and the field when the problem concerns the whole file rather
/// than one field (the file cannot be read, is empty, is not a mapping, or is not valid YAML).
public struct PolicyFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file, as given to `PolicyFile.load(path:)` or `PolicyFile.parse(_:file:)`.
    public var file: String
    /// The 1-based line the problem is on; nil when unknown (for example, an unreadable file).
    public var line: Int?
    /// The offending field as a path from the top of the document, e.g.
    /// `delivery_groups[0].owners[1]` or `settings.read_rpm`; empty when the problem concerns the
    /// whole file.
    public var field: String
    /// What is wrong, and where it helps, what was expected.
    public var message: String

    /// An error from its parts.
    public init(file: String, line: Int?, field: String, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    /// `<file>:<line>: <field>: <message>`, without the line when it is unknown and without the
    /// field when it is empty.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if !field.isEmpty { text += ": \(field)" }
        return text + ": " + message
    }
}

import Yams

/// A mapping node of a policy document, read by key. Keys are names (scalars); a key whose value
/// is an explicit null (`~`, `null`, or nothing) counts as absent.
struct PolicyMapping {
    /// The mapping node itself.
    let base: PolicyNode
    /// The entries in document order.
    private let entries: [(key: String, keyNode: PolicyNode, value: PolicyNode)]

    /// The mapping `base` is; fails when it is something else.
    init(_ base: PolicyNode) throws(PolicyFileError) {
        guard case .mapping(let mapping) = base.node else {
            throw base.error("expected a mapping of keys to values, found \(base.found)")
        }
        var entries: [(key: String, keyNode: PolicyNode, value: PolicyNode)] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                let keyNode = PolicyNode(node: key, path: base.path, file: base.file)
                throw keyNode.error("keys must be names, found \(keyNode.found) as a key")
            }
            entries.append((scalar.string, base.child(key, key: scalar.string), base.child(value, key: scalar.string)))
        }
        self.base = base
        self.entries = entries
    }

    /// Fails on the first key, in document order, that is not in `allowed`.
    func allowOnly(_ allowed: [String]) throws(PolicyFileError) {
        for entry in entries where !allowed.contains(entry.key) {
            let expected = allowed.joined(separator: ", ")
            throw entry.keyNode.error("unknown key \(quoted(entry.key)); expected one of: \(expected)")
        }
    }

    /// The path a key of this mapping has.
    func path(_ key: String) -> String {
        base.path.isEmpty ? key : "\(base.path).\(key)"
    }

    /// The value under `key`, or nil when the key is absent or its value is null.
    func optional(_ key: String) -> PolicyNode? {
        guard let value = entries.first(where: { $0.key == key })?.value, !value.isNull else { return nil }
        return value
    }

    /// The value under `key`; fails when the key is absent or its value is null.
    func required(_ key: String) throws(PolicyFileError) -> PolicyNode {
        if let value = optional(key) { return value }
        if let present = entries.first(where: { $0.key == key }) {
            throw present.keyNode.error("is required and must have a value")
        }
        throw PolicyFileError(file: base.file, line: base.line, field: path(key), message: "is required")
    }
}

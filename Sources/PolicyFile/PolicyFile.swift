public import Rules

/// The YAML policy data file (format version 1): delivery groups, recipes, services,
/// environments, routing, CI publishers and settings, read into a `PolicySnapshot` and written
/// back. The format is described in docs/POLICY-FILE.md.
///
/// Reading is strict: unknown keys, wrongly typed values (nothing is coerced; only `true` and
/// `false` are booleans), out-of-range numbers, duplicate ids and references to anything not
/// declared are errors, each naming the file, the line and the field path.
public enum PolicyFile {
    /// Reads and parses the policy file at `path`. A missing or unreadable file fails with an
    /// error naming the path and the operating system's reason.
    public static func load(path: String) throws(PolicyFileError) -> PolicySnapshot {
        try parse(try FileText.contents(of: path), file: path)
    }

    /// Parses policy document `text`; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(PolicyFileError) -> PolicySnapshot {
        try PolicyDecoder(file: file).decode(text)
    }

    /// Writes `snapshot` as a policy document: deterministic, sections in a fixed order, entries
    /// sorted by id, every setting spelled out. For any snapshot `parse` can produce,
    /// `parse(render(snapshot))` equals `snapshot`.
    public static func render(_ snapshot: PolicySnapshot) -> String {
        PolicyRenderer.render(snapshot)
    }
}

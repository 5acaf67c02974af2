import Yams

/// The configuration file of `dxcp-policy serve` (docs/CONFIGURATION.md): YAML, strict like the
/// policy file, read into the environment variables each setting stands for, so that the file,
/// the environment and the reference's variable names all mean one thing. The environment wins
/// over the file; command-line options win over both. Secrets (the Gate token or header value,
/// the development signing secret) are not accepted here: they come from the environment only.
public enum ServerConfigFile {
    /// The file's sections (nil: top-level keys), each key with the variable it sets and how its
    /// value is read. Values are checked for type here; their bounds are checked where the
    /// variable is read, one place for each.
    static let layout: [(section: String?, keys: [(key: String, variable: String, kind: Kind)])] = [
        ("listen", [("host", "DXCP_HOST", .text), ("port", "DXCP_PORT", .integer)]),
        (nil, [
            ("data_dir", "DXCP_DATA_DIR", .text), ("policy_file", "DXCP_POLICY_FILE", .text),
            ("body_limit_bytes", "DXCP_BODY_LIMIT_BYTES", .integer), ("cors_origins", "DXCP_CORS_ORIGINS", .list),
            ("mutations_disabled", "DXCP_MUTATIONS_DISABLED", .boolean),
            ("service_registry_path", "DXCP_SERVICE_REGISTRY_PATH", .text),
        ]),
        ("oidc", [
            ("issuer", "DXCP_OIDC_ISSUER", .text), ("audience", "DXCP_OIDC_AUDIENCE", .text),
            ("jwks_url", "DXCP_OIDC_JWKS_URL", .text), ("jwks_file", "DXCP_OIDC_JWKS_FILE", .text),
            ("roles_claim", "DXCP_OIDC_ROLES_CLAIM", .text),
        ]),
        ("limits", [
            ("read_rpm", "DXCP_READ_RPM", .integer), ("mutate_rpm", "DXCP_MUTATE_RPM", .integer),
            ("daily_quota_build_register", "DXCP_DAILY_QUOTA_BUILD_REGISTER", .integer),
            ("daily_quota_upload_capability", "DXCP_DAILY_QUOTA_UPLOAD_CAPABILITY", .integer),
            ("daily_quota_deploy", "DXCP_DAILY_QUOTA_DEPLOY", .integer),
            ("daily_quota_rollback", "DXCP_DAILY_QUOTA_ROLLBACK", .integer),
        ]),
        ("spinnaker", [
            ("gate_url", "DXCP_SPINNAKER_GATE_URL", .text), ("mtls_cert_path", "DXCP_SPINNAKER_MTLS_CERT_PATH", .text),
            ("mtls_key_path", "DXCP_SPINNAKER_MTLS_KEY_PATH", .text), ("mtls_ca_path", "DXCP_SPINNAKER_MTLS_CA_PATH", .text),
            ("header_name", "DXCP_SPINNAKER_GATE_HEADER_NAME", .text),
            ("connect_timeout_ms", "DXCP_SPINNAKER_CONNECT_TIMEOUT_MS", .integer),
            ("timeout_ms", "DXCP_SPINNAKER_TIMEOUT_MS", .integer),
            ("reconcile_interval_seconds", "DXCP_SPINNAKER_RECONCILE_INTERVAL_SECONDS", .integer),
            ("settle_seconds", "DXCP_SPINNAKER_SETTLE_SECONDS", .integer),
        ]),
        ("audit", [("retention_days", "DXCP_AUDIT_RETENTION_DAYS", .integer)]),
        ("store", [
            ("map_size", "DXCP_LMDB_MAP_SIZE", .text), ("write_queue_limit", "DXCP_WRITE_QUEUE_LIMIT", .integer),
            ("database_url", "DXCP_DATABASE_URL", .text), ("database_timeout_ms", "DXCP_DATABASE_TIMEOUT_MS", .integer),
            ("database_readers", "DXCP_DATABASE_READERS", .integer),
        ]),
        ("http", [
            ("head_timeout_seconds", "DXCP_HTTP_HEAD_TIMEOUT_SECONDS", .integer),
            ("body_timeout_seconds", "DXCP_HTTP_BODY_TIMEOUT_SECONDS", .integer),
            ("idle_timeout_seconds", "DXCP_HTTP_IDLE_TIMEOUT_SECONDS", .integer),
            ("max_header_bytes", "DXCP_HTTP_MAX_HEADER_BYTES", .integer),
            ("max_header_count", "DXCP_HTTP_MAX_HEADER_COUNT", .integer),
            ("max_connections", "DXCP_HTTP_MAX_CONNECTIONS", .integer),
        ]),
    ]

    /// How a value is read.
    enum Kind {
        case text, list, boolean, integer
    }

    /// Older names the environment may still give a variable by (the reference's and earlier
    /// releases'); the variable's own name wins when both are set.
    public static let legacyNames: [String: [String]] = [
        "DXCP_MUTATIONS_DISABLED": ["DXCP_KILL_SWITCH"],
        "DXCP_SPINNAKER_MTLS_CERT_PATH": ["DXCP_SPINNAKER_MTLS_CLIENT_CERT_PATH"],
        "DXCP_SPINNAKER_MTLS_KEY_PATH": ["DXCP_SPINNAKER_MTLS_CLIENT_KEY_PATH"],
    ]

    /// `variable` as `environment` gives it: under its own name, else under a legacy one; with the
    /// name it was found under, for messages.
    public static func given(_ variable: String, in environment: [String: String]) -> (name: String, value: String)? {
        for name in [variable] + (legacyNames[variable] ?? []) {
            if let value = environment[name] { return (name, value) }
        }
        return nil
    }

    /// The file's settings under the environment: a variable the environment sets, by its own name
    /// or a legacy one, replaces the file's setting of it.
    public static func merged(file: [String: String], environment: [String: String]) -> [String: String] {
        var file = file
        for variable in legacyNames.keys where given(variable, in: environment) != nil {
            file[variable] = nil
        }
        return file.merging(environment) { _, fromEnvironment in fromEnvironment }
    }

    /// The settings of the file at `path`, as variables.
    public static func load(path: String) throws(PolicyFileError) -> [String: String] {
        try parse(try FileText.contents(of: path), file: path)
    }

    /// The settings of configuration document `text` (`file` names it in errors), as variables.
    /// An empty document sets nothing.
    public static func parse(_ text: String, file: String) throws(PolicyFileError) -> [String: String] {
        guard let composed = try PolicyDecoder(file: file).composeYAML(text) else { return [:] }
        let root = PolicyNode(node: composed, path: "", file: file)
        if root.isNull { return [:] }
        let topKeys = layout.flatMap { $0.section.map { [$0] } ?? $0.keys.map(\.key) }
        let top = try root.mapping(allowing: topKeys)
        var result: [String: String] = [:]
        for (section, keys) in layout {
            let mapping: PolicyMapping
            if let section {
                guard let node = top.optional(section) else { continue }
                mapping = try node.mapping(allowing: keys.map(\.key))
            } else {
                mapping = top
            }
            for (key, variable, kind) in keys {
                guard let node = mapping.optional(key) else { continue }
                switch kind {
                case .text: result[variable] = try node.nonEmptyString()
                case .list: result[variable] = try node.strings().joined(separator: ",")
                case .boolean: result[variable] = try node.bool() ? "true" : "false"
                case .integer: result[variable] = String(try node.integer(Int.self))
                }
            }
        }
        return result
    }
}

import Yams

/// The configuration file of `dxcp-policy serve` (docs/CONFIGURATION.md): YAML, strict like the
/// policy file, read into the environment variables each setting stands for, so that the file,
/// the environment and the reference's variable names all mean one thing. The environment wins
/// over the file; command-line options win over both. Secrets (the Gate token or header value,
/// the development signing secret) are not accepted here: they come from the environment only.
public enum ServerConfigFile {
    /// Each key of the file, with the variable it sets; nested keys are dotted.
    static let variables: [(key: String, variable: String, kind: Kind)] = [
        ("listen.host", "DXCP_HOST", .text), ("listen.port", "DXCP_PORT", .integer(1...65535)),
        ("data_dir", "DXCP_DATA_DIR", .text), ("policy_file", "DXCP_POLICY_FILE", .text),
        ("body_limit_bytes", "DXCP_BODY_LIMIT_BYTES", .integer(1024...(16 << 20))),
        ("cors_origins", "DXCP_CORS_ORIGINS", .list),
        ("oidc.issuer", "DXCP_OIDC_ISSUER", .text), ("oidc.audience", "DXCP_OIDC_AUDIENCE", .text),
        ("oidc.jwks_url", "DXCP_OIDC_JWKS_URL", .text), ("oidc.jwks_file", "DXCP_OIDC_JWKS_FILE", .text),
        ("oidc.roles_claim", "DXCP_OIDC_ROLES_CLAIM", .text),
        ("limits.read_rpm", "DXCP_READ_RPM", .integer(1...5000)), ("limits.mutate_rpm", "DXCP_MUTATE_RPM", .integer(1...5000)),
        ("limits.daily_quota_build_register", "DXCP_DAILY_QUOTA_BUILD_REGISTER", .integer(0...5000)),
        ("limits.daily_quota_upload_capability", "DXCP_DAILY_QUOTA_UPLOAD_CAPABILITY", .integer(0...5000)),
        ("limits.daily_quota_deploy", "DXCP_DAILY_QUOTA_DEPLOY", .integer(0...5000)),
        ("limits.daily_quota_rollback", "DXCP_DAILY_QUOTA_ROLLBACK", .integer(0...5000)),
        ("mutations_disabled", "DXCP_MUTATIONS_DISABLED", .boolean),
        ("service_registry_path", "DXCP_SERVICE_REGISTRY_PATH", .text),
        ("spinnaker.gate_url", "DXCP_SPINNAKER_GATE_URL", .text),
        ("spinnaker.mtls_cert_path", "DXCP_SPINNAKER_MTLS_CERT_PATH", .text),
        ("spinnaker.mtls_key_path", "DXCP_SPINNAKER_MTLS_KEY_PATH", .text),
        ("spinnaker.mtls_ca_path", "DXCP_SPINNAKER_MTLS_CA_PATH", .text),
        ("spinnaker.header_name", "DXCP_SPINNAKER_GATE_HEADER_NAME", .text),
    ]

    /// How a value is read.
    enum Kind {
        case text, list, boolean
        case integer(ClosedRange<Int>)
    }

    /// The settings of the file at `path`, as variables.
    public static func load(path: String) throws(PolicyFileError) -> [String: String] {
        try parse(try FileText.contents(of: path), file: path)
    }

    /// The settings of configuration document `text` (`file` names it in errors), as variables.
    /// An empty document sets nothing.
    public static func parse(_ text: String, file: String) throws(PolicyFileError) -> [String: String] {
        let composed: Node?
        do {
            composed = try Yams.compose(yaml: text)
        } catch {
            throw PolicyDecoder(file: file).yamlError(error)
        }
        guard let composed else { return [:] }
        let root = PolicyNode(node: composed, path: "", file: file)
        if root.isNull { return [:] }
        let sections = Dictionary(grouping: variables.map(\.key)) { $0.split(separator: ".").first.map(String.init) ?? $0 }
        let top = try root.mapping(allowing: sections.keys.sorted())
        var result: [String: String] = [:]
        for (key, variable, kind) in variables {
            let parts = key.split(separator: ".").map(String.init)
            var mapping = top
            if parts.count == 2 {
                guard let section = top.optional(parts[0]) else { continue }
                mapping = try section.mapping(allowing: sections[parts[0]]!.map { String($0.split(separator: ".")[1]) })
            }
            guard let node = mapping.optional(parts.last!) else { continue }
            switch kind {
            case .text: result[variable] = try node.nonEmptyString()
            case .list: result[variable] = try node.strings().joined(separator: ",")
            case .boolean: result[variable] = try node.bool() ? "true" : "false"
            case .integer(let range): result[variable] = String(try node.integer(Int.self, minimum: range.lowerBound, maximum: range.upperBound))
            }
        }
        return result
    }
}

/// A JSON value, for the few places the contract carries free-form data: denial `details` and
/// the old and new values of an admin change.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Int64.self) {
            self = .int(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// A list of strings.
    public static func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }

    /// A string, or null.
    public static func optional(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
}

extension CIPublisher {
    /// The publisher as the API shows it (snake_case field names of REFERENCE §1.5).
    public var jsonValue: JSONValue {
        .object([
            "name": .string(name), "provider": .string(provider.rawValue), "issuers": .strings(issuers),
            "audiences": .strings(audiences), "authorized_party_azp": .strings(authorizedParties),
            "subjects": .strings(subjects), "subject_prefixes": .strings(subjectPrefixes),
            "emails": .strings(emails), "description": .optional(description), "owner": .optional(owner),
        ])
    }
}

extension Recipe {
    /// The recipe as the admin API shows it, for audit old and new values.
    public var jsonValue: JSONValue {
        .object([
            "id": .string(id), "name": .string(name), "description": .optional(description), "engine_type": .string("SPINNAKER"),
            "spinnaker_application": .optional(spinnakerApplication), "deploy_pipeline": .string(deployPipeline),
            "rollback_pipeline": .optional(rollbackPipeline), "effective_behavior_summary": .string(effectiveBehaviorSummary),
            "status": .string(status.rawValue), "recipe_revision": .int(Int64(revision)),
        ].merging(stamp?.members ?? ChangeStamp.absent) { a, _ in a })
    }
}

extension DeliveryGroup {
    /// The group as the admin API shows it (with its bound environments), for audit values.
    public func jsonValue(environments: [String]) -> JSONValue {
        .object([
            "id": .string(id), "name": .string(name), "description": .optional(description),
            "owner": .string(owners.joined(separator: ", ")), "services": .strings(services),
            "allowed_environments": .strings(environments), "allowed_recipes": .strings(allowedRecipes),
            "guardrails": .object([
                "max_concurrent_deployments": guardrails.maxConcurrentDeployments.map { .int(Int64($0)) } ?? .null,
                "daily_deploy_quota": guardrails.dailyDeployQuota.map { .int(Int64($0)) } ?? .null,
                "daily_rollback_quota": guardrails.dailyRollbackQuota.map { .int(Int64($0)) } ?? .null,
            ]),
        ].merging(stamp?.members ?? ChangeStamp.absent) { a, _ in a })
    }
}

extension Environment {
    /// The environment as the admin API shows it, for audit old and new values.
    public var jsonValue: JSONValue {
        .object([
            "id": .string(id), "display_name": .string(displayName), "type": .string(kind.rawValue),
            "lifecycle_state": .string(lifecycle.rawValue),
        ])
    }
}

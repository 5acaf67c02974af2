/// A delivery group: the services one team deploys, who owns them, where they may go and with
/// which recipes, and the limits that apply (contract §4, REFERENCE §2.8).
public struct DeliveryGroup: Sendable, Hashable, Codable {
    /// Stable id, e.g. `default`.
    public var id: String
    /// Display name.
    public var name: String
    /// Free text.
    public var description: String?
    /// Owner emails, normalised (trimmed, lower-cased, no empty entries).
    // INVARIANT: every entry is a normalised email; membership compares against these directly.
    public var owners: [String]
    /// Services deployed through this group. A service belongs to at most one group.
    public var services: [String]
    /// Recipe ids this group may deploy with.
    public var allowedRecipes: [String]
    /// Limits; unset values fall back to the environment's, then to the defaults.
    public var guardrails: Guardrails
    /// Who created and last changed the group, when and why; nil until the write path stamps it.
    public var stamp: ChangeStamp?

    /// A delivery group from its parts; owner emails are normalised.
    public init(
        id: String, name: String, description: String? = nil, owners: [String] = [], services: [String] = [],
        allowedRecipes: [String] = [], guardrails: Guardrails = Guardrails()
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.owners = owners.map(normalizedEmail).filter { !$0.isEmpty }
        self.services = services
        self.allowedRecipes = allowedRecipes
        self.guardrails = guardrails
    }

    /// Whether `text` has the shape of an owner email: a non-empty local part, an `@`, and a
    /// domain containing a dot (REFERENCE §1.4).
    public static func isValidOwner(_ text: String) -> Bool {
        let email = normalizedEmail(text)
        guard let at = email.firstIndex(of: "@"), at != email.startIndex else { return false }
        let domain = email[email.index(after: at)...]
        return domain.contains(".") && !domain.contains("@") && !domain.hasPrefix(".") && !domain.hasSuffix(".")
    }
}

/// Deployment limits of a group or an environment (REFERENCE §5.1, §7). Only positive values
/// count; anything else defers to the next level.
public struct Guardrails: Sendable, Hashable, Codable {
    /// Active deployments allowed at once per group and environment.
    public var maxConcurrentDeployments: Int?
    /// Deploys per UTC day per group and environment.
    public var dailyDeployQuota: Int?
    /// Rollbacks per UTC day per group and environment.
    public var dailyRollbackQuota: Int?

    /// Guardrails with the given values; nil defers to the next level.
    public init(maxConcurrentDeployments: Int? = nil, dailyDeployQuota: Int? = nil, dailyRollbackQuota: Int? = nil) {
        self.maxConcurrentDeployments = maxConcurrentDeployments
        self.dailyDeployQuota = dailyDeployQuota
        self.dailyRollbackQuota = dailyRollbackQuota
    }
}


/// Who created and last changed a policy object, when, and the reason given for the last change
/// (REFERENCE §2.8 `created_at`, `created_by`, `updated_at`, `updated_by`, `last_change_reason`).
public struct ChangeStamp: Sendable, Hashable, Codable {
    /// nil when the object existed before stamps were kept (a data directory older than schema 3).
    public var createdAt: Timestamp?
    public var createdBy: String?
    public var updatedAt: Timestamp
    public var updatedBy: String
    public var lastChangeReason: String?

    /// The stamp of an object created by `actor` at `now`.
    public init(createdAt: Timestamp, createdBy: String) {
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.updatedAt = createdAt
        self.updatedBy = createdBy
        self.lastChangeReason = nil
    }

    /// The stamp of an object whose creation is not known, first changed by `actor` at `now`.
    public init(firstChangedAt now: Timestamp, by actor: String) {
        self.createdAt = nil
        self.createdBy = nil
        self.updatedAt = now
        self.updatedBy = actor
        self.lastChangeReason = nil
    }

    /// This stamp after `actor` changed the object at `now`; a non-blank `reason` (trimmed)
    /// replaces the last one, as in the reference.
    public func updated(at now: Timestamp, by actor: String, reason: String?) -> ChangeStamp {
        var next = self
        next.updatedAt = now
        next.updatedBy = actor
        if let reason = reason.map(trimmed), !reason.isEmpty { next.lastChangeReason = reason }
        return next
    }

    /// The stamp as the admin API shows it and the audit keeps it.
    public var members: [String: JSONValue] {
        [
            "created_at": .optional(createdAt?.iso8601), "created_by": .optional(createdBy), "updated_at": .string(updatedAt.iso8601),
            "updated_by": .string(updatedBy), "last_change_reason": .optional(lastChangeReason),
        ]
    }

    /// The members of no stamp: all null.
    public static let absent: [String: JSONValue] = [
        "created_at": .null, "created_by": .null, "updated_at": .null, "updated_by": .null, "last_change_reason": .null,
    ]
}

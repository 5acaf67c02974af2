/// A state change a decision asks the store to commit, in the same transaction as the decision
/// itself (DECISIONS D13). Denials carry effects too: the rate-limit hit and the audit entry.
///
/// Cases carrying records are `indirect`: the enum then stays a few words wide, so the effects of
/// a read-only decision (one rate-window count) do not take a buffer sized for deployment records.
public enum Effect: Sendable, Hashable, Codable {
    /// Count one request against a per-actor minute window.
    case countRate(RateWindow)
    /// Spend one unit of a daily quota.
    case spendQuota(QuotaScope, day: Int64)
    /// Record a new deployment: it takes a concurrency slot and waits in the engine outbox until
    /// dispatched. `idempotency` is the key it completes once the engine has answered.
    indirect case insertDeployment(DeploymentRecord, idempotency: IdempotencyScope)
    /// Record a deployment a Spinnaker execution carries out: it takes a concurrency slot and is
    /// already running (the engine needs no dispatch; the poller follows the execution).
    indirect case admitExecution(DeploymentRecord)
    /// Release a stale lock: the deployment is marked FAILED with this failure (DECISIONS D11).
    indirect case expireDeployment(id: String, failure: Failure)
    /// Store an idempotency record (in flight, or with its final response).
    indirect case putIdempotency(IdempotencyScope, IdempotencyRecord)
    /// Store a build.
    indirect case putBuild(Build)
    /// Store an upload capability.
    indirect case putUploadCapability(UploadCapability)
    /// Remove a used upload capability.
    indirect case consumeUploadCapability(UploadCapability)
    /// Replace the system settings.
    indirect case putSettings(Settings)
    /// Replace all policy data (an admin change to recipes, groups, routing or bindings).
    indirect case putPolicy(PolicySnapshot)
    /// Append an audit entry.
    indirect case audit(AuditNote)
    /// Count a rate-limit refusal in its actor's minute: the store audits each actor, code and
    /// minute once, with the count, when the minute has closed (DECISIONS 75).
    indirect case auditRefusal(AuditNote, code: ContractCode, minute: Int64)
}

/// A per-actor minute window of a rate limit.
public struct RateWindow: Sendable, Hashable, Codable {
    /// Which limit.
    public enum Bucket: String, Sendable, Codable {
        case read, mutate
        /// A gateway's windows (`/v1/gateway/...`), apart from the API's own.
        case gatewayRead = "gateway_read", gatewayMutate = "gateway_mutate"

        /// Whether the window is counted in process memory rather than in LMDB: every window
        /// but the API's mutate window (docs/DECISIONS.md 12, 42).
        public var keptInMemory: Bool { self != .mutate }
    }

    /// The actor.
    public var actorId: String
    /// Read or mutate (separate counters; DECISIONS, unlike the reference's shared bucket).
    public var bucket: Bucket
    /// Minute number since the epoch.
    public var minute: Int64

    /// A window from its parts.
    public init(actorId: String, bucket: Bucket, minute: Int64) {
        self.actorId = actorId
        self.bucket = bucket
        self.minute = minute
    }
}

/// What a daily quota counts, and for whom.
public struct QuotaScope: Sendable, Hashable, Codable {
    /// Which quota.
    public enum Kind: String, Sendable, Codable {
        case deploy, rollback
        case buildRegister = "build_register"
        case uploadCapability = "upload_capability"
    }

    /// Which quota.
    public var kind: Kind
    /// `<groupId>:<environment>` for deploy and rollback; the actor id for builds.
    public var key: String

    /// A scope from its parts.
    public init(kind: Kind, key: String) {
        self.kind = kind
        self.key = key
    }
}

/// What the rules say should be written to the audit log for a decision (REFERENCE §11.1). The
/// audit module adds ids, time, trail, sequence number and hashes.
public struct AuditNote: Sendable, Hashable, Codable {
    /// Audit outcome.
    public enum Outcome: String, Sendable, Codable {
        case success = "SUCCESS"
        case denied = "DENIED"
        case failed = "FAILED"
    }

    /// e.g. `DEPLOY_SUBMIT`, `DEPLOY_DENIED`, `ADMIN_CONFIG_CHANGE`.
    public var eventType: String
    /// e.g. `Deployment`, `Build`, `AdminSetting`.
    public var targetType: String
    /// The record id, service name or setting key.
    public var targetId: String
    /// Success, denied or failed.
    public var outcome: Outcome
    /// One line for people; for an admin change the structured summary is built from `change`.
    public var summary: String
    /// Who.
    public var actorId: String
    /// Their role, if recognised.
    public var actorRole: Role?
    public var deliveryGroupId: String?
    public var serviceName: String?
    public var environment: String?
    /// For `ADMIN_CONFIG_CHANGE`: the setting and its old and new values.
    public var change: SettingChange?

    /// A note from its parts.
    public init(
        eventType: String, targetType: String, targetId: String, outcome: Outcome, summary: String, actorId: String,
        actorRole: Role?, deliveryGroupId: String? = nil, serviceName: String? = nil, environment: String? = nil,
        change: SettingChange? = nil
    ) {
        self.eventType = eventType
        self.targetType = targetType
        self.targetId = targetId
        self.outcome = outcome
        self.summary = summary
        self.actorId = actorId
        self.actorRole = actorRole
        self.deliveryGroupId = deliveryGroupId
        self.serviceName = serviceName
        self.environment = environment
        self.change = change
    }
}

/// One changed admin setting (REFERENCE §11.2).
public struct SettingChange: Sendable, Hashable, Codable {
    /// e.g. `read_rpm`, `ci_publishers`, `mutations_disabled`.
    public var key: String
    public var oldValue: JSONValue
    public var newValue: JSONValue
    /// The reason given, if any (kill switch).
    public var reason: String?
    /// The admin's `sub`, email and `azp`, for the summary.
    public var actorSubject: String?
    public var actorEmail: String?
    public var actorAuthorizedParty: String?
}

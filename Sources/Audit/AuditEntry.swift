public import Rules

/// One entry of the decision log: the REFERENCE §11.1 fields, the decision that caused it, and
/// its place in the hash chain (DECISIONS D15).
public struct AuditEntry: Sendable, Hashable, Codable {
    /// Position in the log, from 1, without gaps.
    public var sequence: UInt64
    /// Unique id of the entry (UUID-shaped).
    public var eventId: String
    /// e.g. `DEPLOY_SUBMIT`, `DEPLOY_DENIED`, `ADMIN_CONFIG_CHANGE`.
    public var eventType: String
    /// Who acted.
    public var actorId: String
    /// Their role, when recognised.
    public var actorRole: Role?
    /// What kind of thing was acted on.
    public var targetType: String
    /// Which one.
    public var targetId: String
    /// When.
    public var timestamp: Timestamp
    /// SUCCESS, DENIED or FAILED.
    public var outcome: AuditNote.Outcome
    /// One line, or for `ADMIN_CONFIG_CHANGE` the JSON summary of REFERENCE §11.2.
    public var summary: String
    public var deliveryGroupId: String?
    public var serviceName: String?
    public var environment: String?
    /// The decision that caused the entry.
    public var decisionId: String?
    /// The request's `X-Request-Id`.
    public var requestId: String?
    /// Contract version of the decision.
    public var contractVersion: String
    /// The decision's checks, in order.
    public var trail: [CheckResult]
    /// Hash of the previous entry (64 zeros for the first).
    public var previousHash: String
    /// SHA-256 over `previousHash` and this entry's canonical encoding without `hash`.
    public var hash: String

    /// An entry from all its parts (the chain appending one, the store reading one back).
    public init(
        sequence: UInt64, eventId: String, eventType: String, actorId: String, actorRole: Role?, targetType: String,
        targetId: String, timestamp: Timestamp, outcome: AuditNote.Outcome, summary: String, deliveryGroupId: String?,
        serviceName: String?, environment: String?, decisionId: String?, requestId: String?, contractVersion: String,
        trail: [CheckResult], previousHash: String, hash: String
    ) {
        self.sequence = sequence
        self.eventId = eventId
        self.eventType = eventType
        self.actorId = actorId
        self.actorRole = actorRole
        self.targetType = targetType
        self.targetId = targetId
        self.timestamp = timestamp
        self.outcome = outcome
        self.summary = summary
        self.deliveryGroupId = deliveryGroupId
        self.serviceName = serviceName
        self.environment = environment
        self.decisionId = decisionId
        self.requestId = requestId
        self.contractVersion = contractVersion
        self.trail = trail
        self.previousHash = previousHash
        self.hash = hash
    }

    enum CodingKeys: String, CodingKey {
        case sequence, eventId = "event_id", eventType = "event_type", actorId = "actor_id", actorRole = "actor_role"
        case targetType = "target_type", targetId = "target_id", timestamp, outcome, summary
        case deliveryGroupId = "delivery_group_id", serviceName = "service_name", environment
        case decisionId = "decision_id", requestId = "request_id", contractVersion = "contract_version", trail
        case previousHash = "previous_hash", hash
    }
}

/// Where an entry came from, beyond the rules' note: the decision, request and time.
public struct AuditOrigin: Sendable, Hashable {
    /// The decision id, if a decision caused the entry.
    public var decisionId: String?
    /// The request id, if known.
    public var requestId: String?
    /// When.
    public var timestamp: Timestamp
    /// The decision's trail.
    public var trail: [CheckResult]

    /// An origin from its parts.
    public init(decisionId: String?, requestId: String?, timestamp: Timestamp, trail: [CheckResult] = []) {
        self.decisionId = decisionId
        self.requestId = requestId
        self.timestamp = timestamp
        self.trail = trail
    }
}

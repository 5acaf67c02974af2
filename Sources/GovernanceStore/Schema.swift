import LMDB
import Audit
public import Rules
import FoundationEssentials

/// The named databases of the governance environment and what each holds. Keys are ``StoreKey``
/// composites; records, audit entries and idempotency records are packed (``StoredEncoding``,
/// schema 4; JSON from earlier schemas still read), other values JSON or compact bytes.
struct Schema: @unchecked Sendable {
    /// Bumped when the layout changes; a store refuses a data directory of another version.
    static let version = 4

    /// `schema_version`, `policy_generation`, `audit_head`, `audit_checkpoint`, `commits`.
    let meta: Database
    /// `snapshot` → the policy snapshot (groups, recipes, services, environments, routing, settings).
    let policy: Database
    /// id → DeploymentRecord (packed, without its id).
    let deployments: Database
    /// (createdAt, id) → empty: records in creation order.
    let deploymentsByTime: Database
    /// (service, environment, createdAt, id) → empty: SUCCEEDED records, for restore points.
    let succeeded: Database
    /// (service, environment, createdAt, id) → empty: every record of a service in an
    /// environment, newest last (delivery status, `GET /v1/deployments?service=&environment=`).
    let deploymentsByScope: Database
    /// (group, createdAt, id) → empty: every record of a delivery group, newest last (an owner's
    /// `GET /v1/deployments`, walked per group of theirs).
    let deploymentsByGroup: Database
    /// (service, environment, version) → how many records of that version are SUCCEEDED there
    /// (a promotion's source).
    let succeededVersions: Database
    /// (hour, group, service, measure, label) → count: what failure insights read, kept by the
    /// write path per hour of a record's creation; measure `deploy` or `rollback` (label the
    /// recipe) or `failure` (label the category).
    let insights: Database
    /// (minute, actor, code) → count, and (minute, actor, code, 0) → the first refusal's audit note:
    /// rate-limit refusals counted until their minute is
    /// audited as one entry (DECISIONS 75).
    let refusals: Database
    /// (minute, actor, bucket) → count: mutate rate windows (read windows are kept in memory),
    /// minute first so that the expiry pass removes past minutes from the front.
    let rateWindows: Database
    /// (service, version) → Build.
    let builds: Database
    /// (service, version, token) → UploadCapability.
    let capabilities: Database
    /// (actor, endpoint, key) → IdempotencyRecord.
    let idempotency: Database
    /// (expiresAt, actor, endpoint, key) → the record's key: idempotency records by expiry, walked
    /// from the front by the expiry pass.
    let idempotencyExpiry: Database
    /// Per-scope state, keyed by scope first so that what one decision touches for a scope sits
    /// together on one page: (scope, "quota", kind, day) → count; (`group:environment`, "slot",
    /// id) → slot entry of a deployment holding a concurrency slot; (`group:environment`,
    /// "slots") → how many slot entries there are; (`group:environment`, "slot-age", updatedAt,
    /// id) → empty, for each slot entry that can become a stale lock, oldest first.
    let scopes: Database
    /// deployment id → DispatchOrder: reservations whose engine trigger is not yet recorded.
    let outbox: Database
    /// packed group → {(timestamp, sequence)}: audit entries of a delivery group. The audit
    /// indexes hold fixed 16-byte values under each key, packed side by side and appended in order.
    let auditByGroup: Database
    /// packed event type → {(timestamp, sequence)}: audit entries of an event type.
    let auditByType: Database
    /// 0 → {(timestamp, sequence)}: every audit entry in time order, for time ranges.
    let auditByTime: Database
    /// sequence → AuditEntry (packed, without its sequence number; read back as the canonical
    /// JSON its hash covers).
    let audit: Database

    init(_ env: LMDB.Environment, create: Bool) throws(LMDBError) {
        meta = try env.database("meta", create: create)
        policy = try env.database("policy", create: create)
        deployments = try env.database("deployments", create: create)
        deploymentsByTime = try env.database("deployments_by_time", create: create)
        succeeded = try env.database("succeeded", create: create)
        // Created whenever missing: a schema-2 directory lacks them until its upgrade fills them,
        // and every command that opens a directory upgrades it (`audit`, `eval` and `drive` too).
        deploymentsByScope = try env.database("deployments_by_scope", create: true)
        succeededVersions = try env.database("succeeded_versions", create: true)
        insights = try env.database("insights", create: true)
        refusals = try env.database("refusals", create: true)
        rateWindows = try env.database("rate_windows", create: true)
        deploymentsByGroup = try env.database("deployments_by_group", create: true)
        auditByGroup = try env.database("audit_by_group", create: true, fixedValues: true)
        auditByType = try env.database("audit_by_type", create: true, fixedValues: true)
        auditByTime = try env.database("audit_by_time", create: true, fixedValues: true)
        builds = try env.database("builds", create: create)
        capabilities = try env.database("capabilities", create: create)
        idempotency = try env.database("idempotency", create: create)
        idempotencyExpiry = try env.database("idempotency_expiry", create: create)
        scopes = try env.database("scopes", create: create)
        outbox = try env.database("outbox", create: create)
        audit = try env.database("audit", create: create)
    }

    /// Every database with its name, in the order above.
    var all: [Database] {
        [meta, policy, deployments, deploymentsByTime, succeeded, deploymentsByScope, succeededVersions, insights, refusals,
         rateWindows, deploymentsByGroup, builds, capabilities, idempotency, idempotencyExpiry, scopes, outbox, audit,
         auditByGroup, auditByType, auditByTime]
    }

    static let schemaVersionKey = Array("schema_version".utf8)
    static let generationKey = Array("policy_generation".utf8)
    static let auditHeadKey = Array("audit_head".utf8)
    static let auditCheckpointKey = Array("audit_checkpoint".utf8)
    static let snapshotKey = Array("snapshot".utf8)
    static let commitsKey = Array("commits".utf8)

    static func rateKey(_ w: RateWindow) -> [UInt8] {
        StoreKey().adding(w.minute).adding(w.actorId).adding(w.bucket.rawValue).bytes
    }
    static func quotaKey(_ scope: QuotaScope, day: Int64) -> [UInt8] {
        quotaPrefix(scope).adding(day).bytes
    }
    static func quotaPrefix(_ scope: QuotaScope) -> StoreKey {
        StoreKey().adding(scope.key).adding("quota").adding(scope.kind.rawValue)
    }
    static func slotKey(group: String, environment: String, id: String) -> [UInt8] {
        slotPrefix(group: group, environment: environment).adding(id).bytes
    }
    static func slotPrefix(group: String, environment: String) -> StoreKey {
        StoreKey().adding("\(group):\(environment)").adding("slot")
    }
    static func slotCountKey(group: String, environment: String) -> [UInt8] {
        StoreKey().adding("\(group):\(environment)").adding("slots").bytes
    }
    static func slotAgePrefix(group: String, environment: String) -> StoreKey {
        StoreKey().adding("\(group):\(environment)").adding("slot-age")
    }
    static func slotAgeKey(group: String, environment: String, _ active: ActiveDeployment) -> [UInt8] {
        slotAgePrefix(group: group, environment: environment).adding(active.updatedAt.microseconds).adding(active.id).bytes
    }
    static func succeededKey(_ r: DeploymentRecord) -> [UInt8] {
        StoreKey().adding(r.service).adding(r.environment).adding(r.createdAt.microseconds).adding(r.id).bytes
    }
    static func scopePrefix(service: String, environment: String) -> StoreKey {
        StoreKey().adding(service).adding(environment)
    }
    static func byScopeKey(_ r: DeploymentRecord) -> [UInt8] {
        scopePrefix(service: r.service, environment: r.environment).adding(r.createdAt.microseconds).adding(r.id).bytes
    }
    static func succeededVersionKey(service: String, environment: String, version: String) -> [UInt8] {
        StoreKey().adding(service).adding(environment).adding(version).bytes
    }
    static func insightKey(hour: Int64, group: String, service: String, measure: InsightCount.Measure, label: String) -> [UInt8] {
        StoreKey().adding(hour).adding(group).adding(service).adding(measure.rawValue).adding(label).bytes
    }
    static func refusalKey(minute: Int64, actor: String, code: ContractCode) -> StoreKey {
        StoreKey().adding(minute).adding(actor).adding(code.rawValue)
    }
    static func groupPrefix(_ group: String) -> StoreKey {
        StoreKey().adding(group)
    }
    static func byGroupKey(_ r: DeploymentRecord) -> [UInt8] {
        groupPrefix(r.deliveryGroupId).adding(r.createdAt.microseconds).adding(r.id).bytes
    }
    /// The index entries of an audit entry: (database, key, value) for its event type, time and
    /// group; the value is (timestamp, sequence).
    func auditIndexEntries(_ e: AuditEntry) -> [(database: Database, key: [UInt8], value: [UInt8])] {
        let at = Self.auditPosition(e.timestamp, e.sequence)
        var entries = [(auditByType, Self.auditKey(e.eventType), at), (auditByTime, Self.auditTimeKey, at)]
        if let group = e.deliveryGroupId { entries.append((auditByGroup, Self.auditKey(group), at)) }
        return entries
    }
    static func auditPosition(_ timestamp: Timestamp, _ sequence: UInt64) -> [UInt8] {
        StoreKey().adding(timestamp.microseconds).adding(Int64(bitPattern: sequence)).bytes
    }
    static let auditTimeKey: [UInt8] = [0]
    /// A group or event type as a key of an audit index: packed (two bytes for a word).
    static func auditKey(_ value: String) -> [UInt8] {
        var w = PackedWriter(format: 0, capacity: 24)
        w.string(value)
        return Array(w.bytes.dropFirst())
    }
    static func byTimeKey(_ r: DeploymentRecord) -> [UInt8] {
        StoreKey().adding(r.createdAt.microseconds).adding(r.id).bytes
    }
    static func buildKey(service: String, version: String) -> [UInt8] {
        StoreKey().adding(service).adding(version).bytes
    }
    static func capabilityKey(_ c: UploadCapability) -> [UInt8] {
        StoreKey().adding(c.service).adding(c.version).adding(c.token).bytes
    }
    static func idempotencyKey(_ s: IdempotencyScope) -> [UInt8] {
        StoreKey().adding(s.actorId).adding(s.endpoint).adding(s.key).bytes
    }
    static func expiryKey(_ expires: Timestamp, _ s: IdempotencyScope) -> [UInt8] {
        StoreKey().adding(expires.microseconds).adding(s.actorId).adding(s.endpoint).adding(s.key).bytes
    }
    static func sequenceKey(_ seq: UInt64) -> [UInt8] {
        StoreKey().adding(Int64(bitPattern: seq)).bytes
    }
}

/// A reservation waiting for its engine trigger to be recorded (DECISIONS D13).
public struct DispatchOrder: Sendable, Hashable, Codable {
    /// The deployment to trigger.
    public var deploymentId: String
    /// The idempotency key it completes.
    public var idempotency: IdempotencyScope
}

/// JSON coding of stored values. Foundation's coders are safe to share across threads, so one
/// instance serves every read.
struct RecordCodec: @unchecked Sendable {
    /// The shared instance.
    static let shared = RecordCodec()

    let encoder: JSONEncoder
    let decoder = JSONDecoder()

    init() {
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    func encode(_ value: some Encodable) throws -> [UInt8] {
        Array(try encoder.encode(value))
    }

    func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        try decoder.decode(type, from: Data(bytes))
    }
}

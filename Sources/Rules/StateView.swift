/// The governance state the rules may read: counters, records and idempotency entries, as one
/// consistent view (a read transaction, or the write transaction a decision will commit in).
///
/// Implementations do the I/O; the rules only ask. A view that fails to read must remember the
/// failure and its owner must discard the decision (the rules see a neutral answer).
public protocol StateView {
    /// Requests counted in a rate window.
    func rateCount(_ window: RateWindow) -> Int
    /// Units spent of a daily quota on a UTC day.
    func quotaUsed(_ scope: QuotaScope, day: Int64) -> Int
    /// Deployments of a group in an environment that hold a slot (ACTIVE or IN_PROGRESS).
    func activeDeployments(group: String, environment: String) -> [ActiveDeployment]
    /// How many deployments of a group in an environment hold a slot, and which of them are stale
    /// locks: IN_PROGRESS with a known execution and unchanged since `staleBefore` (REFERENCE §7,
    /// DECISIONS D11). A store answers without reading every slot.
    func slotUsage(group: String, environment: String, staleBefore: Timestamp) -> SlotUsage
    /// A deployment record by id.
    func deployment(id: String) -> DeploymentRecord?
    /// The newest SUCCEEDED deployment of a service in an environment created strictly before
    /// `before`.
    func latestSucceeded(service: String, environment: String, before: Timestamp) -> DeploymentRecord?
    /// The id of the newest SUCCEEDED deployment of a service in an environment (`SUPERSEDED`).
    func latestSuccessId(service: String, environment: String) -> String?
    /// Whether some deployment of `version` of a service SUCCEEDED in an environment (a
    /// promotion's source, REFERENCE §2.10). A store answers from its index of successes.
    func hasSucceeded(service: String, environment: String, version: String) -> Bool
    /// The newest record of a service in an environment, whatever its state or kind.
    func latestDeployment(service: String, environment: String) -> DeploymentRecord?
    /// The insight counters of the hours in `hours` (hours since the epoch, UTC).
    func insightCounts(hours: ClosedRange<Int64>) -> [InsightCount]
    /// The build registered for a service and version.
    func build(service: String, version: String) -> Build?
    /// Whether a build is registered for a service and version (what deploy and validate need;
    /// a store can answer it without reading the build).
    func isRegistered(service: String, version: String) -> Bool
    /// The builds registered for a service, newest registration first.
    func builds(service: String) -> [Build]
    /// Upload capabilities issued for a service and version.
    func uploadCapabilities(service: String, version: String) -> [UploadCapability]
    /// The idempotency record under a scope, expired or not.
    func idempotencyRecord(_ scope: IdempotencyScope) -> IdempotencyRecord?
    /// Deployments matching the query whose group is in `groups` (all groups when nil), newest
    /// first.
    func deployments(matching query: DeploymentQuery, groups: Set<String>?) -> [DeploymentRecord]
}

/// One counter the write path keeps for failure insights: deployments (by recipe), rollbacks (by
/// recipe) or failures (by category) of a delivery group's service created in one hour.
public struct InsightCount: Sendable, Hashable {
    /// What is counted.
    public enum Measure: String, Sendable, Hashable {
        case deploy, rollback, failure
    }

    public var hour: Int64
    public var group: String
    public var service: String
    public var measure: Measure
    /// The recipe id (deploy, rollback) or the failure category (failure).
    public var label: String
    public var count: Int

    /// A counter from its parts.
    public init(hour: Int64, group: String, service: String, measure: Measure, label: String, count: Int) {
        self.hour = hour
        self.group = group
        self.service = service
        self.measure = measure
        self.label = label
        self.count = count
    }
}

/// The slots of a group in an environment: how many are held, and the stale locks among them.
public struct SlotUsage: Sendable, Hashable {
    /// Deployments holding a slot, stale ones included.
    public var holding: Int
    /// The stale locks among them.
    public var stale: [ActiveDeployment]

    /// Usage from its parts.
    public init(holding: Int, stale: [ActiveDeployment]) {
        self.holding = holding
        self.stale = stale
    }
}

extension StateView {
    /// Reads every slot; stores override this with an index.
    public func slotUsage(group: String, environment: String, staleBefore: Timestamp) -> SlotUsage {
        let active = activeDeployments(group: group, environment: environment)
        return SlotUsage(holding: active.count, stale: active.filter { $0.canBeStale && $0.updatedAt <= staleBefore })
    }

    /// The id of the newest SUCCEEDED deployment of a service in an environment; stores override
    /// this to answer from their index without reading the record.
    public func latestSuccessId(service: String, environment: String) -> String? {
        latestSucceeded(service: service, environment: environment, before: Timestamp(microseconds: .max))?.id
    }

    /// Reads the build to answer; stores override this with a cheaper lookup.
    public func isRegistered(service: String, version: String) -> Bool {
        build(service: service, version: version) != nil
    }
}

/// The inputs of a decision that are not policy or state: time, fresh ids, the idempotency key
/// sent, and facts gathered outside the rules.
public struct DecisionContext: Sendable, Hashable, Codable {
    /// Now.
    public var now: Timestamp
    /// Id for the decision.
    public var decisionId: String
    /// Id for a record the decision creates (deployment, build, capability token).
    public var newId: String
    /// The `Idempotency-Key` header: nil when absent; an empty string counts as absent.
    public var idempotencyKey: String?
    /// What the engine readiness probe found, for validate (REFERENCE §4.1 step 15).
    public var engineReadiness: EngineReadiness

    /// A context from its parts.
    public init(
        now: Timestamp, decisionId: String, newId: String, idempotencyKey: String? = nil,
        engineReadiness: EngineReadiness = .notChecked
    ) {
        self.now = now
        self.decisionId = decisionId
        self.newId = newId
        self.idempotencyKey = idempotencyKey
        self.engineReadiness = engineReadiness
    }
}

/// The result of validate's engine readiness preflight, gathered before the rules run.
public enum EngineReadiness: Sendable, Hashable, Codable {
    /// No engine is configured, or the preflight is off.
    case notChecked
    /// The engine answered its health check.
    case ready
    /// The engine did not; the code is one of the `ENGINE_*` codes.
    case unavailable(ContractCode, detail: String)
}

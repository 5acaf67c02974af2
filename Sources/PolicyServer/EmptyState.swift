public import Rules

/// Governance state with nothing in it: no counters, records, builds or idempotency entries.
/// What `eval` decides against when no data directory is given.
public struct EmptyState: StateView {
    /// The empty state.
    public init() {}

    public func rateCount(_ window: RateWindow) -> Int { 0 }
    public func quotaUsed(_ scope: QuotaScope, day: Int64) -> Int { 0 }
    public func activeDeployments(group: String, environment: String) -> [ActiveDeployment] { [] }
    public func deployment(id: String) -> DeploymentRecord? { nil }
    public func latestSucceeded(service: String, environment: String, before: Timestamp) -> DeploymentRecord? { nil }
    public func hasSucceeded(service: String, environment: String, version: String) -> Bool { false }
    public func latestDeployment(service: String, environment: String) -> DeploymentRecord? { nil }
    public func insightCounts(hours: ClosedRange<Int64>) -> [InsightCount] { [] }
    public func build(service: String, version: String) -> Build? { nil }
    public func builds(service: String) -> [Build] { [] }
    public func uploadCapabilities(service: String, version: String) -> [UploadCapability] { [] }
    public func idempotencyRecord(_ scope: IdempotencyScope) -> IdempotencyRecord? { nil }
    public func deployments(matching query: DeploymentQuery, groups: Set<String>?) -> [DeploymentRecord] { [] }
}

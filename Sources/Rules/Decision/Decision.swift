/// The outcome of evaluating one request: allowed or denied, the HTTP status and contract code,
/// a user-safe message, the ordered trail of checks that ran, the state changes to commit, and
/// what an allowed request returns (DECISIONS D12, D14).
///
/// Decisions are values: the same inputs always give an equal decision.
public struct Decision: Sendable, Hashable, Codable {
    /// Unique id of this decision (an input).
    public var decisionId: String
    /// The contract version decided against.
    public var contractVersion: String
    /// What was asked.
    public var action: Action
    /// Whether the request may proceed.
    public var allowed: Bool
    /// HTTP status to answer with.
    public var status: Int
    /// Contract code of a denial; nil when allowed.
    public var code: ContractCode?
    /// User-safe message (never names the engine).
    public var message: String
    /// The specific reason, for operators.
    public var operatorHint: String?
    /// Structured details of a denial, as the contract defines them for some codes.
    public var details: [String: JSONValue]?
    /// Every check that ran, in order, with its outcome; the last failed one decided a denial.
    public var trail: [CheckResult]
    /// State changes to commit with this decision, allowed or denied.
    public var effects: [Effect]
    /// What an allowed request returns.
    public var result: DecisionResult?
    /// True when `result` is a replay of an earlier response under the same idempotency key.
    public var replayed: Bool
}

/// One check in a decision's trail.
public struct CheckResult: Sendable, Hashable, Codable {
    /// Which check.
    public var check: CheckName
    /// How it ended.
    public var outcome: Outcome

    /// How a check ended.
    public enum Outcome: Sendable, Hashable, Codable {
        /// It passed.
        case passed
        /// It failed with this code; the decision is a denial.
        case failed(ContractCode)
        /// It did not apply to this request (for example the engine preflight with no engine).
        case skipped
    }

    /// A trail entry from its parts.
    public init(_ check: CheckName, _ outcome: Outcome) {
        self.check = check
        self.outcome = outcome
    }

    private enum CodingKeys: String, CodingKey { case check, outcome, code }

    /// Reads `{"check": name, "outcome": "passed"|"failed"|"skipped", "code": CODE}`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        check = try c.decode(CheckName.self, forKey: .check)
        switch try c.decode(String.self, forKey: .outcome) {
        case "passed": outcome = .passed
        case "skipped": outcome = .skipped
        default: outcome = .failed(try c.decode(ContractCode.self, forKey: .code))
        }
    }

    /// Writes `{"check": name, "outcome": "passed"|"failed"|"skipped", "code": CODE}`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(check, forKey: .check)
        switch outcome {
        case .passed: try c.encode("passed", forKey: .outcome)
        case .skipped: try c.encode("skipped", forKey: .outcome)
        case .failed(let code):
            try c.encode("failed", forKey: .outcome)
            try c.encode(code, forKey: .code)
        }
    }
}

/// What an allowed decision returns.
public indirect enum DecisionResult: Sendable, Hashable, Codable {
    /// Validate's report.
    case validation(ValidationReport)
    /// One deployment record (deploy, rollback, read).
    case deployment(DeploymentRecord)
    /// A deployment's normalised failures (`GET /v1/deployments/{id}/failures`).
    case failures(DeploymentRecord)
    /// A deployment's derived timeline (`GET /v1/deployments/{id}/timeline`).
    case timeline(DeploymentRecord)
    /// Deployment records, newest first.
    /// Records, newest first, with the ids of those shown as SUPERSEDED (sorted).
    case deployments([DeploymentRecord], superseded: [String] = [])
    /// The policy figures of a service and environment.
    case policySummary(PolicySummary)
    /// An issued upload capability.
    case uploadCapability(UploadCapability)
    /// A registered build.
    case build(Build)
    /// The rate limits now in force.
    case rateLimits(RateLimitsChange)
    /// The CI allowlist now in force.
    case ciPublishers([CIPublisher])
    /// The kill switch now.
    case mutationsDisabled(Bool)
    /// Who the caller is (`/v1/whoami`).
    case principal(Principal)
    /// The service registry.
    case services([ServiceEntry])
    /// The registered builds of a service, newest first.
    case versions(service: String, builds: [Build])
    /// Delivery groups, by id.
    case deliveryGroups([DeliveryGroupView])
    /// One delivery group.
    case deliveryGroup(DeliveryGroupView)
    /// Recipes by id; engine mapping shown to admins only.
    case recipes([Recipe], engineMapping: Bool)
    /// One recipe; engine mapping shown to admins only.
    case recipe(Recipe, engineMapping: Bool)
    /// Settings for display: public, or with the quota defaults for admins.
    case settings(Settings, admin: Bool)
    /// A service's routing row for an environment.
    case route(Route)
    /// A service's routing, by environment id.
    case routes([RouteRow])
    /// A delivery group's bindings, in order.
    case bindings([BindingRow])
    /// A group's binding to an environment.
    case binding(EnvironmentBinding)
    /// Something was deleted (204, no body).
    case deleted
    /// Environments as bound to the groups the caller may see.
    case environments([EnvironmentView])
    /// One environment.
    case environment(EnvironmentView)
    /// An authorised audit query, for the edge to run against the log.
    case auditQuery(AuditQuery)
    /// Promotion validate's answer.
    case promotionValidation(PromotionValidationReport)
    /// A deployment as a read shows it: SUCCEEDED but no longer the newest success of its
    /// service and environment shows the outcome SUPERSEDED (REFERENCE §8.3).
    case deploymentRead(DeploymentRecord, superseded: Bool)
    /// A service's delivery status in one environment.
    case deliveryStatus(DeliveryStatus)
    /// What runs of a service in an environment (nil: nothing known to run).
    case runningState(RunningState?)
    /// What the caller may do with a service.
    case allowedActions(service: String, role: Role, view: Bool, deploy: Bool, rollback: Bool)
    /// Failure insights over a window.
    case failureInsights(FailureInsights)
    /// The configuration sanity report; the edge adds the facts it holds.
    case configSanity
    /// The UI exposure policy.
    case uiExposure(UIExposurePolicy)
}

/// What runs of a service in an environment: the newest SUCCEEDED deployment (REFERENCE §2.9).
public struct RunningState: Sendable, Hashable, Codable {
    public var service: String
    public var environment: String
    public var version: String
    public var deploymentId: String
    public var deploymentKind: DeploymentRecord.Kind
    public var derivedAt: Timestamp
}

/// `GET /v1/services/{service}/delivery-status` (REFERENCE §2.9).
public struct DeliveryStatus: Sendable, Hashable, Codable {
    public var service: String
    public var environment: String
    /// The newest deployment of the service in the environment, whatever its state.
    public var latest: DeploymentRecord?
    public var currentRunning: RunningState?
    /// nil when the service or environment is not deployable by its group.
    public var promotionCandidate: PromotionCandidate?
}

/// Whether the version running in an environment could be promoted to the next one.
public struct PromotionCandidate: Sendable, Hashable, Codable {
    public var eligible: Bool
    /// Why not (a code such as `PROMOTION_AT_HIGHEST_ENVIRONMENT`), when not eligible.
    public var reason: String?
    public var sourceEnvironment: String?
    public var targetEnvironment: String?
    public var version: String?
    public var recipeId: String?
}

/// `GET /v1/insights/failures` (REFERENCE §2.9), from the write path's hourly counters.
public struct FailureInsights: Sendable, Hashable, Codable {
    public var windowDays: Int
    /// The start of the first hour counted.
    public var windowStart: Timestamp
    public var windowEnd: Timestamp
    public var totalDeployments: Int
    public var totalRollbacks: Int
    /// Rollbacks per deployment in ten-thousandths (the reference rounds to four places).
    public var rollbackRateTenThousandths: Int
    /// (key, count), most first, then by key.
    public var failuresByCategory: [KeyCount]
    public var deploymentsByRecipe: [KeyCount]
    public var deploymentsByGroup: [KeyCount]
}

/// One row of an insight breakdown.
public struct KeyCount: Sendable, Hashable, Codable {
    public var key: String
    public var count: Int

    /// A row from its parts.
    public init(key: String, count: Int) {
        self.key = key
        self.count = count
    }
}

/// An environment with its bindings to the delivery groups the caller may see.
public struct EnvironmentView: Sendable, Hashable, Codable {
    public var environment: Environment
    public var bindings: [EnvironmentBinding]
}

/// Validate's answer (REFERENCE §2.3).
public struct ValidationReport: Sendable, Hashable, Codable {
    public var service: String
    public var environment: String
    public var version: String
    /// The routed recipe.
    public var recipeId: String
    public var deliveryGroupId: String
    /// Always true: validate denies unregistered versions.
    public var versionRegistered: Bool
    public var policy: PolicyNumbers
    public var validatedAt: Timestamp
}

/// Promotion validate's answer (REFERENCE §2.10): validate's figures for the target environment.
public struct PromotionValidationReport: Sendable, Hashable, Codable {
    public var intent: PromotionIntent
    /// The recipe routed for the target environment.
    public var recipeId: String
    public var deliveryGroupId: String
    public var policy: PolicyNumbers
    public var validatedAt: Timestamp
}

/// The policy figures of one service and environment (`POST /v1/policy/summary`).
public struct PolicySummary: Sendable, Hashable, Codable {
    public var service: String
    public var environment: String
    public var deliveryGroupId: String
    /// The routed recipe, when routing exists.
    public var recipeId: String?
    public var policy: PolicyNumbers
    /// Rollbacks allowed per day.
    public var dailyRollbackQuota: Int
    /// Rollbacks spent today.
    public var rollbacksUsed: Int
    /// The routed recipe, when routing exists and names a recipe that exists.
    public var resolvedRecipe: Recipe?
    /// The environment (for the routing row of `resolvedRecipe`).
    public var environmentObject: Environment?
    public var generatedAt: Timestamp
}

/// One row of a service's routing (REFERENCE §2.8): an environment and the recipe routed there.
public struct RouteRow: Sendable, Hashable, Codable {
    public var service: String
    public var environment: Environment
    /// nil: nothing routed for the service in this environment.
    public var recipeId: String?
}

/// One binding of a delivery group with its environment's names (REFERENCE §2.8).
public struct BindingRow: Sendable, Hashable, Codable {
    public var binding: EnvironmentBinding
    public var environment: Environment?
}

/// A delivery group as the API shows it: its environments in binding order and its guardrails
/// with the defaults filled in (REFERENCE §2.8).
public struct DeliveryGroupView: Sendable, Hashable, Codable {
    public var group: DeliveryGroup
    /// Bound environment ids, by order index.
    public var environments: [String]
    public var maxConcurrentDeployments: Int
    public var dailyDeployQuota: Int
    public var dailyRollbackQuota: Int

    /// The view of `group` under `policy`.
    public init(_ group: DeliveryGroup, in policy: PolicySnapshot) {
        self.group = group
        self.environments = (policy.bindings[group.id] ?? [:]).values.sorted { ($0.orderIndex, $0.environmentId) < ($1.orderIndex, $1.environmentId) }
            .map(\.environmentId)
        self.maxConcurrentDeployments = group.guardrails.maxConcurrentDeployments.flatMap { $0 > 0 ? $0 : nil } ?? 1
        self.dailyDeployQuota = group.guardrails.dailyDeployQuota.flatMap { $0 > 0 ? $0 : nil } ?? policy.settings.dailyQuotaDeploy
        self.dailyRollbackQuota = group.guardrails.dailyRollbackQuota.flatMap { $0 > 0 ? $0 : nil } ?? policy.settings.dailyQuotaRollback
    }
}

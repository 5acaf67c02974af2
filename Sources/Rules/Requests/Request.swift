/// A request to decide, as the contract defines it; one case per governed endpoint.
public enum Request: Sendable, Hashable, Codable {
    /// `POST /v1/deployments/validate`.
    case validate(DeploymentIntent)
    /// `POST /v1/deployments`.
    case deploy(DeploymentIntent)
    /// `POST /v1/deployments/{id}/rollback`.
    case rollback(deploymentId: String)
    /// `POST /v1/promotions/validate`.
    case validatePromotion(PromotionIntent)
    /// `POST /v1/promotions`.
    case promote(PromotionIntent)
    /// `POST /v1/policy/summary`.
    case policySummary(PolicySummaryQuery)
    /// `POST /v1/builds/upload-capability`.
    case uploadCapability(BuildUploadRequest)
    /// `POST /v1/builds` (needs a matching upload capability).
    case registerBuild(BuildRegistration)
    /// `POST /v1/builds/register` (registers an existing artifact).
    case registerExistingBuild(BuildRegistration)
    /// `PUT /v1/admin/system/rate-limits`.
    case setRateLimits(RateLimitsChange)
    /// `PUT /v1/admin/system/ci-publishers`.
    case setCIPublishers([CIPublisher])
    /// `PUT` or `PATCH /v1/admin/system/mutations-disabled`.
    case setMutationsDisabled(KillSwitchChange)
    /// `PUT /v1/admin/system/ui-exposure-policy`.
    case setUIExposure(UIExposurePolicy)
    /// `GET /v1/deployments/{id}`, its `/failures` or its `/timeline`.
    case readDeployment(id: String, view: DeploymentView = .record)
    /// `GET /v1/deployments`.
    case listDeployments(DeploymentQuery)
    /// The catalogue and settings reads (`/v1/whoami`, `/v1/services`, `/v1/recipes`, …).
    case read(CatalogRead)
    /// A change to policy data: recipes, delivery groups, routing, bindings (REFERENCE §2.8).
    case changePolicy(PolicyChange)
    /// `POST /v1/spinnaker/webhook/check`: may this Spinnaker execution deploy? Changes nothing.
    case spinnakerCheck(SpinnakerExecution)
    /// `POST /v1/spinnaker/webhook/admit`: admit this Spinnaker execution: spend its quota, take
    /// its slot and record it, keyed by the execution id.
    case spinnakerAdmit(SpinnakerExecution)
    /// An API gateway's question about a request it is about to forward (`/v1/gateway/...`).
    case gateway(GatewayCheck)

    /// The action name used in decisions, metrics and audit.
    public var action: Action {
        switch self {
        case .validate: .validate
        case .deploy: .deploy
        case .rollback: .rollback
        case .validatePromotion: .validatePromotion
        case .promote: .promote
        case .policySummary: .policySummary
        case .uploadCapability: .uploadCapability
        case .registerBuild: .registerBuild
        case .registerExistingBuild: .registerExistingBuild
        case .setRateLimits: .setRateLimits
        case .setCIPublishers: .setCIPublishers
        case .setMutationsDisabled: .setMutationsDisabled
        case .setUIExposure: .setUIExposure
        case .readDeployment: .readDeployment
        case .listDeployments: .listDeployments
        case .read: .read
        case .changePolicy: .changePolicy
        case .spinnakerCheck: .spinnakerCheck
        case .spinnakerAdmit: .spinnakerAdmit
        case .gateway: .gatewayCheck
        }
    }

    /// Method and path, as idempotency records are scoped (REFERENCE §6).
    public var endpoint: String {
        switch self {
        case .validate: "POST /v1/deployments/validate"
        case .deploy: "POST /v1/deployments"
        case .rollback(let id): "POST /v1/deployments/\(id)/rollback"
        case .validatePromotion: "POST /v1/promotions/validate"
        case .promote: "POST /v1/promotions"
        case .policySummary: "POST /v1/policy/summary"
        case .uploadCapability: "POST /v1/builds/upload-capability"
        case .registerBuild: "POST /v1/builds"
        case .registerExistingBuild: "POST /v1/builds/register"
        case .setRateLimits: "PUT /v1/admin/system/rate-limits"
        case .setCIPublishers: "PUT /v1/admin/system/ci-publishers"
        case .setMutationsDisabled: "PUT /v1/admin/system/mutations-disabled"
        case .setUIExposure: "PUT /v1/admin/system/ui-exposure-policy"
        case .readDeployment(let id, .record): "GET /v1/deployments/\(id)"
        case .readDeployment(let id, let view): "GET /v1/deployments/\(id)/\(view.rawValue)"
        case .listDeployments: "GET /v1/deployments"
        case .read(let read): "GET \(read.path)"
        case .changePolicy(let change): change.endpoint
        case .spinnakerCheck: "POST /v1/spinnaker/webhook/check"
        case .spinnakerAdmit: "POST /v1/spinnaker/webhook/admit"
        case .gateway(let check): "\(check.method) \(check.path)"
        }
    }

    /// Whether deciding it may change state (it then goes through the store's write path).
    public var isMutating: Bool { action.isMutating }
}

/// The governed actions.
public enum Action: String, Sendable, Hashable, Codable, CaseIterable {
    case validate, deploy, rollback
    case validatePromotion = "validate_promotion"
    case promote
    case policySummary = "policy_summary"
    case uploadCapability = "upload_capability"
    case registerBuild = "register_build"
    case registerExistingBuild = "register_existing_build"
    case setRateLimits = "set_rate_limits"
    case setCIPublishers = "set_ci_publishers"
    case setMutationsDisabled = "set_mutations_disabled"
    case setUIExposure = "set_ui_exposure"
    case readDeployment = "read_deployment"
    case listDeployments = "list_deployments"
    case read
    case changePolicy = "change_policy"
    case spinnakerCheck = "spinnaker_check"
    case spinnakerAdmit = "spinnaker_admit"
    case gatewayCheck = "gateway_check"

    /// Whether the action may change state.
    public var isMutating: Bool {
        switch self {
        case .validate, .validatePromotion, .policySummary, .readDeployment, .listDeployments, .read, .spinnakerCheck, .gatewayCheck: false
        default: true
        }
    }
}

/// The body of validate and deploy (REFERENCE §2.2).
public struct DeploymentIntent: Sendable, Hashable, Codable {
    /// Service name.
    public var service: String
    /// Environment id.
    public var environment: String
    /// Version, semver-like.
    public var version: String
    /// Why (at most 240 characters; blank allowed).
    public var changeSummary: String
    /// Optional; must equal the routed recipe when given.
    public var recipeId: String?

    /// An intent from its parts.
    public init(service: String, environment: String, version: String, changeSummary: String, recipeId: String? = nil) {
        self.service = service
        self.environment = environment
        self.version = version
        self.changeSummary = changeSummary
        self.recipeId = recipeId
    }

    /// Canonical form for idempotency: the contract's field list, strings whitespace-normalised,
    /// keys sorted (REFERENCE §6).
    public var fingerprint: String {
        CanonicalJSON.object([
            ("changeSummary", .string(changeSummary)), ("environment", .string(environment)),
            ("recipeId", recipeId.map { .string($0) } ?? .null), ("service", .string(service)),
            ("version", .string(version)),
        ])
    }
}

/// The body of both promotion endpoints (REFERENCE §2.10): deploy a version that succeeded in
/// `sourceEnvironment` to the next environment of the delivery group's order.
public struct PromotionIntent: Sendable, Hashable, Codable {
    /// Service name.
    public var service: String
    /// Where the version succeeded.
    public var sourceEnvironment: String
    /// Where it is to be deployed: the environment after `sourceEnvironment`.
    public var targetEnvironment: String
    /// Version, semver-like.
    public var version: String
    /// Why (at most 240 characters; blank allowed).
    public var changeSummary: String

    /// An intent from its parts.
    public init(service: String, sourceEnvironment: String, targetEnvironment: String, version: String, changeSummary: String) {
        self.service = service
        self.sourceEnvironment = sourceEnvironment
        self.targetEnvironment = targetEnvironment
        self.version = version
        self.changeSummary = changeSummary
    }

    /// Canonical form for idempotency: the reference's promotion field list, strings
    /// whitespace-normalised, keys sorted (REFERENCE §6).
    public var fingerprint: String {
        CanonicalJSON.object([
            ("changeSummary", .string(changeSummary)), ("service", .string(service)),
            ("source_environment", .string(sourceEnvironment)), ("target_environment", .string(targetEnvironment)),
            ("version", .string(version)),
        ])
    }
}

/// The body of `POST /v1/policy/summary`.
public struct PolicySummaryQuery: Sendable, Hashable, Codable {
    /// Service name.
    public var service: String
    /// Environment id.
    public var environment: String
    /// Optional recipe; must equal the routed one when given.
    public var recipeId: String?

    /// A query from its parts.
    public init(service: String, environment: String, recipeId: String? = nil) {
        self.service = service
        self.environment = environment
        self.recipeId = recipeId
    }
}

/// The body of `POST /v1/builds/upload-capability` (REFERENCE §2.6).
public struct BuildUploadRequest: Sendable, Hashable, Codable {
    public var service: String
    public var version: String
    public var expectedSizeBytes: Int64
    public var expectedSha256: String
    public var contentType: String

    /// A request from its parts.
    public init(service: String, version: String, expectedSizeBytes: Int64, expectedSha256: String, contentType: String) {
        self.service = service
        self.version = version
        self.expectedSizeBytes = expectedSizeBytes
        self.expectedSha256 = expectedSha256
        self.contentType = contentType
    }

    /// Canonical form for idempotency.
    public var fingerprint: String {
        CanonicalJSON.object([
            ("contentType", .string(contentType)), ("expectedSha256", .string(expectedSha256)),
            ("expectedSizeBytes", .int(expectedSizeBytes)), ("service", .string(service)),
            ("version", .string(version)),
        ])
    }
}

/// The body of both build registration endpoints (REFERENCE §2.6). Which fields are required
/// differs by endpoint; the request decoder enforces presence, the rules the content.
public struct BuildRegistration: Sendable, Hashable, Codable {
    public var service: String
    public var version: String
    public var artifactRef: String
    public var gitSha: String
    public var gitBranch: String
    public var ciProvider: String
    public var ciRunId: String
    /// As sent; must parse as ISO-8601.
    public var builtAt: String
    public var sha256: String?
    public var sizeBytes: Int64?
    public var contentType: String?
    public var checksumSha256: String?
    public var repo: String?
    public var actor: String?
    public var commitURL: String?
    public var runURL: String?

    /// A registration from its parts.
    public init(
        service: String, version: String, artifactRef: String, gitSha: String, gitBranch: String,
        ciProvider: String, ciRunId: String, builtAt: String, sha256: String? = nil, sizeBytes: Int64? = nil,
        contentType: String? = nil, checksumSha256: String? = nil, repo: String? = nil, actor: String? = nil,
        commitURL: String? = nil, runURL: String? = nil
    ) {
        self.service = service
        self.version = version
        self.artifactRef = artifactRef
        self.gitSha = gitSha
        self.gitBranch = gitBranch
        self.ciProvider = ciProvider
        self.ciRunId = ciRunId
        self.builtAt = builtAt
        self.sha256 = sha256
        self.sizeBytes = sizeBytes
        self.contentType = contentType
        self.checksumSha256 = checksumSha256
        self.repo = repo
        self.actor = actor
        self.commitURL = commitURL
        self.runURL = runURL
    }

    /// Canonical form for idempotency: the contract's field list (REFERENCE §6), `built_at`
    /// normalised to UTC when it parses.
    public var fingerprint: String {
        func s(_ v: String?) -> CanonicalJSON { v.map { .string($0) } ?? .null }
        let built = Timestamp(iso8601: builtAt)?.iso8601 ?? builtAt
        return CanonicalJSON.object([
            ("artifactRef", .string(artifactRef)), ("built_at", .string(built)), ("ci_provider", .string(ciProvider)),
            ("ci_run_id", .string(ciRunId)), ("commit_url", s(commitURL)), ("contentType", s(contentType)),
            ("git_branch", .string(gitBranch)), ("git_sha", .string(gitSha)), ("repo", s(repo)),
            ("run_url", s(runURL)), ("service", .string(service)), ("sha256", s(sha256)),
            ("sizeBytes", sizeBytes.map { .int($0) } ?? .null), ("version", .string(version)),
        ])
    }
}

/// The body of `PUT /v1/admin/system/rate-limits`.
public struct RateLimitsChange: Sendable, Hashable, Codable {
    public var readRPM: Int
    public var mutateRPM: Int
    public var dailyQuotaBuildRegister: Int

    /// A change from its parts.
    public init(readRPM: Int, mutateRPM: Int, dailyQuotaBuildRegister: Int) {
        self.readRPM = readRPM
        self.mutateRPM = mutateRPM
        self.dailyQuotaBuildRegister = dailyQuotaBuildRegister
    }
}

/// The body of `PUT /v1/admin/system/mutations-disabled`.
public struct KillSwitchChange: Sendable, Hashable, Codable {
    /// The new value of the kill switch.
    public var mutationsDisabled: Bool
    /// Why, for the audit log.
    public var reason: String?

    /// A change from its parts.
    public init(mutationsDisabled: Bool, reason: String? = nil) {
        self.mutationsDisabled = mutationsDisabled
        self.reason = reason
    }
}

/// Filters of `GET /v1/deployments`.
public struct DeploymentQuery: Sendable, Hashable, Codable {
    public var service: String?
    public var environment: String?
    public var state: DeploymentRecord.State?
    /// At most this many records, 1...500 (checked by the rules); nil: all (the store's own reads;
    /// the API sends 200 when the caller gives none).
    public var limit: Int?
    /// Only records older than this cursor (`X-Next-Before` of the previous page): a record's
    /// creation time and id, so a page can follow a record that has since been removed.
    public var before: Cursor?

    /// A position in the newest-first order: `<createdAt in microseconds>.<id>`.
    public struct Cursor: Sendable, Hashable, Codable {
        public var createdAt: Timestamp
        public var id: String

        /// The cursor just after `record`.
        public init(after record: DeploymentRecord) {
            createdAt = record.createdAt
            id = record.id
        }

        /// The cursor `text` names, if well formed.
        public init?(_ text: String) {
            guard let dot = text.firstIndex(of: "."), let micros = Int64(text[..<dot]) else { return nil }
            let id = String(text[text.index(after: dot)...])
            guard !id.isEmpty, id.utf8.count <= 128 else { return nil }
            createdAt = Timestamp(microseconds: micros)
            self.id = id
        }

        /// The cursor as `X-Next-Before` carries it.
        public var text: String { "\(createdAt.microseconds).\(id)" }
    }

    /// A query from its parts.
    public init(service: String? = nil, environment: String? = nil, state: DeploymentRecord.State? = nil, limit: Int? = nil, before: Cursor? = nil) {
        self.service = service
        self.environment = environment
        self.state = state
        self.limit = limit
        self.before = before
    }
}

/// A read of the catalogue or of settings (REFERENCE §2.7–§2.9).
public enum CatalogRead: Sendable, Hashable, Codable {
    /// `GET /v1/whoami`.
    case whoami
    /// `GET /v1/services`.
    case services
    /// `GET /v1/services/{service}/versions`.
    case serviceVersions(service: String)
    /// `GET /v1/delivery-groups`.
    case deliveryGroups
    /// `GET /v1/delivery-groups/{id}`.
    case deliveryGroup(id: String)
    /// `GET /v1/recipes`.
    case recipes
    /// `GET /v1/recipes/{id}`.
    case recipe(id: String)
    /// `GET /v1/builds?service=&version=`.
    case build(service: String, version: String)
    /// `GET /v1/settings/public`.
    case publicSettings
    /// `GET /v1/settings/admin` (admins).
    case adminSettings
    /// `GET /v1/admin/system/rate-limits` (admins).
    case rateLimits
    /// `GET /v1/admin/system/ci-publishers` (admins).
    case ciPublishers
    /// `GET /v1/admin/system/mutations-disabled` (admins).
    case mutationsDisabled
    /// `GET /v1/environments` (non-admins see their groups' environments only).
    case environments
    /// `GET /v1/environments/{id}`.
    case environment(id: String)
    /// `GET /v1/audit/events` (admins).
    case auditEvents(AuditQuery)
    /// `GET /v1/admin/services/{service}/environments` (admins): the service's routing.
    case serviceRoutes(service: String)
    /// `GET /v1/admin/delivery-groups/{group}/environments` (admins): the group's bindings.
    case groupBindings(group: String)
    /// `GET /v1/services/{service}/delivery-status?environment=`.
    case deliveryStatus(service: String, environment: String)
    /// `GET /v1/services/{service}/running?environment=`.
    case runningState(service: String, environment: String)
    /// `GET /v1/services/{service}/allowed-actions`.
    case allowedActions(service: String)
    /// `GET /v1/insights/failures`.
    case failureInsights(InsightsQuery)
    /// `GET /v1/config/sanity`.
    case configSanity
    /// `GET /v1/ui/policy/ui-exposure`.
    case uiExposure
    /// `GET /v1/admin/system/ui-exposure-policy` (admins).
    case adminUIExposure

    /// The path read.
    public var path: String {
        switch self {
        case .whoami: "/v1/whoami"
        case .services: "/v1/services"
        case .serviceVersions(let service): "/v1/services/\(service)/versions"
        case .deliveryGroups: "/v1/delivery-groups"
        case .deliveryGroup(let id): "/v1/delivery-groups/\(id)"
        case .recipes: "/v1/recipes"
        case .recipe(let id): "/v1/recipes/\(id)"
        case .build: "/v1/builds"
        case .publicSettings: "/v1/settings/public"
        case .adminSettings: "/v1/settings/admin"
        case .rateLimits: "/v1/admin/system/rate-limits"
        case .ciPublishers: "/v1/admin/system/ci-publishers"
        case .mutationsDisabled: "/v1/admin/system/mutations-disabled"
        case .environments: "/v1/environments"
        case .environment(let id): "/v1/environments/\(id)"
        case .auditEvents: "/v1/audit/events"
        case .serviceRoutes(let service): "/v1/admin/services/\(service)/environments"
        case .groupBindings(let group): "/v1/admin/delivery-groups/\(group)/environments"
        case .deliveryStatus(let service, _): "/v1/services/\(service)/delivery-status"
        case .runningState(let service, _): "/v1/services/\(service)/running"
        case .allowedActions(let service): "/v1/services/\(service)/allowed-actions"
        case .failureInsights: "/v1/insights/failures"
        case .configSanity: "/v1/config/sanity"
        case .uiExposure: "/v1/ui/policy/ui-exposure"
        case .adminUIExposure: "/v1/admin/system/ui-exposure-policy"
        }
    }

    /// Whether only platform admins may read it (REFERENCE §4.5: role checked after the read window).
    public var adminOnly: Bool {
        switch self {
        case .adminSettings, .rateLimits, .ciPublishers, .mutationsDisabled, .auditEvents, .serviceRoutes, .groupBindings, .adminUIExposure: true
        default: false
        }
    }
}

/// Filters of `GET /v1/insights/failures` (REFERENCE §2.9).
public struct InsightsQuery: Sendable, Hashable, Codable {
    /// 1...30 (checked by the rules); 7 when not given.
    public var windowDays: Int
    public var groupId: String?
    public var service: String?

    /// A query from its parts.
    public init(windowDays: Int = 7, groupId: String? = nil, service: String? = nil) {
        self.windowDays = windowDays
        self.groupId = groupId
        self.service = service
    }
}

/// Filters of `GET /v1/audit/events` (REFERENCE §2.9) and its cursor.
public struct AuditQuery: Sendable, Hashable, Codable {
    public var eventType: String?
    public var deliveryGroupId: String?
    public var startTime: Timestamp?
    public var endTime: Timestamp?
    /// 1...500 (checked by the rules); 200 when not given.
    public var limit: Int
    /// The cursor of the previous page (its last entry's sequence number): only entries after
    /// that one in the page order — a smaller sequence number, or, when filtered, a smaller
    /// (timestamp, sequence).
    public var before: UInt64?

    /// A query from its parts.
    public init(eventType: String? = nil, deliveryGroupId: String? = nil, startTime: Timestamp? = nil, endTime: Timestamp? = nil, limit: Int = 200, before: UInt64? = nil) {
        self.eventType = eventType
        self.deliveryGroupId = deliveryGroupId
        self.startTime = startTime
        self.endTime = endTime
        self.limit = limit
        self.before = before
    }
}

/// Which view of a deployment a read asks for: the record (REFERENCE §8.1), its normalised
/// failures, or its derived timeline (§8.3).
public enum DeploymentView: String, Sendable, Hashable, Codable {
    case record, failures, timeline
}

@testable import Rules

/// The demo policy, principals, records and builds every suite starts from, plus the
/// `decide` helper that evaluates a request with fixed ids and time.
///
/// Policy (REFERENCE §2.8): group `default` owns `demo-service` (and `ghost-service`, which the
/// registry does not list), owned by `owner@example.com`; group `payments` owns `payments-api`.
/// Recipes: `default` (active, allowed by group and registry), `legacy` (deprecated), `canary`
/// (allowed by the group, not in the registry entry), `bluegreen` (in the registry entry, not
/// allowed by the group). Environments: `sandbox` (active), `staging` (binding disabled),
/// `retired-env`, `disabled-env` (lifecycle disabled), `prod` (not bound to `default`).
enum Fixtures {
    /// 2026-01-01T00:00:00Z.
    static let now = Timestamp(seconds: 1_767_225_600)
    /// A valid sha256 (64 hex digits).
    static let sha256 = String(repeating: "ab", count: 32)
    /// A git commit.
    static let gitSha = "0123456789abcdef0123456789abcdef01234567"
    /// Id of the decision and of whatever record a decision creates.
    static let decisionId = "decision-1"
    static let newId = "new-1"

    // MARK: Policy

    static let defaultRecipe = Recipe(
        id: "default", name: "Default", spinnakerApplication: "demo-app", deployPipeline: "demo-deploy",
        rollbackPipeline: "rollback-demo-service", effectiveBehaviorSummary: "Rolling deploy.", revision: 3)
    static let legacyRecipe = Recipe(
        id: "legacy", name: "Legacy", spinnakerApplication: "demo-app", deployPipeline: "legacy-deploy",
        effectiveBehaviorSummary: "Old deploy.", status: .deprecated)
    static let canaryRecipe = Recipe(
        id: "canary", name: "Canary", spinnakerApplication: "demo-app", deployPipeline: "demo-deploy-canary",
        effectiveBehaviorSummary: "Canary deploy.")
    static let bluegreenRecipe = Recipe(
        id: "bluegreen", name: "Blue/green", spinnakerApplication: "demo-app", deployPipeline: "demo-deploy-bluegreen",
        effectiveBehaviorSummary: "Blue/green deploy.")

    static let defaultGroup = DeliveryGroup(
        id: "default", name: "Default", owners: ["owner@example.com"], services: ["demo-service", "ghost-service"],
        allowedRecipes: ["default", "legacy", "canary"])
    static let paymentsGroup = DeliveryGroup(
        id: "payments", name: "Payments", owners: ["payments-owner@example.com"], services: ["payments-api"],
        allowedRecipes: ["default"])

    /// The allowlisted CI publisher the `ci` principal matches.
    static let ciMain = CIPublisher(name: "ci-main", provider: .github, issuers: ["https://ci.example"], subjects: ["ci-bot"])

    static let demoEnvironments = ["sandbox", "staging", "retired-env", "disabled-env", "prod"]

    static let policy = PolicySnapshot(
        deliveryGroups: [defaultGroup, paymentsGroup],
        recipes: [defaultRecipe, legacyRecipe, canaryRecipe, bluegreenRecipe],
        services: [
            ServiceEntry(
                name: "demo-service", allowedRecipes: ["default", "legacy", "bluegreen"],
                allowedArtifactSources: ["s3://artifacts/demo-service/"]),
            ServiceEntry(name: "payments-api", allowedRecipes: ["default"]),
        ],
        environments: [
            Environment(id: "sandbox"),
            Environment(id: "staging"),
            Environment(id: "retired-env", lifecycle: .retired),
            Environment(id: "disabled-env", lifecycle: .disabled),
            Environment(id: "prod", kind: .prod),
        ],
        bindings: [
            EnvironmentBinding(deliveryGroupId: "default", environmentId: "sandbox"),
            EnvironmentBinding(deliveryGroupId: "default", environmentId: "staging", isEnabled: false, orderIndex: 1),
            EnvironmentBinding(deliveryGroupId: "default", environmentId: "retired-env", orderIndex: 2),
            EnvironmentBinding(deliveryGroupId: "default", environmentId: "disabled-env", orderIndex: 3),
            EnvironmentBinding(deliveryGroupId: "payments", environmentId: "sandbox"),
        ],
        routes: demoEnvironments.map { Route(service: "demo-service", environment: $0, recipeId: "default") } + [
            Route(service: "ghost-service", environment: "sandbox", recipeId: "default"),
            Route(service: "payments-api", environment: "sandbox", recipeId: "default"),
        ],
        settings: Settings(ciPublishers: [ciMain])
    )

    /// The demo policy changed by `change`.
    static func policy(_ change: (inout PolicySnapshot) -> Void) -> PolicySnapshot {
        var p = policy
        change(&p)
        return p
    }

    /// The demo policy with `demo-service` in `environment` routed to `recipeId`.
    static func routing(_ recipeId: String, environment: String = "sandbox", service: String = "demo-service") -> PolicySnapshot {
        policy { $0.routes[service, default: [:]][environment] = Route(service: service, environment: environment, recipeId: recipeId) }
    }

    /// The demo policy with the kill switch on.
    static let killSwitchOn = policy { $0.settings.mutationsDisabled = true }

    // MARK: Principals

    static func principal(
        sub: String? = nil, email: String? = nil, customEmail: String? = nil, roles: [String]
    ) -> Principal {
        Principal(claims: Claims(subject: sub, email: email, customEmail: customEmail, roles: .values(roles)))
    }

    static let admin = principal(sub: "admin-sub", email: "admin@example.com", roles: ["dxcp-platform-admins"])
    static let owner = principal(sub: "owner-sub", email: "owner@example.com", roles: ["dxcp-delivery-owners"])
    /// A delivery owner who owns no group.
    static let nonMemberOwner = principal(sub: "stranger-sub", email: "stranger@example.com", roles: ["dxcp-delivery-owners"])
    /// The owner of `payments` only.
    static let paymentsOwner = principal(
        sub: "payments-sub", email: "payments-owner@example.com", roles: ["dxcp-delivery-owners"])
    static let observer = principal(sub: "observer-sub", email: "observer@example.com", roles: ["dxcp-observers"])
    /// A CI token matching `ci-main`.
    static let ci = Principal(claims: Claims(
        subject: "ci-bot", issuer: "https://ci.example", audiences: ["https://dxcp-api"], authorizedParty: "ci-client",
        roles: .values(["dxcp-ci-publishers"])))
    /// A CI token from an issuer no publisher lists.
    static let rogueCI = Principal(claims: Claims(
        subject: "rogue-bot", issuer: "https://rogue.example", roles: .values(["dxcp-ci-publishers"])))
    static let noRole = principal(sub: "nobody-sub", email: "nobody@example.com", roles: ["some-other-group"])
    static let rolesNotArray = Principal(claims: Claims(subject: "odd-sub", email: "odd@example.com", roles: .notAnArray))
    static let rolesAbsent = Principal(claims: Claims(subject: "bare-sub", email: "bare@example.com", roles: .absent))
    /// A delivery owner token with neither email nor subject: no principal claim.
    static let anonymousOwner = principal(roles: ["dxcp-delivery-owners"])

    // MARK: Requests

    static func intent(
        service: String = "demo-service", environment: String = "sandbox", version: String = "1.0.0",
        changeSummary: String = "local deploy", recipeId: String? = nil
    ) -> DeploymentIntent {
        DeploymentIntent(service: service, environment: environment, version: version, changeSummary: changeSummary, recipeId: recipeId)
    }

    static func registration(
        service: String = "demo-service", version: String = "2.0.0", artifactRef: String? = nil, gitSha: String = gitSha,
        builtAt: String = "2025-12-31T23:00:00Z", sha256: String? = Fixtures.sha256, sizeBytes: Int64? = 1024,
        contentType: String? = "application/zip", commitURL: String? = nil, runURL: String? = nil
    ) -> BuildRegistration {
        BuildRegistration(
            service: service, version: version,
            artifactRef: artifactRef ?? "s3://artifacts/\(service)/\(service)-\(version).zip", gitSha: gitSha,
            gitBranch: "main", ciProvider: "github", ciRunId: "run-1", builtAt: builtAt, sha256: sha256,
            sizeBytes: sizeBytes, contentType: contentType, commitURL: commitURL, runURL: runURL)
    }

    static func upload(
        service: String = "demo-service", version: String = "2.0.0", size: Int64 = 1024, sha256: String = Fixtures.sha256,
        contentType: String = "application/zip"
    ) -> BuildUploadRequest {
        BuildUploadRequest(service: service, version: version, expectedSizeBytes: size, expectedSha256: sha256, contentType: contentType)
    }

    // MARK: Records

    static func build(service: String = "demo-service", version: String, gitSha: String = gitSha) -> Build {
        Build(
            id: "build-\(service)-\(version)", service: service, version: version,
            artifactRef: "s3://artifacts/\(service)/\(service)-\(version).zip", gitSha: gitSha, gitBranch: "main",
            ciProvider: "github", ciRunId: "run-0", builtAt: now.adding(seconds: -7200), sha256: sha256, sizeBytes: 1024,
            contentType: "application/zip", checksumSha256: nil, repo: nil, actor: nil, ciPublisher: "ci-main",
            commitURL: nil, runURL: nil, registeredAt: now.adding(seconds: -3600))
    }

    static func capability(
        service: String = "demo-service", version: String = "2.0.0", token: String = "cap-1", size: Int64 = 1024,
        sha256: String = Fixtures.sha256, contentType: String = "application/zip", expiresAt: Timestamp = now.adding(seconds: 600)
    ) -> UploadCapability {
        UploadCapability(
            token: token, service: service, version: version, expectedSizeBytes: size, expectedSha256: sha256,
            expectedContentType: contentType, expiresAt: expiresAt, actorId: "ci-bot")
    }

    static func record(
        id: String, service: String = "demo-service", environment: String = "sandbox", version: String = "1.0.0",
        state: DeploymentRecord.State = .succeeded, kind: DeploymentRecord.Kind = .rollForward, rollbackOf: String? = nil,
        createdAt: Timestamp = now.adding(seconds: -3600), group: String = "default", recipeId: String = "default",
        spinnakerApplication: String = "demo-app", spinnakerPipeline: String = "demo-deploy"
    ) -> DeploymentRecord {
        DeploymentRecord(
            id: id, service: service, environment: environment, version: version, sourceEnvironment: nil,
            recipeId: recipeId, recipeRevision: 1, effectiveBehaviorSummary: "Rolling deploy.", state: state, kind: kind,
            changeSummary: "change \(id)", createdAt: createdAt, updatedAt: createdAt, rollbackOf: rollbackOf,
            deliveryGroupId: group, failures: [], intentCorrelationId: "key-\(id)", engineExecutionId: nil,
            engineExecutionURL: nil, spinnakerApplication: spinnakerApplication, spinnakerPipeline: spinnakerPipeline,
            actor: ActorIdentity(principal: owner, role: .deliveryOwner, engineUser: "owner@example.com"),
            policySnapshot: PolicyNumbers(
                maxConcurrentDeployments: 1, currentConcurrentDeployments: 0, dailyDeployQuota: 25, deploymentsUsed: 0,
                dailyQuotaBuildRegister: 50))
    }
}

// MARK: - State

/// An in-memory ``StateView``: plain dictionaries the tests fill.
struct InMemoryState: StateView, Hashable, Sendable {
    struct QuotaKey: Hashable, Sendable {
        var scope: QuotaScope
        var day: Int64
    }

    struct SlotKey: Hashable, Sendable {
        var group: String
        var environment: String
    }

    struct BuildKey: Hashable, Sendable {
        var service: String
        var version: String
    }

    var rateCounts: [RateWindow: Int] = [:]
    var quotaCounts: [QuotaKey: Int] = [:]
    var active: [SlotKey: [ActiveDeployment]] = [:]
    var records: [String: DeploymentRecord] = [:]
    var builds: [BuildKey: Build] = [:]
    var capabilities: [BuildKey: [UploadCapability]] = [:]
    var idempotency: [IdempotencyScope: IdempotencyRecord] = [:]

    /// Builds registered for `demo-service` 1.0.0–1.0.2, `ghost-service` 1.0.0 and `payments-api` 1.0.0.
    static let registered: InMemoryState = {
        var s = InMemoryState()
        for v in ["1.0.0", "1.0.1", "1.0.2"] { s.add(Fixtures.build(version: v)) }
        s.add(Fixtures.build(service: "ghost-service", version: "1.0.0"))
        s.add(Fixtures.build(service: "payments-api", version: "1.0.0"))
        return s
    }()

    // MARK: Filling

    mutating func add(_ build: Build) { builds[BuildKey(service: build.service, version: build.version)] = build }

    mutating func add(_ record: DeploymentRecord) { records[record.id] = record }

    mutating func add(_ capability: UploadCapability) {
        capabilities[BuildKey(service: capability.service, version: capability.version), default: []].append(capability)
    }

    mutating func setRate(_ actor: String, _ bucket: RateWindow.Bucket, _ count: Int, at time: Timestamp = Fixtures.now) {
        rateCounts[RateWindow(actorId: actor, bucket: bucket, minute: time.minute)] = count
    }

    mutating func setQuota(_ kind: QuotaScope.Kind, _ key: String, _ used: Int, at time: Timestamp = Fixtures.now) {
        quotaCounts[QuotaKey(scope: QuotaScope(kind: kind, key: key), day: time.day)] = used
    }

    mutating func hold(
        _ id: String, group: String = "default", environment: String = "sandbox", state: DeploymentRecord.State = .inProgress,
        updatedAt: Timestamp = Fixtures.now.adding(seconds: -60)
    ) {
        active[SlotKey(group: group, environment: environment), default: []]
            .append(ActiveDeployment(id: id, state: state, updatedAt: updatedAt))
    }

    mutating func remember(_ scope: IdempotencyScope, _ record: IdempotencyRecord) { idempotency[scope] = record }

    /// This state changed by `change`.
    func with(_ change: (inout InMemoryState) -> Void) -> InMemoryState {
        var s = self
        change(&s)
        return s
    }

    // MARK: StateView

    func rateCount(_ window: RateWindow) -> Int { rateCounts[window] ?? 0 }

    func quotaUsed(_ scope: QuotaScope, day: Int64) -> Int { quotaCounts[QuotaKey(scope: scope, day: day)] ?? 0 }

    func activeDeployments(group: String, environment: String) -> [ActiveDeployment] {
        (active[SlotKey(group: group, environment: environment)] ?? []).filter { $0.state.holdsSlot }
    }

    func deployment(id: String) -> DeploymentRecord? { records[id] }

    /// The newest SUCCEEDED record of service + environment created strictly before `before`.
    func latestSucceeded(service: String, environment: String, before: Timestamp) -> DeploymentRecord? {
        records.values
            .filter { $0.service == service && $0.environment == environment && $0.state == .succeeded && $0.createdAt < before }
            .max { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    func latestDeployment(service: String, environment: String) -> DeploymentRecord? {
        records.values.filter { $0.service == service && $0.environment == environment }.max { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// The counters a store keeps, computed from the records.
    func insightCounts(hours: ClosedRange<Int64>) -> [InsightCount] {
        var counts: [InsightCount: Int] = [:]
        for r in records.values where hours.contains(r.createdAt.hour) {
            let measure: InsightCount.Measure = r.rollbackOf != nil || r.kind == .rollback ? .rollback : .deploy
            counts[InsightCount(hour: r.createdAt.hour, group: r.deliveryGroupId, service: r.service, measure: measure, label: r.recipeId, count: 0), default: 0] += 1
            for f in r.failures {
                counts[InsightCount(hour: r.createdAt.hour, group: r.deliveryGroupId, service: r.service, measure: .failure, label: f.category.rawValue, count: 0), default: 0] += 1
            }
        }
        return counts.map { key, n in
            var c = key
            c.count = n
            return c
        }
    }

    func hasSucceeded(service: String, environment: String, version: String) -> Bool {
        records.values.contains { $0.service == service && $0.environment == environment && $0.version == version && $0.state == .succeeded }
    }

    func build(service: String, version: String) -> Build? { builds[BuildKey(service: service, version: version)] }
    func builds(service: String) -> [Build] {
        builds.values.filter { $0.service == service }.sorted { $0.registeredAt > $1.registeredAt }
    }

    func uploadCapabilities(service: String, version: String) -> [UploadCapability] {
        capabilities[BuildKey(service: service, version: version)] ?? []
    }

    func idempotencyRecord(_ scope: IdempotencyScope) -> IdempotencyRecord? { idempotency[scope] }

    func deployments(matching query: DeploymentQuery, groups: Set<String>?) -> [DeploymentRecord] {
        records.values
            .filter { r in
                (query.service.map { $0 == r.service } ?? true) && (query.environment.map { $0 == r.environment } ?? true)
                    && (query.state.map { $0 == r.state } ?? true) && (groups.map { $0.contains(r.deliveryGroupId) } ?? true)
            }
            .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
            .filter { r in query.before.map { ($0.createdAt, $0.id) > (r.createdAt, r.id) } ?? true }
            .prefix(query.limit ?? .max).map { $0 }
    }
}

// MARK: - Deciding

/// Evaluates `request` with the fixed decision id, new-record id and (by default) time.
func decide(
    _ request: Request, by principal: Principal, state: InMemoryState = .registered,
    policy: PolicySnapshot = Fixtures.policy, key: String? = nil, now: Timestamp = Fixtures.now,
    readiness: EngineReadiness = .notChecked
) -> Decision {
    Evaluator.evaluate(
        request, by: principal, policy: policy, state: state,
        context: DecisionContext(
            now: now, decisionId: Fixtures.decisionId, newId: Fixtures.newId, idempotencyKey: key,
            engineReadiness: readiness))
}

extension Decision {
    /// The check names of the trail, in order.
    var checkNames: [CheckName] { trail.map(\.check) }

    /// The check that failed, if any (always the last one of a denial).
    var failedCheck: CheckName? {
        trail.last.flatMap { if case .failed = $0.outcome { $0.check } else { nil } }
    }

    /// The audit notes among the effects.
    var auditNotes: [AuditNote] {
        effects.compactMap { if case .audit(let note) = $0 { note } else { nil } }
    }

    /// The quota scopes this decision spends.
    var spentQuotas: [QuotaScope] {
        effects.compactMap { if case .spendQuota(let scope, _) = $0 { scope } else { nil } }
    }

    /// The rate windows this decision counts.
    var countedWindows: [RateWindow] {
        effects.compactMap { if case .countRate(let w) = $0 { w } else { nil } }
    }

    /// The deployment records this decision inserts (each queues one engine dispatch).
    var insertedDeployments: [DeploymentRecord] {
        effects.compactMap { if case .insertDeployment(let r, _) = $0 { r } else { nil } }
    }

    /// Whether any effect would change durable state beyond rate counting and audit.
    var changesState: Bool {
        effects.contains {
            switch $0 {
            case .countRate, .audit, .auditRefusal: false
            default: true
            }
        }
    }

    /// The deployment record an allowed decision returns.
    var deployment: DeploymentRecord? { if case .deployment(let r) = result { r } else { nil } }

    /// The build an allowed decision returns.
    var build: Build? { if case .build(let b) = result { b } else { nil } }

    /// Validate's report.
    var report: ValidationReport? { if case .validation(let v) = result { v } else { nil } }
}

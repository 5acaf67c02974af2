import Testing
@testable import Rules

/// Contract §3 error codes (REFERENCE §3.1, §3.2): one scenario per code the rules produce,
/// and proof that together they produce every ``ContractCode`` except the ones that only arise
/// outside the rules; plus each code's HTTP status and failure cause.
@Suite("Error code coverage")
struct CodeCoverageTests {
    struct Scenario: Sendable, CustomTestStringConvertible {
        let code: ContractCode
        let request: Request
        var principal: Principal = Fixtures.owner
        var policy: PolicySnapshot = Fixtures.policy
        var state: InMemoryState = .registered
        var key: String? = "k1"
        var readiness: EngineReadiness = .notChecked
        var testDescription: String { code.rawValue }

        func decision() -> Decision {
            decide(request, by: principal, state: state, policy: policy, key: key, readiness: readiness)
        }
    }

    /// Codes the rules never produce themselves, and why.
    static let exclusions: [ContractCode: String] = [
        .engineTimeout: "engine dispatch outcome, mapped outside the rules (only passed through engineReadiness)",
        .engineMisconfigured: "engine dispatch outcome, mapped outside the rules (only passed through engineReadiness)",
        .engineUnauthorized: "engine dispatch outcome, mapped outside the rules (only passed through engineReadiness)",
        .engineCallFailed: "engine dispatch outcome, mapped outside the rules (only passed through engineReadiness)",
        .internalError: "unexpected server failure; a rule denial is never an internal error",
        .routeNotFound: "answered by the edge's routing before any rule runs",
        .notServed: "answered by the edge's routing before any rule runs",
        .serviceOverloaded: "answered by the edge when the store's writer queue is full, before any rule runs",
        .methodNotAllowed: "answered by the edge's routing before any rule runs",
    ]

    static let history = InMemoryState.registered.with {
        $0.add(Fixtures.record(id: "r1", createdAt: Fixtures.now.adding(seconds: -600)))
        $0.add(Fixtures.record(id: "r2", version: "1.0.1", createdAt: Fixtures.now.adding(seconds: -300), spinnakerApplication: ""))
        $0.add(Fixtures.record(id: "rb", kind: .rollback, rollbackOf: "r1", createdAt: Fixtures.now.adding(seconds: -100)))
    }

    static func group(_ change: DeliveryGroupChange) -> Request { .changePolicy(.createDeliveryGroup(change)) }
    static func recipe(_ change: RecipeChange) -> Request { .changePolicy(.createRecipe(change)) }

    static let scenarios: [Scenario] = [
        .init(code: .missingId, request: group(DeliveryGroupChange(name: "G")), principal: Fixtures.admin),
        .init(code: .missingName, request: group(DeliveryGroupChange(id: "g2")), principal: Fixtures.admin),
        .init(code: .invalidOwner, request: group(DeliveryGroupChange(id: "g2", name: "G", owners: ["bob"])), principal: Fixtures.admin),
        .init(code: .invalidServices, request: group(DeliveryGroupChange(id: "g2", name: "G", services: ["demo-service", "demo-service"])), principal: Fixtures.admin),
        .init(code: .serviceAlreadyAssigned, request: group(DeliveryGroupChange(id: "g2", name: "G", services: ["payments-api"])), principal: Fixtures.admin),
        .init(code: .invalidEnvironments, request: group(DeliveryGroupChange(id: "g2", name: "G", allowedEnvironments: ["Bad Env"])), principal: Fixtures.admin),
        .init(code: .invalidRecipes, request: group(DeliveryGroupChange(id: "g2", name: "G", allowedRecipes: ["default", "default"])), principal: Fixtures.admin),
        .init(code: .invalidGuardrail, request: group(DeliveryGroupChange(id: "g2", name: "G", maxConcurrentDeployments: 0)), principal: Fixtures.admin),
        .init(code: .deliveryGroupExists, request: group(DeliveryGroupChange(id: "default", name: "D")), principal: Fixtures.admin),
        .init(code: .idMismatch, request: .changePolicy(.updateDeliveryGroup(id: "default", DeliveryGroupChange(id: "other", name: "D"))), principal: Fixtures.admin),
        .init(code: .recipeNameRequired, request: recipe(RecipeChange(id: "r9")), principal: Fixtures.admin),
        .init(code: .recipeDeployPipelineRequired, request: recipe(RecipeChange(id: "r9", name: "N")), principal: Fixtures.admin),
        .init(code: .recipeBehaviorRequired, request: recipe(RecipeChange(id: "r9", name: "N", deployPipeline: "p")), principal: Fixtures.admin),
        .init(code: .invalidStatus, request: recipe(RecipeChange(id: "r9", name: "N", deployPipeline: "p", effectiveBehaviorSummary: "b", status: "retired")), principal: Fixtures.admin),
        .init(code: .recipeExists, request: recipe(RecipeChange(id: "default", name: "N", deployPipeline: "p", effectiveBehaviorSummary: "b")), principal: Fixtures.admin),
        .init(code: .recipeInUse, request: .changePolicy(.deleteRecipe(id: "default")), principal: Fixtures.admin),
        .init(code: .invalidEnvironmentId, request: .changePolicy(.createEnvironment(EnvironmentChange(id: "QA_1"))), principal: Fixtures.admin),
        .init(code: .invalidEnvironmentType, request: .changePolicy(.createEnvironment(EnvironmentChange(id: "qa", type: "staging"))), principal: Fixtures.admin),
        .init(
            code: .invalidEnvironmentLifecycleState, request: .changePolicy(.createEnvironment(EnvironmentChange(id: "qa", lifecycleState: "gone"))),
            principal: Fixtures.admin),
        .init(code: .environmentExists, request: .changePolicy(.createEnvironment(EnvironmentChange(id: "sandbox"))), principal: Fixtures.admin),
        .init(code: .environmentTypeLocked, request: .changePolicy(.updateEnvironment(id: "sandbox", EnvironmentChange(type: "prod"))), principal: Fixtures.admin),
        .init(code: .environmentDeleteBlockedReferenced, request: .changePolicy(.deleteEnvironment(id: "sandbox")), principal: Fixtures.admin),
        .init(code: .invalidRequest, request: .deploy(Fixtures.intent(changeSummary: String(repeating: "x", count: 241)))),
        .init(
            code: .invalidBuildRegistration, request: .registerExistingBuild(Fixtures.registration(builtAt: "yesterday")),
            principal: Fixtures.ci),
        .init(code: .unauthorized, request: .validate(Fixtures.intent()), principal: Fixtures.anonymousOwner),
        .init(code: .authzRoleRequired, request: .validate(Fixtures.intent()), principal: Fixtures.noRole),
        .init(code: .roleForbidden, request: .deploy(Fixtures.intent()), principal: Fixtures.observer),
        .init(code: .ciOnly, request: .registerExistingBuild(Fixtures.registration())),
        .init(code: .deliveryGroupScopeRequired, request: .validate(Fixtures.intent()), principal: Fixtures.nonMemberOwner),
        .init(code: .pipelineNotRouted, request: .spinnakerCheck(SpinnakerExecution(
            application: "demo-app", pipeline: "other-pipeline", executionId: "e1", user: "owner@example.com",
            service: "demo-service", environment: "sandbox", version: "1.0.0"))),
        .init(code: .mutationsDisabled, request: .deploy(Fixtures.intent()), policy: Fixtures.killSwitchOn),
        .init(code: .idempotencyKeyRequired, request: .deploy(Fixtures.intent()), key: nil),
        .init(
            code: .idempotencyConflict, request: .deploy(Fixtures.intent()),
            state: InMemoryState.registered.with {
                $0.remember(
                    IdempotencyScope(actorId: "owner-sub", endpoint: "POST /v1/deployments", key: "k1"),
                    IdempotencyRecord(fingerprint: Fixtures.intent().fingerprint, expiresAt: Fixtures.now.adding(seconds: 9), response: nil))
            }),
        .init(
            code: .buildRegistrationConflict,
            request: .registerExistingBuild(Fixtures.registration(version: "1.0.0", gitSha: String(repeating: "e", count: 40))),
            principal: Fixtures.ci),
        .init(code: .serviceNotInDeliveryGroup, request: .validate(Fixtures.intent(service: "unknown-service"))),
        .init(code: .environmentRequired, request: .validate(Fixtures.intent(environment: ""))),
        .init(code: .environmentNotAllowed, request: .validate(Fixtures.intent(environment: "prod"))),
        .init(code: .environmentRetired, request: .validate(Fixtures.intent(environment: "retired-env"))),
        .init(code: .environmentDisabled, request: .validate(Fixtures.intent(environment: "disabled-env"))),
        .init(
            code: .serviceEnvironmentNotRouted, request: .validate(Fixtures.intent()),
            policy: Fixtures.policy { $0.routes["demo-service"] = nil }),
        .init(code: .recipeIdRequired, request: .validate(Fixtures.intent()), policy: Fixtures.routing("")),
        .init(code: .recipeNotFound, request: .validate(Fixtures.intent()), policy: Fixtures.routing("nope")),
        .init(code: .recipeDeprecated, request: .validate(Fixtures.intent()), policy: Fixtures.routing("legacy")),
        .init(code: .recipeNotAllowed, request: .validate(Fixtures.intent()), policy: Fixtures.routing("bluegreen")),
        .init(code: .recipeIdMismatch, request: .validate(Fixtures.intent(recipeId: "canary"))),
        .init(code: .serviceNotAllowlisted, request: .validate(Fixtures.intent(service: "ghost-service"))),
        .init(
            code: .invalidEnvironment, request: .validate(Fixtures.intent()),
            policy: Fixtures.policy { $0.services["demo-service"]?.allowedEnvironments = ["prod"] }),
        .init(code: .invalidVersion, request: .validate(Fixtures.intent(version: "one"))),
        .init(code: .recipeIncompatible, request: .validate(Fixtures.intent()), policy: Fixtures.routing("canary")),
        .init(code: .versionNotFound, request: .validate(Fixtures.intent(version: "3.0.0"))),
        .init(
            code: .quotaExceeded, request: .deploy(Fixtures.intent()),
            state: InMemoryState.registered.with { $0.setQuota(.deploy, "default:sandbox", 25) }),
        .init(
            code: .rateLimited, request: .deploy(Fixtures.intent()),
            state: InMemoryState.registered.with { $0.setRate("owner-sub", .mutate, 10) }),
        .init(
            code: .concurrencyLimitReached, request: .validate(Fixtures.intent()),
            state: InMemoryState.registered.with { $0.hold("busy") }),
        .init(code: .notFound, request: .readDeployment(id: "missing"), state: history),
        .init(code: .rollbackOfRollback, request: .rollback(deploymentId: "rb"), state: history),
        .init(code: .noPriorSuccessfulVersion, request: .rollback(deploymentId: "r1"), state: history),
        .init(
            code: .missingSpinnakerTarget, request: .rollback(deploymentId: "r2"),
            policy: Fixtures.policy { $0.recipes["default"]?.spinnakerApplication = nil }, state: history),
        .init(code: .invalidArtifact, request: .uploadCapability(Fixtures.upload(size: 0)), principal: Fixtures.ci),
        .init(
            code: .invalidURL, request: .registerExistingBuild(Fixtures.registration(commitURL: "git@github.com:acme/demo")),
            principal: Fixtures.ci),
        .init(code: .promotionTargetRequired, request: .validatePromotion(PromotionRulesTests.intent("sandbox", "sandbox"))),
        .init(
            code: .promotionPathNotAllowed, request: .validatePromotion(PromotionRulesTests.intent("staging", "sandbox")),
            policy: PromotionRulesTests.open, state: PromotionRulesTests.succeeded),
        .init(
            code: .promotionVersionIneligible, request: .promote(PromotionRulesTests.intent(version: "1.0.1")),
            policy: PromotionRulesTests.open, state: PromotionRulesTests.succeeded),
        .init(
            code: .engineUnavailable, request: .validate(Fixtures.intent()),
            readiness: .unavailable(.engineUnavailable, detail: "connection failed")),
    ]

    @Test("each scenario is denied with its code and the code's status", arguments: scenarios)
    func scenarioCode(_ s: Scenario) {
        let d = s.decision()
        #expect(!d.allowed)
        #expect(d.code == s.code)
        #expect(d.status == (s.code == .serviceNotAllowlisted ? 400 : s.code.httpStatus))
        #expect(d.trail.last?.outcome == .failed(s.code))
    }

    @Test("together the scenarios produce every contract code the rules can produce")
    func everyCodeProduced() {
        let produced = Set(Self.scenarios.compactMap { $0.decision().code })
        let expected = Set(ContractCode.allCases).subtracting(Self.exclusions.keys)
        #expect(produced == expected)
        #expect(produced.isDisjoint(with: Self.exclusions.keys))
        #expect(Self.exclusions.values.allSatisfy { !$0.isEmpty })
    }

    // MARK: Status and failure cause per REFERENCE §3

    static let statuses: [ContractCode: Int] = [
        .invalidRequest: 400, .invalidBuildRegistration: 400, .unauthorized: 401, .authzRoleRequired: 403,
        .roleForbidden: 403, .ciOnly: 403, .deliveryGroupScopeRequired: 403, .mutationsDisabled: 503, .pipelineNotRouted: 403,
        .idempotencyKeyRequired: 400, .idempotencyConflict: 409, .buildRegistrationConflict: 409,
        .serviceNotInDeliveryGroup: 403, .environmentRequired: 400, .environmentNotAllowed: 403, .environmentRetired: 403,
        .environmentDisabled: 403, .serviceEnvironmentNotRouted: 400, .recipeIdRequired: 400, .recipeNotFound: 404,
        .recipeDeprecated: 403, .recipeNotAllowed: 403, .recipeIdMismatch: 400, .serviceNotAllowlisted: 400,
        .invalidEnvironment: 400, .invalidVersion: 400, .recipeIncompatible: 400, .versionNotFound: 400,
        .quotaExceeded: 429, .rateLimited: 429, .concurrencyLimitReached: 409, .notFound: 404, .rollbackOfRollback: 400,
        .noPriorSuccessfulVersion: 400, .missingSpinnakerTarget: 400, .invalidArtifact: 400, .invalidURL: 400,
        .engineUnavailable: 503, .engineTimeout: 504, .engineMisconfigured: 502, .engineUnauthorized: 502,
        .engineCallFailed: 502, .internalError: 500,
        .missingId: 400, .missingName: 400, .invalidServices: 400, .invalidEnvironments: 400, .invalidRecipes: 400,
        .invalidGuardrail: 400, .invalidOwner: 400, .deliveryGroupExists: 409, .serviceAlreadyAssigned: 409, .idMismatch: 400,
        .recipeNameRequired: 400, .recipeDeployPipelineRequired: 400, .recipeBehaviorRequired: 400, .invalidStatus: 400,
        .recipeExists: 409, .recipeInUse: 409, .routeNotFound: 404, .methodNotAllowed: 405,
        .invalidEnvironmentId: 400, .invalidEnvironmentType: 400, .invalidEnvironmentLifecycleState: 400,
        .environmentExists: 409, .environmentTypeLocked: 409, .environmentDeleteBlockedReferenced: 409,
        .promotionTargetRequired: 400, .promotionPathNotAllowed: 400, .promotionVersionIneligible: 400, .notServed: 501, .serviceOverloaded: 503,
    ]

    static let userErrors: Set<ContractCode> = [
        .invalidRequest, .recipeIdRequired, .recipeIdMismatch, .invalidEnvironment, .environmentRequired, .invalidVersion,
        .invalidArtifact, .invalidBuildRegistration, .buildRegistrationConflict, .idempotencyKeyRequired, .versionNotFound,
        .recipeNotFound, .recipeNameRequired, .recipeBehaviorRequired, .idMismatch, .invalidStatus,
        .environmentTypeLocked, .environmentDeleteBlockedReferenced, .promotionTargetRequired, .promotionPathNotAllowed,
        .promotionVersionIneligible,
    ]

    static let policyChanges: Set<ContractCode> = [
        .engineMisconfigured, .serviceNotAllowlisted, .serviceNotInDeliveryGroup, .environmentNotAllowed,
        .environmentDisabled, .environmentRetired, .recipeNotAllowed, .recipeIncompatible, .recipeDeprecated,
        .concurrencyLimitReached, .quotaExceeded, .rateLimited, .mutationsDisabled, .roleForbidden, .authzRoleRequired,
        .unauthorized, .recipeInUse, .pipelineNotRouted,
    ]

    @Test("every code has the HTTP status and failure cause of REFERENCE §3", arguments: ContractCode.allCases)
    func statusAndCause(_ code: ContractCode) {
        #expect(code.httpStatus == Self.statuses[code])
        let cause: FailureCause = Self.userErrors.contains(code) ? .userError : Self.policyChanges.contains(code) ? .policyChange : .unknown
        #expect(code.failureCause == cause)
    }
}

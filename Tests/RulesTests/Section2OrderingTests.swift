import Testing
@testable import Rules

/// Contract §2 enforcement order (REFERENCE §4.1–§4.3, DECISIONS D3, D7, D8): the checks run
/// in the reference's order for each endpoint, the earliest failing check decides, and nothing
/// reaches the engine when any check fails.
@Suite("§2 Enforcement order")
struct Section2OrderingTests {
    /// REFERENCE §4.1 as implemented (D7 membership right after the group is resolved).
    static let validateOrder: [CheckName] = [
        .roleRecognised, .principalClaimPresent, .intentWellFormed, .roleAllowed, .readRateLimit, .killSwitchOff,
        .deliveryGroupResolved, .deliveryGroupMember, .environmentAllowed, .recipeRouted, .recipeAllowedByGroup,
        .recipeIdMatchesRoute, .serviceAllowlisted, .environmentConfigured, .versionFormat, .recipeCompatible,
        .versionRegistered, .engineReady, .concurrencyAvailable, .quotaAvailable,
    ]

    /// REFERENCE §4.2 as implemented: version before compatibility, quota before concurrency.
    static let deployOrder: [CheckName] = [
        .roleRecognised, .principalClaimPresent, .intentWellFormed, .roleAllowed, .killSwitchOff, .idempotencyKeyPresent,
        .deliveryGroupResolved, .deliveryGroupMember, .environmentAllowed, .recipeRouted, .recipeAllowedByGroup,
        .recipeIdMatchesRoute, .serviceAllowlisted, .environmentConfigured, .versionFormat, .versionRegistered,
        .recipeCompatible, .idempotencyReplay, .mutateRateLimit, .quotaAvailable, .concurrencyAvailable,
        .engineTargetResolved,
    ]

    /// REFERENCE §4.3 as implemented.
    static let rollbackOrder: [CheckName] = [
        .roleRecognised, .principalClaimPresent, .roleAllowed, .killSwitchOff, .idempotencyKeyPresent,
        .rollbackTargetExists, .rollbackTargetNotRollback, .deliveryGroupResolved, .deliveryGroupMember,
        .environmentAllowed, .rollbackRecipeResolved, .recipeAllowedByGroup, .serviceAllowlisted,
        .environmentConfigured, .recipeCompatible, .idempotencyReplay, .mutateRateLimit, .quotaAvailable,
        .concurrencyAvailable, .priorSuccessfulVersion, .engineTargetResolved,
    ]

    @Test("an allowed validate runs every check of §4.1 in order")
    func validateTrail() {
        let d = decide(.validate(Fixtures.intent()), by: Fixtures.owner)
        #expect(d.allowed)
        #expect(d.checkNames == Self.validateOrder)
        for entry in d.trail {
            #expect(entry.outcome == (entry.check == .engineReady ? .skipped : .passed), "\(entry.check)")
        }
        let probed = decide(.validate(Fixtures.intent()), by: Fixtures.owner, readiness: .ready)
        #expect(probed.checkNames == Self.validateOrder)
        #expect(probed.trail.allSatisfy { $0.outcome == .passed })
    }

    @Test("an allowed deploy runs every check of §4.2 in order")
    func deployTrail() {
        let d = decide(.deploy(Fixtures.intent()), by: Fixtures.owner, key: "k1")
        #expect(d.status == 201)
        #expect(d.checkNames == Self.deployOrder)
        #expect(d.trail.allSatisfy { $0.outcome == .passed })
    }

    @Test("an allowed rollback runs every check of §4.3 in order")
    func rollbackTrail() {
        let state = InMemoryState.registered.with {
            $0.add(Fixtures.record(id: "r1", version: "1.0.0", createdAt: Fixtures.now.adding(seconds: -200)))
            $0.add(Fixtures.record(id: "r2", version: "1.0.1", createdAt: Fixtures.now.adding(seconds: -100)))
        }
        let d = decide(.rollback(deploymentId: "r2"), by: Fixtures.owner, state: state, key: "k1")
        #expect(d.status == 201)
        #expect(d.checkNames == Self.rollbackOrder)
        #expect(d.trail.allSatisfy { $0.outcome == .passed })
    }

    // MARK: Several failures at once: the earliest decides

    struct MultiFailure: Sendable, CustomTestStringConvertible {
        let name: String
        let request: Request
        var principal: Principal = Fixtures.owner
        var policy: PolicySnapshot = Fixtures.policy
        var state: InMemoryState = .registered
        var key: String? = "k1"
        let expected: ContractCode
        var testDescription: String { name }
    }

    static let exhausted = InMemoryState.registered.with {
        $0.hold("busy")
        $0.setQuota(.deploy, "default:sandbox", 25)
    }

    static let multiFailures: [MultiFailure] = [
        .init(
            name: "deploy: kill switch + missing key", request: .deploy(Fixtures.intent()), policy: Fixtures.killSwitchOn,
            key: nil, expected: .mutationsDisabled),
        .init(
            name: "deploy: missing key + unknown service", request: .deploy(Fixtures.intent(service: "unknown-service")),
            key: "", expected: .idempotencyKeyRequired),
        .init(
            name: "deploy: observer + kill switch", request: .deploy(Fixtures.intent()), principal: Fixtures.observer,
            policy: Fixtures.killSwitchOn, expected: .roleForbidden),
        .init(
            name: "validate: concurrency + quota exhausted", request: .validate(Fixtures.intent()), state: exhausted,
            expected: .concurrencyLimitReached),
        .init(
            name: "deploy: concurrency + quota exhausted", request: .deploy(Fixtures.intent()), state: exhausted,
            expected: .quotaExceeded),
        .init(
            name: "validate: unregistered version + incompatible recipe",
            request: .validate(Fixtures.intent(version: "9.9.9")), policy: Fixtures.routing("canary"),
            expected: .recipeIncompatible),
        .init(
            name: "deploy: unregistered version + incompatible recipe",
            request: .deploy(Fixtures.intent(version: "9.9.9")), policy: Fixtures.routing("canary"),
            expected: .versionNotFound),
        .init(
            name: "validate: recipeId mismatch + routed recipe not allowed",
            request: .validate(Fixtures.intent(recipeId: "default")), policy: Fixtures.routing("bluegreen"),
            expected: .recipeNotAllowed),
        .init(
            name: "deploy: recipeId mismatch + routed recipe not allowed",
            request: .deploy(Fixtures.intent(recipeId: "default")), policy: Fixtures.routing("bluegreen"),
            expected: .recipeNotAllowed),
        .init(
            name: "validate: read rate limited + kill switch", request: .validate(Fixtures.intent()),
            policy: Fixtures.killSwitchOn, state: InMemoryState.registered.with { $0.setRate("owner-sub", .read, 60) },
            expected: .rateLimited),
        .init(
            name: "validate: non-member owner + retired environment",
            request: .validate(Fixtures.intent(environment: "retired-env")), principal: Fixtures.nonMemberOwner,
            expected: .deliveryGroupScopeRequired),
        .init(
            name: "deploy: retired environment + deprecated recipe",
            request: .deploy(Fixtures.intent(environment: "retired-env")),
            policy: Fixtures.routing("legacy", environment: "retired-env"), expected: .environmentRetired),
        .init(
            name: "deploy: deprecated recipe + recipeId mismatch", request: .deploy(Fixtures.intent(recipeId: "canary")),
            policy: Fixtures.routing("legacy"), expected: .recipeDeprecated),
        .init(
            name: "deploy: invalid version format (never registered)", request: .deploy(Fixtures.intent(version: "1.0")),
            expected: .invalidVersion),
        .init(
            name: "deploy: mutate rate limited + quota exhausted", request: .deploy(Fixtures.intent()),
            state: exhausted.with { $0.setRate("owner-sub", .mutate, 10) }, expected: .rateLimited),
        .init(
            name: "rollback: kill switch + unknown target", request: .rollback(deploymentId: "missing"),
            policy: Fixtures.killSwitchOn, expected: .mutationsDisabled),
        .init(
            name: "rollback: missing key + unknown target", request: .rollback(deploymentId: "missing"), key: nil,
            expected: .idempotencyKeyRequired),
        .init(
            name: "register: kill switch + non-CI caller", request: .registerExistingBuild(Fixtures.registration()),
            principal: Fixtures.owner, policy: Fixtures.killSwitchOn, expected: .mutationsDisabled),
        .init(
            name: "register: missing key + unknown service",
            request: .registerExistingBuild(Fixtures.registration(service: "unknown-service")), principal: Fixtures.ci,
            key: nil, expected: .idempotencyKeyRequired),
    ]

    @Test("the earliest failing check decides", arguments: multiFailures)
    func earliestFailureWins(_ c: MultiFailure) {
        let d = decide(c.request, by: c.principal, state: c.state, policy: c.policy, key: c.key)
        #expect(!d.allowed)
        #expect(d.code == c.expected)
        #expect(d.status == c.expected.httpStatus)
        // The trail stops at the failing check; every earlier one passed or was skipped.
        #expect(d.trail.last?.outcome == .failed(c.expected))
        #expect(d.trail.dropLast().allSatisfy { !$0.outcome.isFailure })
    }

    @Test("no engine dispatch, record, quota spend or idempotency entry when any check fails", arguments: multiFailures)
    func nothingReachesTheEngine(_ c: MultiFailure) {
        let d = decide(c.request, by: c.principal, state: c.state, policy: c.policy, key: c.key)
        #expect(d.insertedDeployments.isEmpty)
        #expect(d.spentQuotas.isEmpty)
        #expect(!d.effects.contains { if case .putIdempotency = $0 { true } else { false } })
        #expect(d.result == nil)
    }

    @Test("a replay is served before quota and concurrency are looked at (REFERENCE §6)")
    func replayBeforeLimits() {
        let scope = IdempotencyScope(actorId: "owner-sub", endpoint: "POST /v1/deployments", key: "k1")
        let stored = StoredResponse(status: 201, result: .deployment(Fixtures.record(id: "first", state: .inProgress)))
        let state = Self.exhausted.with {
            $0.remember(scope, IdempotencyRecord(
                fingerprint: Fixtures.intent().fingerprint, expiresAt: Fixtures.now.adding(seconds: 60), response: stored))
        }
        let d = decide(.deploy(Fixtures.intent()), by: Fixtures.owner, state: state, key: "k1")
        #expect(d.allowed)
        #expect(d.replayed)
        #expect(d.status == 201)
        #expect(d.result == stored.result)
        #expect(d.checkNames.last == .idempotencyReplay)
        #expect(!d.checkNames.contains(.quotaAvailable))
        #expect(d.effects.isEmpty)
    }
}

extension CheckResult.Outcome {
    var isFailure: Bool { if case .failed = self { true } else { false } }
}

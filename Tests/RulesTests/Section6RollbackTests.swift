import Testing
@testable import Rules

/// Contract §6 rollback (REFERENCE §2.5, §4.3, §9; DECISIONS D7, D8): target preconditions,
/// the restore point, the engine target, the rollback quota, and the resulting record.
@Suite("§6 Rollback")
struct Section6RollbackTests {
    static let t0 = Fixtures.now.adding(seconds: -3600)

    /// REFERENCE §9's history: 1.0.0 SUCCEEDED, 1.0.1 FAILED, 1.0.2 SUCCEEDED; plus noise that
    /// must be ignored (a later success, another environment, another service).
    static let history = InMemoryState.registered.with {
        $0.add(Fixtures.record(id: "r100", version: "1.0.0", state: .succeeded, createdAt: t0))
        $0.add(Fixtures.record(id: "r101", version: "1.0.1", state: .failed, createdAt: t0.adding(seconds: 100)))
        $0.add(Fixtures.record(id: "r102", version: "1.0.2", state: .succeeded, createdAt: t0.adding(seconds: 200)))
        $0.add(Fixtures.record(id: "r103", version: "1.0.3", state: .succeeded, createdAt: t0.adding(seconds: 300)))
        $0.add(Fixtures.record(id: "stg", environment: "staging", version: "0.9.9", createdAt: t0.adding(seconds: 150)))
        $0.add(Fixtures.record(
            id: "pay", service: "payments-api", version: "0.9.8", createdAt: t0.adding(seconds: 150), group: "payments"))
    }

    static func rollback(
        _ id: String, by principal: Principal = Fixtures.owner, state: InMemoryState = history,
        policy: PolicySnapshot = Fixtures.policy, key: String? = "k1"
    ) -> Decision {
        decide(.rollback(deploymentId: id), by: principal, state: state, policy: policy, key: key)
    }

    @Test("an unknown deployment → 404 NOT_FOUND")
    func unknownTarget() {
        let d = Self.rollback("nope")
        #expect(d.status == 404)
        #expect(d.code == .notFound)
        #expect(d.failedCheck == .rollbackTargetExists)
    }

    @Test("a rollback cannot be rolled back → 400 ROLLBACK_OF_ROLLBACK",
        arguments: [
            Fixtures.record(id: "rb", kind: .rollback, rollbackOf: "r102", createdAt: Fixtures.now.adding(seconds: -10)),
            Fixtures.record(id: "rb", kind: .rollback, createdAt: Fixtures.now.adding(seconds: -10)),
            Fixtures.record(id: "rb", kind: .rollForward, rollbackOf: "r102", createdAt: Fixtures.now.adding(seconds: -10)),
        ])
    func rollbackOfRollback(_ target: DeploymentRecord) {
        let d = Self.rollback("rb", state: Self.history.with { $0.add(target) })
        #expect(d.status == 400)
        #expect(d.code == .rollbackOfRollback)
        #expect(d.failedCheck == .rollbackTargetNotRollback)
    }

    struct RestoreCase: Sendable, CustomTestStringConvertible {
        let target: String
        let restores: String
        var testDescription: String { "\(target) → \(restores)" }
    }

    @Test("the restore point is the newest SUCCEEDED record of service+environment created strictly before the target",
        arguments: [
            RestoreCase(target: "r102", restores: "1.0.0"), RestoreCase(target: "r101", restores: "1.0.0"),
            RestoreCase(target: "r103", restores: "1.0.2"),
        ])
    func restorePoint(_ c: RestoreCase) {
        let d = Self.rollback(c.target)
        #expect(d.status == 201)
        #expect(d.deployment?.version == c.restores)
        #expect(d.deployment?.rollbackOf == c.target)
    }

    @Test("no earlier success → 400 NO_PRIOR_SUCCESSFUL_VERSION, spending no quota (D8)")
    func noPriorSuccess() {
        let d = Self.rollback("r100")
        #expect(d.status == 400)
        #expect(d.code == .noPriorSuccessfulVersion)
        #expect(d.failedCheck == .priorSuccessfulVersion)
        #expect(d.spentQuotas.isEmpty)
        #expect(d.insertedDeployments.isEmpty)
        #expect(d.countedWindows == [RateWindow(actorId: "owner-sub", bucket: .mutate, minute: Fixtures.now.minute)])
    }

    @Test("a success created at the same instant as the target is not before it")
    func sameInstantIsNotBefore() {
        let state = Self.history.with { $0.add(Fixtures.record(id: "twin", version: "0.0.1", createdAt: Self.t0)) }
        #expect(Self.rollback("r100", state: state).code == .noPriorSuccessfulVersion)
    }

    @Test("the rollback record: kind ROLLBACK, IN_PROGRESS, linked, described, with the recipe's rollback pipeline")
    func rollbackRecord() throws {
        let d = Self.rollback("r102")
        let record = try #require(d.deployment)
        #expect(record.id == Fixtures.newId)
        #expect(record.kind == .rollback)
        #expect(record.state == .inProgress)
        #expect(record.rollbackOf == "r102")
        #expect(record.version == "1.0.0")
        #expect(record.service == "demo-service")
        #expect(record.environment == "sandbox")
        #expect(record.changeSummary == "rollback of r102 to 1.0.0")
        #expect(record.recipeId == "default")
        #expect(record.deliveryGroupId == "default")
        #expect(record.intentCorrelationId == "k1")
        #expect(record.spinnakerApplication == "demo-app")
        #expect(record.spinnakerPipeline == "rollback-demo-service")
        #expect(record.createdAt == Fixtures.now)
        #expect(record.policySnapshot.dailyDeployQuota == 25)
    }

    @Test("an allowed rollback spends the rollback quota, inserts the record, keys it in flight and audits ROLLBACK_SUBMIT")
    func rollbackEffects() throws {
        let d = Self.rollback("r102")
        let record = try #require(d.deployment)
        let scope = IdempotencyScope(actorId: "owner-sub", endpoint: "POST /v1/deployments/r102/rollback", key: "k1")
        #expect(Array(d.effects.prefix(4)) == [
            .countRate(RateWindow(actorId: "owner-sub", bucket: .mutate, minute: Fixtures.now.minute)),
            .spendQuota(QuotaScope(kind: .rollback, key: "default:sandbox"), day: Fixtures.now.day),
            .insertDeployment(record, idempotency: scope),
            .putIdempotency(scope, IdempotencyRecord(fingerprint: "r102", expiresAt: Fixtures.now.adding(seconds: 86_400), response: nil)),
        ])
        try #require(d.auditNotes.count == 1)
        let note = d.auditNotes[0]
        #expect(note.eventType == "ROLLBACK_SUBMIT")
        #expect(note.outcome == .success)
        #expect(note.targetId == Fixtures.newId)
        #expect(note.deliveryGroupId == "default")
        #expect(note.serviceName == "demo-service")
        #expect(note.environment == "sandbox")
    }

    // MARK: Engine target

    @Test("no engine application anywhere → 400 MISSING_SPINNAKER_TARGET")
    func missingApplication() {
        let policy = Fixtures.policy { $0.recipes["default"]?.spinnakerApplication = nil }
        let state = Self.history.with {
            $0.add(Fixtures.record(id: "bare", version: "1.0.2", createdAt: Self.t0.adding(seconds: 250), spinnakerApplication: ""))
        }
        let d = Self.rollback("bare", state: state, policy: policy)
        #expect(d.status == 400)
        #expect(d.code == .missingSpinnakerTarget)
        #expect(d.failedCheck == .engineTargetResolved)
        #expect(d.spentQuotas.isEmpty)
    }

    @Test("no rollback pipeline anywhere → 400 MISSING_SPINNAKER_TARGET")
    func missingPipeline() {
        let policy = Fixtures.policy { $0.recipes["default"]?.rollbackPipeline = nil }
        let state = Self.history.with {
            $0.add(Fixtures.record(id: "bare", version: "1.0.2", createdAt: Self.t0.adding(seconds: 250), spinnakerPipeline: ""))
        }
        #expect(Self.rollback("bare", state: state, policy: policy).code == .missingSpinnakerTarget)
    }

    @Test("the engine target falls back to the target record's stored application, then the default")
    func engineTargetFallbacks() {
        let policy = Fixtures.policy { $0.recipes["default"]?.spinnakerApplication = nil }
        let d = Self.rollback("r102", policy: policy)
        #expect(d.deployment?.spinnakerApplication == "demo-app")
        let state = Self.history.with {
            $0.add(Fixtures.record(id: "bare", version: "1.0.2", createdAt: Self.t0.adding(seconds: 250), spinnakerApplication: ""))
        }
        var withDefault = policy
        withDefault.settings.defaultSpinnakerApplication = "fallback-app"
        #expect(Self.rollback("bare", state: state, policy: withDefault).deployment?.spinnakerApplication == "fallback-app")
    }

    // MARK: Recipe, quota, concurrency

    @Test("rollback uses the target's recorded recipe, not current routing")
    func recordedRecipe() {
        #expect(Self.rollback("r102", policy: Fixtures.routing("bluegreen")).status == 201)
        let legacy = Self.history.with {
            $0.add(Fixtures.record(id: "old", version: "1.0.2", createdAt: Self.t0.adding(seconds: 250), recipeId: "legacy"))
            $0.add(Fixtures.record(id: "gone", version: "1.0.2", createdAt: Self.t0.adding(seconds: 250), recipeId: "vanished"))
            $0.add(Fixtures.record(id: "unnamed", version: "1.0.2", createdAt: Self.t0.adding(seconds: 250), recipeId: ""))
        }
        #expect(Self.rollback("old", state: legacy).code == .recipeDeprecated)
        #expect(Self.rollback("gone", state: legacy).code == .recipeNotFound)
        #expect(Self.rollback("unnamed", state: legacy).deployment?.recipeId == "default")
    }

    @Test("the rollback quota, not the deploy quota, is checked")
    func rollbackQuota() {
        let deployFull = Self.history.with { $0.setQuota(.deploy, "default:sandbox", 25) }
        #expect(Self.rollback("r102", state: deployFull).status == 201)
        let rollbackFull = Self.history.with { $0.setQuota(.rollback, "default:sandbox", 10) }
        let d = Self.rollback("r102", state: rollbackFull)
        #expect(d.status == 429)
        #expect(d.code == .quotaExceeded)
        #expect(d.failedCheck == .quotaAvailable)
        #expect(d.spentQuotas.isEmpty)
        let guarded = Fixtures.policy { p in
            var g = Fixtures.defaultGroup
            g.guardrails = Guardrails(dailyRollbackQuota: 2)
            p.upsertGroup(g)
        }
        let two = Self.history.with { $0.setQuota(.rollback, "default:sandbox", 2) }
        #expect(Self.rollback("r102", state: two, policy: guarded).code == .quotaExceeded)
        #expect(Self.rollback("r102", state: two).status == 201)
    }

    @Test("rollbacks are subject to the concurrency limit")
    func rollbackConcurrency() {
        let busy = Self.history.with { $0.hold("busy") }
        #expect(Self.rollback("r102", state: busy).code == .concurrencyLimitReached)
    }

    @Test("the same key replays the stored rollback")
    func rollbackReplay() {
        let scope = IdempotencyScope(actorId: "owner-sub", endpoint: "POST /v1/deployments/r102/rollback", key: "k1")
        let stored = StoredResponse(status: 201, result: .deployment(Fixtures.record(id: "rb-first", kind: .rollback, rollbackOf: "r102")))
        let state = Self.history.with {
            $0.remember(scope, IdempotencyRecord(fingerprint: "r102", expiresAt: Fixtures.now.adding(seconds: 60), response: stored))
        }
        let d = Self.rollback("r102", state: state)
        #expect(d.replayed)
        #expect(d.result == stored.result)
        #expect(d.effects.isEmpty)
        // The same key on another deployment id is independent.
        #expect(Self.rollback("r103", state: state).deployment?.id == Fixtures.newId)
    }

    @Test("a missing or empty key → 400 IDMP_KEY_REQUIRED", arguments: [nil, ""] as [String?])
    func rollbackKeyRequired(_ key: String?) {
        let d = Self.rollback("r102", key: key)
        #expect(d.code == .idempotencyKeyRequired)
        #expect(d.status == 400)
    }

    struct GovernedCase: Sendable, CustomTestStringConvertible {
        let name: String
        let target: DeploymentRecord
        var principal: Principal = Fixtures.owner
        var policy: PolicySnapshot = Fixtures.policy
        let code: ContractCode
        var testDescription: String { name }
    }

    static let later = Fixtures.now.adding(seconds: -60)

    static let governed: [GovernedCase] = [
        .init(name: "service in no group", target: Fixtures.record(id: "x", service: "orphan-service", createdAt: later), code: .serviceNotInDeliveryGroup),
        .init(name: "environment retired", target: Fixtures.record(id: "x", environment: "retired-env", createdAt: later), code: .environmentRetired),
        .init(name: "environment binding disabled", target: Fixtures.record(id: "x", environment: "staging", createdAt: later), code: .environmentDisabled),
        .init(name: "recorded recipe not allowed by group", target: Fixtures.record(id: "x", createdAt: later, recipeId: "bluegreen"), code: .recipeNotAllowed),
        .init(name: "recorded recipe incompatible", target: Fixtures.record(id: "x", createdAt: later, recipeId: "canary"), code: .recipeIncompatible),
        .init(
            name: "service dropped from registry", target: Fixtures.record(id: "x", service: "ghost-service", createdAt: later),
            code: .serviceNotAllowlisted),
        .init(name: "observer", target: Fixtures.record(id: "x", createdAt: later), principal: Fixtures.observer, code: .roleForbidden),
        .init(name: "kill switch", target: Fixtures.record(id: "x", createdAt: later), policy: Fixtures.killSwitchOn, code: .mutationsDisabled),
    ]

    @Test("rollback applies the same group policy and compatibility checks as deploy", arguments: governed)
    func governedLikeDeploy(_ c: GovernedCase) {
        let d = Self.rollback("x", by: c.principal, state: Self.history.with { $0.add(c.target) }, policy: c.policy)
        #expect(d.code == c.code)
        #expect(d.status == (c.code == .serviceNotAllowlisted ? 400 : c.code.httpStatus))
        #expect(d.insertedDeployments.isEmpty)
        #expect(d.spentQuotas.isEmpty)
    }

    @Test("denied rollbacks are audited as ROLLBACK_DENIED")
    func deniedRollbackAudited() {
        let d = Self.rollback("r100")
        #expect(d.auditNotes.map(\.eventType) == ["ROLLBACK_DENIED"])
        #expect(d.auditNotes.first?.outcome == .denied)
        #expect(d.auditNotes.first?.targetId == "r100")
    }
}

import Testing
@testable import Rules

/// Promotions (REFERENCE §2.10): the checks in order, the path from the delivery group's
/// bindings, the version's success in the source, and the guardrails of the target.
@Suite("§2.10 promotions")
struct PromotionRulesTests {
    /// The demo policy with staging enabled: the default group's order is sandbox → staging →
    /// retired-env → disabled-env.
    static let open = Fixtures.policy { $0.bindings["default"]?["staging"]?.isEnabled = true }
    /// 1.0.0 succeeded in sandbox.
    static let succeeded = InMemoryState.registered.with { $0.add(Fixtures.record(id: "s1")) }

    static func intent(_ from: String = "sandbox", _ to: String = "staging", version: String = "1.0.0") -> PromotionIntent {
        PromotionIntent(service: "demo-service", sourceEnvironment: from, targetEnvironment: to, version: version, changeSummary: "promote")
    }

    @Test func theOrderIsTheGroupsEnabledBindingsByIndex() {
        #expect(Self.open.promotionOrder(group: "default") == ["sandbox", "staging", "retired-env", "disabled-env"])
        #expect(Fixtures.policy.promotionOrder(group: "default") == ["sandbox", "retired-env", "disabled-env"], "a disabled binding is not on the path")
        var reordered = Self.open
        reordered.bindings["default"]?["sandbox"]?.orderIndex = 5
        #expect(reordered.promotionOrder(group: "default").last == "sandbox")
    }

    @Test func anAllowedPromotionReservesLikeADeployOfTheTarget() throws {
        let d = decide(.promote(Self.intent()), by: Fixtures.owner, state: Self.succeeded, policy: Self.open, key: "p1")
        #expect(d.allowed)
        #expect(d.status == 201)
        guard case .deployment(let record)? = d.result else { Issue.record("no record"); return }
        #expect(record.kind == .promote)
        #expect(record.environment == "staging")
        #expect(record.sourceEnvironment == "sandbox")
        #expect(record.recipeId == "default")
        #expect(d.effects.contains(.spendQuota(QuotaScope(kind: .deploy, key: "default:staging"), day: Fixtures.now.day)))
        #expect(d.trail.map(\.check) == [
            .roleRecognised, .principalClaimPresent, .intentWellFormed, .roleAllowed, .killSwitchOff, .idempotencyKeyPresent,
            .promotionTargetDiffers, .deliveryGroupResolved, .deliveryGroupMember, .environmentAllowed, .environmentAllowed,
            .promotionPathAllowed, .recipeRouted, .recipeAllowedByGroup, .serviceAllowlisted, .environmentConfigured,
            .environmentConfigured, .versionFormat, .recipeCompatible, .versionRegistered, .promotionVersionEligible,
            .idempotencyReplay, .mutateRateLimit, .quotaAvailable, .concurrencyAvailable, .engineTargetResolved,
        ])
        let audit = d.effects.compactMap { effect -> AuditNote? in if case .audit(let note) = effect { note } else { nil } }
        #expect(audit.map(\.eventType) == ["PROMOTION_SUBMIT"])
    }

    @Test(arguments: [
        (intent("sandbox", "sandbox"), ContractCode.promotionTargetRequired),
        (intent("sandbox", "retired-env"), .environmentRetired),
        (intent("staging", "sandbox"), .promotionPathNotAllowed),
        (intent("sandbox", "disabled-env"), .environmentDisabled),
        (intent("sandbox", "prod"), .environmentNotAllowed),
        (intent(version: "1.0.1"), .promotionVersionIneligible),
        (intent(version: "9.9.9"), .versionNotFound),
    ])
    func refusals(_ intent: PromotionIntent, _ code: ContractCode) {
        for request in [Request.validatePromotion(intent), .promote(intent)] {
            let d = decide(request, by: Fixtures.owner, state: Self.succeeded, policy: Self.open, key: "p1")
            #expect(d.code == code, "\(request.action)")
            #expect(d.trail.last?.outcome == .failed(code))
        }
    }

    @Test func aRolledBackVersionIsNoLongerEligible() {
        let rolledBack = InMemoryState.registered.with { $0.add(Fixtures.record(id: "s1", state: .rolledBack)) }
        #expect(decide(.validatePromotion(Self.intent()), by: Fixtures.owner, state: rolledBack, policy: Self.open).code == .promotionVersionIneligible)
    }

    @Test func validateChangesNothingButTheReadWindow() {
        let d = decide(.validatePromotion(Self.intent()), by: Fixtures.owner, state: Self.succeeded, policy: Self.open)
        #expect(d.allowed)
        #expect(d.effects.allSatisfy { if case .countRate = $0 { true } else { false } })
        guard case .promotionValidation(let report)? = d.result else { Issue.record("no report"); return }
        #expect(report.recipeId == "default")
        #expect(report.policy.deploymentsUsed == 0)
    }

    @Test func theTargetsGuardrailsApply() {
        let full = Self.succeeded.with { $0.setQuota(.deploy, "default:staging", 25) }
        #expect(decide(.promote(Self.intent()), by: Fixtures.owner, state: full, policy: Self.open, key: "p1").code == .quotaExceeded)
        let busy = Self.succeeded.with { $0.hold("busy", environment: "staging") }
        #expect(decide(.promote(Self.intent()), by: Fixtures.owner, state: busy, policy: Self.open, key: "p1").code == .concurrencyLimitReached)
        #expect(decide(.validatePromotion(Self.intent()), by: Fixtures.owner, state: busy, policy: Self.open).code == .concurrencyLimitReached)
        let denied = decide(.promote(Self.intent()), by: Fixtures.owner, state: full, policy: Self.open, key: "p1")
        let audit = denied.effects.compactMap { effect -> AuditNote? in if case .audit(let note) = effect { note } else { nil } }
        #expect(audit.map(\.eventType) == ["PROMOTION_DENIED"])
        #expect(audit.first?.environment == "staging")
    }

    @Test func observersAndStrangersCannotPromote() {
        #expect(decide(.promote(Self.intent()), by: Fixtures.observer, state: Self.succeeded, policy: Self.open, key: "p1").code == .roleForbidden)
        #expect(decide(.promote(Self.intent()), by: Fixtures.nonMemberOwner, state: Self.succeeded, policy: Self.open, key: "p1").code == .deliveryGroupScopeRequired)
        #expect(decide(.promote(Self.intent()), by: Fixtures.owner, state: Self.succeeded, policy: Self.open).code == .idempotencyKeyRequired)
        #expect(decide(.promote(Self.intent()), by: Fixtures.owner, state: Self.succeeded, policy: Fixtures.killSwitchOn, key: "p1").code == .mutationsDisabled)
    }
}

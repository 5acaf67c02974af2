import Testing
@testable import Rules

/// The test-only faults (docs/DECISIONS.md 43): each breaks exactly its guarantee for the
/// decision, and never changes what is stored.
@Suite("Test-only faults")
struct TestFaultsTests {
    func decide(_ request: Request, by principal: Principal, policy: PolicySnapshot = Fixtures.policy, state: InMemoryState = .registered,
        faults: TestFaults) -> Decision {
        var context = DecisionContext(now: Fixtures.now, decisionId: Fixtures.decisionId, newId: Fixtures.newId, idempotencyKey: "k1")
        context.testFaults = faults
        return Evaluator.evaluate(request, by: principal, policy: policy, state: state, context: context)
    }

    @Test func namesParse() {
        #expect(TestFaults(names: "kill-switch-ignored, rate-limits-ignored") == [.killSwitchIgnored, .rateLimitsIgnored])
        #expect(TestFaults(names: "idempotency-ignored") == .idempotencyIgnored)
        #expect(TestFaults(names: "kill-switch-ignored,bogus") == nil)
    }

    @Test func anIgnoredKillSwitchLetsMutationsThroughButStaysStored() throws {
        let d = decide(.setCIPublishers([Fixtures.ciMain]), by: Fixtures.admin, policy: Fixtures.killSwitchOn, faults: .killSwitchIgnored)
        #expect(d.allowed)
        let stored = d.effects.compactMap { effect -> Settings? in if case .putSettings(let s) = effect { s } else { nil } }
        #expect(stored.count == 1)
        #expect(stored.first?.mutationsDisabled == true, "the stored kill switch keeps its real value")
        #expect(stored.first?.ciPublishers == [Fixtures.ciMain])

        let read = decide(.read(.mutationsDisabled), by: Fixtures.admin, policy: Fixtures.killSwitchOn, faults: .killSwitchIgnored)
        #expect(read.result == .mutationsDisabled(true), "reading the switch tells the truth")
        let off = decide(.setMutationsDisabled(KillSwitchChange(mutationsDisabled: false, reason: nil)), by: Fixtures.admin,
            policy: Fixtures.killSwitchOn, faults: .killSwitchIgnored)
        #expect(off.allowed)
        #expect(!decide(.deploy(Fixtures.intent()), by: Fixtures.owner, policy: Fixtures.killSwitchOn, faults: []).allowed)
    }

    @Test func ignoredRateLimitsNeverRefuse() {
        let state = InMemoryState.registered.with { $0.setRate(Fixtures.owner.actorId, .read, 10_000) }
        #expect(decide(.validate(Fixtures.intent()), by: Fixtures.owner, state: state, faults: []).code == .rateLimited)
        #expect(decide(.validate(Fixtures.intent()), by: Fixtures.owner, state: state, faults: .rateLimitsIgnored).allowed)
        let read = decide(.read(.rateLimits), by: Fixtures.admin, faults: .rateLimitsIgnored)
        #expect(read.result == .rateLimits(RateLimitsChange(
            readRPM: Fixtures.policy.settings.readRPM, mutateRPM: Fixtures.policy.settings.mutateRPM,
            dailyQuotaBuildRegister: Fixtures.policy.settings.dailyQuotaBuildRegister)), "reading the limits tells the truth")
    }
}

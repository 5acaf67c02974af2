import Testing
@testable import Rules

/// Contract §8 kill switch (REFERENCE §2.1, §4, §13.8; DECISIONS D9): with mutations disabled
/// every mutating endpoint and validate answer 503 MUTATIONS_DISABLED, the toggle itself stays
/// usable and audited, and reads keep working.
@Suite("§8 Kill switch")
struct Section8KillSwitchTests {
    static let state = InMemoryState.registered.with {
        $0.add(Fixtures.record(id: "r1", version: "1.0.0", createdAt: Fixtures.now.adding(seconds: -600)))
        $0.add(Fixtures.record(id: "r2", version: "1.0.1", createdAt: Fixtures.now.adding(seconds: -300)))
        $0.add(Fixtures.capability())
    }

    struct Blocked: Sendable, CustomTestStringConvertible {
        let request: Request
        let principal: Principal
        var testDescription: String { request.endpoint }
    }

    static let blocked: [Blocked] = [
        .init(request: .validate(Fixtures.intent()), principal: Fixtures.owner),
        .init(request: .deploy(Fixtures.intent()), principal: Fixtures.owner),
        .init(request: .rollback(deploymentId: "r2"), principal: Fixtures.owner),
        .init(request: .uploadCapability(Fixtures.upload()), principal: Fixtures.ci),
        .init(request: .registerBuild(Fixtures.registration()), principal: Fixtures.ci),
        .init(request: .registerExistingBuild(Fixtures.registration()), principal: Fixtures.ci),
        .init(request: .setRateLimits(RateLimitsChange(readRPM: 100, mutateRPM: 20, dailyQuotaBuildRegister: 10)), principal: Fixtures.admin),
        .init(request: .setCIPublishers([Fixtures.ciMain]), principal: Fixtures.admin),
    ]

    @Test("mutating endpoints and validate → 503 MUTATIONS_DISABLED and change nothing", arguments: blocked)
    func blockedWhenDisabled(_ c: Blocked) {
        let d = decide(c.request, by: c.principal, state: Self.state, policy: Fixtures.killSwitchOn, key: "k1")
        #expect(!d.allowed)
        #expect(d.status == 503)
        #expect(d.code == .mutationsDisabled)
        #expect(d.failedCheck == .killSwitchOff)
        #expect(!d.changesState)
        #expect(d.result == nil)
    }

    @Test("the same requests are allowed with the switch off", arguments: blocked)
    func allowedWhenEnabled(_ c: Blocked) {
        let d = decide(c.request, by: c.principal, state: Self.state, key: "k1")
        #expect(d.allowed)
        #expect(d.trail.contains(CheckResult(.killSwitchOff, .passed)))
    }

    struct Toggle: Sendable, CustomTestStringConvertible {
        let from: Bool
        let to: Bool
        var testDescription: String { "\(from) → \(to)" }
    }

    @Test("the toggle itself is never blocked; it writes the settings and audits old/new values and the reason",
        arguments: [Toggle(from: true, to: false), Toggle(from: false, to: true), Toggle(from: true, to: true)])
    func toggle(_ c: Toggle) throws {
        let policy = Fixtures.policy { $0.settings.mutationsDisabled = c.from }
        let d = decide(
            .setMutationsDisabled(KillSwitchChange(mutationsDisabled: c.to, reason: "govtest run-42")), by: Fixtures.admin,
            policy: policy)
        #expect(d.allowed)
        #expect(d.status == 200)
        #expect(d.result == .mutationsDisabled(c.to))
        #expect(!d.checkNames.contains(.killSwitchOff))
        var expected = policy.settings
        expected.mutationsDisabled = c.to
        #expect(d.effects.contains(Effect.putSettings(expected)))
        #expect(d.countedWindows == [RateWindow(actorId: "admin-sub", bucket: .mutate, minute: Fixtures.now.minute)])
        try #require(d.auditNotes.count == 1)
        let note = d.auditNotes[0]
        #expect(note.eventType == "ADMIN_CONFIG_CHANGE")
        #expect(note.targetType == "AdminSetting")
        #expect(note.targetId == "mutations_disabled")
        #expect(note.outcome == .success)
        #expect(note.actorId == "admin-sub")
        #expect(note.actorRole == .platformAdmin)
        let change = try #require(note.change)
        #expect(change.key == "mutations_disabled")
        #expect(change.oldValue == .bool(c.from))
        #expect(change.newValue == .bool(c.to))
        #expect(change.reason == "govtest run-42")
        #expect(change.actorSubject == "admin-sub")
        #expect(change.actorEmail == "admin@example.com")
    }

    @Test("only admins may toggle")
    func toggleNeedsAdmin() {
        let d = decide(.setMutationsDisabled(KillSwitchChange(mutationsDisabled: false)), by: Fixtures.owner, policy: Fixtures.killSwitchOn)
        #expect(d.code == .roleForbidden)
        #expect(!d.effects.contains { if case .putSettings = $0 { true } else { false } })
    }

    static let reads: [Blocked] = [
        .init(request: .readDeployment(id: "r1"), principal: Fixtures.observer),
        .init(request: .listDeployments(DeploymentQuery()), principal: Fixtures.observer),
        .init(request: .policySummary(PolicySummaryQuery(service: "demo-service", environment: "sandbox")), principal: Fixtures.owner),
    ]

    @Test("reads stay allowed while mutations are disabled", arguments: reads)
    func readsAllowed(_ c: Blocked) {
        let d = decide(c.request, by: c.principal, state: Self.state, policy: Fixtures.killSwitchOn)
        #expect(d.status == 200)
        #expect(!d.checkNames.contains(.killSwitchOff))
    }
}

import Testing
@testable import Rules

/// Contract §1.1 admin configuration (REFERENCE §2.7, §4.5, §11.2; DECISIONS D5, D10): rate
/// limit bounds, one audit entry per changed key, the CI publisher allowlist, and the mutate
/// window spent before the role check.
@Suite("Admin settings")
struct AdminSettingsTests {
    static let adminWindow = RateWindow(actorId: "admin-sub", bucket: .mutate, minute: Fixtures.now.minute)

    static func limits(_ read: Int, _ mutate: Int, _ build: Int) -> Request {
        .setRateLimits(RateLimitsChange(readRPM: read, mutateRPM: mutate, dailyQuotaBuildRegister: build))
    }

    struct Bounds: Sendable, CustomTestStringConvertible {
        let read: Int
        let mutate: Int
        let build: Int
        let invalidField: String?
        var testDescription: String { "\(read)/\(mutate)/\(build)" }
    }

    static let bounds: [Bounds] = [
        .init(read: 1, mutate: 1, build: 0, invalidField: nil),
        .init(read: 5000, mutate: 5000, build: 5000, invalidField: nil),
        .init(read: 0, mutate: 10, build: 50, invalidField: "read_rpm"),
        .init(read: 5001, mutate: 10, build: 50, invalidField: "read_rpm"),
        .init(read: 60, mutate: 0, build: 50, invalidField: "mutate_rpm"),
        .init(read: 60, mutate: 5001, build: 50, invalidField: "mutate_rpm"),
        .init(read: 60, mutate: 10, build: -1, invalidField: "daily_quota_build_register"),
        .init(read: 60, mutate: 10, build: 5001, invalidField: "daily_quota_build_register"),
        .init(read: -5, mutate: -5, build: -5, invalidField: "read_rpm"),
    ]

    @Test("rate limits: rpm 1...5000, build registrations 0...5000, else 400 INVALID_REQUEST", arguments: bounds)
    func rateLimitBounds(_ c: Bounds) {
        let d = decide(Self.limits(c.read, c.mutate, c.build), by: Fixtures.admin)
        if let field = c.invalidField {
            #expect(d.status == 400)
            #expect(d.code == .invalidRequest)
            #expect(d.failedCheck == .settingsValid)
            #expect(d.details == ["field": .string(field)])
            #expect(!d.effects.contains { if case .putSettings = $0 { true } else { false } })
        } else {
            #expect(d.status == 200)
            #expect(d.result == .rateLimits(RateLimitsChange(readRPM: c.read, mutateRPM: c.mutate, dailyQuotaBuildRegister: c.build)))
            var expected = Fixtures.policy.settings
            expected.readRPM = c.read
            expected.mutateRPM = c.mutate
            expected.dailyQuotaBuildRegister = c.build
            #expect(d.effects.contains(Effect.putSettings(expected)))
        }
    }

    struct ChangeCase: Sendable, CustomTestStringConvertible {
        let read: Int
        let mutate: Int
        let build: Int
        let changed: [SettingChangeKey]
        var testDescription: String { "\(read)/\(mutate)/\(build)" }
    }

    struct SettingChangeKey: Sendable, Equatable {
        let key: String
        let old: Int64
        let new: Int64
    }

    static let changes: [ChangeCase] = [
        .init(read: 60, mutate: 10, build: 50, changed: []),
        .init(read: 60, mutate: 20, build: 50, changed: [.init(key: "mutate_rpm", old: 10, new: 20)]),
        .init(
            read: 61, mutate: 11, build: 0,
            changed: [
                .init(key: "read_rpm", old: 60, new: 61), .init(key: "mutate_rpm", old: 10, new: 11),
                .init(key: "daily_quota_build_register", old: 50, new: 0),
            ]),
    ]

    @Test("one ADMIN_CONFIG_CHANGE per changed key, none for unchanged keys", arguments: changes)
    func oneAuditPerChangedKey(_ c: ChangeCase) {
        let d = decide(Self.limits(c.read, c.mutate, c.build), by: Fixtures.admin)
        #expect(d.status == 200)
        let seen = d.auditNotes.map { note -> SettingChangeKey? in
            guard note.eventType == "ADMIN_CONFIG_CHANGE", let change = note.change,
                case .int(let old) = change.oldValue, case .int(let new) = change.newValue, note.targetId == change.key
            else { return nil }
            return SettingChangeKey(key: change.key, old: old, new: new)
        }
        #expect(seen == c.changed.map { Optional($0) })
    }

    // MARK: CI publishers

    @Test("ci-publishers PUT requires an Idempotency-Key → 400 IDMP_KEY_REQUIRED", arguments: [nil, ""] as [String?])
    func ciPublishersNeedKey(_ key: String?) {
        let d = decide(.setCIPublishers([Fixtures.ciMain]), by: Fixtures.admin, key: key)
        #expect(d.status == 400)
        #expect(d.code == .idempotencyKeyRequired)
        #expect(d.failedCheck == .idempotencyKeyPresent)
    }

    @Test("ci-publishers PUT replaces the allowlist and audits old and new values") func ciPublishersReplaced() throws {
        let next = [CIPublisher(name: "govtest-ci", issuers: ["https://ci.example"], subjects: ["ci-bot"], description: "run-42")]
        let d = decide(.setCIPublishers(next), by: Fixtures.admin, key: "k1")
        #expect(d.status == 200)
        #expect(d.result == .ciPublishers(next))
        var expected = Fixtures.policy.settings
        expected.ciPublishers = next
        #expect(d.effects.contains(Effect.putSettings(expected)))
        try #require(d.auditNotes.count == 1)
        let change = try #require(d.auditNotes[0].change)
        #expect(change.key == "ci_publishers")
        #expect(change.oldValue == .array([Fixtures.ciMain.jsonValue]))
        #expect(change.newValue == .array(next.map(\.jsonValue)))
        let stored = d.effects.contains {
            if case .putIdempotency(let scope, let record) = $0 {
                scope == IdempotencyScope(actorId: "admin-sub", endpoint: "PUT /v1/admin/system/ci-publishers", key: "k1")
                    && record.response == StoredResponse(status: 200, result: .ciPublishers(next))
            } else { false }
        }
        #expect(stored)
    }

    @Test("publisher names must be non-empty and unique → 400 INVALID_REQUEST",
        arguments: [
            [CIPublisher(name: "")], [CIPublisher(name: "   ")], [CIPublisher(name: "a"), CIPublisher(name: "a")],
            [CIPublisher(name: " a"), CIPublisher(name: "a ")],
        ])
    func invalidPublisherNames(_ publishers: [CIPublisher]) {
        let d = decide(.setCIPublishers(publishers), by: Fixtures.admin, key: "k1")
        #expect(d.status == 400)
        #expect(d.code == .invalidRequest)
        #expect(d.failedCheck == .settingsValid)
        #expect(!d.effects.contains { if case .putSettings = $0 { true } else { false } })
    }

    @Test("an empty allowlist is a valid PUT")
    func emptyAllowlist() {
        #expect(decide(.setCIPublishers([]), by: Fixtures.admin, key: "k1").status == 200)
    }

    @Test("ci-publishers: same key and body replays; same key, different body → 409 IDEMPOTENCY_CONFLICT (D5)")
    func ciPublishersIdempotency() {
        let first = decide(.setCIPublishers([Fixtures.ciMain]), by: Fixtures.admin, key: "k1")
        var state = InMemoryState.registered
        for case .putIdempotency(let scope, let record) in first.effects { state.remember(scope, record) }
        let again = decide(.setCIPublishers([Fixtures.ciMain]), by: Fixtures.admin, state: state, key: "k1")
        #expect(again.replayed)
        #expect(again.result == first.result)
        #expect(!again.effects.contains { if case .putSettings = $0 { true } else { false } })
        let other = decide(.setCIPublishers([CIPublisher(name: "other")]), by: Fixtures.admin, state: state, key: "k1")
        #expect(other.status == 409)
        #expect(other.code == .idempotencyConflict)
    }

    @Test("rate-limits and kill-switch PUTs honour a key when one is sent (D5)")
    func optionalKeysHonoured() {
        let first = decide(Self.limits(70, 10, 50), by: Fixtures.admin, key: "k1")
        var state = InMemoryState.registered
        for case .putIdempotency(let scope, let record) in first.effects { state.remember(scope, record) }
        #expect(decide(Self.limits(70, 10, 50), by: Fixtures.admin, state: state, key: "k1").replayed)
        #expect(decide(Self.limits(80, 10, 50), by: Fixtures.admin, state: state, key: "k1").code == .idempotencyConflict)
        #expect(decide(Self.limits(80, 10, 50), by: Fixtures.admin, state: state).status == 200)
        let noKey = decide(Self.limits(70, 10, 50), by: Fixtures.admin)
        #expect(!noKey.effects.contains { if case .putIdempotency = $0 { true } else { false } })
    }

    // MARK: Mutate window before role

    @Test("the mutate window is spent before the role check, even by non-admins",
        arguments: [Fixtures.owner, Fixtures.observer, Fixtures.ci])
    func mutateWindowBeforeRole(_ principal: Principal) {
        let d = decide(Self.limits(60, 10, 50), by: principal)
        #expect(d.code == .roleForbidden)
        #expect(d.countedWindows == [RateWindow(actorId: principal.actorId, bucket: .mutate, minute: Fixtures.now.minute)])
        #expect(d.checkNames == [.roleRecognised, .mutateRateLimit, .roleAllowed])
        #expect(d.auditNotes.map(\.eventType) == ["ADMIN_CONFIG_DENIED"])
        let full = InMemoryState.registered.with { $0.setRate(principal.actorId, .mutate, 10) }
        let limited = decide(Self.limits(60, 10, 50), by: principal, state: full)
        #expect(limited.code == .rateLimited)
        #expect(limited.status == 429)
    }

    @Test("admin setting changes are refused by the kill switch after the role check")
    func killSwitchAfterRole() {
        let d = decide(Self.limits(60, 10, 50), by: Fixtures.owner, policy: Fixtures.killSwitchOn)
        #expect(d.code == .roleForbidden)
        let a = decide(Self.limits(60, 10, 50), by: Fixtures.admin, policy: Fixtures.killSwitchOn)
        #expect(a.code == .mutationsDisabled)
        #expect(a.checkNames == [.roleRecognised, .mutateRateLimit, .roleAllowed, .killSwitchOff])
    }
}

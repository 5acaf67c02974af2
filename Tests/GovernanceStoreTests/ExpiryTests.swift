import Foundation
@testable import GovernanceStore
import Rules
import TestSupport
import Testing

/// Expiry (DECISIONS 73): exactly what expired goes — idempotency records past their time to
/// live, upload capabilities past theirs — in bounded passes; a key in flight stays; a request
/// with an expired key is a new request.
@Suite struct ExpiryTests {
    static func registration(_ version: String) -> BuildRegistration {
        BuildRegistration(
            service: "demo-service", version: version, artifactRef: "s3://artifacts/demo-service-\(version).zip", gitSha: "abc\(version)",
            gitBranch: "main", ciProvider: "github", ciRunId: "1", builtAt: "2026-11-25T11:00:00Z")
    }

    @Test(arguments: Backend.underTest) func exactlyWhatExpiredIsRemoved(_ backend: Backend) async throws {
        var policy = testPolicy(maxConcurrent: 10)
        policy.settings.idempotencyTTLSeconds = 60
        policy.settings.uploadCapabilityTTLSeconds = 120
        let seeded = try await seededBackend(backend, policy: policy, versions: [])
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        // At t0: ten registrations (answered: their keys expire at t0+60), a deploy (in flight: never
        // expires while in flight), three capabilities (their keys expire at t0+60, the capabilities
        // at t0+120). At t0+30: ten more registrations.
        for n in 0..<10 {
            #expect(try await store.decide(.registerExistingBuild(Self.registration("1.0.\(n)")), by: ciBot, context: context("early-\(n)", at: baseTime), requestId: nil).allowed)
        }
        #expect(try await store.decide(.deploy(deployIntent("1.0.0")), by: owner, context: context("in-flight", at: baseTime, id: "dep-1"), requestId: nil).allowed)
        for n in 0..<3 {
            let upload = BuildUploadRequest(service: "demo-service", version: "2.0.\(n)", expectedSizeBytes: 10, expectedSha256: String(repeating: "a", count: 64), contentType: "application/zip")
            #expect(try await store.decide(.uploadCapability(upload), by: ciBot, context: context("cap-\(n)", at: baseTime), requestId: nil).allowed)
        }
        for n in 0..<10 {
            #expect(try await store.decide(.registerExistingBuild(Self.registration("1.1.\(n)")), by: ciBot, context: context("late-\(n)", at: baseTime.adding(seconds: 30)), requestId: nil).allowed)
        }
        func key(_ name: String, _ endpoint: String = "POST /v1/builds/register", _ actor: Principal = ciBot) -> IdempotencyScope {
            IdempotencyScope(actorId: actor.actorId, endpoint: endpoint, key: name)
        }
        func present(_ scope: IdempotencyScope) async throws -> Bool { try await store.idempotencyRecord(scope) != nil }
        func capabilities() async throws -> Int {
            try await store.viewing { view in (0..<3).reduce(0) { $0 + view.uploadCapabilities(service: "demo-service", version: "2.0.\($1)").count } }
        }

        #expect(try await store.expire(now: baseTime.adding(seconds: 59)).total == 0, "nothing has expired yet")
        let first = try await store.expire(now: baseTime.adding(seconds: 60), batch: 4)
        #expect(first.idempotencyRecords == 13, "the ten early keys and the capabilities' three, in passes of at most four")
        #expect(first.uploadCapabilities == 0)
        for n in 0..<10 {
            #expect(try await !present(key("early-\(n)")))
            #expect(try await present(key("late-\(n)")))
        }
        #expect(try await present(key("in-flight", "POST /v1/deployments", owner)), "a key in flight stays")
        #expect(try await capabilities() == 3)

        let second = try await store.expire(now: baseTime.adding(seconds: 121))
        #expect(second.idempotencyRecords == 10, "the late keys")
        #expect(second.uploadCapabilities == 3)
        #expect(try await capabilities() == 0)
        #expect(try await present(key("in-flight", "POST /v1/deployments", owner)), "still in flight, still kept")

        // A key that expired is a new request: the registration is decided again, not replayed.
        let again = try await store.decide(
            .registerExistingBuild(Self.registration("1.0.0")), by: ciBot, context: context("early-0", at: baseTime.adding(seconds: 200)), requestId: nil)
        #expect(again.allowed && !again.replayed)
        #expect(try await present(key("early-0")))
        #expect(try await store.verifyAudit().isIntact, "the audit log verifies")
    }

    /// A flood of rate-limit refusals is one audit entry per actor, code and minute, with the
    /// count, written once the minute has closed (DECISIONS 75).
    @Test(arguments: Backend.underTest) func rateLimitRefusalsAreAuditedOncePerMinute(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend, policy: testPolicy(maxConcurrent: 1_000, dailyDeploy: 100_000, mutateRPM: 2))
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        let before = try await store.allAuditEntries().count
        let minute = Timestamp(microseconds: baseTime.minute * 60_000_000)
        var codes: [String] = []
        for n in 0..<52 {
            let decision = try await store.decide(.deploy(deployIntent("1.0.0", summary: "s\(n)")), by: owner, context: context("k\(n)", at: minute.adding(seconds: 1)), requestId: nil)
            codes.append(decision.code?.rawValue ?? "allowed")
        }
        #expect(codes.filter { $0 == "RATE_LIMITED" }.count == 50, "two within the window, fifty refused: \(Set(codes))")
        let afterFlood = try await store.allAuditEntries()
        #expect(afterFlood.count == before + 2, "the two admitted deploys only; the refusals are counted")
        #expect(try await store.expire(now: minute.adding(seconds: 59)).refusalMinutes == 0, "not before the minute closes")
        #expect(try await store.expire(now: minute.adding(seconds: 119)).refusalMinutes == 0, "nor before the next one has passed")
        #expect(try await store.expire(now: minute.adding(seconds: 120)).refusalMinutes == 1)
        let entries = try await store.allAuditEntries()
        #expect(entries.count == before + 3)
        let aggregate = try #require(entries.last)
        #expect(aggregate.eventType == "RATE_LIMITED_REFUSALS")
        #expect(aggregate.actorId == owner.actorId)
        #expect(aggregate.summary.hasPrefix("50 mutating requests refused RATE_LIMITED in the minute from \(minute.iso8601)"), "\(aggregate.summary)")
        #expect(try await store.expire(now: minute.adding(seconds: 180)).refusalMinutes == 0, "audited once")
        guard case .intact = try await store.verifyAudit() else { Issue.record("the audit log does not verify"); return }
    }

    /// Mutate rate windows go once their minute and the next have passed, whether or not their
    /// actor ever comes back; the current window keeps counting.
    @Test(arguments: Backend.underTest) func rateWindowsOfPastMinutesAreRemoved(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend, policy: testPolicy(maxConcurrent: 1_000, dailyDeploy: 100_000, mutateRPM: 3))
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        let minute = Timestamp(microseconds: (baseTime.minute + 2) * 60_000_000)
        #expect(try await store.expire(now: minute).rateWindows == 1, "the seeding registration's window")
        let actors = (0..<5).map { Principal(claims: Claims(subject: "owner-\($0)", email: "owner@example.com", roles: .values(["dxcp-delivery-owners"]))) }
        func register(_ actor: Principal, _ n: Int, at time: Timestamp) async throws -> Decision {
            try await store.decide(.deploy(deployIntent(summary: "s\(n)")), by: actor, context: context("d-\(actor.actorId)-\(n)", at: time), requestId: nil)
        }
        #expect(try await store.rateWindowCount() == 0)
        for (n, actor) in actors.enumerated() { #expect(try await register(actor, n, at: minute.adding(seconds: 5)).allowed) }
        #expect(try await store.rateWindowCount() == 5, "one window per actor")
        #expect(try await store.expire(now: minute.adding(seconds: 61)).rateWindows == 0, "the previous minute is kept")
        // Two more for the first actor in a later minute: its window counts from zero again.
        let later = minute.adding(seconds: 125)
        for n in 10..<13 { #expect(try await register(actors[0], n, at: later).allowed) }
        #expect(try await register(actors[0], 13, at: later).code == .rateLimited, "the fourth in one minute")
        let removed = try await store.expire(now: later)
        #expect(removed.rateWindows == 5, "the minute two behind, every actor's, none of the current one")
        #expect(try await store.rateWindowCount() == 1)
        #expect(try await register(actors[0], 14, at: later).code == .rateLimited, "the current window still counts")
    }
}

import Foundation
import Audit
@testable import GovernanceStore
import Rules
import TestSupport
import Testing

/// Reads served from indexes (issue: bounded state) answer exactly what a scan answers: an
/// owner's deployment list through the by-group index, filtered audit pages through the by-group,
/// by-type and by-time indexes — page after page, with clocks that step back and retention that
/// removes the oldest entries.
@Suite struct IndexedReadsTests {
    /// A store with 240 random decisions: deploys by owners of one group or of all, some refused
    /// (unregistered versions, strangers), engine outcomes; the clock mostly moves on and
    /// sometimes steps back.
    static func history(_ backend: Backend) async throws -> SeededBackend {
        let seeded = try await seededThreeGroupBackend(backend, policy: threeGroupPolicy())
        let store = seeded.store
        var random = SplitMix64(seed: 77)
        var clock = baseTime
        var ids: [String] = []
        for step in 0..<240 {
            clock = clock.adding(seconds: random.chance(10) ? -Int64(random.below(600)) : Int64(random.below(300)))
            let g = random.pick(threeGroups)
            let who = random.pick([g, "all", "stranger"])
            let actor = Principal(claims: Claims(subject: "u-\(who)", email: "\(who)@example.com", roles: .values(["dxcp-delivery-owners"])))
            if random.chance(70) || ids.isEmpty {
                let intent = DeploymentIntent(service: "svc-\(g)", environment: "sandbox", version: random.chance(85) ? "1.0.0" : "9.9.9", changeSummary: "s\(step)")
                if try await store.decide(.deploy(intent), by: actor, context: context("k\(step)", at: clock, id: "dep-\(step)"), requestId: nil).allowed {
                    ids.append("dep-\(step)")
                }
            } else {
                _ = try await store.recordDispatch(deploymentId: random.pick(ids), executionId: "e-\(step)", executionURL: nil, now: clock)
            }
        }
        return seeded
    }

    @Test(arguments: Backend.underTest) func anOwnersListComesFromTheirGroupsIndexes(_ backend: Backend) async throws {
        let seeded = try await Self.history(backend)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        let all = try await store.allDeployments()
        #expect(all.count > 60)
        for groups: Set<String> in [["alpha"], ["alpha", "gamma"], Set(threeGroups), ["nobody"]] {
            let expected = all.filter { groups.contains($0.deliveryGroupId) }.map(\.id)
            // Whole, and a page of 7 at a time from each page's last record.
            let whole = try await store.deployments(matching: DeploymentQuery(), groups: groups).map(\.id)
            #expect(whole == expected, "\(groups)")
            var paged: [String] = []
            var before: DeploymentQuery.Cursor?
            while true {
                var query = DeploymentQuery()
                query.limit = 7
                query.before = before
                let page = try await store.deployments(matching: query, groups: groups)
                paged += page.map(\.id)
                guard page.count == 7, let last = page.last else { break }
                before = DeploymentQuery.Cursor(after: last)
            }
            #expect(paged == expected, "\(groups), in pages")
        }
    }

    @Test(arguments: Backend.underTest) func filteredAuditPagesComeFromTheirIndexes(_ backend: Backend) async throws {
        let seeded = try await Self.history(backend)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        // Retention removes the oldest entries (and their index entries).
        let entries0 = try await store.allAuditEntries()
        let cutoff = entries0[40].timestamp
        _ = try await store.pruneAudit(olderThan: cutoff, upTo: entries0[40].sequence, actorId: "test", now: baseTime.adding(seconds: 86_400))
        let log = try await store.allAuditEntries()
        #expect(log.count > 200 && log.first?.sequence != 1)
        let newestFirst = log.sorted { ($0.timestamp, $0.sequence) > ($1.timestamp, $1.sequence) }
        let times = log.map(\.timestamp).sorted()
        let types = Set(log.map(\.eventType))
        #expect(types.isSuperset(of: ["DEPLOY_SUBMIT", "DEPLOY_DENIED", "ENGINE_TRIGGERED"]))
        var random = SplitMix64(seed: 5)
        for round in 0..<60 {
            var query = AuditQuery(limit: random.pick([5, 13, 500]))
            if random.chance(50) { query.deliveryGroupId = random.pick(threeGroups + ["nobody"]) }
            if random.chance(50) { query.eventType = random.pick(Array(types).sorted() + ["NO_SUCH_EVENT"]) }
            if random.chance(40) { query.startTime = random.pick(times) }
            if random.chance(40) { query.endTime = random.pick(times) }
            let matching = newestFirst.filter { e in
                (query.deliveryGroupId.map { $0 == e.deliveryGroupId } ?? true) && (query.eventType.map { $0 == e.eventType } ?? true)
                    && (query.startTime.map { e.timestamp >= $0 } ?? true) && (query.endTime.map { e.timestamp <= $0 } ?? true)
            }
            let filtered = query.deliveryGroupId != nil || query.eventType != nil || query.startTime != nil || query.endTime != nil
            let expected = filtered ? matching.map(\.sequence) : log.reversed().map(\.sequence)
            var got: [UInt64] = []
            var pages = 0
            while pages < 1_000 {
                let page = try await store.auditEvents(query)
                got += page.entries.map(\.sequence)
                pages += 1
                guard let next = page.next else { break }
                query.before = next
            }
            #expect(got == expected, "round \(round): \(query)")
        }
        // A filtered page whose cursor's entry retention removed is refused, not ended silently;
        // a cursor beyond the head is no bound.
        let removed = try #require(log.first).sequence - 1
        await #expect { try await store.auditEvents(AuditQuery(eventType: "DEPLOY_SUBMIT", before: removed)) } throws: { ($0 as? StoreError)?.kind == .pruned }
        let head = try #require(log.last).sequence
        let unbounded = try await store.auditEvents(AuditQuery(eventType: "DEPLOY_SUBMIT", limit: 500)).entries.map(\.sequence)
        #expect(try await store.auditEvents(AuditQuery(eventType: "DEPLOY_SUBMIT", limit: 500, before: head + 100)).entries.map(\.sequence) == unbounded)
        #expect(try await store.auditEvents(AuditQuery(eventType: "X", limit: 5, before: head + 1)).entries.isEmpty)
        #expect(try await store.auditEvents(AuditQuery(eventType: "DEPLOY_SUBMIT", before: 0)).entries.isEmpty, "nothing is before the first entry")
        // A filter too long to be a key finds nothing (and is no error).
        #expect(try await store.auditEvents(AuditQuery(deliveryGroupId: String(repeating: "g", count: 600))).entries.isEmpty)
        #expect(try await store.auditEvents(AuditQuery(eventType: String(repeating: "E", count: 600))).entries.isEmpty)
    }
}

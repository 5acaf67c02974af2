import Foundation
@testable import GovernanceStore
import Rules
import TestSupport
import Testing

/// The writer's queue is bounded (DECISIONS 74): past the bound a mutating decision is refused at
/// once with nothing done; reads and the store's own work are never refused.
@Suite struct BackpressureTests {
    static func denied(_ n: Int) -> Request {
        .deploy(deployIntent("9.9.\(n)", summary: "unregistered"))
    }

    @Test(arguments: Backend.underTest) func pastTheBoundADecisionIsRefusedWithNothingDone(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend)
        let store = try await seeded.reopened(maxBatch: 256, maxQueue: 0)
        defer { withExtendedLifetime(seeded) {} }
        let before = try await store.allAuditEntries().count
        await #expect(throws: StoreError.self) {
            _ = try await store.decide(Self.denied(1), by: owner, context: context("k1"), requestId: nil)
        }
        do {
            _ = try await store.decide(Self.denied(1), by: owner, context: context("k1"), requestId: nil)
        } catch let error as StoreError {
            #expect(error.kind == .busy)
        }
        #expect(try await store.allAuditEntries().count == before, "a refused decision wrote nothing, not even its audit entry")
        let validate = try await store.decide(.validate(deployIntent()), by: owner, context: context(), requestId: nil)
        #expect(validate.allowed, "validate reads; it never waits for the writer")
        _ = try await store.expire(now: baseTime)
        await store.close()
    }

    @Test(arguments: Backend.underTest) func underAFloodEveryDecisionIsWholeOrRefused(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend)
        let store = try await seeded.reopened(maxBatch: 2, maxQueue: 2)
        defer { withExtendedLifetime(seeded) {} }
        let before = try await store.allAuditEntries().count
        let outcomes = await withTaskGroup(of: Bool?.self) { group in
            for n in 0..<200 {
                group.addTask {
                    do {
                        _ = try await store.decide(Self.denied(n), by: owner, context: context("k\(n)", id: "d\(n)"), requestId: nil)
                        return true
                    } catch let error as StoreError where error.kind == .busy {
                        return false
                    } catch {
                        return nil
                    }
                }
            }
            var all: [Bool?] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        #expect(!outcomes.contains { $0 == nil }, "no other failure")
        let decided = outcomes.filter { $0 == true }.count
        #expect(try await store.allAuditEntries().count == before + decided, "one audit entry per decided denial, none for a refused one")
        #expect(try await store.verifyAudit().isIntact, "the audit log verifies")
        await store.close()
    }
}

import Foundation
import Rules
import Audit
import GovernanceStore
import TestSupport
import Testing

/// The write path: a mutating decision's effects commit together, and engine outcomes move a
/// reservation through its life (DECISIONS D6, D8, D13).
@Suite struct WritePathTests {
    /// Keys are compared byte for byte, as stored: "é" precomposed and "e" with a combining accent
    /// are two keys (Swift's `String` would call them equal), even decided in one batch.
    @Test(arguments: Backend.underTest) func canonicallyEquivalentKeysAreTwoKeys(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend, policy: testPolicy(maxConcurrent: 100, dailyDeploy: 100))
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        let pairs = (0..<10).map { ("caf\u{00E9}-\($0)", "cafe\u{0301}-\($0)") }
        #expect(pairs[0].0 == pairs[0].1 && Array(pairs[0].0.utf8) != Array(pairs[0].1.utf8))
        let decided = try await withThrowingTaskGroup(of: (String, Decision).self) { group in
            for (n, (composed, decomposed)) in pairs.enumerated() {
                for (m, key) in [composed, decomposed].enumerated() {
                    group.addTask {
                        (key, try await store.decide(.deploy(deployIntent(summary: "s\(n)")), by: owner, context: context(key, id: "dep-\(n)-\(m)"), requestId: nil))
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(decided.count { $0.1.allowed && !$0.1.replayed } == 20, "\(decided.map { $0.1.code?.rawValue ?? "allowed" })")
        #expect(try await store.allDeployments().count == 20)
        for (composed, decomposed) in pairs {
            let first = try #require(try await store.idempotencyRecord(IdempotencyScope(actorId: "owner-1", endpoint: "POST /v1/deployments", key: composed)))
            let second = try #require(try await store.idempotencyRecord(IdempotencyScope(actorId: "owner-1", endpoint: "POST /v1/deployments", key: decomposed)))
            #expect(first.fingerprint == second.fingerprint)
        }
        #expect(try await store.verifyAudit().isIntact)
    }

    @Test(arguments: Backend.underTest) func allowedDeployCommitsRecordSlotQuotaIdempotencyOutboxAndAudit(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        let decision = try await store.decide(.deploy(deployIntent()), by: owner, context: context("k1", id: "dep-1"), requestId: "req-1")
        #expect(decision.allowed)
        #expect(decision.status == 201)
        let record = try #require(try await store.deployment(id: "dep-1"))
        #expect(record.state == .inProgress)
        #expect(record.policySnapshot.deploymentsUsed == 0)
        #expect(try await store.activeDeployments(group: "default", environment: "sandbox").map(\.id) == ["dep-1"])
        #expect(try await store.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: baseTime.day) == 1)
        #expect(try await store.pendingDispatches().map(\.deploymentId) == ["dep-1"])
        let scope = IdempotencyScope(actorId: "owner-1", endpoint: "POST /v1/deployments", key: "k1")
        let idem = try #require(try await store.idempotencyRecord(scope))
        #expect(idem.response == nil)
        let entries = try await store.allAuditEntries()
        let submit = try #require(entries.last)
        #expect(submit.eventType == "DEPLOY_SUBMIT")
        #expect(submit.targetId == "dep-1")
        #expect(submit.requestId == "req-1")
        #expect(submit.decisionId == decision.decisionId)
        #expect(submit.trail == decision.trail)
    }

    @Test(arguments: Backend.underTest) func replayWhileInFlightConflictsThenReplaysAfterDispatch(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        _ = try await store.decide(.deploy(deployIntent()), by: owner, context: context("k1", id: "dep-1"), requestId: nil)
        let inFlight = try await store.decide(.deploy(deployIntent()), by: owner, context: context("k1", id: "dep-2"), requestId: nil)
        #expect(inFlight.code == .idempotencyConflict)
        #expect(inFlight.message.contains("in progress"))

        let dispatched = try #require(try await store.recordDispatch(deploymentId: "dep-1", executionId: "exec-1", executionURL: "http://gate/pipelines/exec-1", now: baseTime))
        #expect(dispatched.engineExecutionId == "exec-1")
        #expect(try await store.pendingDispatches().isEmpty)

        let replay = try await store.decide(.deploy(deployIntent()), by: owner, context: context("k1", id: "dep-3"), requestId: nil)
        #expect(replay.allowed)
        #expect(replay.replayed)
        #expect(replay.status == 201)
        guard case .deployment(let replayed)? = replay.result else { Issue.record("no record replayed"); return }
        #expect(replayed.id == "dep-1")
        #expect(try await store.deployment(id: "dep-3") == nil)
        #expect(try await store.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: baseTime.day) == 1)
    }

    @Test(arguments: Backend.underTest) func releasedReservationSpendsNothingAndFreesTheKey(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        _ = try await store.decide(.deploy(deployIntent()), by: owner, context: context("k1", id: "dep-1"), requestId: nil)
        let released = try await store.releaseReservation(deploymentId: "dep-1", reason: "ENGINE_UNAVAILABLE", now: baseTime)
        #expect(released?.id == "dep-1")
        #expect(try await store.deployment(id: "dep-1") == nil)
        #expect(try await store.activeDeployments(group: "default", environment: "sandbox").isEmpty)
        #expect(try await store.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: baseTime.day) == 0)
        #expect(try await store.pendingDispatches().isEmpty)
        #expect(try await store.allAuditEntries().last?.eventType == "ENGINE_TRIGGER_FAILED")
        let retry = try await store.decide(.deploy(deployIntent()), by: owner, context: context("k1", id: "dep-2"), requestId: nil)
        #expect(retry.allowed)
        #expect(!retry.replayed)
    }

    @Test(arguments: Backend.underTest, [DeploymentRecord.State.succeeded, .failed, .canceled, .rolledBack])
    func terminalStateFreesTheSlotAndNeverChangesAgain(_ backend: Backend, _ terminal: DeploymentRecord.State) async throws {
        let seeded = try await seededBackend(backend)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        _ = try await store.decide(.deploy(deployIntent()), by: owner, context: context("k1", id: "dep-1"), requestId: nil)
        let blocked = try await store.decide(.deploy(deployIntent(summary: "second")), by: owner, context: context("k2", id: "dep-2"), requestId: nil)
        #expect(blocked.code == .concurrencyLimitReached)
        _ = try await store.recordDispatch(deploymentId: "dep-1", executionId: "exec-1", executionURL: nil, now: baseTime)
        let ended = try await store.recordEngineState(deploymentId: "dep-1", state: terminal, failures: [], now: baseTime.adding(seconds: 5))
        #expect(ended?.state == terminal)
        #expect(try await store.activeDeployments(group: "default", environment: "sandbox").isEmpty)
        let again = try await store.recordEngineState(deploymentId: "dep-1", state: .inProgress, failures: [], now: baseTime.adding(seconds: 9))
        #expect(again?.state == terminal)
        let next = try await store.decide(.deploy(deployIntent(summary: "third")), by: owner, context: context("k3", id: "dep-3"), requestId: nil)
        #expect(next.allowed, "after \(terminal.rawValue) the slot is free")
    }

    @Test(arguments: Backend.underTest) func deniedDeployIsAuditedAndSpendsNothing(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        let denied = try await store.decide(.deploy(deployIntent("9.9.9")), by: owner, context: context("k1", id: "dep-1"), requestId: nil)
        #expect(denied.code == .versionNotFound)
        #expect(try await store.deployment(id: "dep-1") == nil)
        #expect(try await store.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: baseTime.day) == 0)
        let last = try #require(try await store.allAuditEntries().last)
        #expect(last.eventType == "DEPLOY_DENIED")
        #expect(last.outcome == .denied)
        #expect(last.summary.contains("VERSION_NOT_FOUND"))
    }

    @Test(arguments: Backend.underTest) func staleLockIsReapedByTheNextDeploy(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        _ = try await store.decide(.deploy(deployIntent()), by: owner, context: context("k1", id: "dep-1"), requestId: nil)
        let later = baseTime.adding(seconds: 901)
        let awaiting = try await store.decide(.deploy(deployIntent(summary: "later")), by: owner, context: context("k2", at: later, id: "dep-2"), requestId: nil)
        #expect(awaiting.code == .concurrencyLimitReached, "a reservation awaiting the engine is never a stale lock")
        _ = try await store.recordDispatch(deploymentId: "dep-1", executionId: "e-1", executionURL: nil, now: baseTime)
        let next = try await store.decide(.deploy(deployIntent(summary: "later")), by: owner, context: context("k2", at: later, id: "dep-2"), requestId: nil)
        #expect(next.allowed)
        let stale = try #require(try await store.deployment(id: "dep-1"))
        #expect(stale.state == .failed)
        #expect(stale.failures.first?.category == .infrastructure)
        #expect(try await store.activeDeployments(group: "default", environment: "sandbox").map(\.id) == ["dep-2"])
        #expect(try await store.allAuditEntries().contains { $0.eventType == "DEPLOYMENT_LOCK_EXPIRED" && $0.targetId == "dep-1" })
    }

    @Test(arguments: Backend.underTest) func killSwitchChangeIsVisibleToTheNextDecision(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        let toggle = try await store.decide(.setMutationsDisabled(KillSwitchChange(mutationsDisabled: true, reason: "freeze")), by: admin, context: context(), requestId: nil)
        #expect(toggle.allowed)
        let denied = try await store.decide(.deploy(deployIntent()), by: owner, context: context("k1"), requestId: nil)
        #expect(denied.code == .mutationsDisabled)
        #expect(try await store.policy().settings.mutationsDisabled)
        let change = try #require(try await store.allAuditEntries().first { $0.eventType == "ADMIN_CONFIG_CHANGE" })
        #expect(change.summary.contains("\"setting_key\":\"mutations_disabled\""))
        #expect(change.summary.contains("\"new_value\":true"))
        #expect(change.summary.contains("\"reason\":\"freeze\""))
    }

    @Test(arguments: Backend.underTest) func auditChainVerifiesAfterMixedDecisions(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        for n in 0..<10 {
            _ = try await store.decide(.deploy(deployIntent(n % 3 == 0 ? "1.0.0" : "0.0.\(n)")), by: owner, context: context("k\(n)"), requestId: nil)
        }
        guard case .intact(let count, _) = try await store.verifyAudit() else { Issue.record("chain broken"); return }
        #expect(count == UInt64(try await store.allAuditEntries().count))
        #expect(count >= 12)
    }
}

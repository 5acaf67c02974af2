import Foundation
import Rules
import Audit
import GovernanceStore
import TestSupport
import Testing

/// A process killed with SIGKILL in the middle of deciding leaves a store whose counters agree
/// exactly with its records and idempotency entries, and whose audit chain verifies: every
/// decision committed whole or not at all (DECISIONS D13).
@Suite struct CrashTests {
    @Test(arguments: [false, true])
    func killedDriverLeavesConsistentState(completing: Bool) async throws {
        let dir = TempDirectory()
        do {
            let store = try await seededStore(dir, policy: testPolicy(maxConcurrent: 100_000, dailyDeploy: 100_000))
            await store.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dxcpPolicyExecutable())
        process.arguments = ["drive", "--data-dir", dir.path, "--count", "100000", "--concurrency", "32"] + (completing ? ["--complete"] : [])
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // Let it commit a few hundred decisions, then kill it mid-flight.
        let (seen, signalled) = try await offThePool {
            var seen = Data()
            while seen.split(separator: UInt8(ascii: "\n")).count < 300 {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                seen.append(chunk)
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return (seen, process.terminationReason == .uncaughtSignal)
        }
        #expect(signalled)
        let acknowledged = String(decoding: seen, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("ALLOW ") }
            .map { String($0.dropFirst(6)) }

        let store = try GovernanceStore(directory: dir.path)
        let records = try store.deployments()
        let ids = Set(records.map(\.id))
        // Every deployment a caller was told about is stored.
        #expect(acknowledged.count >= 100)
        #expect(Set(acknowledged).subtracting(ids).isEmpty, "acknowledged but not stored")
        // Quota counters equal the records per day.
        for day in Set(records.map(\.createdAt.day)) {
            let used = try store.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: day)
            #expect(used == records.count { $0.createdAt.day == day })
        }
        // The slot index holds exactly the records whose state holds a slot.
        let active = try store.activeDeployments(group: "default", environment: "sandbox")
        let holding = Set(records.filter { $0.state.holdsSlot }.map(\.id))
        #expect(Set(active.map(\.id)).symmetricDifference(holding).isEmpty, "slot index differs from record states")
        // Every record has its idempotency entry: in flight until dispatched, then complete.
        for record in records {
            let key = try #require(record.intentCorrelationId)
            let scope = IdempotencyScope(actorId: record.actor.actorId, endpoint: "POST /v1/deployments", key: key)
            let idem = try #require(try store.idempotencyRecord(scope))
            #expect((idem.response == nil) == (record.engineExecutionId == nil))
        }
        // The outbox holds exactly the undispatched records.
        let pending = Set(try store.pendingDispatches().map(\.deploymentId))
        let undispatched = Set(records.filter { $0.engineExecutionId == nil && !$0.state.isTerminal }.map(\.id))
        #expect(pending.symmetricDifference(undispatched).isEmpty, "outbox differs from undispatched records")
        // Every accepted deployment has its audit entry and every entry's deployment exists
        // (engine outcomes included), and the chain verifies.
        let entries = try store.auditEntries()
        let audited = Set(entries.filter { $0.eventType == "DEPLOY_SUBMIT" }.map(\.targetId))
        #expect(audited.symmetricDifference(ids).isEmpty, "audit entries differ from records")
        let engineTargets = Set(entries.filter { $0.eventType == "ENGINE_TRIGGERED" || $0.eventType.hasPrefix("DEPLOYMENT_") }.map(\.targetId))
        #expect(engineTargets.isSubset(of: ids), "engine outcome audited for a deployment that is not stored")
        #expect(!completing || !engineTargets.isEmpty, "the completing driver's outcomes are audited")
        guard case .intact = try store.verifyAudit() else {
            Issue.record("audit chain does not verify after the crash")
            return
        }
    }
}

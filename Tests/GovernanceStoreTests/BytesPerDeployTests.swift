import Foundation
import LMDB
@testable import GovernanceStore
import Rules
import TestSupport
import Testing

/// What an allowed deploy leaves in the data file once its transient state has expired
/// (issue: ≤ 2 KB per deploy in steady state): its record, the indexes, its audit entries and the
/// pages LMDB copies, measured as the used bytes of the map (high-water mark less the free list).
@Suite struct BytesPerDeployTests {
    /// One deploy's whole life through the write path: decided with a key, dispatched, succeeded.
    static func deploy(_ store: GovernanceStore, _ n: Int, at time: Timestamp) async throws {
        let id = RecordID.make(at: time)
        let decision = try await store.decide(
            .deploy(deployIntent("1.0.0", summary: "release \(n) of the demo service")), by: owner,
            context: context("deploy-key-\(n)", at: time, id: id))
        #expect(decision.allowed, "deploy \(n): \(decision.code?.rawValue ?? "")")
        _ = try await store.recordDispatch(
            deploymentId: id, executionId: "01J\(String(n, radix: 16))EXECUTION", executionURL: nil, now: time.adding(seconds: 1))
        _ = try await store.recordEngineState(deploymentId: id, state: .succeeded, failures: [], now: time.adding(seconds: 2))
    }

    @Test func anAllowedDeployLeavesAtMostTwoKilobytes() async throws {
        let dir = TempDirectory()
        var policy = testPolicy(maxConcurrent: 1, dailyDeploy: 100_000, mutateRPM: 100_000)
        policy.settings.idempotencyTTLSeconds = 600
        let store = try await seededStore(dir, policy: policy, mapSize: 512 << 20)
        var time = baseTime
        var n = 0
        func run(_ count: Int) async throws {
            for _ in 0..<count {
                try await Self.deploy(store, n, at: time)
                n += 1
                time = time.adding(seconds: 3)
                if n % 200 == 0 { _ = try await store.expire(now: time) }
            }
            _ = try await store.expire(now: time)
        }
        try await run(2_000)
        let warm = mapUsed(store)
        let before = try store.databaseUsage()
        let measured = 2_000
        try await run(measured)
        let after = try store.databaseUsage()
        let perDeploy = Double(mapUsed(store) - warm) / Double(measured)
        var lines: [String] = []
        for (b, a) in zip(before, after) where a.bytes != b.bytes {
            lines.append("\(a.name): \(a.entries - b.entries) entries, \(String(format: "%.0f", Double(a.bytes - b.bytes) / Double(measured))) B/deploy")
        }
        // The fixed-value indexes (the audit's) keep their values in trees of their own that the
        // database's statistics leave out: they are the rest.
        let itemized = zip(before, after).reduce(0) { $0 + $1.1.bytes - $1.0.bytes }
        lines.append("fixed-value indexes and pages of no database: \(String(format: "%.0f", Double(mapUsed(store) - warm - itemized) / Double(measured))) B/deploy")
        print("bytes per deploy: \(String(format: "%.0f", perDeploy)) (\(lines.joined(separator: "; ")))")
        #expect(perDeploy <= 2_048, "\(perDeploy) bytes per deploy: \(lines)")
        guard case .intact = try store.verifyAudit() else { Issue.record("the audit log does not verify"); return }
    }

    /// A directory written by schema 3 (records, audit entries and idempotency records as JSON)
    /// is read as it is: the same records and entries, the chain verifies, a key replays, and new
    /// decisions are packed beside the old values.
    @Test func aSchema3DirectoryIsReadAsItWasWritten() async throws {
        let dir = TempDirectory()
        let store = try await seededStore(dir, policy: testPolicy(maxConcurrent: 10, dailyDeploy: 100))
        for n in 0..<6 { try await Self.deploy(store, n, at: baseTime.adding(seconds: Int64(n) * 10)) }
        let records = try store.deployments()
        let entries = try store.auditEntries()
        let window = RateWindow(actorId: owner.actorId, bucket: .mutate, minute: baseTime.minute)
        let counted = try store.read { view, _ in view.rateCount(window) }
        #expect(counted >= 3)
        await store.close()
        // Back to schema 3's JSON, as an older dxcp-policy wrote it.
        do {
            let env = try LMDB.Environment(path: dir.path, options: .init(mapSize: 64 << 20, maxDatabases: 16))
            let deployments = try env.database("deployments", create: false)
            let audit = try env.database("audit", create: false)
            let idempotency = try env.database("idempotency", create: false)
            let meta = try env.database("meta", create: false)
            let windows = try env.database("rate_windows", create: false)
            let scopes = try env.database("scopes", create: false)
            // The databases schema 4 added, dropped: the upgrade fills them.
            let added = try [("deployments_by_group", false), ("audit_by_group", true), ("audit_by_type", true), ("audit_by_time", true)]
                .map { try env.database($0.0, create: false, fixedValues: $0.1) }
            try env.write { txn in
                for record in records { try txn.put(deployments, Array(record.id.utf8), try RecordCodec.shared.encode(record)) }
                for entry in entries { try txn.put(audit, Schema.sequenceKey(entry.sequence), entry.canonicalBytes(hash: entry.hash)) }
                for (key, value) in try txn.entries(idempotency, prefix: []) {
                    try txn.put(idempotency, key, try RecordCodec.shared.encode(try StoredEncoding.idempotencyRecord(value, .shared)))
                }
                // Rate windows as schema 3 kept them: among the scope entries, keyed by actor first.
                for (key, value) in try txn.entries(windows, prefix: []) {
                    let minute = try #require(StoreKey.integer(in: key, at: 0))
                    let actor = try #require(StoreKey.string(in: key, at: 8))
                    let bucket = try #require(StoreKey.string(in: key, at: 8 + StoreKey().adding(actor).bytes.count))
                    try txn.put(scopes, StoreKey().adding(actor).adding("rate").adding(bucket).adding(minute).bytes, value)
                }
                try txn.drop(windows)
                for db in added { try txn.drop(db) }
                try txn.put(meta, Array("schema_version".utf8), Array("3".utf8))
            }
        }
        let reopened = try GovernanceStore(directory: dir.path, options: .init(mapSize: 64 << 20, create: false))
        #expect(try reopened.deployments() == records)
        #expect(try reopened.auditEntries() == entries)
        guard case .intact = try reopened.verifyAudit() else { Issue.record("a schema-3 log must verify"); return }
        #expect(try reopened.read { view, _ in view.rateCount(window) } == counted, "the rate window moved with its count")
        // The new indexes were filled from the old values.
        #expect(try reopened.read { view, _ in view.deployments(matching: DeploymentQuery(), groups: ["default"]).map(\.id) } == records.map(\.id))
        let submits = entries.filter { $0.eventType == "DEPLOY_SUBMIT" }.sorted { ($0.timestamp, $0.sequence) > ($1.timestamp, $1.sequence) }
        #expect(try reopened.auditEvents(AuditQuery(eventType: "DEPLOY_SUBMIT")).entries == submits)
        #expect(try reopened.auditEvents(AuditQuery(deliveryGroupId: "default", limit: 500)).entries.count == entries.filter { $0.deliveryGroupId == "default" }.count)
        #expect(try reopened.auditEvents(AuditQuery(startTime: baseTime, limit: 500)).entries.count == entries.filter { $0.timestamp >= baseTime }.count)
        let replay = try await reopened.decide(
            .deploy(deployIntent("1.0.0", summary: "release 2 of the demo service")), by: owner, context: context("deploy-key-2", at: baseTime.adding(seconds: 70)))
        guard case .deployment(let replayed)? = replay.result else { Issue.record("no replay: \(replay.code?.rawValue ?? "")"); return }
        #expect(replay.replayed && replayed.id == records.first { $0.intentCorrelationId == "deploy-key-2" }?.id)
        try await Self.deploy(reopened, 6, at: baseTime.adding(seconds: 80))
        #expect(try reopened.deployments().count == 7)
        guard case .intact(let count, _) = try reopened.verifyAudit() else { Issue.record("a mixed log must verify"); return }
        #expect(count == entries.count + 3)
    }
}

import Foundation
import Audit
import LMDB
import Rules
@testable import GovernanceStore
import TestSupport
import Testing

/// The decision log on a real LMDB environment (REFERENCE §11, DECISIONS D13–D15): tampering of
/// every kind is found at the first bad sequence number; export resumes with no gap and no
/// duplicate; retention leaves a checkpoint the rest verifies from, and refuses to remove what
/// does not verify.
@Suite struct AuditLogTests {
    /// A store whose log holds exactly 20 entries: the policy load, a build registration, and 18
    /// deploy decisions (the first allowed, the rest denied by the concurrency limit), the n-th
    /// decision `n` × 10 seconds after the base time.
    static func populatedLog(_ dir: TempDirectory) async throws {
        let store = try await seededStore(dir)
        for n in 1...18 {
            _ = try await store.decide(.deploy(deployIntent(summary: "change \(n)")), by: owner, context: context("k\(n)", at: baseTime.adding(seconds: Int64(n) * 10)))
        }
        let entries = try store.auditEntries()
        #expect(entries.count == 20, "\(entries.map { "\($0.sequence) \($0.eventType) \($0.summary)" })")
        await store.close()
    }

    /// Changes the stored log with a raw LMDB write transaction, as an attacker with the file would.
    static func tamper(_ dir: TempDirectory, _ body: (Transaction, LMDB.Database) throws -> Void) throws {
        let env = try LMDB.Environment(path: dir.path, options: .init(mapSize: 64 << 20, maxDatabases: 16))
        let audit = try env.database("audit", create: false)
        try env.write { txn in try body(txn, audit) }
    }

    static func verdict(_ dir: TempDirectory) throws -> AuditVerifier.Verdict {
        try GovernanceStore(directory: dir.path).verifyAudit()
    }

    static func key(_ sequence: UInt64) -> [UInt8] { Schema.sequenceKey(sequence) }

    /// The stored entry with the case of its summary's first letter flipped in place: one changed
    /// byte that still decodes.
    static func summaryCaseFlipped(_ stored: [UInt8], sequence: UInt64) throws -> [UInt8] {
        let entry = try StoredEncoding.auditEntry(stored, sequence: sequence, RecordCodec())
        var bytes = stored
        let summary = try #require(bytes.firstRange(of: Array(entry.summary.utf8)))
        bytes[summary.lowerBound] ^= 0x20
        #expect(try StoredEncoding.auditEntry(bytes, sequence: sequence, RecordCodec()).summary != entry.summary)
        return bytes
    }

    /// A store of `backend` whose log holds the same 20 entries as ``populatedLog(_:)``'s.
    static func populated(_ backend: Backend) async throws -> SeededBackend {
        let seeded = try await seededBackend(backend)
        for n in 1...18 {
            _ = try await seeded.store.decide(
                .deploy(deployIntent(summary: "change \(n)")), by: owner, context: context("k\(n)", at: baseTime.adding(seconds: Int64(n) * 10)), requestId: nil)
        }
        #expect(try await seeded.store.allAuditEntries().count == 20)
        return seeded
    }

    @Test(arguments: Backend.underTest) func anUntouchedLogVerifies(_ backend: Backend) async throws {
        let seeded = try await Self.populated(backend)
        defer { withExtendedLifetime(seeded) {} }
        guard case .intact(let count, let head) = try await seeded.store.verifyAudit() else {
            Issue.record("an untouched log must verify")
            return
        }
        #expect(count == 20)
        #expect(head == (try await seeded.store.allAuditEntries().last?.hash))
    }

    @Test func oneChangedByteIsFoundAtItsEntry() async throws {
        let dir = TempDirectory()
        try await Self.populatedLog(dir)
        try Self.tamper(dir) { txn, audit in
            try txn.put(audit, Self.key(7), try Self.summaryCaseFlipped(try #require(try txn.get(audit, Self.key(7))), sequence: 7))
        }
        #expect(try Self.verdict(dir) == .broken(sequence: 7, reason: "content does not match its hash"))
    }

    @Test func aByteThatBreaksTheEncodingIsFoundAtItsEntry() async throws {
        let dir = TempDirectory()
        try await Self.populatedLog(dir)
        try Self.tamper(dir) { txn, audit in
            var bytes = try #require(try txn.get(audit, Self.key(12)))
            bytes[0] = UInt8(ascii: "[")
            try txn.put(audit, Self.key(12), bytes)
        }
        #expect(try Self.verdict(dir) == .broken(sequence: 12, reason: "entry cannot be decoded"))
    }

    @Test func aRehashedForgeryIsFoundAtTheNextEntry() async throws {
        let dir = TempDirectory()
        try await Self.populatedLog(dir)
        try Self.tamper(dir) { txn, audit in
            var entry = try StoredEncoding.auditEntry(try #require(try txn.get(audit, Self.key(9))), sequence: 9, RecordCodec())
            entry.summary = "nothing happened"
            entry.hash = AuditChain.hash(of: entry)
            try txn.put(audit, Self.key(9), StoredEncoding.encode(entry))
        }
        #expect(try Self.verdict(dir) == .broken(sequence: 10, reason: "previous hash does not match the hash of entry 9"))
    }

    @Test func aDeletedEntryIsFoundAtItsNumber() async throws {
        let dir = TempDirectory()
        try await Self.populatedLog(dir)
        try Self.tamper(dir) { txn, audit in
            let removed = try txn.delete(audit, Self.key(7))
            #expect(removed)
        }
        #expect(try Self.verdict(dir) == .broken(sequence: 7, reason: "expected sequence 7, found 8"))
    }

    @Test func aDeletedFirstEntryIsFound() async throws {
        let dir = TempDirectory()
        try await Self.populatedLog(dir)
        try Self.tamper(dir) { txn, audit in
            let removed = try txn.delete(audit, Self.key(1))
            #expect(removed)
        }
        #expect(try Self.verdict(dir) == .broken(sequence: 1, reason: "expected sequence 1, found 2"))
    }

    @Test func twoReorderedEntriesAreFoundAtTheFirst() async throws {
        let dir = TempDirectory()
        try await Self.populatedLog(dir)
        try Self.tamper(dir) { txn, audit in
            let seven = try #require(try txn.get(audit, Self.key(7)))
            let eight = try #require(try txn.get(audit, Self.key(8)))
            try txn.put(audit, Self.key(7), eight)
            try txn.put(audit, Self.key(8), seven)
        }
        // An entry's number is its key: entry 8's content under key 7 names entry 7 as its previous.
        #expect(try Self.verdict(dir) == .broken(sequence: 7, reason: "previous hash does not match the hash of entry 6"))
    }

    @Test func aTruncatedTailIsFoundAtTheFirstMissingEntry() async throws {
        let dir = TempDirectory()
        try await Self.populatedLog(dir)
        try Self.tamper(dir) { txn, audit in
            for sequence: UInt64 in 18...20 {
                let removed = try txn.delete(audit, Self.key(sequence))
                #expect(removed)
            }
        }
        #expect(try Self.verdict(dir) == .broken(sequence: 18, reason: "entries 18...20 are missing"))
    }

    @Test func theVerifyCommandNamesTheFirstBadSequence() async throws {
        let dir = TempDirectory()
        try await Self.populatedLog(dir)
        #expect(try runCommand(["audit", "verify", "--data-dir", dir.path]).out.hasPrefix("OK 20 entries"))
        try Self.tamper(dir) { txn, audit in
            let removed = try txn.delete(audit, Self.key(15))
            #expect(removed)
        }
        let result = try runCommand(["audit", "verify", "--data-dir", dir.path])
        #expect(result.status == 1)
        #expect(result.out == "BROKEN at sequence 15: expected sequence 15, found 16\n")
    }

    /// `audit export` in two goes, with decisions appended between them: the union is the log,
    /// in order, with no gap and no duplicate, and every line verifies against the one before.
    @Test func exportResumesWithNoGapAndNoDuplicate() async throws {
        let dir = TempDirectory()
        try await Self.populatedLog(dir)
        let first = try runCommand(["audit", "export", "--data-dir", dir.path, "--after", "0", "--limit", "13"])
        #expect(first.status == 0, "\(first.err)")
        var lines = first.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 13)

        let store = try GovernanceStore(directory: dir.path)
        for n in 19...25 {
            _ = try await store.decide(.deploy(deployIntent(summary: "change \(n)")), by: owner, context: context("k\(n)", at: baseTime.adding(seconds: Int64(n) * 10)))
        }
        let last = try JSONDecoder().decode(AuditEntry.self, from: Data(try #require(lines.last).utf8)).sequence
        // The process keeps its store open: the command reads alongside a live writer.
        let second = try runCommand(["audit", "export", "--data-dir", dir.path, "--after", String(last)])
        #expect(second.status == 0, "\(second.err)")
        lines += second.out.split(separator: "\n").map(String.init)

        let exported = try lines.map { try JSONDecoder().decode(AuditEntry.self, from: Data($0.utf8)) }
        let stored = try store.auditEntries()
        #expect(stored.count == 27)
        #expect(exported == stored)
        #expect(exported.map(\.sequence) == Array(1...27))
        var verifier = AuditVerifier()
        exported.forEach { verifier.feed($0) }
        #expect(verifier.verdict() == .intact(count: 27, headHash: stored[26].hash))
        await store.close()
    }

    /// Retention removes the old entries, records a checkpoint and audits itself; the rest still
    /// verifies, and an export asked to resume inside the removed range fails instead of
    /// skipping silently.
    @Test(arguments: Backend.underTest) func retentionKeepsACheckpointTheRestVerifiesFrom(_ backend: Backend) async throws {
        let seeded = try await Self.populated(backend)
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        let now = baseTime.adding(seconds: 30 * 86_400)
        // Entries 1–2 are at the base time, entry 2+n at n × 10 s: older than 55 s are 1...7.
        let passes = try await store.pruneAudit(olderThan: baseTime.adding(seconds: 55), actorId: "test", now: now, batch: 4)
        #expect(passes.map(\.removed) == [1...4, 5...7])
        let checkpoint = try #require(passes.last?.checkpoint)
        #expect(checkpoint.sequence == 7)
        let remaining = try await store.allAuditEntries()
        #expect(remaining.first?.sequence == 8)
        #expect(remaining.first?.previousHash == checkpoint.hash)
        #expect(remaining.suffix(2).map(\.eventType) == ["AUDIT_RETENTION", "AUDIT_RETENTION"])
        #expect(remaining.last?.targetId == "5...7")
        #expect(try await store.verifyAudit() == .intact(count: 15, headHash: try #require(remaining.last?.hash)))

        // --up-to holds back what a shipper has not confirmed.
        let held = try await store.pruneAudit(olderThan: now, upTo: 9, actorId: "test", now: now)
        #expect(held.map(\.removed) == [8...9])
        #expect(held.last?.checkpoint.sequence == 9)
        guard case .intact = try await store.verifyAudit() else {
            Issue.record("the log must verify after a second retention pass")
            return
        }
        // Nothing old enough: nothing removed, nothing audited.
        let count = try await store.allAuditEntries().count
        #expect(try await store.pruneAudit(olderThan: baseTime, actorId: "test", now: now).isEmpty)
        #expect(try await store.allAuditEntries().count == count)
    }

    /// One node's export and CLI after retention: a cursor before the checkpoint is refused, the
    /// rest exports and verifies from the checkpoint.
    @Test func anExportAfterRetentionStartsAtTheCheckpoint() async throws {
        let dir = TempDirectory()
        try await Self.populatedLog(dir)
        let store = try GovernanceStore(directory: dir.path)
        let now = baseTime.adding(seconds: 30 * 86_400)
        _ = try await store.pruneAudit(olderThan: baseTime.adding(seconds: 55), actorId: "test", now: now, batch: 4)
        #expect(try store.auditCheckpoint()?.sequence == 7)
        #expect(throws: StoreError.self) { try store.auditExport(after: 3, limit: 10) }
        #expect(try store.auditExport(after: 7, limit: 100).lines.count == 15)
        await store.close()
        let refused = try runCommand(["audit", "export", "--data-dir", dir.path, "--after", "0"])
        #expect(refused.status == 3)
        #expect(refused.err.contains("removed by retention"))
        let verify = try runCommand(["audit", "verify", "--data-dir", dir.path])
        #expect(verify.out.hasPrefix("OK 15 entries (after retention checkpoint 7)"), "\(verify.out)")
    }

    @Test func retentionRemovesNothingFromALogThatDoesNotVerify() async throws {
        let dir = TempDirectory()
        try await Self.populatedLog(dir)
        try Self.tamper(dir) { txn, audit in
            try txn.put(audit, Self.key(4), try Self.summaryCaseFlipped(try #require(try txn.get(audit, Self.key(4))), sequence: 4))
        }
        let store = try GovernanceStore(directory: dir.path)
        await #expect(throws: StoreError.self) {
            try await store.pruneAudit(olderThan: baseTime.adding(seconds: 86_400), actorId: "test", now: baseTime.adding(seconds: 86_400))
        }
        #expect(try store.auditEntries().count == 20, "nothing removed")
        #expect(try store.auditCheckpoint() == nil)
        #expect(try store.verifyAudit() == .broken(sequence: 4, reason: "content does not match its hash"))
        await store.close()
    }
}

/// Runs the `dxcp-policy` executable built beside the tests; returns its status and output.
func runCommand(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    try runToEnd(URL(fileURLWithPath: dxcpPolicyExecutable()), arguments)
}

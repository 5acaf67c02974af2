import Audit
import Foundation
import Rules
import Testing

/// The hash chain as pure code (DECISIONS D15): how entries are built, linked and hashed, and
/// how the verifier names the first entry that breaks the chain.
@Suite struct AuditChainTests {
    static let start = Timestamp(seconds: 1_795_608_000)

    static func note(_ n: Int, summary: String? = nil) -> AuditNote {
        AuditNote(
            eventType: n.isMultiple(of: 2) ? "DEPLOY_SUBMIT" : "DEPLOY_DENIED", targetType: "Deployment", targetId: "demo-service",
            outcome: n.isMultiple(of: 2) ? .success : .denied, summary: summary ?? "decision \(n)", actorId: "owner-1",
            actorRole: .deliveryOwner, deliveryGroupId: "default", serviceName: "demo-service", environment: "sandbox")
    }

    /// `count` entries chained from the genesis hash, one decision each.
    static func log(_ count: Int) -> [AuditEntry] {
        var chain = AuditChain()
        return (1...count).map { n in
            chain.append(note(n), origin: AuditOrigin(
                decisionId: "decision-\(n)", requestId: "request-\(n)", timestamp: start.adding(seconds: Int64(n)),
                trail: [CheckResult(.roleAllowed, .passed), CheckResult(.deliveryGroupMember, n.isMultiple(of: 2) ? .passed : .failed(.roleForbidden))]),
                index: 0)
        }
    }

    static func verify(_ entries: [AuditEntry], head: (UInt64, String)? = nil) -> AuditVerifier.Verdict {
        var verifier = AuditVerifier()
        entries.forEach { verifier.feed($0) }
        return verifier.verdict(expectedHead: head)
    }

    @Test func entriesAreNumberedAndLinked() {
        let entries = Self.log(5)
        #expect(entries.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(entries[0].previousHash == AuditChain.genesisHash)
        for (earlier, later) in zip(entries, entries.dropFirst()) { #expect(later.previousHash == earlier.hash) }
        #expect(entries.allSatisfy { $0.hash == AuditChain.hash(of: $0) && $0.hash.count == 64 })
        #expect(Set(entries.map(\.eventId)).count == 5)
        #expect(entries.allSatisfy { $0.contractVersion == governanceContractVersion })
        #expect(Self.verify(entries, head: (5, entries[4].hash)) == .intact(count: 5, headHash: entries[4].hash))
    }

    @Test func eventIdsDeriveFromTheDecisionAndIndex() {
        var a = AuditChain(), b = AuditChain(sequence: 41, headHash: String(repeating: "f", count: 64))
        let origin = AuditOrigin(decisionId: "decision-x", requestId: nil, timestamp: Self.start)
        let first = a.append(Self.note(1), origin: origin, index: 0)
        let again = b.append(Self.note(1), origin: origin, index: 0)
        let second = a.append(Self.note(2), origin: origin, index: 1)
        #expect(first.eventId == again.eventId, "the same decision's entry has the same id wherever it lands")
        #expect(first.eventId != second.eventId)
        let uuid = Array(first.eventId.utf8)
        #expect(uuid.count == 36 && uuid[14] == UInt8(ascii: "4") && [8, 13, 18, 23].allSatisfy { uuid[$0] == UInt8(ascii: "-") })
        #expect(again.sequence == 42)
    }

    /// The canonical encoding is part of the log's format: a change to it would make every stored
    /// entry fail verification, so it is pinned byte for byte.
    @Test func theCanonicalEncodingIsPinned() {
        let entry = Self.log(1)[0]
        let expected = #"{"actor_id":"owner-1","actor_role":"DELIVERY_OWNER","contract_version":"\#(governanceContractVersion)","decision_id":"decision-1","#
            + #""delivery_group_id":"default","environment":"sandbox","event_id":"\#(entry.eventId)","event_type":"DEPLOY_DENIED","hash":"","#
            + #""outcome":"DENIED","previous_hash":"\#(AuditChain.genesisHash)","request_id":"request-1","sequence":1,"#
            + #""service_name":"demo-service","summary":"decision 1","target_id":"demo-service","target_type":"Deployment","#
            + #""timestamp":{"microseconds":1795608001000000},"trail":[{"check":"role_allowed","outcome":"passed"},"#
            + #"{"check":"delivery_group_member","code":"ROLE_FORBIDDEN","outcome":"failed"}]}"#
        #expect(String(decoding: entry.canonicalBytes(hash: ""), as: UTF8.self) == expected)
    }

    @Test func storedFormDecodesToTheSameEntry() throws {
        for entry in Self.log(4) {
            let stored = entry.canonicalBytes(hash: entry.hash)
            #expect(!stored.contains(UInt8(ascii: "\n")), "one entry per line in an export")
            #expect(try JSONDecoder().decode(AuditEntry.self, from: Data(stored)) == entry)
        }
    }

    /// A stored head or checkpoint whose next sequence would not fit a signed 64-bit number (a
    /// value changed by hand) is refused when read, never advanced into a trap.
    @Test func headsPastTheLastSequenceAreRefused() throws {
        let head = AuditChain(sequence: 41)
        let stored = try JSONEncoder().encode(head)
        #expect(try JSONDecoder().decode(AuditChain.self, from: stored) == head)
        for sequence in ["9223372036854775807", "18446744073709551615"] {
            let changed = String(decoding: stored, as: UTF8.self).replacingOccurrences(of: "41", with: sequence)
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(AuditChain.self, from: Data(changed.utf8)) }
        }
        let checkpoint = AuditCheckpoint(sequence: 41, hash: AuditChain.genesisHash, timestamp: Self.start)
        let kept = String(decoding: try JSONEncoder().encode(checkpoint), as: UTF8.self)
        #expect(try JSONDecoder().decode(AuditCheckpoint.self, from: Data(kept.utf8)) == checkpoint)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(AuditCheckpoint.self, from: Data(kept.replacingOccurrences(of: "41", with: "18446744073709551615").utf8))
        }
    }

    @Test func longFreeTextIsTruncated() {
        var chain = AuditChain()
        let entry = chain.append(Self.note(1, summary: String(repeating: "x", count: 5000)), origin: AuditOrigin(decisionId: "d", requestId: nil, timestamp: Self.start), index: 0)
        #expect(entry.summary.count == 1001)
        #expect(entry.summary.hasSuffix("…"))
        #expect(AuditChain.hash(of: entry) == entry.hash)
    }

    @Test func aChangedFieldIsFoundAtItsEntry() {
        var entries = Self.log(6)
        entries[3].summary = "nothing to see"
        #expect(Self.verify(entries) == .broken(sequence: 4, reason: "content does not match its hash"))
        entries = Self.log(6)
        entries[2].outcome = .success
        #expect(Self.verify(entries) == .broken(sequence: 3, reason: "content does not match its hash"))
    }

    @Test func aRehashedForgeryIsFoundAtTheNextEntry() {
        var entries = Self.log(6)
        entries[3].summary = "nothing to see"
        entries[3].hash = AuditChain.hash(of: entries[3])
        #expect(Self.verify(entries) == .broken(sequence: 5, reason: "previous hash does not match the hash of entry 4"))
    }

    @Test func deletedReorderedAndTruncatedEntriesAreFound() {
        let entries = Self.log(6)
        var deleted = entries
        deleted.remove(at: 2)
        #expect(Self.verify(deleted) == .broken(sequence: 3, reason: "expected sequence 3, found 4"))
        var reordered = entries
        reordered.swapAt(1, 2)
        #expect(Self.verify(reordered) == .broken(sequence: 2, reason: "expected sequence 2, found 3"))
        let truncated = Array(entries.prefix(4))
        #expect(Self.verify(truncated, head: (6, entries[5].hash)) == .broken(sequence: 5, reason: "entries 5...6 are missing"))
        #expect(Self.verify(truncated) == .intact(count: 4, headHash: entries[3].hash), "without the recorded head a cut tail looks whole")
        #expect(Self.verify(entries, head: (6, entries[4].hash)) == .broken(sequence: 6, reason: "recorded head does not match the log"))
    }

    @Test func verificationResumesFromACheckpoint() {
        let entries = Self.log(8)
        var verifier = AuditVerifier(after: 3, headHash: entries[2].hash)
        entries.dropFirst(3).forEach { verifier.feed($0) }
        #expect(verifier.verdict(expectedHead: (8, entries[7].hash)) == .intact(count: 5, headHash: entries[7].hash))
        var wrong = AuditVerifier(after: 3, headHash: entries[1].hash)
        entries.dropFirst(3).forEach { wrong.feed($0) }
        #expect(wrong.verdict() == .broken(sequence: 4, reason: "previous hash does not match the hash of entry 3"))
    }
}

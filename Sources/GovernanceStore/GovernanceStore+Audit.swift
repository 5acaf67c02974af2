public import Audit
import LMDB

extension GovernanceStore {
    /// Audit entries with sequence numbers above `sequence`, oldest first, at most `limit`.
    public func auditEntries(after sequence: UInt64 = 0, limit: Int = .max) throws(StoreError) -> [AuditEntry] {
        try read { view, _ in
            var out: [AuditEntry] = []
            let cursor = try view.txn.cursor(schema.audit)
            var entry = try cursor.seek(atLeast: Schema.sequenceKey(sequence + 1))
            while let current = entry, out.count < limit {
                out.append(try view.codec.decode(AuditEntry.self, current.value))
                entry = try cursor.next()
            }
            return out
        }
    }

    /// Verifies the whole audit chain against the head the store recorded.
    public func verifyAudit() throws(StoreError) -> AuditVerifier.Verdict {
        try read { view, _ in
            var verifier = AuditVerifier()
            let cursor = try view.txn.cursor(schema.audit)
            var entry = try cursor.first()
            while let current = entry {
                let seq = StoreKey.integer(in: current.key, at: 0).map { UInt64(bitPattern: $0) } ?? 0
                do {
                    verifier.feed(try view.codec.decode(AuditEntry.self, current.value))
                } catch {
                    verifier.unreadable(sequence: seq, reason: "entry cannot be decoded")
                }
                entry = try cursor.next()
            }
            let head = try auditHead(view.txn, view.codec)
            return verifier.verdict(expectedHead: (head.sequence, head.headHash))
        }
    }
}

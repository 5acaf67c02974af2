public import Audit
public import Rules
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

    /// Entries matching `query`, newest first, at most `query.limit`, below `query.before` when
    /// set; and the cursor for the next page (the last entry's sequence) when more may follow.
    public func auditEvents(_ query: AuditQuery) throws(StoreError) -> (entries: [AuditEntry], next: UInt64?) {
        try read { view, _ in
            var out: [AuditEntry] = []
            let cursor = try view.txn.cursor(schema.audit)
            var entry = try query.before.map { try cursor.seek(atLeast: Schema.sequenceKey($0)) } ?? cursor.last()
            if query.before != nil { entry = entry == nil ? try cursor.last() : try cursor.previous() }
            while let current = entry, out.count < query.limit {
                let decoded = try view.codec.decode(AuditEntry.self, current.value)
                if query.eventType.map({ $0 == decoded.eventType }) ?? true,
                    query.deliveryGroupId.map({ $0 == decoded.deliveryGroupId }) ?? true,
                    query.startTime.map({ decoded.timestamp >= $0 }) ?? true,
                    query.endTime.map({ decoded.timestamp <= $0 }) ?? true
                {
                    out.append(decoded)
                }
                entry = try cursor.previous()
            }
            return (out, out.count == query.limit && entry != nil ? out.last?.sequence : nil)
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

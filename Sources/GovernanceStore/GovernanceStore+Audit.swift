public import Audit
public import Rules
import LMDB

/// One pass of audit retention: remove entries older than `cutoff` and numbered at most `upTo`,
/// at most `limit` of them in one transaction.
struct AuditRetention: Sendable {
    var cutoff: Timestamp
    var upTo: UInt64
    var actorId: String
    var now: Timestamp
    var limit: Int
}

/// What one retention pass removed, and the checkpoint it left.
public struct AuditPruning: Sendable, Hashable {
    /// Sequence numbers removed.
    public var removed: ClosedRange<UInt64>
    /// The checkpoint the log now starts after.
    public var checkpoint: AuditCheckpoint
}

/// A page of the log: one canonical JSON entry per element (what its hash covers, with the hash
/// set), each verifiable on its own and against its neighbour (`previous_hash`); a damaged JSON
/// entry of schema 3 as stored.
public struct AuditExportPage: Sendable {
    /// Entries, oldest first.
    public var lines: [[UInt8]]
    /// Sequence number of the last entry of the page; nil when the page is empty.
    public var lastSequence: UInt64?
}

extension GovernanceStore {
    /// Audit entries with sequence numbers above `sequence`, oldest first, at most `limit`.
    public func auditEntries(after sequence: UInt64 = 0, limit: Int = .max) throws(StoreError) -> [AuditEntry] {
        guard sequence < .max else { return [] }  // nothing comes after the last sequence
        return try read { view, _ in
            var out: [AuditEntry] = []
            let cursor = try view.txn.cursor(schema.audit)
            var entry = try cursor.seek(atLeast: Schema.sequenceKey(sequence + 1))
            while let current = entry, out.count < limit {
                out.append(try auditEntry(current, view.codec))
                entry = try cursor.next()
            }
            return out
        }
    }

    /// The entries after `sequence`, at most `limit`, in their canonical JSON (for `audit export`).
    ///
    /// - Throws: ``StoreError`` of kind `.pruned` when retention already removed entries after
    ///   `sequence`: a shipper resuming there would otherwise skip them without knowing.
    public func auditExport(after sequence: UInt64, limit: Int) throws(StoreError) -> AuditExportPage {
        guard sequence < .max else { return AuditExportPage(lines: [], lastSequence: nil) }  // nothing comes after the last sequence
        return try read { view, _ in
            if let checkpoint = try auditCheckpoint(view.txn, view.codec), sequence < checkpoint.sequence {
                throw StoreError(.pruned, path: path,
                    "audit entries \(sequence + 1)...\(checkpoint.sequence) were removed by retention; the log now starts after \(checkpoint.sequence)")
            }
            var page = AuditExportPage(lines: [], lastSequence: nil)
            let cursor = try view.txn.cursor(schema.audit)
            var entry = try cursor.seek(atLeast: Schema.sequenceKey(sequence + 1))
            while let current = entry, page.lines.count < limit {
                if let stored = try? auditEntry(current, view.codec) {
                    page.lines.append(stored.canonicalBytes(hash: stored.hash))
                } else if current.value.first == UInt8(ascii: "{"), !current.value.contains(0x0A) {
                    // A JSON entry of schema 3 that no longer decodes is shipped as it is (one
                    // line): the receiver's verification names it.
                    page.lines.append(current.value)
                } else {
                    let sequence = StoreKey.integer(in: current.key, at: 0) ?? 0
                    throw StoreError(.corrupt, path: path, "audit entry \(sequence) cannot be decoded (run `dxcp-policy audit verify`)")
                }
                page.lastSequence = StoreKey.integer(in: current.key, at: 0).map { UInt64(bitPattern: $0) }
                entry = try cursor.next()
            }
            return page
        }
    }

    /// Entries matching `query`, newest first, at most `query.limit`, below `query.before` when
    /// set; and the cursor for the next page (the last entry's sequence) when more may follow.
    ///
    /// A filtered query walks one index — the group's, else the event type's, else time — in
    /// (timestamp, sequence) order, from just below the end of its time range (or the cursor's
    /// entry) and stopping at its start; the other filters apply to the entries it meets. An
    /// unfiltered query walks the log by sequence. A cursor beyond the head is no bound.
    ///
    /// - Throws: ``StoreError`` of kind `.pruned` when a filtered query's cursor names an entry
    ///   that retention removed.
    public func auditEvents(_ query: AuditQuery) throws(StoreError) -> (entries: [AuditEntry], next: UInt64?) {
        try read { view, _ in
            let filtered = query.deliveryGroupId != nil || query.eventType != nil || query.startTime != nil || query.endTime != nil
            guard filtered else { return try auditLogPage(query, view) }
            let (database, key): (Database, [UInt8]) =
                if let group = query.deliveryGroupId { (schema.auditByGroup, Schema.auditKey(group)) }
                else if let type = query.eventType { (schema.auditByType, Schema.auditKey(type)) }
                else { (schema.auditByTime, Schema.auditTimeKey) }
            // The walk starts below the smaller of: just after the range's end, the cursor's entry.
            let end = query.endTime.flatMap { $0.microseconds < .max ? $0.microseconds + 1 : nil } ?? .max
            var upper = StoreKey().adding(end).bytes
            if let before = query.before, before <= (try auditHead(view.txn, view.codec)).sequence {
                // The cursor's entry places the page in (timestamp, sequence) order; one that
                // retention removed since cannot, and the caller is told so rather than given an end.
                guard let stored = try view.txn.get(schema.audit, Schema.sequenceKey(before)) else {
                    if before > 0, let checkpoint = try auditCheckpoint(view.txn, view.codec), before <= checkpoint.sequence {
                        throw StoreError(.pruned, path: path, "audit entry \(before), the page cursor, was removed by retention; read again from the first page")
                    }
                    return ([], nil)  // before the first entry: nothing is older
                }
                let cursorEntry = try StoredEncoding.auditEntry(stored, sequence: before, view.codec)
                let below = Schema.auditPosition(cursorEntry.timestamp, before)
                if below.lexicographicallyPrecedes(upper) { upper = below }
            }
            let cursor = try view.txn.cursor(database)
            var position = try cursor.seek(key, valueAtLeast: upper) == nil ? try cursor.lastValue(of: key) : try cursor.previousValue()
            var out: [AuditEntry] = []
            while let at = position, out.count < query.limit {
                // A position is (timestamp, sequence), 8 bytes each.
                guard let micros = StoreKey.integer(in: at, at: 0), let sequence = StoreKey.integer(in: at, at: 8).map(UInt64.init(bitPattern:))
                else { throw UndecodableValue(what: "audit index value") }
                if let start = query.startTime, micros < start.microseconds {
                    position = nil
                    break
                }
                if let stored = try view.txn.get(schema.audit, Schema.sequenceKey(sequence)) {
                    let decoded = try StoredEncoding.auditEntry(stored, sequence: sequence, view.codec)
                    if query.eventType.map({ $0 == decoded.eventType }) ?? true,
                        query.deliveryGroupId.map({ $0 == decoded.deliveryGroupId }) ?? true
                    {
                        out.append(decoded)
                    }
                }
                position = try cursor.previousValue()
            }
            return (out, out.count == query.limit && position != nil ? out.last?.sequence : nil)
        }
    }

    /// A page of the whole log, newest first by sequence.
    private func auditLogPage(_ query: AuditQuery, _ view: StoreView) throws -> (entries: [AuditEntry], next: UInt64?) {
        var out: [AuditEntry] = []
        let cursor = try view.txn.cursor(schema.audit)
        var entry = try query.before.map { try cursor.seek(atLeast: Schema.sequenceKey($0)) } ?? cursor.last()
        if query.before != nil { entry = entry == nil ? try cursor.last() : try cursor.previous() }
        while let current = entry, out.count < query.limit {
            out.append(try auditEntry(current, view.codec))
            entry = try cursor.previous()
        }
        return (out, out.count == query.limit && entry != nil ? out.last?.sequence : nil)
    }

    /// The checkpoint retention left, if it ever removed anything.
    public func auditCheckpoint() throws(StoreError) -> AuditCheckpoint? {
        try read { view, _ in try auditCheckpoint(view.txn, view.codec) }
    }

    /// Verifies the whole stored chain: from the retention checkpoint (or the first entry) to the
    /// head the store recorded.
    public func verifyAudit() throws(StoreError) -> AuditVerifier.Verdict {
        try read { view, _ in
            let checkpoint = try auditCheckpoint(view.txn, view.codec)
            var verifier = AuditVerifier(after: checkpoint?.sequence ?? 0, headHash: checkpoint?.hash ?? AuditChain.genesisHash)
            let cursor = try view.txn.cursor(schema.audit)
            var entry = try cursor.first()
            while let current = entry {
                let seq = StoreKey.integer(in: current.key, at: 0).map { UInt64(bitPattern: $0) } ?? 0
                do {
                    verifier.feed(try auditEntry(current, view.codec))
                } catch {
                    verifier.unreadable(sequence: seq, reason: "entry cannot be decoded")
                }
                entry = try cursor.next()
            }
            let head = try auditHead(view.txn, view.codec)
            return verifier.verdict(expectedHead: (head.sequence, head.headHash))
        }
    }

    /// The entry a cursor is at, its sequence number from the key.
    func auditEntry(_ stored: Cursor.Entry, _ codec: RecordCodec) throws -> AuditEntry {
        guard let sequence = StoreKey.integer(in: stored.key, at: 0) else { throw UndecodableValue(what: "audit key") }
        return try StoredEncoding.auditEntry(stored.value, sequence: UInt64(bitPattern: sequence), codec)
    }

    func auditCheckpoint(_ txn: Transaction, _ codec: RecordCodec) throws -> AuditCheckpoint? {
        try txn.get(schema.meta, Schema.auditCheckpointKey).map { try codec.decode(AuditCheckpoint.self, $0) }
    }

    /// One retention pass inside the write transaction.
    func pruneAudit(_ retention: AuditRetention, _ txn: Transaction, _ codec: RecordCodec, _ state: inout BatchState) throws -> AuditPruning? {
        let previous = try auditCheckpoint(txn, codec)
        var verifier = AuditVerifier(after: previous?.sequence ?? 0, headHash: previous?.hash ?? AuditChain.genesisHash)
        let cursor = try txn.cursor(schema.audit)
        var first: AuditEntry?, last: AuditEntry?, count = 0
        while count < retention.limit, let current = try cursor.first() {
            guard let entry = try? auditEntry(current, codec) else {
                let seq = StoreKey.integer(in: current.key, at: 0) ?? 0
                throw StoreError(.corrupt, path: path, "audit entry \(seq) cannot be decoded; retention removes nothing from a log that does not verify (run `dxcp-policy audit verify`)")
            }
            guard entry.timestamp < retention.cutoff, entry.sequence <= retention.upTo else { break }
            verifier.feed(entry)
            if case .broken(let seq, let reason) = verifier.verdict() {
                throw StoreError(.corrupt, path: path, "audit entry \(seq) does not verify (\(reason)); retention removes nothing from a log that does not verify (run `dxcp-policy audit verify`)")
            }
            try cursor.deleteCurrent()
            for index in schema.auditIndexEntries(entry) { try txn.delete(index.database, index.key, value: index.value) }
            if first == nil { first = entry }
            last = entry
            count += 1
        }
        guard let first, let last else { return nil }
        let checkpoint = AuditCheckpoint(sequence: last.sequence, hash: last.hash, timestamp: last.timestamp)
        try txn.put(schema.meta, Schema.auditCheckpointKey, codec.encode(checkpoint))
        try appendAudit(StoreNotes.retention(first: first, last: last, retention), origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: retention.now), index: 0, txn, codec, &state)
        return AuditPruning(removed: first.sequence...last.sequence, checkpoint: checkpoint)
    }
}

import Rules
import Audit
import LMDB

/// What one expiry pass removed.
public struct Expiry: Sendable, Hashable {
    /// Idempotency records past their expiry (a key in flight never expires).
    public var idempotencyRecords = 0
    /// Upload capabilities past their expiry.
    public var uploadCapabilities = 0
    /// Closed minutes of rate-limit refusals audited, one entry each (DECISIONS 75).
    public var refusalMinutes = 0
    /// Mutate rate windows of past minutes.
    public var rateWindows = 0

    /// Everything done.
    public var total: Int { idempotencyRecords + uploadCapabilities + refusalMinutes + rateWindows }
}

/// Audit notes the store writes itself, the same from every backend.
enum StoreNotes {
    /// The policy data replaced as a whole (`seed`, a first start).
    static func policyLoad(_ snapshot: PolicySnapshot, actorId: String) -> AuditNote {
        AuditNote(
            eventType: "ADMIN_POLICY_LOAD", targetType: "Policy", targetId: "policy", outcome: .success,
            summary: "Policy data replaced: \(snapshot.deliveryGroups.count) delivery groups, \(snapshot.recipes.count) recipes, "
                + "\(snapshot.services.count) services, \(snapshot.environments.count) environments",
            actorId: actorId, actorRole: .platformAdmin)
    }

    /// One entry for a tally of rate-limit refusals: an actor, a code, a minute, with its count.
    static func refusals(count: Int, minute: Int64, first: AuditNote) -> AuditNote {
        // Saturating: a minute read from a key changed by hand cannot overflow.
        let (seconds, overflow) = minute.multipliedReportingOverflow(by: 60)
        let from = Timestamp(seconds: overflow ? (minute < 0 ? .min : .max) : seconds)
        return AuditNote(
            eventType: "RATE_LIMITED_REFUSALS", targetType: "Actor", targetId: first.actorId, outcome: .denied,
            summary: "\(count) mutating request\(count == 1 ? "" : "s") refused RATE_LIMITED in the minute from \(from.iso8601); the first: \(first.summary)",
            actorId: first.actorId, actorRole: first.actorRole, deliveryGroupId: first.deliveryGroupId, serviceName: first.serviceName,
            environment: first.environment)
    }

    /// The entry a retention pass leaves: what it removed, and the checkpoint the rest verifies from.
    static func retention(first: AuditEntry, last: AuditEntry, _ retention: AuditRetention) -> AuditNote {
        AuditNote(
            eventType: "AUDIT_RETENTION", targetType: "AuditLog", targetId: "\(first.sequence)...\(last.sequence)", outcome: .success,
            summary: "Retention removed entries \(first.sequence)...\(last.sequence) older than \(retention.cutoff.iso8601); "
                + "checkpoint \(last.sequence) hash \(last.hash)",
            actorId: retention.actorId, actorRole: nil)
    }
}

extension GovernanceStore {
    /// Audits up to `limit` tallies of rate-limit refusals of minutes before `minute`: one entry
    /// per actor, code and minute, with the count; the tallies go.
    func auditRefusals(before minute: Int64, now: Timestamp, limit: Int, _ txn: Transaction, _ codec: RecordCodec, _ state: inout BatchState) throws -> Int {
        // Each tally is its count's key followed by its first note's key (the count's key and 0).
        var done: [(keys: [[UInt8]], count: Int, first: AuditNote, minute: Int64)] = []
        let cursor = try txn.cursor(schema.refusals)
        var entry = try cursor.first()
        var count: (key: [UInt8], value: Int)?
        while let current = entry, done.count < limit {
            guard let at = StoreKey.integer(in: current.key, at: 0), at < minute else { break }
            if let open = count, current.key.starts(with: open.key) {
                done.append(([open.key, current.key], open.value, try codec.decode(AuditNote.self, current.value), at))
                count = nil
            } else {
                count = (current.key, current.value.withUnsafeBytes { StoreKey.counter($0) })
            }
            entry = try cursor.next()
        }
        for (index, tally) in done.enumerated() {
            let note = StoreNotes.refusals(count: tally.count, minute: tally.minute, first: tally.first)
            try appendAudit(note, origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: index, txn, codec, &state)
            for key in tally.keys { try txn.delete(schema.refusals, key) }
        }
        return done.count
    }

    /// Removes up to `limit` entries from the front of `db` whose leading integer is below `before`.
    func removeFront(of db: Database, before: Int64, limit: Int, _ txn: Transaction) throws -> Int {
        let cursor = try txn.cursor(db)
        var removed = 0
        while removed < limit, let current = try cursor.first(), let at = StoreKey.integer(in: current.key, at: 0), at < before {
            try cursor.deleteCurrent()
            removed += 1
        }
        return removed
    }

    /// One pass: the front of the expiry index up to `now`, then the capabilities, `limit` removals at most.
    func expire(now: Timestamp, limit: Int, _ txn: Transaction, _ codec: RecordCodec) throws -> Expiry {
        var removed = Expiry()
        var stale: [[UInt8]] = []
        var expired: [(entry: [UInt8], key: [UInt8])] = []
        let cursor = try txn.cursor(schema.idempotencyExpiry)
        var entry = try cursor.first()
        // Key layout: expiresAt (8 bytes), actor, endpoint, key; the value is the record's key.
        while let current = entry, expired.count + stale.count < limit {
            guard let micros = StoreKey.integer(in: current.key, at: 0), micros <= now.microseconds else { break }
            if let bytes = try txn.get(schema.idempotency, current.value) {
                let record = try StoredEncoding.idempotencyRecord(bytes, codec)
                if record.expiresAt.microseconds != micros {
                    stale.append(current.key)
                } else if record.response != nil {
                    expired.append((current.key, current.value))
                }
            } else {
                stale.append(current.key)
            }
            entry = try cursor.next()
        }
        for key in stale { try txn.delete(schema.idempotencyExpiry, key) }
        for (entryKey, recordKey) in expired {
            try txn.delete(schema.idempotencyExpiry, entryKey)
            try txn.delete(schema.idempotency, recordKey)
        }
        removed.idempotencyRecords = expired.count
        var capabilities: [[UInt8]] = []
        let scan = try txn.cursor(schema.capabilities)
        var next = try scan.first()
        while let current = next, removed.idempotencyRecords + capabilities.count < limit {
            if try codec.decode(UploadCapability.self, current.value).expiresAt <= now { capabilities.append(current.key) }
            next = try scan.next()
        }
        for key in capabilities { try txn.delete(schema.capabilities, key) }
        removed.uploadCapabilities = capabilities.count
        return removed
    }
}

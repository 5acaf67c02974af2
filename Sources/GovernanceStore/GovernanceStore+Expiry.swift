public import Rules
import LMDB

/// What one expiry pass removed.
public struct Expiry: Sendable, Hashable {
    /// Idempotency records past their expiry (a key in flight never expires).
    public var idempotencyRecords = 0
    /// Upload capabilities past their expiry.
    public var uploadCapabilities = 0

    /// Everything removed.
    public var total: Int { idempotencyRecords + uploadCapabilities }
}

extension GovernanceStore {
    /// Removes what expired by `now` — idempotency records through their expiry index, upload
    /// capabilities — in passes of at most `batch` removals, each one write transaction through the
    /// write path, so a pass never holds the writer for long. A key still in flight (its
    /// deployment awaits the engine) is kept whatever its expiry (DECISIONS D6). Deployment
    /// records and audit entries are not touched (audit retention is its own setting).
    public func expire(now: Timestamp, batch: Int = 500) async throws -> Expiry {
        var total = Expiry()
        while true {
            guard case .expired(let pass) = try await writer.submit(.mutation(.expire(now: now, limit: max(1, batch)))) else { return total }
            total.idempotencyRecords += pass.idempotencyRecords
            total.uploadCapabilities += pass.uploadCapabilities
            if pass.total < batch { return total }
        }
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
                let record = try codec.decode(IdempotencyRecord.self, bytes)
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

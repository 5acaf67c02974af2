import LMDB
import Rules

/// The rules' view of governance state inside one LMDB transaction (read or write).
///
/// A read error cannot be thrown through the rules, so the view records the first one and answers
/// neutrally; the owner must check ``failure`` and discard the decision when it is set.
final class StoreView: StateView {
    let txn: Transaction
    let schema: Schema
    let codec: RecordCodec
    /// Read windows live in process memory (DECISIONS.md); nil inside the write path, where only
    /// mutate windows are read.
    let readWindows: ReadWindows?
    // INVARIANT: set at most once, by the first failed read; a decision evaluated while it is set
    // is never committed or returned.
    private(set) var failure: (any Error)?

    init(txn: Transaction, schema: Schema, codec: RecordCodec, readWindows: ReadWindows?) {
        self.txn = txn
        self.schema = schema
        self.codec = codec
        self.readWindows = readWindows
    }

    func record(_ error: any Error) {
        if failure == nil { failure = error }
    }

    func attempt<T>(_ fallback: T, _ body: () throws -> T) -> T {
        do { return try body() } catch {
            record(error)
            return fallback
        }
    }

    func rateCount(_ window: RateWindow) -> Int {
        if window.bucket.keptInMemory, let readWindows { return readWindows.count(window) }
        return attempt(0) { try txn.counter(schema.rateWindows, Schema.rateKey(window)) }
    }

    func quotaUsed(_ scope: QuotaScope, day: Int64) -> Int {
        attempt(0) { try txn.counter(schema.scopes, Schema.quotaKey(scope, day: day)) }
    }

    func activeDeployments(group: String, environment: String) -> [ActiveDeployment] {
        attempt([]) {
            try txn.entries(schema.scopes, prefix: Schema.slotPrefix(group: group, environment: environment).bytes).map {
                guard let active = CompactValues.decodeActive($0.value) else { throw UndecodableValue(what: "slot entry") }
                return active
            }
        }
    }

    func slotUsage(group: String, environment: String, staleBefore: Timestamp) -> SlotUsage {
        attempt(SlotUsage(holding: 0, stale: [])) {
            let holding = try txn.counter(schema.scopes, Schema.slotCountKey(group: group, environment: environment))
            var stale: [ActiveDeployment] = []
            let prefix = Schema.slotAgePrefix(group: group, environment: environment).bytes
            let cursor = try txn.cursor(schema.scopes)
            var entry = try cursor.seek(prefix: prefix)
            while let current = entry {
                guard let micros = StoreKey.integer(in: current.key, at: prefix.count), let id = StoreKey.string(in: current.key, at: prefix.count + 8)
                else { throw UndecodableValue(what: "slot age entry") }
                guard micros <= staleBefore.microseconds else { break }
                stale.append(ActiveDeployment(id: id, state: .inProgress, updatedAt: Timestamp(microseconds: micros)))
                entry = try cursor.next(prefix: prefix)
            }
            return SlotUsage(holding: holding, stale: stale)
        }
    }

    func deployment(id: String) -> DeploymentRecord? {
        attempt(nil) {
            guard let bytes = try txn.get(schema.deployments, Array(id.utf8)) else { return nil }
            return try StoredEncoding.record(bytes, id: id, codec)
        }
    }

    func latestSucceeded(service: String, environment: String, before: Timestamp) -> DeploymentRecord? {
        latestSuccessId(service: service, environment: environment, before: before).flatMap { deployment(id: $0) }
    }

    func latestSuccessId(service: String, environment: String) -> String? {
        latestSuccessId(service: service, environment: environment, before: Timestamp(microseconds: .max))
    }

    /// The id of the newest SUCCEEDED record of a service in an environment created before `before`.
    private func latestSuccessId(service: String, environment: String, before: Timestamp) -> String? {
        attempt(nil) {
            let prefix = StoreKey().adding(service).adding(environment)
            let cursor = try txn.cursor(schema.succeeded)
            // Position after every key created before `before`, then step back once.
            var entry = try cursor.seek(atLeast: prefix.adding(before.microseconds).bytes)
            entry = entry == nil ? try cursor.last() : try cursor.previous()
            // Key layout: service, environment, createdAt (8 bytes), id.
            guard let key = entry?.key, key.starts(with: prefix.bytes) else { return nil }
            return StoreKey.string(in: key, at: prefix.bytes.count + 8)
        }
    }

    func hasSucceeded(service: String, environment: String, version: String) -> Bool {
        attempt(false) {
            try txn.counter(schema.succeededVersions, Schema.succeededVersionKey(service: service, environment: environment, version: version)) > 0
        }
    }

    func latestDeployment(service: String, environment: String) -> DeploymentRecord? {
        attempt(nil) {
            // Key layout: service, environment, createdAt (8 bytes), id; the newest is the last.
            let prefix = Schema.scopePrefix(service: service, environment: environment).bytes
            let cursor = try txn.cursor(schema.deploymentsByScope)
            var entry = try cursor.seek(atLeast: StoreKey().adding(service).adding(environment).adding(Int64.max).bytes)
            entry = entry == nil ? try cursor.last() : try cursor.previous()
            guard let key = entry?.key, key.starts(with: prefix), let id = StoreKey.string(in: key, at: prefix.count + 8) else { return nil }
            return deployment(id: id)
        }
    }

    func insightCounts(hours: ClosedRange<Int64>) -> [InsightCount] {
        attempt([]) {
            var counts: [InsightCount] = []
            let cursor = try txn.cursor(schema.insights)
            var entry = try cursor.seek(atLeast: StoreKey().adding(hours.lowerBound).bytes)
            while let current = entry {
                let key = current.key
                guard let hour = StoreKey.integer(in: key, at: 0) else { throw UndecodableValue(what: "insight counter") }
                guard hour <= hours.upperBound else { break }
                var parts: [String] = []
                var offset = 8
                while parts.count < 4, let part = StoreKey.string(in: key, at: offset) {
                    parts.append(part)
                    offset += StoreKey().adding(part).bytes.count
                }
                guard parts.count == 4, let measure = InsightCount.Measure(rawValue: parts[2]) else { throw UndecodableValue(what: "insight counter") }
                let count = current.value.withUnsafeBytes { StoreKey.counter($0) }
                counts.append(InsightCount(hour: hour, group: parts[0], service: parts[1], measure: measure, label: parts[3], count: count))
                entry = try cursor.next()
            }
            return counts
        }
    }

    func build(service: String, version: String) -> Build? {
        attempt(nil) {
            guard let bytes = try txn.get(schema.builds, Schema.buildKey(service: service, version: version)) else { return nil }
            return try codec.decode(Build.self, bytes)
        }
    }

    func builds(service: String) -> [Build] {
        attempt([]) {
            try txn.entries(schema.builds, prefix: StoreKey().adding(service).bytes).map { try codec.decode(Build.self, $0.value) }
                .sorted { $0.registeredAt > $1.registeredAt }
        }
    }

    func isRegistered(service: String, version: String) -> Bool {
        attempt(false) { try txn.withValue(schema.builds, Schema.buildKey(service: service, version: version)) { _ in true } ?? false }
    }

    func uploadCapabilities(service: String, version: String) -> [UploadCapability] {
        attempt([]) {
            try txn.entries(schema.capabilities, prefix: Schema.buildKey(service: service, version: version)).map {
                try codec.decode(UploadCapability.self, $0.value)
            }
        }
    }

    func idempotencyRecord(_ scope: IdempotencyScope) -> IdempotencyRecord? {
        attempt(nil) {
            guard let bytes = try txn.get(schema.idempotency, Schema.idempotencyKey(scope)) else { return nil }
            return try StoredEncoding.idempotencyRecord(bytes, codec)
        }
    }

    func deployments(matching query: DeploymentQuery, groups: Set<String>?) -> [DeploymentRecord] {
        attempt([]) {
            // A service and an environment are read from their own index; an owner's groups each
            // from the by-group index; anything else walks the time index. All are ordered
            // (createdAt, id) after their prefix: stepping back is newest first, and several walks
            // merge by taking the newest of their heads.
            let walks: [(database: Database, prefix: [UInt8])] =
                if let service = query.service, let environment = query.environment {
                    [(schema.deploymentsByScope, Schema.scopePrefix(service: service, environment: environment).bytes)]
                } else if let groups {
                    groups.sorted().map { (schema.deploymentsByGroup, Schema.groupPrefix($0).bytes) }
                } else {
                    [(schema.deploymentsByTime, [])]
                }
            // From the newest, or from just older than the cursor's record.
            let start = query.before.map { StoreKey().adding($0.createdAt.microseconds).adding($0.id).bytes } ?? StoreKey().adding(Int64.max).bytes
            var heads: [(cursor: LMDB.Cursor, prefix: [UInt8], key: [UInt8]?)] = []
            for walk in walks {
                let cursor = try txn.cursor(walk.database)
                let entry = try cursor.seek(atLeast: walk.prefix + start) == nil ? try cursor.last() : try cursor.previous()
                heads.append((cursor, walk.prefix, entry.flatMap { $0.key.starts(with: walk.prefix) ? $0.key : nil }))
            }
            var out: [DeploymentRecord] = []
            while out.count < (query.limit ?? .max) {
                // The newest head: its (createdAt, id) after the prefix is the greatest.
                var newest: Int?
                for (n, head) in heads.enumerated() {
                    guard let key = head.key else { continue }
                    if let best = newest, let bestKey = heads[best].key,
                        !bestKey[heads[best].prefix.count...].lexicographicallyPrecedes(key[head.prefix.count...])
                    {
                        continue
                    }
                    newest = n
                }
                guard let n = newest, let key = heads[n].key else { break }
                let prefix = heads[n].prefix
                // Key layout: the prefix, createdAt (8 bytes), id.
                if let id = StoreKey.string(in: key, at: prefix.count + 8), let record = deployment(id: id),
                    query.service.map({ $0 == record.service }) ?? true,
                    query.environment.map({ $0 == record.environment }) ?? true,
                    query.state.map({ $0 == record.state }) ?? true,
                    groups.map({ $0.contains(record.deliveryGroupId) }) ?? true
                {
                    out.append(record)
                }
                heads[n].key = try heads[n].cursor.previous().flatMap { $0.key.starts(with: prefix) ? $0.key : nil }
            }
            return out
        }
    }
}

import Audit
import LMDB
import PostgresNIO
import Rules

/// Everything a node's data directory holds, read in one LMDB read transaction: what moving
/// the node into a fleet copies.
struct NodeState {
    var policy = PolicySnapshot()
    var generation: UInt64 = 0
    var deployments: [DeploymentRecord] = []
    var builds: [Build] = []
    var capabilities: [UploadCapability] = []
    var keys: [(scope: IdempotencyScope, record: IdempotencyRecord)] = []
    var quota: [(kind: String, scope: String, day: Int64, used: Int)] = []
    var rateWindows: [(minute: Int64, actor: String, bucket: String, count: Int)] = []
    var refusals: [(minute: Int64, actor: String, code: String, count: Int, note: AuditNote)] = []
    var outbox: [DispatchOrder] = []
    var audit: [AuditEntry] = []
    var head = AuditChain()
    var checkpoint: AuditCheckpoint?
}

/// What a migration copied.
public struct MigrationReport: Sendable, Hashable, CustomStringConvertible {
    public var deployments = 0
    public var builds = 0
    public var idempotencyKeys = 0
    public var counters = 0
    public var pendingDispatches = 0
    public var auditEntries = 0

    public var description: String {
        "\(deployments) deployments, \(builds) builds, \(idempotencyKeys) idempotency keys, \(counters) quota and rate counters, "
            + "\(pendingDispatches) pending dispatches, \(auditEntries) audit entries"
    }
}

/// Reads the components of a key written by ``StoreKey``: strings and 8-byte integers in order.
private struct KeyReader {
    let key: [UInt8]
    var offset = 0

    mutating func string() -> String? {
        guard let text = StoreKey.string(in: key, at: offset) else { return nil }
        offset += StoreKey().adding(text).bytes.count
        return text
    }

    mutating func integer() -> Int64? {
        guard let value = StoreKey.integer(in: key, at: offset) else { return nil }
        offset += 8
        return value
    }

    var atEnd: Bool { offset == key.count }
}

extension GovernanceStore {
    /// The whole state, for ``FleetStore/migrate(from:)``.
    func nodeState() throws(StoreError) -> NodeState {
        try read { view, policy in
            let txn = view.txn, codec = view.codec
            var state = NodeState()
            state.policy = policy
            state.generation = UInt64(try txn.counter(schema.meta, Schema.generationKey))
            for entry in try txn.entries(schema.deployments, prefix: []) {
                state.deployments.append(try StoredEncoding.record(entry.value, id: String(decoding: entry.key, as: UTF8.self), codec))
            }
            state.builds = try txn.entries(schema.builds, prefix: []).map { try codec.decode(Build.self, $0.value) }
            state.capabilities = try txn.entries(schema.capabilities, prefix: []).map { try codec.decode(UploadCapability.self, $0.value) }
            for entry in try txn.entries(schema.idempotency, prefix: []) {
                var key = KeyReader(key: entry.key)
                guard let actor = key.string(), let endpoint = key.string(), let client = key.string() else { throw UndecodableValue(what: "idempotency key") }
                state.keys.append((IdempotencyScope(actorId: actor, endpoint: endpoint, key: client), try StoredEncoding.idempotencyRecord(entry.value, codec)))
            }
            for entry in try txn.entries(schema.scopes, prefix: []) {
                // (scope, "quota", kind, day) → units spent; the other scope entries (slots and their
                // ages) are rebuilt from the records.
                var key = KeyReader(key: entry.key)
                guard let scope = key.string(), key.string() == "quota" else { continue }
                guard let kind = key.string(), let day = key.integer(), key.atEnd else { throw UndecodableValue(what: "quota counter") }
                state.quota.append((kind, scope, day, entry.value.withUnsafeBytes { StoreKey.counter($0) }))
            }
            for entry in try txn.entries(schema.rateWindows, prefix: []) {
                var key = KeyReader(key: entry.key)
                guard let minute = key.integer(), let actor = key.string(), let bucket = key.string() else { throw UndecodableValue(what: "rate window") }
                state.rateWindows.append((minute, actor, bucket, entry.value.withUnsafeBytes { StoreKey.counter($0) }))
            }
            let refusals = try txn.entries(schema.refusals, prefix: [])
            for entry in refusals {
                // A tally's count under (minute, actor, code); its first note under the same key and 0.
                var key = KeyReader(key: entry.key)
                guard let minute = key.integer(), let actor = key.string(), let code = key.string(), key.atEnd else { continue }
                let noteKey = Schema.refusalKey(minute: minute, actor: actor, code: ContractCode(rawValue: code) ?? .rateLimited).adding(0).bytes
                guard let note = try txn.get(schema.refusals, noteKey) else { throw UndecodableValue(what: "refusal tally") }
                state.refusals.append((minute, actor, code, entry.value.withUnsafeBytes { StoreKey.counter($0) }, try codec.decode(AuditNote.self, note)))
            }
            state.outbox = try txn.entries(schema.outbox, prefix: []).map {
                guard let order = CompactValues.decodeOrder($0.value) else { throw UndecodableValue(what: "outbox entry") }
                return order
            }
            state.audit = try txn.entries(schema.audit, prefix: []).map { try auditEntry($0, codec) }
            state.head = try auditHead(txn, codec)
            state.checkpoint = try auditCheckpoint(txn, codec)
            return state
        }
    }
}

extension FleetStore {
    /// Copies a node's whole state into this fleet's database, in one transaction: policy and
    /// settings (with their generation), records (their slots and insight counters rebuilt),
    /// builds, upload capabilities, idempotency keys, quota counters, rate windows, refusal
    /// tallies, pending dispatches, and the audit chain entry for entry with its head and
    /// retention checkpoint, so `audit verify` passes on the result. The database must hold no
    /// state yet (a fresh schema); the node should be stopped, or what it decides meanwhile is
    /// not copied.
    public func migrate(from node: GovernanceStore) async throws -> MigrationReport {
        let state = try node.nodeState()
        return try await read { session in
            try session.transaction {
                _ = try session.rows("SELECT 1 FROM fleet_head FOR UPDATE")
                let used = try session.rows("""
                    SELECT (SELECT count(*) FROM deployments) + (SELECT count(*) FROM audit) + (SELECT count(*) FROM builds)
                        + (SELECT count(*) FROM idempotency) + (SELECT generation FROM policy)
                    """).first?.decode(Int64.self) ?? 0
                guard used == 0 else {
                    throw StoreError(.storage, path: self.path, "already holds state; migrate into a fresh database (nothing was copied)")
                }
                return try Self.copy(state, session, path: self.path)
            }
        }
    }

    private static func copy(_ state: NodeState, _ session: SQLSession, path: String) throws -> MigrationReport {
        let codec = RecordCodec.shared
        func json(_ value: some Encodable) throws -> String { String(decoding: try codec.encode(value), as: UTF8.self) }
        let batch = FleetBatch(session: session, codec: codec, path: path)
        let writes = FleetWrites(batch: batch)
        var report = MigrationReport()
        try session.send("UPDATE policy SET generation = \(Int64(state.generation)), snapshot = \(try json(state.policy))::json")
        // Written a few thousand rows to a statement.
        for (n, record) in state.deployments.enumerated() {
            try batch.putDeployment(record, previous: nil)
            if n % 2000 == 1999 { try batch.flush() }
        }
        for build in state.builds { batch.putBuild(build) }
        for capability in state.capabilities { try writes.putUploadCapability(capability) }
        for (n, (scope, record)) in state.keys.enumerated() {
            batch.putIdempotency(scope, record)
            if n % 2000 == 1999 { try batch.flush() }
        }
        try batch.flush()
        for q in state.quota {
            try session.send("INSERT INTO quota_counters (kind, scope, day, used) VALUES (\(q.kind), \(q.scope), \(q.day), \(q.used))")
        }
        for w in state.rateWindows {
            try session.send("INSERT INTO rate_windows (minute, actor, bucket, count) VALUES (\(w.minute), \(w.actor), \(w.bucket), \(w.count))")
        }
        for r in state.refusals {
            try session.send("INSERT INTO refusals (minute, actor, code, count, note) VALUES (\(r.minute), \(r.actor), \(r.code), \(r.count), \(try json(r.note))::json)")
        }
        for order in state.outbox {
            let scope = order.idempotency
            try session.send("""
                INSERT INTO outbox (deployment_id, actor, endpoint, key) VALUES (\(order.deploymentId), \(scope.actorId), \(scope.endpoint), \(scope.key))
                """)
        }
        for (n, entry) in state.audit.enumerated() {
            batch.appendAudit(entry)
            if n % 2000 == 1999 { try batch.flush() }
        }
        try batch.flush()
        let checkpoint = state.checkpoint
        try session.send("""
            UPDATE fleet_head SET audit_sequence = \(Int64(state.head.sequence)), audit_hash = \(state.head.headHash),
                audit_checkpoint_sequence = \(Int64(checkpoint?.sequence ?? 0)), audit_checkpoint_hash = \(checkpoint?.hash ?? AuditChain.genesisHash),
                policy_generation = \(Int64(state.generation))
            """)
        report.deployments = state.deployments.count
        report.builds = state.builds.count
        report.idempotencyKeys = state.keys.count
        report.counters = state.quota.count + state.rateWindows.count + state.refusals.count
        report.pendingDispatches = state.outbox.count
        report.auditEntries = state.audit.count
        return report
    }
}

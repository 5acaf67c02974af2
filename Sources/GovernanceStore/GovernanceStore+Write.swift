import Rules
import Audit
import LMDB

/// The state one write transaction carries from one piece of work to the next.
struct BatchState {
    var policy: PolicySnapshot
    var generation: UInt64
    var policyChanged = false
    var chain: AuditChain
    var chainChanged = false
    var readHits: [RateWindow] = []
}

extension GovernanceStore {
    /// Applies a batch in one durable write transaction and returns each piece's outcome.
    /// Throws (and writes nothing) when any piece cannot be read or written.
    func applyBatch(_ batch: [WriteWork], more: () -> [WriteWork], beforeCommit: () -> Void) throws -> [WriteOutcome] {
        // One writer in one process: nothing waits between taking a batch and applying it.
        try applyBatch(batch, beforeCommit: beforeCommit)
    }

    func applyBatch(_ batch: [WriteWork], beforeCommit: () -> Void = {}) throws -> [WriteOutcome] {
        let codec = RecordCodec.shared
        var published: (UInt64, PolicySnapshot)?
        var readHits: [RateWindow] = []
        let outcomes = try environment.write { txn -> [WriteOutcome] in
            var state = BatchState(
                policy: try currentPolicy(txn, codec: codec),
                generation: UInt64(try txn.counter(schema.meta, Schema.generationKey)),
                chain: try auditHead(txn, codec))
            var outcomes: [WriteOutcome] = []
            outcomes.reserveCapacity(batch.count)
            for work in batch {
                switch work {
                case .decide(let request, let principal, let context, let requestId):
                    let view = StoreView(txn: txn, schema: schema, codec: codec, readWindows: nil)
                    let decision = Evaluator.evaluate(request, by: principal, policy: state.policy, state: view, context: context)
                    if let failure = view.failure { throw failure }
                    let origin = AuditOrigin(decisionId: decision.decisionId, requestId: requestId, timestamp: context.now, trail: decision.trail)
                    try apply(decision.effects, origin: origin, txn, codec, &state)
                    outcomes.append(.decision(decision))
                case .mutation(let mutation):
                    outcomes.append(try apply(mutation, txn, codec, &state))
                }
            }
            if state.policyChanged {
                state.generation += 1
                try txn.put(schema.policy, Schema.snapshotKey, codec.encode(state.policy))
                try txn.put(schema.meta, Schema.generationKey, StoreKey.counterBytes(Int(state.generation)))
                published = (state.generation, state.policy)
            }
            // Every commit must write a page, so that its data sync also makes the previous
            // commit's deferred meta page durable (see WritePath).
            let commits = try txn.counter(schema.meta, Schema.commitsKey) + 1
            try txn.put(schema.meta, Schema.commitsKey, StoreKey.counterBytes(commits))
            if state.chainChanged {
                try txn.put(schema.meta, Schema.auditHeadKey, codec.encode(state.chain))
            }
            readHits = state.readHits
            beforeCommit()
            return outcomes
        }
        if let (generation, snapshot) = published { publishPolicy(generation: generation, snapshot) }
        readHits.forEach(readWindows.hit)
        return outcomes
    }

    func auditHead(_ txn: Transaction, _ codec: RecordCodec) throws -> AuditChain {
        guard let bytes = try txn.get(schema.meta, Schema.auditHeadKey) else { return AuditChain() }
        return try codec.decode(AuditChain.self, bytes)
    }

    /// Writes a decision's effects. Order matters only for audit entries, appended in order.
    func apply(_ effects: [Effect], origin: AuditOrigin, _ txn: Transaction, _ codec: RecordCodec, _ state: inout BatchState) throws {
        var auditIndex = 0
        for effect in effects {
            switch effect {
            case .countRate(let window):
                if window.bucket.keptInMemory {
                    state.readHits.append(window)
                } else {
                    try increment(Schema.rateKey(window), by: 1, in: schema.rateWindows, txn)
                }
            case .spendQuota(let scope, let day):
                try increment(Schema.quotaKey(scope, day: day), by: 1, txn)
                try prune(prefix: Schema.quotaPrefix(scope).bytes, before: day - 2, txn)
            case .insertDeployment(let record, let scope):
                guard try txn.get(schema.deployments, Array(record.id.utf8)) == nil else {
                    throw StoreError(.storage, path: path, "deployment id \(record.id) already exists")
                }
                try putDeployment(record, previous: nil, txn, codec)
                try txn.put(schema.deploymentsByTime, Schema.byTimeKey(record), [], appending: true)
                try txn.put(schema.outbox, Array(record.id.utf8), CompactValues.encode(DispatchOrder(deploymentId: record.id, idempotency: scope)))
            case .admitExecution(let record):
                guard try txn.get(schema.deployments, Array(record.id.utf8)) == nil else {
                    throw StoreError(.storage, path: path, "deployment id \(record.id) already exists")
                }
                try putDeployment(record, previous: nil, txn, codec)
                try txn.put(schema.deploymentsByTime, Schema.byTimeKey(record), [], appending: true)
            case .expireDeployment(let id, let failure):
                try expire(id, failure, origin: origin, auditIndex: &auditIndex, txn, codec, &state)
            case .putIdempotency(let scope, let record):
                try putIdempotency(scope, record, txn, codec)
            case .putBuild(let build):
                try txn.put(schema.builds, Schema.buildKey(service: build.service, version: build.version), codec.encode(build))
            case .putUploadCapability(let capability):
                try txn.put(schema.capabilities, Schema.capabilityKey(capability), codec.encode(capability))
            case .consumeUploadCapability(let capability):
                try txn.delete(schema.capabilities, Schema.capabilityKey(capability))
            case .putSettings(let settings):
                state.policy.settings = settings
                state.policyChanged = true
            case .putPolicy(let policy):
                state.policy = policy
                state.policyChanged = true
            case .audit(let note):
                try appendAudit(note, origin: origin, index: auditIndex, txn, codec, &state)
                auditIndex += 1
            case .auditRefusal(let note, let code, let minute):
                guard writesAudit else { break }
                // A counter per refusal; the note is encoded for the minute's first one only.
                let key = Schema.refusalKey(minute: minute, actor: note.actorId, code: code)
                let count = try txn.counter(schema.refusals, key.bytes)
                if count == 0 { try txn.put(schema.refusals, key.adding(0).bytes, codec.encode(note)) }
                try txn.put(schema.refusals, key.bytes, StoreKey.counterBytes(count + 1))
            }
        }
    }

    func appendAudit(_ note: AuditNote, origin: AuditOrigin, index: Int, _ txn: Transaction, _ codec: RecordCodec, _ state: inout BatchState) throws {
        guard writesAudit else { return }
        let entry = state.chain.append(note, origin: origin, index: index)
        try txn.put(schema.audit, Schema.sequenceKey(entry.sequence), StoredEncoding.encode(entry), appending: true)
        for index in schema.auditIndexEntries(entry) { try txn.put(index.database, index.key, index.value, appending: true) }
        state.chainChanged = true
    }

    /// Stores a record and keeps every index of it in step: its slot, the success indexes, the
    /// record-by-scope and record-by-group indexes and the insight counters. `previous` is the record as stored before
    /// (nil for a new one).
    func putDeployment(_ record: DeploymentRecord, previous: DeploymentRecord?, _ txn: Transaction, _ codec: RecordCodec) throws {
        try updateSlot(record, holds: record.state.holdsSlot, txn)
        try reindex(from: previous, to: record, txn)
        try txn.put(schema.deployments, Array(record.id.utf8), StoredEncoding.encode(record))
    }

    func deleteDeployment(_ record: DeploymentRecord, _ txn: Transaction) throws {
        try updateSlot(record, holds: false, txn)
        try reindex(from: record, to: nil, txn)
        try txn.delete(schema.deploymentsByTime, Schema.byTimeKey(record))
        try txn.delete(schema.deployments, Array(record.id.utf8))
    }

    /// The indexes a record is in, moved from what `old` was in to what `new` is in (nil: not
    /// stored). Service, environment, group, creation time, kind and recipe never change (contract §4.4).
    // INVARIANT: a record is in `succeeded` and counted in `succeeded_versions` exactly while its
    // state is SUCCEEDED; it is in `deployments_by_scope` and `deployments_by_group` and counted once in `insights` (with one
    // count per failure it carries) exactly while it is stored.
    func reindex(from old: DeploymentRecord?, to new: DeploymentRecord?, _ txn: Transaction) throws {
        guard let any = new ?? old else { return }
        let wasSucceeded = old?.state == .succeeded, isSucceeded = new?.state == .succeeded
        if wasSucceeded != isSucceeded {
            let versionKey = Schema.succeededVersionKey(service: any.service, environment: any.environment, version: any.version)
            if isSucceeded {
                try txn.put(schema.succeeded, Schema.succeededKey(any), [])
                try increment(versionKey, by: 1, in: schema.succeededVersions, txn)
            } else {
                try txn.delete(schema.succeeded, Schema.succeededKey(any))
                try increment(versionKey, by: -1, in: schema.succeededVersions, txn)
            }
        }
        let hour = any.createdAt.hour
        func count(_ measure: InsightCount.Measure, _ label: String, by delta: Int) throws {
            let key = Schema.insightKey(hour: hour, group: any.deliveryGroupId, service: any.service, measure: measure, label: label)
            try increment(key, by: delta, in: schema.insights, txn)
        }
        let measure: InsightCount.Measure = any.rollbackOf != nil || any.kind == .rollback ? .rollback : .deploy
        if old == nil, new != nil {
            try txn.put(schema.deploymentsByScope, Schema.byScopeKey(any), [])
            try txn.put(schema.deploymentsByGroup, Schema.byGroupKey(any), [])
            try count(measure, any.recipeId, by: 1)
        } else if old != nil, new == nil {
            try txn.delete(schema.deploymentsByScope, Schema.byScopeKey(any))
            try txn.delete(schema.deploymentsByGroup, Schema.byGroupKey(any))
            try count(measure, any.recipeId, by: -1)
        }
        if old?.failures != new?.failures {
            for failure in old?.failures ?? [] { try count(.failure, failure.category.rawValue, by: -1) }
            for failure in new?.failures ?? [] { try count(.failure, failure.category.rawValue, by: 1) }
        }
    }

    /// Writes or removes a record's slot entry, keeping its group and environment's slot count and
    /// its entry in the age index (what can become a stale lock, oldest first) in step.
    // INVARIANT: the "slots" counter of a scope equals its number of slot entries, and a slot entry
    // has an age entry exactly while it can become a stale lock.
    func updateSlot(_ record: DeploymentRecord, holds: Bool, _ txn: Transaction) throws {
        let group = record.deliveryGroupId, environment = record.environment
        let slotKey = Schema.slotKey(group: group, environment: environment, id: record.id)
        let old = try txn.get(schema.scopes, slotKey).map { bytes in
            guard let active = CompactValues.decodeActive(bytes) else { throw UndecodableValue(what: "slot entry") }
            return active
        }
        if let old, old.canBeStale {
            try txn.delete(schema.scopes, Schema.slotAgeKey(group: group, environment: environment, old))
        }
        if holds {
            let entry = ActiveDeployment(id: record.id, state: record.state, updatedAt: record.updatedAt, awaitingEngine: record.engineExecutionId == nil)
            try txn.put(schema.scopes, slotKey, CompactValues.encode(entry))
            if old == nil { try increment(Schema.slotCountKey(group: group, environment: environment), by: 1, txn) }
            if entry.canBeStale { try txn.put(schema.scopes, Schema.slotAgeKey(group: group, environment: environment, entry), []) }
        } else if old != nil {
            try txn.delete(schema.scopes, slotKey)
            try increment(Schema.slotCountKey(group: group, environment: environment), by: -1, txn)
        }
    }

    func putIdempotency(_ scope: IdempotencyScope, _ record: IdempotencyRecord, _ txn: Transaction, _ codec: RecordCodec) throws {
        let key = Schema.idempotencyKey(scope)
        if let old = try txn.get(schema.idempotency, key) {
            let previous = try StoredEncoding.idempotencyRecord(old, codec)
            try txn.delete(schema.idempotencyExpiry, Schema.expiryKey(previous.expiresAt, scope))
        }
        try txn.put(schema.idempotency, key, StoredEncoding.encode(record, codec))
        try txn.put(schema.idempotencyExpiry, Schema.expiryKey(record.expiresAt, scope), key)
    }

    func deleteIdempotency(_ scope: IdempotencyScope, _ txn: Transaction, _ codec: RecordCodec) throws {
        let key = Schema.idempotencyKey(scope)
        guard let old = try txn.get(schema.idempotency, key) else { return }
        let previous = try StoredEncoding.idempotencyRecord(old, codec)
        try txn.delete(schema.idempotencyExpiry, Schema.expiryKey(previous.expiresAt, scope))
        try txn.delete(schema.idempotency, key)
    }

    func increment(_ key: [UInt8], by delta: Int, in database: Database? = nil, _ txn: Transaction) throws {
        let db = database ?? schema.scopes
        let value = try txn.counter(db, key) + delta
        if value <= 0 {
            try txn.delete(db, key)
        } else {
            try txn.put(db, key, StoreKey.counterBytes(value))
        }
    }

    /// Deletes the counters under `prefix` whose trailing window number is below `before`.
    func prune(prefix: [UInt8], before: Int64, _ txn: Transaction) throws {
        let cursor = try txn.cursor(schema.scopes)
        var entry = try cursor.seek(atLeast: prefix)
        while let current = entry, current.key.starts(with: prefix) {
            guard let window = StoreKey.integer(in: current.key, at: prefix.count), window < before else { break }
            try cursor.deleteCurrent()
            entry = try cursor.seek(atLeast: prefix)
        }
    }
}

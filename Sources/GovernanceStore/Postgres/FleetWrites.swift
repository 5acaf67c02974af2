import Audit
import PostgresNIO
import Rules

/// Writes a decision's effects and the store's own mutations as SQL, inside the writer's
/// transaction (which holds the fleet lock). The same effects as ``GovernanceStore``'s
/// `apply(_:origin:_:_:_:)`, kept in the same invariants: a record holds a slot row exactly while
/// its state holds a slot; an outbox row exists exactly while a reservation's trigger is neither
/// recorded nor released; the insight counters count each stored record once.
struct FleetWrites {
    let session: SQLSession
    let codec: RecordCodec
    let path: String

    /// Counts one request in its rate window: a row shared by the fleet, whatever the bucket.
    static func count(_ window: RateWindow, _ session: SQLSession) throws {
        try session.send("""
            INSERT INTO rate_windows (minute, actor, bucket, count) VALUES (\(window.minute), \(window.actorId), \(window.bucket.rawValue), 1)
            ON CONFLICT (minute, actor, bucket) DO UPDATE SET count = rate_windows.count + 1
            """)
    }

    private func json(_ value: some Encodable) throws -> String {
        String(decoding: try codec.encode(value), as: UTF8.self)
    }

    func apply(_ effects: [Effect], origin: AuditOrigin, _ state: inout BatchState) throws {
        var auditIndex = 0
        for effect in effects {
            switch effect {
            case .countRate(let window):
                try Self.count(window, session)
            case .spendQuota(let scope, let day):
                try addQuota(scope, day: day, by: 1)
                try session.send("DELETE FROM quota_counters WHERE kind = \(scope.kind.rawValue) AND scope = \(scope.key) AND day < \(day - 2)")
            case .insertDeployment(let record, let scope):
                try insertDeployment(record)
                try session.send("""
                    INSERT INTO outbox (deployment_id, actor, endpoint, key) VALUES (\(record.id), \(scope.actorId), \(scope.endpoint), \(scope.key))
                    """)
            case .admitExecution(let record):
                try insertDeployment(record)
            case .expireDeployment(let id, let failure):
                guard var record = try deployment(id), record.state.holdsSlot, record.engineExecutionId != nil else { break }
                let previous = record
                record.state = .failed
                record.failures = [failure]
                record.updatedAt = failure.observedAt
                try putDeployment(record, previous: previous)
                try appendAudit(engineNote(record, "DEPLOYMENT_LOCK_EXPIRED", .failed, failure.summary), origin: origin, index: auditIndex, &state)
                auditIndex += 1
            case .putIdempotency(let scope, let record):
                try putIdempotency(scope, record)
            case .putBuild(let build):
                try putBuild(build)
            case .putUploadCapability(let capability):
                try putUploadCapability(capability)
            case .consumeUploadCapability(let c):
                try session.send("DELETE FROM upload_capabilities WHERE service = \(c.service) AND version = \(c.version) AND token = \(c.token)")
            case .putSettings(let settings):
                state.policy.settings = settings
                state.policyChanged = true
            case .putPolicy(let policy):
                state.policy = policy
                state.policyChanged = true
            case .audit(let note):
                try appendAudit(note, origin: origin, index: auditIndex, &state)
                auditIndex += 1
            case .auditRefusal(let note, let code, let minute):
                try session.send("""
                    INSERT INTO refusals (minute, actor, code, count, note) VALUES (\(minute), \(note.actorId), \(code.rawValue), 1, \(try json(note))::jsonb)
                    ON CONFLICT (minute, actor, code) DO UPDATE SET count = refusals.count + 1
                    """)
            }
        }
    }

    func apply(_ mutation: StoreMutation, _ state: inout BatchState) throws -> WriteOutcome {
        switch mutation {
        case .replacePolicy(let snapshot, let actorId, let now, let onlyIfNone):
            // Checked under the fleet lock: replicas starting together load the policy once.
            guard !onlyIfNone || (state.generation == 0 && !state.policyChanged) else { return .policyLoaded(false) }
            state.policy = snapshot.stamped(after: state.policy, at: now, by: actorId)
            state.policyChanged = true
            try appendAudit(StoreNotes.policyLoad(snapshot, actorId: actorId), origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: 0, &state)
            return .policyLoaded(true)

        case .recordDispatch(let id, let executionId, let executionURL, let now, _):
            // A deployment's execution is recorded once; a second report changes nothing.
            guard let order = try takeDispatchOrder(id) else { return .mutation(try deployment(id)) }
            guard var record = try deployment(id) else { return .mutation(nil) }
            let previous = record
            record.engineExecutionId = executionId
            record.engineExecutionURL = executionURL
            record.updatedAt = now
            try putDeployment(record, previous: previous)
            try completeIdempotency(order, with: record, now: now, ttlSeconds: state.policy.settings.idempotencyTTLSeconds)
            try appendAudit(engineNote(record, "ENGINE_TRIGGERED", .success, "Engine accepted \(record.id) as execution \(executionId)"),
                origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: 0, &state)
            return .mutation(record)

        case .releaseReservation(let id, let reason, let now):
            // Only a reservation whose trigger is unrecorded is ever released.
            guard let record = try deployment(id), record.engineExecutionId == nil, let order = try takeDispatchOrder(id) else { return .mutation(nil) }
            try session.send("DELETE FROM slots WHERE delivery_group = \(record.deliveryGroupId) AND environment = \(record.environment) AND deployment_id = \(id)")
            try countInsights(from: record, to: nil)
            try session.send("DELETE FROM deployments WHERE id = \(id)")
            try session.send("DELETE FROM idempotency WHERE actor = \(order.actorId) AND endpoint = \(order.endpoint) AND key = \(order.key)")
            let kind: QuotaScope.Kind = record.kind == .rollback ? .rollback : .deploy
            try addQuota(QuotaScope(kind: kind, key: "\(record.deliveryGroupId):\(record.environment)"), day: record.createdAt.day, by: -1)
            try appendAudit(engineNote(record, "ENGINE_TRIGGER_FAILED", .failed, "Engine did not start \(record.id): \(reason)"),
                origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: 0, &state)
            return .mutation(record)

        case .recordEngineState(let id, let newState, let failures, let now):
            guard var record = try deployment(id) else { return .mutation(nil) }
            // A terminal record never changes state, outcome or failures again.
            guard !record.state.isTerminal else { return .mutation(record) }
            let previous = record
            record.state = newState
            record.failures = failures.isEmpty ? record.failures : failures
            record.updatedAt = now
            try putDeployment(record, previous: previous)
            if newState.isTerminal {
                _ = try takeDispatchOrder(id)
                let outcome: AuditNote.Outcome = newState == .succeeded ? .success : .failed
                try appendAudit(engineNote(record, "DEPLOYMENT_\(newState.rawValue)", outcome, "Deployment \(record.id) ended \(newState.rawValue)"),
                    origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: 0, &state)
            }
            return .mutation(record)

        case .expire(let now, let limit):
            // As on one node: keys in flight (no answer stored yet) are kept whatever their expiry;
            // a minute's refusals are audited once the next minute has passed too; a window counts
            // only in its minute, and the previous one is kept for a decision committed late.
            var expiry = Expiry()
            expiry.idempotencyRecords = try session.run("""
                DELETE FROM idempotency WHERE ctid IN (SELECT ctid FROM idempotency WHERE expires_at <= \(now.microseconds)
                  AND jsonb_typeof(record -> 'response') = 'object' ORDER BY expires_at LIMIT \(Int64(limit)))
                """)
            expiry.uploadCapabilities = try session.run("""
                DELETE FROM upload_capabilities WHERE ctid IN (SELECT ctid FROM upload_capabilities WHERE expires_at <= \(now.microseconds)
                  LIMIT \(Int64(max(0, limit - expiry.total))))
                """)
            let tallies = try session.rows("""
                DELETE FROM refusals WHERE ctid IN (SELECT ctid FROM refusals WHERE minute < \(now.minute - 1)
                  ORDER BY minute, actor, code LIMIT \(Int64(max(0, limit - expiry.total))))
                RETURNING minute, actor, code, count, note::text
                """).map { try $0.decode((Int64, String, String, Int, String).self) }.sorted { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
            for (index, tally) in tallies.enumerated() {
                let first = try codec.decode(AuditNote.self, Array(tally.4.utf8))
                try appendAudit(StoreNotes.refusals(count: tally.3, minute: tally.0, first: first),
                    origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: index, &state)
            }
            expiry.refusalMinutes = tallies.count
            // Commit tokens are asked for only just after their commit (FleetStore.applyBatch).
            try session.send("DELETE FROM batches WHERE committed_at < \(now.microseconds - 3_600_000_000)")
            expiry.rateWindows = try session.run("""
                DELETE FROM rate_windows WHERE ctid IN (SELECT ctid FROM rate_windows WHERE minute < \(now.minute - 1)
                  LIMIT \(Int64(max(0, limit - expiry.total))))
                """)
            return .expired(expiry)

        case .pruneAudit(let retention):
            return .pruned(try prune(retention, &state))
        }
    }

    // MARK: Records

    func putBuild(_ build: Build) throws {
        try session.send("""
            INSERT INTO builds (service, version, registered_at, build) VALUES (\(build.service), \(build.version), \(build.registeredAt.microseconds), \(try json(build))::jsonb)
            ON CONFLICT (service, version) DO UPDATE SET registered_at = EXCLUDED.registered_at, build = EXCLUDED.build
            """)
    }

    func putUploadCapability(_ c: UploadCapability) throws {
        try session.send("""
            INSERT INTO upload_capabilities (service, version, token, expires_at, capability)
            VALUES (\(c.service), \(c.version), \(c.token), \(c.expiresAt.microseconds), \(try json(c))::jsonb)
            ON CONFLICT (service, version, token) DO UPDATE SET expires_at = EXCLUDED.expires_at, capability = EXCLUDED.capability
            """)
    }

    func deployment(_ id: String) throws -> DeploymentRecord? {
        try session.rows("SELECT record::text FROM deployments WHERE id = \(id)").first.map {
            try codec.decode(DeploymentRecord.self, Array(try $0.decode(String.self).utf8))
        }
    }

    /// Stores a new record with its slot row and insight counts.
    func insertDeployment(_ record: DeploymentRecord) throws {
        try session.send("""
            INSERT INTO deployments (id, service, environment, delivery_group, state, kind, version, created_at, updated_at, execution_id, record)
            VALUES (\(record.id), \(record.service), \(record.environment), \(record.deliveryGroupId), \(record.state.rawValue), \(record.kind.rawValue),
                    \(record.version), \(record.createdAt.microseconds), \(record.updatedAt.microseconds), \(record.engineExecutionId), \(try json(record))::jsonb)
            """)
        try updateSlot(record, held: false)
        try countInsights(from: nil, to: record)
    }

    /// Stores a changed record with its slot row and insight counts in step.
    private func putDeployment(_ record: DeploymentRecord, previous: DeploymentRecord) throws {
        try session.send("""
            UPDATE deployments SET state = \(record.state.rawValue), updated_at = \(record.updatedAt.microseconds),
                execution_id = \(record.engineExecutionId), record = \(try json(record))::jsonb
            WHERE id = \(record.id)
            """)
        try updateSlot(record, held: previous.state.holdsSlot)
        try countInsights(from: previous, to: record)
    }

    /// Writes or removes the record's slot row.
    private func updateSlot(_ record: DeploymentRecord, held: Bool) throws {
        if record.state.holdsSlot {
            try session.send("""
                INSERT INTO slots (delivery_group, environment, deployment_id, state, updated_at, awaiting_engine)
                VALUES (\(record.deliveryGroupId), \(record.environment), \(record.id), \(record.state.rawValue), \(record.updatedAt.microseconds),
                        \(record.engineExecutionId == nil))
                ON CONFLICT (delivery_group, environment, deployment_id) DO UPDATE
                SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at, awaiting_engine = EXCLUDED.awaiting_engine
                """)
        } else if held {
            try session.send("""
                DELETE FROM slots WHERE delivery_group = \(record.deliveryGroupId) AND environment = \(record.environment) AND deployment_id = \(record.id)
                """)
        }
    }

    /// The insight counters moved from what `old` counted to what `new` counts (nil: not stored).
    private func countInsights(from old: DeploymentRecord?, to new: DeploymentRecord?) throws {
        guard let any = new ?? old else { return }
        func count(_ measure: InsightCount.Measure, _ label: String, by delta: Int) throws {
            try session.send("""
                INSERT INTO insights (hour, delivery_group, service, measure, label, count)
                VALUES (\(any.createdAt.hour), \(any.deliveryGroupId), \(any.service), \(measure.rawValue), \(label), \(delta))
                ON CONFLICT (hour, delivery_group, service, measure, label) DO UPDATE SET count = insights.count + EXCLUDED.count
                """)
            if delta < 0 {
                try session.send("""
                    DELETE FROM insights WHERE hour = \(any.createdAt.hour) AND delivery_group = \(any.deliveryGroupId) AND service = \(any.service)
                      AND measure = \(measure.rawValue) AND label = \(label) AND count <= 0
                    """)
            }
        }
        let measure: InsightCount.Measure = any.rollbackOf != nil || any.kind == .rollback ? .rollback : .deploy
        if old == nil, new != nil { try count(measure, any.recipeId, by: 1) }
        if old != nil, new == nil { try count(measure, any.recipeId, by: -1) }
        if old?.failures != new?.failures {
            for failure in old?.failures ?? [] { try count(.failure, failure.category.rawValue, by: -1) }
            for failure in new?.failures ?? [] { try count(.failure, failure.category.rawValue, by: 1) }
        }
    }

    private func addQuota(_ scope: QuotaScope, day: Int64, by delta: Int) throws {
        try session.send("""
            INSERT INTO quota_counters (kind, scope, day, used) VALUES (\(scope.kind.rawValue), \(scope.key), \(day), \(delta))
            ON CONFLICT (kind, scope, day) DO UPDATE SET used = quota_counters.used + EXCLUDED.used
            """)
        if delta < 0 {
            try session.send("DELETE FROM quota_counters WHERE kind = \(scope.kind.rawValue) AND scope = \(scope.key) AND day = \(day) AND used <= 0")
        }
    }

    // MARK: Keys and the outbox

    func putIdempotency(_ scope: IdempotencyScope, _ record: IdempotencyRecord) throws {
        try session.send("""
            INSERT INTO idempotency (actor, endpoint, key, expires_at, record)
            VALUES (\(scope.actorId), \(scope.endpoint), \(scope.key), \(record.expiresAt.microseconds), \(try json(record))::jsonb)
            ON CONFLICT (actor, endpoint, key) DO UPDATE SET expires_at = EXCLUDED.expires_at, record = EXCLUDED.record
            """)
    }

    /// Completes the key a deployment's request holds with the deployment as its 201 answer, for
    /// a full TTL from now at least.
    private func completeIdempotency(_ scope: IdempotencyScope, with record: DeploymentRecord, now: Timestamp, ttlSeconds: Int64) throws {
        guard let text = try session.rows("SELECT record::text FROM idempotency WHERE actor = \(scope.actorId) AND endpoint = \(scope.endpoint) AND key = \(scope.key)")
            .first?.decode(String.self)
        else { return }
        let current = try codec.decode(IdempotencyRecord.self, Array(text.utf8))
        let renewed = now.adding(seconds: ttlSeconds)
        try putIdempotency(scope, IdempotencyRecord(
            fingerprint: current.fingerprint, expiresAt: renewed.microseconds > current.expiresAt.microseconds ? renewed : current.expiresAt,
            response: StoredResponse(status: 201, result: .deployment(record))))
    }

    private func takeDispatchOrder(_ id: String) throws -> IdempotencyScope? {
        try session.rows("DELETE FROM outbox WHERE deployment_id = \(id) RETURNING actor, endpoint, key").first.map { row in
            let (actor, endpoint, key) = try row.decode((String, String, String).self)
            return IdempotencyScope(actorId: actor, endpoint: endpoint, key: key)
        }
    }

    // MARK: Audit

    /// One retention pass: the oldest entries older than the cutoff (and at most `upTo`), each
    /// verified against the chain first, removed; the checkpoint moved to the last one removed;
    /// the pass audited. Nothing is removed from a chain that does not verify.
    private func prune(_ retention: AuditRetention, _ state: inout BatchState) throws -> AuditPruning? {
        guard let head = try session.rows("SELECT audit_checkpoint_sequence, audit_checkpoint_hash FROM fleet_head").first else {
            throw StoreError(.corrupt, path: path, "fleet_head row is missing")
        }
        let (checkpointSequence, checkpointHash) = try head.decode((Int64, String).self)
        var verifier = AuditVerifier(after: UInt64(checkpointSequence), headHash: checkpointHash)
        var first: AuditEntry?, last: AuditEntry?
        for row in try session.rows("SELECT sequence, entry::text FROM audit ORDER BY sequence LIMIT \(Int64(retention.limit))") {
            let (sequence, text) = try row.decode((Int64, String).self)
            guard let entry = try? codec.decode(AuditEntry.self, Array(text.utf8)) else {
                throw StoreError(.corrupt, path: path, "audit entry \(sequence) cannot be decoded; retention removes nothing from a log that does not verify (run `dxcp-policy audit verify`)")
            }
            guard entry.timestamp < retention.cutoff, entry.sequence <= retention.upTo else { break }
            verifier.feed(entry)
            if case .broken(let seq, let reason) = verifier.verdict() {
                throw StoreError(.corrupt, path: path, "audit entry \(seq) does not verify (\(reason)); retention removes nothing from a log that does not verify (run `dxcp-policy audit verify`)")
            }
            if first == nil { first = entry }
            last = entry
        }
        guard let first, let last else { return nil }
        try session.send("DELETE FROM audit WHERE sequence >= \(Int64(first.sequence)) AND sequence <= \(Int64(last.sequence))")
        try session.send("UPDATE fleet_head SET audit_checkpoint_sequence = \(Int64(last.sequence)), audit_checkpoint_hash = \(last.hash)")
        try appendAudit(StoreNotes.retention(first: first, last: last, retention), origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: retention.now), index: 0, &state)
        return AuditPruning(removed: first.sequence...last.sequence, checkpoint: AuditCheckpoint(sequence: last.sequence, hash: last.hash, timestamp: last.timestamp))
    }

    private func appendAudit(_ note: AuditNote, origin: AuditOrigin, index: Int, _ state: inout BatchState) throws {
        try insertAudit(state.chain.append(note, origin: origin, index: index))
        state.chainChanged = true
    }

    func insertAudit(_ entry: AuditEntry) throws {
        try session.send("""
            INSERT INTO audit (sequence, timestamp, event_type, delivery_group, hash, entry)
            VALUES (\(Int64(entry.sequence)), \(entry.timestamp.microseconds), \(entry.eventType), \(entry.deliveryGroupId), \(entry.hash), \(try json(entry))::jsonb)
            """)
    }

    private func engineNote(_ record: DeploymentRecord, _ type: String, _ outcome: AuditNote.Outcome, _ summary: String) -> AuditNote {
        AuditNote(
            eventType: type, targetType: "Deployment", targetId: record.id, outcome: outcome, summary: summary,
            actorId: record.actor.actorId, actorRole: record.actor.role, deliveryGroupId: record.deliveryGroupId,
            serviceName: record.service, environment: record.environment)
    }
}

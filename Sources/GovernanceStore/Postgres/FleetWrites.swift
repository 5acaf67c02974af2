import Audit
import PostgresNIO
import Rules

/// Writes a decision's effects and the store's own mutations, inside the writer's transaction
/// (which holds the fleet lock), through the batch's pending writes. The same effects as
/// ``GovernanceStore``'s `apply(_:origin:_:_:_:)`, kept in the same invariants: a record holds a
/// slot row exactly while its state holds a slot; an outbox row exists exactly while a
/// reservation's trigger is neither recorded nor released; the insight counters count each stored
/// record once.
struct FleetWrites {
    let batch: FleetBatch
    var session: SQLSession { batch.session }
    var codec: RecordCodec { batch.codec }
    var path: String { batch.path }

    /// Counts a read-only decision in its rate window: a row shared by the fleet, committed on its
    /// own and asynchronously (`dxcp_count_read`; DECISIONS 81) — one node keeps these windows in
    /// memory only.
    static func countRead(_ window: RateWindow, _ session: SQLSession) throws {
        try session.run("SELECT dxcp_count_read(\(window.minute), \(window.actorId), \(window.bucket.rawValue))")
    }

    func apply(_ effects: [Effect], origin: AuditOrigin, _ state: inout BatchState) throws {
        var auditIndex = 0
        for effect in effects {
            switch effect {
            case .countRate(let window):
                batch.countRate(window)
            case .spendQuota(let scope, let day):
                batch.addQuota(QuotaKey(scope: scope, day: day), 1)
                batch.removeQuota(scope, before: day - 2)
            case .insertDeployment(let record, let scope):
                try batch.putDeployment(record, previous: nil)
                batch.putDispatchOrder(record.id, scope)
            case .admitExecution(let record):
                try batch.putDeployment(record, previous: nil)
            case .expireDeployment(let id, let failure):
                guard var record = try batch.deployment(id), record.state.holdsSlot, record.engineExecutionId != nil else { break }
                let previous = record
                record.state = .failed
                record.failures = [failure]
                record.updatedAt = failure.observedAt
                try batch.putDeployment(record, previous: previous)
                appendAudit(engineNote(record, "DEPLOYMENT_LOCK_EXPIRED", .failed, failure.summary), origin: origin, index: auditIndex, &state)
                auditIndex += 1
            case .putIdempotency(let scope, let record):
                batch.putIdempotency(scope, record)
            case .putBuild(let build):
                batch.putBuild(build)
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
                appendAudit(note, origin: origin, index: auditIndex, &state)
                auditIndex += 1
            case .auditRefusal(let note, let code, let minute):
                batch.tallyRefusal(note, code: code.rawValue, minute: minute)
            }
        }
    }

    /// Notes, while probing, the rows `mutation` will read, as far as they can be told from what
    /// is known.
    func ask(_ mutation: StoreMutation) {
        let id: String
        switch mutation {
        case .recordDispatch(let dispatched, _, _, _, _): id = dispatched
        case .releaseReservation(let released, _, _): id = released
        case .recordEngineState(let changed, _, _, _): id = changed
        case .replacePolicy, .pruneAudit, .expire: return
        }
        if batch.deployments[id] == nil { batch.asked.deployments.insert(id) }
        if let known = batch.outbox[id] {
            if let order = known, batch.idempotency[order] == nil { batch.asked.idempotency.insert(order) }
        } else {
            batch.asked.outbox.insert(id)
        }
    }

    /// Whether `mutation` writes the tables directly (not through the batch), so that what the
    /// batch knows must be flushed before it and forgotten after it.
    static func writesDirectly(_ mutation: StoreMutation) -> Bool {
        switch mutation {
        case .expire, .pruneAudit: true
        case .replacePolicy, .recordDispatch, .releaseReservation, .recordEngineState: false
        }
    }

    func apply(_ mutation: StoreMutation, _ state: inout BatchState) throws -> WriteOutcome {
        switch mutation {
        case .replacePolicy(let snapshot, let actorId, let now, let onlyIfNone):
            // Checked under the fleet lock: replicas starting together load the policy once.
            guard !onlyIfNone || (state.generation == 0 && !state.policyChanged) else { return .policyLoaded(false) }
            state.policy = snapshot.stamped(after: state.policy, at: now, by: actorId)
            state.policyChanged = true
            appendAudit(StoreNotes.policyLoad(snapshot, actorId: actorId), origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: 0, &state)
            return .policyLoaded(true)

        case .recordDispatch(let id, let executionId, let executionURL, let now, _):
            // A deployment's execution is recorded once; a second report changes nothing.
            guard let order = try takeDispatchOrder(id) else { return .mutation(try batch.deployment(id)) }
            guard var record = try batch.deployment(id) else { return .mutation(nil) }
            let previous = record
            record.engineExecutionId = executionId
            record.engineExecutionURL = executionURL
            record.updatedAt = now
            try batch.putDeployment(record, previous: previous)
            try completeIdempotency(order, with: record, now: now, ttlSeconds: state.policy.settings.idempotencyTTLSeconds)
            appendAudit(engineNote(record, "ENGINE_TRIGGERED", .success, "Engine accepted \(record.id) as execution \(executionId)"),
                origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: 0, &state)
            return .mutation(record)

        case .releaseReservation(let id, let reason, let now):
            // Only a reservation whose trigger is unrecorded is ever released.
            guard let record = try batch.deployment(id), record.engineExecutionId == nil, let order = try takeDispatchOrder(id) else { return .mutation(nil) }
            batch.deleteDeployment(record)
            batch.putIdempotency(order, nil)
            let kind: QuotaScope.Kind = record.kind == .rollback ? .rollback : .deploy
            batch.addQuota(QuotaKey(scope: QuotaScope(kind: kind, key: "\(record.deliveryGroupId):\(record.environment)"), day: record.createdAt.day), -1)
            appendAudit(engineNote(record, "ENGINE_TRIGGER_FAILED", .failed, "Engine did not start \(record.id): \(reason)"),
                origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: 0, &state)
            return .mutation(record)

        case .recordEngineState(let id, let newState, let failures, let now):
            guard var record = try batch.deployment(id) else { return .mutation(nil) }
            // A terminal record never changes state, outcome or failures again.
            guard !record.state.isTerminal else { return .mutation(record) }
            let previous = record
            record.state = newState
            record.failures = failures.isEmpty ? record.failures : failures
            // Never back in time: a report stamped earlier (an overlapping pass of a leader that
            // lost its lease) must not make a heartbeat older than one already written.
            record.updatedAt = max(record.updatedAt, now)
            try batch.putDeployment(record, previous: previous)
            if newState.isTerminal {
                _ = try takeDispatchOrder(id)
                let outcome: AuditNote.Outcome = newState == .succeeded ? .success : .failed
                appendAudit(engineNote(record, "DEPLOYMENT_\(newState.rawValue)", outcome, "Deployment \(record.id) ended \(newState.rawValue)"),
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
                  AND json_typeof(record -> 'response') = 'object' ORDER BY expires_at LIMIT \(Int64(limit)))
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
                appendAudit(StoreNotes.refusals(count: tally.3, minute: tally.0, first: first),
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

    func putUploadCapability(_ c: UploadCapability) throws {
        try session.send("""
            INSERT INTO upload_capabilities (service, version, token, expires_at, capability)
            VALUES (\(c.service), \(c.version), \(c.token), \(c.expiresAt.microseconds), \(try json(c))::json)
            ON CONFLICT (service, version, token) DO UPDATE SET expires_at = EXCLUDED.expires_at, capability = EXCLUDED.capability
            """)
    }

    private func json(_ value: some Encodable) throws -> String {
        String(decoding: try codec.encode(value), as: UTF8.self)
    }

    // MARK: Keys and the outbox

    /// Completes the key a deployment's request holds with the deployment as its 201 answer, for
    /// a full TTL from now at least.
    private func completeIdempotency(_ scope: IdempotencyScope, with record: DeploymentRecord, now: Timestamp, ttlSeconds: Int64) throws {
        guard let current = try batch.idempotencyRecord(scope) else { return }
        let renewed = now.adding(seconds: ttlSeconds)
        batch.putIdempotency(scope, IdempotencyRecord(
            fingerprint: current.fingerprint, expiresAt: renewed.microseconds > current.expiresAt.microseconds ? renewed : current.expiresAt,
            response: StoredResponse(status: 201, result: .deployment(record))))
    }

    private func takeDispatchOrder(_ id: String) throws -> IdempotencyScope? {
        guard let order = try batch.dispatchOrder(id) else { return nil }
        batch.putDispatchOrder(id, nil)
        return order
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
        var verifier = AuditVerifier(after: try storedUnsigned(checkpointSequence, "fleet_head.audit_checkpoint_sequence", path: path), headHash: checkpointHash)
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
        appendAudit(StoreNotes.retention(first: first, last: last, retention), origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: retention.now), index: 0, &state)
        return AuditPruning(removed: first.sequence...last.sequence, checkpoint: AuditCheckpoint(sequence: last.sequence, hash: last.hash, timestamp: last.timestamp))
    }

    private func appendAudit(_ note: AuditNote, origin: AuditOrigin, index: Int, _ state: inout BatchState) {
        batch.appendAudit(state.chain.append(note, origin: origin, index: index))
        state.chainChanged = true
    }

    private func engineNote(_ record: DeploymentRecord, _ type: String, _ outcome: AuditNote.Outcome, _ summary: String) -> AuditNote {
        AuditNote(
            eventType: type, targetType: "Deployment", targetId: record.id, outcome: outcome, summary: summary,
            actorId: record.actor.actorId, actorRole: record.actor.role, deliveryGroupId: record.deliveryGroupId,
            serviceName: record.service, environment: record.environment)
    }
}

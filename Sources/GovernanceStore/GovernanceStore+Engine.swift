import Rules
import Audit
import LMDB

extension GovernanceStore {
    /// Applies a state change that does not come from the rules; returns the affected record (or
    /// what retention removed).
    func apply(_ mutation: StoreMutation, _ txn: Transaction, _ codec: RecordCodec, _ state: inout BatchState) throws -> WriteOutcome {
        switch mutation {
        case .pruneAudit(let retention):
            return .pruned(try pruneAudit(retention, txn, codec, &state))

        case .expire(let now, let limit):
            var expiry = try expire(now: now, limit: limit, txn, codec)
            // A minute is audited once the next one has passed too: a refusal decided late in a
            // minute and committed early in the next still joins its minute's tally.
            expiry.refusalMinutes = try auditRefusals(before: now.minute - 1, now: now, limit: max(0, limit - expiry.total), txn, codec, &state)
            // A window counts only in its own minute; the previous one is kept for a decision
            // made late in it and committed early in the next.
            expiry.rateWindows = try removeFront(of: schema.rateWindows, before: now.minute - 1, limit: max(0, limit - expiry.total), txn)
            return .expired(expiry)

        case .replacePolicy(let snapshot, let actorId, let now, let onlyIfNone):
            guard !onlyIfNone || (state.generation == 0 && !state.policyChanged) else { return .policyLoaded(false) }
            state.policy = snapshot.stamped(after: state.policy, at: now, by: actorId)
            state.policyChanged = true
            try appendAudit(StoreNotes.policyLoad(snapshot, actorId: actorId), origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: 0, txn, codec, &state)
            return .policyLoaded(true)

        case .recordDispatch(let id, let executionId, let executionURL, let now, let reservation):
            // INVARIANT: an outbox entry exists exactly while a reservation's execution is neither
            // recorded nor released, and such a reservation is never changed: the record its decision
            // committed is the stored one. A deployment's execution is recorded once; a second report
            // changes nothing.
            guard let order = try takeDispatchOrder(id, txn, codec) else { return .mutation(try loadDeployment(id, txn, codec)) }
            guard var record = try reservation.flatMap({ $0.id == id ? $0 : nil }) ?? loadDeployment(id, txn, codec) else { return .mutation(nil) }
            let previous = record
            record.engineExecutionId = executionId
            record.engineExecutionURL = executionURL
            record.updatedAt = now
            try putDeployment(record, previous: previous, txn, codec)
            try completeIdempotency(order.idempotency, with: record, now: now, ttlSeconds: state.policy.settings.idempotencyTTLSeconds, txn, codec)
            try appendAudit(engineNote(record, "ENGINE_TRIGGERED", .success, "Engine accepted \(record.id) as execution \(executionId)"),
                origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: 0, txn, codec, &state)
            return .mutation(record)

        case .releaseReservation(let id, let reason, let now):
            // INVARIANT: only a reservation whose trigger is unrecorded is ever released; a
            // deployment with an execution keeps its record, slot and quota unit.
            guard let record = try loadDeployment(id, txn, codec), record.engineExecutionId == nil,
                let order = try takeDispatchOrder(id, txn, codec)
            else { return .mutation(nil) }
            try deleteDeployment(record, txn)
            try deleteIdempotency(order.idempotency, txn, codec)
            let kind: QuotaScope.Kind = record.kind == .rollback ? .rollback : .deploy
            try increment(Schema.quotaKey(QuotaScope(kind: kind, key: "\(record.deliveryGroupId):\(record.environment)"), day: record.createdAt.day), by: -1, txn)
            try appendAudit(engineNote(record, "ENGINE_TRIGGER_FAILED", .failed, "Engine did not start \(record.id): \(reason)"),
                origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: 0, txn, codec, &state)
            return .mutation(record)

        case .recordEngineState(let id, let newState, let failures, let now):
            guard var record = try loadDeployment(id, txn, codec) else { return .mutation(nil) }
            // INVARIANT: a terminal record never changes state, outcome or failures again.
            guard !record.state.isTerminal else { return .mutation(record) }
            let previous = record
            record.state = newState
            record.failures = failures.isEmpty ? record.failures : failures
            // Never back in time: a report stamped earlier (an overlapping pass of a leader that
            // lost its lease) must not make a heartbeat older than one already written.
            record.updatedAt = max(record.updatedAt, now)
            try putDeployment(record, previous: previous, txn, codec)
            if newState.isTerminal {
                _ = try takeDispatchOrder(id, txn, codec)
                let outcome: AuditNote.Outcome = newState == .succeeded ? .success : .failed
                try appendAudit(engineNote(record, "DEPLOYMENT_\(newState.rawValue)", outcome, "Deployment \(record.id) ended \(newState.rawValue)"),
                    origin: AuditOrigin(decisionId: nil, requestId: nil, timestamp: now), index: 0, txn, codec, &state)
            }
            return .mutation(record)
        }
    }

    /// Releases a stale lock (DECISIONS D11): the record becomes FAILED with `failure`. Only a
    /// deployment with a known execution is ever stale (a reservation awaiting the engine is not),
    /// so its key is already complete and stays bound to it.
    func expire(_ id: String, _ failure: Failure, origin: AuditOrigin, auditIndex: inout Int, _ txn: Transaction, _ codec: RecordCodec, _ state: inout BatchState) throws {
        guard var record = try loadDeployment(id, txn, codec), record.state.holdsSlot, record.engineExecutionId != nil else { return }
        let previous = record
        record.state = .failed
        record.failures = [failure]
        record.updatedAt = failure.observedAt
        try putDeployment(record, previous: previous, txn, codec)
        try appendAudit(engineNote(record, "DEPLOYMENT_LOCK_EXPIRED", .failed, failure.summary), origin: origin, index: auditIndex, txn, codec, &state)
        auditIndex += 1
    }

    /// Completes the key a deployment's request holds with the deployment as its 201 answer. The
    /// key then counts for a full TTL from now at least: an in-flight key never expires, and one
    /// completed after a long wait for the engine must not expire the moment it completes.
    func completeIdempotency(
        _ scope: IdempotencyScope, with record: DeploymentRecord, now: Timestamp, ttlSeconds: Int64, _ txn: Transaction, _ codec: RecordCodec
    ) throws {
        guard let bytes = try txn.get(schema.idempotency, Schema.idempotencyKey(scope)) else { return }
        let current = try StoredEncoding.idempotencyRecord(bytes, codec)
        let renewed = now.adding(seconds: ttlSeconds)
        try putIdempotency(scope, IdempotencyRecord(
            fingerprint: current.fingerprint, expiresAt: renewed.microseconds > current.expiresAt.microseconds ? renewed : current.expiresAt,
            response: StoredResponse(status: 201, result: .deployment(record))), txn, codec)
    }

    func loadDeployment(_ id: String, _ txn: Transaction, _ codec: RecordCodec) throws -> DeploymentRecord? {
        try txn.get(schema.deployments, Array(id.utf8)).map { try StoredEncoding.record($0, id: id, codec) }
    }

    func takeDispatchOrder(_ id: String, _ txn: Transaction, _ codec: RecordCodec) throws -> DispatchOrder? {
        guard let bytes = try txn.get(schema.outbox, Array(id.utf8)) else { return nil }
        try txn.delete(schema.outbox, Array(id.utf8))
        guard let order = CompactValues.decodeOrder(bytes) else { throw UndecodableValue(what: "outbox entry") }
        return order
    }

    func engineNote(_ record: DeploymentRecord, _ type: String, _ outcome: AuditNote.Outcome, _ summary: String) -> AuditNote {
        AuditNote(
            eventType: type, targetType: "Deployment", targetId: record.id, outcome: outcome, summary: summary,
            actorId: record.actor.actorId, actorRole: record.actor.role, deliveryGroupId: record.deliveryGroupId,
            serviceName: record.service, environment: record.environment)
    }
}

import Rules

import Audit
import FoundationEssentials

/// How the values every deploy writes are stored: the deployment record, its audit entries and
/// the idempotency record, packed (``PackedWriter``, schema 4, DECISIONS 77). JSON values written
/// by earlier schemas are still read; everything new is packed.
enum StoredEncoding {
    /// Format bytes: the first byte of a packed value (a JSON value starts with `{`).
    static let recordFormat: UInt8 = 0x01
    static let auditFormat: UInt8 = 0x02
    static let idempotencyFormat: UInt8 = 0x03

    /// A record without its id (the id is its key).
    static func encode(_ r: DeploymentRecord) -> [UInt8] {
        var w = PackedWriter(format: recordFormat)
        write(r, into: &w)
        return w.bytes
    }

    /// Reads a record stored under `id`, packed or JSON.
    static func record(_ bytes: [UInt8], id: String, _ codec: RecordCodec) throws -> DeploymentRecord {
        guard bytes.first != UInt8(ascii: "{") else { return try codec.decode(DeploymentRecord.self, bytes) }
        guard var r = PackedReader(bytes, format: recordFormat), let record = read(&r, id: id), r.atEnd else {
            throw UndecodableValue(what: "deployment record \(id)")
        }
        return record
    }

    private static func write(_ r: DeploymentRecord, into w: inout PackedWriter) {
        w.string(r.service)
        w.string(r.environment)
        w.string(r.version)
        w.string(r.sourceEnvironment)
        w.string(r.recipeId)
        w.integer(r.recipeRevision)
        w.string(r.effectiveBehaviorSummary)
        w.string(r.state.rawValue)
        w.string(r.kind.rawValue)
        w.string(r.changeSummary)
        w.time(r.createdAt)
        w.integer(r.updatedAt.microseconds &- r.createdAt.microseconds)
        w.string(r.rollbackOf)
        w.string(r.deliveryGroupId)
        w.unsigned(UInt64(r.failures.count))
        for f in r.failures {
            w.string(f.category.rawValue)
            w.string(f.summary)
            w.string(f.detail)
            w.string(f.actionHint)
            w.time(f.observedAt)
        }
        w.string(r.intentCorrelationId)
        w.string(r.engineExecutionId)
        w.string(r.engineExecutionURL)
        w.string(r.spinnakerApplication)
        w.string(r.spinnakerPipeline)
        w.string(r.actor.actorId)
        w.string(r.actor.role.rawValue)
        w.string(r.actor.email)
        w.string(r.actor.subject)
        w.string(r.actor.authorizedParty)
        // An engine user that is the email, byte for byte, is not stored again.
        w.string(r.actor.email.map { r.actor.engineUser.utf8.elementsEqual($0.utf8) } == true ? nil : r.actor.engineUser)
        let p = r.policySnapshot
        for figure in [p.maxConcurrentDeployments, p.currentConcurrentDeployments, p.dailyDeployQuota, p.deploymentsUsed, p.dailyQuotaBuildRegister] {
            w.integer(figure)
        }
    }

    private static func read(_ r: inout PackedReader, id: String) -> DeploymentRecord? {
        guard let service = r.string(), let environment = r.string(), let version = r.string(),
            let sourceEnvironment = r.optionalString(), let recipeId = r.string(), let recipeRevision = r.int(),
            let behavior = r.string(), let state = r.string().flatMap(DeploymentRecord.State.init(rawValue:)),
            let kind = r.string().flatMap(DeploymentRecord.Kind.init(rawValue:)), let changeSummary = r.string(),
            let createdAt = r.time(), let updatedDelta = r.integer(), let rollbackOf = r.optionalString(),
            let group = r.string(), let failureCount = r.unsigned(), failureCount <= 1_000
        else { return nil }
        var failures: [Failure] = []
        for _ in 0..<failureCount {
            guard let category = r.string().flatMap(Failure.Category.init(rawValue:)), let summary = r.string(),
                let detail = r.optionalString(), let hint = r.string(), let observedAt = r.time()
            else { return nil }
            failures.append(Failure(category: category, summary: summary, detail: detail, actionHint: hint, observedAt: observedAt))
        }
        guard let correlation = r.optionalString(), let executionId = r.optionalString(), let executionURL = r.optionalString(),
            let application = r.string(), let pipeline = r.string(), let actorId = r.string(),
            let role = r.string().flatMap(Role.init(rawValue:)), let email = r.optionalString(), let subject = r.optionalString(),
            let party = r.optionalString(), let engineUser = r.optionalString(), let engine = engineUser ?? email,
            let maxConcurrent = r.int(), let current = r.int(), let quota = r.int(), let used = r.int(), let buildQuota = r.int(),
            // Figures the rules could have written (damaged bytes must not trap in arithmetic).
            [maxConcurrent, current, quota, used, buildQuota].allSatisfy({ -(1 << 48) < $0 && $0 < 1 << 48 })
        else { return nil }
        return DeploymentRecord(
            id: id, service: service, environment: environment, version: version, sourceEnvironment: sourceEnvironment,
            recipeId: recipeId, recipeRevision: recipeRevision, effectiveBehaviorSummary: behavior, state: state, kind: kind,
            changeSummary: changeSummary, createdAt: createdAt,
            updatedAt: Timestamp(microseconds: createdAt.microseconds &+ updatedDelta), rollbackOf: rollbackOf,
            deliveryGroupId: group, failures: failures, intentCorrelationId: correlation, engineExecutionId: executionId,
            engineExecutionURL: executionURL, spinnakerApplication: application, spinnakerPipeline: pipeline,
            actor: ActorIdentity(
                actorId: actorId, role: role, email: email, subject: subject, authorizedParty: party,
                engineUser: engine),
            policySnapshot: PolicyNumbers(
                maxConcurrentDeployments: maxConcurrent, currentConcurrentDeployments: current, dailyDeployQuota: quota,
                deploymentsUsed: used, dailyQuotaBuildRegister: buildQuota))
    }

    // MARK: Audit entries

    /// An entry without its sequence number (its key). The chain's hash covers the canonical JSON
    /// (``AuditEntry/canonicalBytes(hash:)``), which reading back reproduces exactly.
    static func encode(_ e: AuditEntry) -> [UInt8] {
        var w = PackedWriter(format: auditFormat, capacity: 320)
        w.string(e.eventId)
        w.string(e.eventType)
        w.string(e.actorId)
        w.string(e.actorRole?.rawValue)
        w.string(e.targetType)
        w.string(e.targetId)
        w.time(e.timestamp)
        w.string(e.outcome.rawValue)
        w.string(e.summary)
        w.string(e.deliveryGroupId)
        w.string(e.serviceName)
        w.string(e.environment)
        w.string(e.decisionId)
        w.string(e.requestId)
        w.string(e.contractVersion)
        w.unsigned(UInt64(e.trail.count))
        for check in e.trail {
            w.string(check.check.rawValue)
            switch check.outcome {
            case .passed: w.unsigned(0)
            case .skipped: w.unsigned(1)
            case .failed(let code):
                w.unsigned(2)
                w.string(code.rawValue)
            }
        }
        w.string(e.previousHash)
        w.string(e.hash)
        return w.bytes
    }

    /// Reads the entry stored under `sequence`, packed or JSON.
    static func auditEntry(_ bytes: [UInt8], sequence: UInt64, _ codec: RecordCodec) throws -> AuditEntry {
        guard bytes.first != UInt8(ascii: "{") else { return try codec.decode(AuditEntry.self, bytes) }
        guard var r = PackedReader(bytes, format: auditFormat), let entry = read(&r, sequence: sequence), r.atEnd else {
            throw UndecodableValue(what: "audit entry \(sequence)")
        }
        return entry
    }

    private static func read(_ r: inout PackedReader, sequence: UInt64) -> AuditEntry? {
        guard let eventId = r.string(), let eventType = r.string(), let actorId = r.string(), let role = r.optionalString(),
            let targetType = r.string(), let targetId = r.string(), let timestamp = r.time(),
            let outcome = r.string().flatMap(AuditNote.Outcome.init(rawValue:)), let summary = r.string(),
            let group = r.optionalString(), let service = r.optionalString(), let environment = r.optionalString(),
            let decisionId = r.optionalString(), let requestId = r.optionalString(), let contractVersion = r.string(),
            let checks = r.unsigned(), checks <= 1_000
        else { return nil }
        var actorRole: Role?
        if let role {
            guard let known = Role(rawValue: role) else { return nil }
            actorRole = known
        }
        var trail: [CheckResult] = []
        for _ in 0..<checks {
            guard let name = r.string().flatMap(CheckName.init(rawValue:)), let kind = r.unsigned() else { return nil }
            switch kind {
            case 0: trail.append(CheckResult(name, .passed))
            case 1: trail.append(CheckResult(name, .skipped))
            case 2:
                guard let code = r.string().flatMap(ContractCode.init(rawValue:)) else { return nil }
                trail.append(CheckResult(name, .failed(code)))
            default: return nil
            }
        }
        guard let previousHash = r.string(), let hash = r.string() else { return nil }
        return AuditEntry(
            sequence: sequence, eventId: eventId, eventType: eventType, actorId: actorId, actorRole: actorRole,
            targetType: targetType, targetId: targetId, timestamp: timestamp, outcome: outcome, summary: summary,
            deliveryGroupId: group, serviceName: service, environment: environment, decisionId: decisionId,
            requestId: requestId, contractVersion: contractVersion, trail: trail, previousHash: previousHash, hash: hash)
    }

    // MARK: Idempotency records

    /// The in-flight form (no response yet) and the form a deploy, rollback or promotion completes
    /// with (its record as the response) packed; any other completed record as JSON.
    static func encode(_ record: IdempotencyRecord, _ codec: RecordCodec) throws -> [UInt8] {
        var w = PackedWriter(format: idempotencyFormat, capacity: 384)
        w.time(record.expiresAt)
        w.string(record.fingerprint)
        switch record.response {
        case nil:
            w.unsigned(0)
        case .some(let response):
            guard case .deployment(let deployment) = response.result, (100...599).contains(response.status) else { return try codec.encode(record) }
            w.unsigned(UInt64(response.status))
            w.string(deployment.id)
            write(deployment, into: &w)
        }
        return w.bytes
    }

    /// Reads an idempotency record, packed or JSON.
    static func idempotencyRecord(_ bytes: [UInt8], _ codec: RecordCodec) throws -> IdempotencyRecord {
        guard bytes.first != UInt8(ascii: "{") else { return try codec.decode(IdempotencyRecord.self, bytes) }
        guard var r = PackedReader(bytes, format: idempotencyFormat), let expiresAt = r.time(), let fingerprint = r.string(),
            let status = r.unsigned()
        else { throw UndecodableValue(what: "idempotency record") }
        var response: StoredResponse?
        if status != 0 {
            guard (100...599).contains(status) else { throw UndecodableValue(what: "idempotency record") }
            guard let id = r.string(), let deployment = read(&r, id: id) else { throw UndecodableValue(what: "idempotency record") }
            response = StoredResponse(status: Int(status), result: .deployment(deployment))
        }
        guard r.atEnd else { throw UndecodableValue(what: "idempotency record") }
        return IdempotencyRecord(fingerprint: fingerprint, expiresAt: expiresAt, response: response)
    }
}

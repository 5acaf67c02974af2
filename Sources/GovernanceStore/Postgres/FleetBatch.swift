import Audit
import PostgresNIO
import Rules

/// A quota counter's row: a scope on a UTC day.
struct QuotaKey {
    var scope: QuotaScope
    var day: Int64
}

/// A delivery group in an environment: where slots are counted.
struct SlotScope {
    var group: String
    var environment: String
}

/// A build's row.
struct BuildKey {
    var service: String
    var version: String
}

/// An insight counter's row.
struct InsightKey {
    var hour: Int64
    var group: String
    var service: String
    var measure: InsightCount.Measure
    var label: String
}

/// A refusal tally's row.
struct RefusalKey {
    var minute: Int64
    var actor: String
    var code: String
}

/// The rows a batch asks about by key and does not know yet, gathered so that one statement
/// answers them all.
struct Questions {
    var rates = RowSet<RateWindow>()
    var quotas = RowSet<QuotaKey>()
    var idempotency = RowSet<IdempotencyScope>()
    var deployments = RowSet<String>()
    var builds = RowSet<BuildKey>()
    var outbox = RowSet<String>()
    /// For each group and environment, the latest `staleBefore` asked.
    var slots = RowMap<SlotScope, Timestamp>()
    /// The policy's generation, for a read outside the writer (which reads it with the lock).
    var generation = false

    var isEmpty: Bool {
        rates.isEmpty && quotas.isEmpty && idempotency.isEmpty && deployments.isEmpty && builds.isEmpty && outbox.isEmpty
            && slots.isEmpty && !generation
    }

    mutating func slots(_ scope: SlotScope, staleBefore: Timestamp) {
        if let asked = slots[scope], asked >= staleBefore { return }
        slots[scope] = staleBefore
    }
}

/// What the rules ask of a group and environment's slots, as far as it is known: how many are
/// held, and which of them could be stale locks up to `bound` (IN_PROGRESS with a known execution,
/// unchanged since `bound`), oldest first.
struct SlotsKnown {
    var holding: Int
    var candidates: [ActiveDeployment]
    var bound: Timestamp

    func usage(staleBefore: Timestamp) -> SlotUsage? {
        guard staleBefore <= bound else { return nil }
        return SlotUsage(holding: holding, stale: candidates.filter { $0.updatedAt <= staleBefore })
    }

    mutating func change(from old: ActiveDeployment?, to new: ActiveDeployment?) {
        if let old {
            holding -= 1
            candidates.removeAll { $0.id == old.id }
        }
        if let new {
            holding += 1
            if new.state == .inProgress, !new.awaitingEngine, new.updatedAt <= bound {
                candidates.append(new)
                candidates.sort { ($0.updatedAt, $0.id) < ($1.updatedAt, $1.id) }
            }
        }
    }
}

/// One unit of work's view of the fleet's keyed rows, and its writes.
///
/// **Reads.** The rows the rules ask about by key (rate windows, quota counters, idempotency
/// records, deployments, builds, dispatch orders, slot counts) are read for a whole batch in one
/// statement (``fetch(_:)``), after probing what the batch will ask (``prefetch(rounds:_:)``),
/// instead of one round trip per question. What is known stays in step with the batch's own
/// writes, so each decision sees every earlier one of its batch, as it would in the database.
///
/// **Writes.** Effects are kept per row (a counter's increments summed, a record's last state)
/// and written by one statement (``flush(closing:)``) before anything reads the tables directly
/// and before the commit.
///
/// Used by one thread, inside one transaction (or one statement, for a read).
final class FleetBatch {
    let session: SQLSession
    let codec: RecordCodec
    let path: String

    // What the database holds with this batch's writes applied; a key that is absent is unknown.
    // A nil value is known absent.
    var rates = RowMap<RateWindow, Int>()
    var quotas = RowMap<QuotaKey, Int>()
    var idempotency = RowMap<IdempotencyScope, IdempotencyRecord?>()
    var deployments = RowMap<String, DeploymentRecord?>()
    var builds = RowMap<BuildKey, Build?>()
    var outbox = RowMap<String, IdempotencyScope?>()
    var slots = RowMap<SlotScope, SlotsKnown>()
    /// The policy's generation, once fetched.
    var generation: Int64?

    /// Asked while probing and not known.
    var asked = Questions()

    private var pending = Pending()

    init(session: SQLSession, codec: RecordCodec, path: String) {
        self.session = session
        self.codec = codec
        self.path = path
    }

    /// Forgets every known row (after a statement that changed rows behind the batch's back).
    func forget() {
        rates = RowMap()
        quotas = RowMap()
        idempotency = RowMap()
        deployments = RowMap()
        builds = RowMap()
        outbox = RowMap()
        slots = RowMap()
    }

    // MARK: Reading

    /// Probes `body` (a pass of the work to come, evaluated against what is known and guesses for
    /// the rest) up to `rounds` times, each time reading what it asked and did not know, until a
    /// pass asks nothing new. What is still unknown afterwards is read when it is asked.
    func prefetch(rounds: Int = 3, _ body: (FleetView) -> Void) throws {
        defer { asked = Questions() }
        for _ in 0..<rounds {
            asked = Questions()
            body(FleetView(batch: self, mode: .probe))
            if asked.isEmpty { return }
            try fetch(asked)
        }
    }

    /// A keyed row's value: known, or read now (with the batch's writes flushed first).
    func known<T>(_ ask: (inout Questions) -> Void, _ answer: () -> T?) throws -> T? {
        if let value = answer() { return value }
        var questions = Questions()
        ask(&questions)
        try fetch(questions)
        return answer()
    }

    func deployment(_ id: String) throws -> DeploymentRecord? {
        try known({ $0.deployments.insert(id) }) { deployments[id] } ?? nil
    }

    func idempotencyRecord(_ scope: IdempotencyScope) throws -> IdempotencyRecord? {
        try known({ $0.idempotency.insert(scope) }) { idempotency[scope] } ?? nil
    }

    func dispatchOrder(_ id: String) throws -> IdempotencyScope? {
        try known({ $0.outbox.insert(id) }) { outbox[id] } ?? nil
    }

    private static let fetchStatement = "SELECT * FROM dxcp_fetch(" + (1...17).map { "$\($0)" }.joined(separator: ", ") + ")"
    private static let flushStatement = "SELECT dxcp_flush(" + (1...77).map { "$\($0)" }.joined(separator: ", ") + ")"

    /// Reads every row `questions` asks about in one call of `dxcp_fetch` (after flushing the batch's
    /// writes, so that what is read includes them); rows that do not exist are known absent.
    func fetch(_ questions: Questions) throws {
        guard !questions.isEmpty else { return }
        try flush()
        let rates = Array(questions.rates)
        let quotas = Array(questions.quotas)
        let keys = Array(questions.idempotency)
        let builds = Array(questions.builds)
        let scopes = Array(questions.slots)
        var binds = PostgresBindings(capacity: 17)
        binds.append(rates.map(\.minute))
        binds.append(rates.map(\.actorId))
        binds.append(rates.map(\.bucket.rawValue))
        binds.append(quotas.map(\.scope.kind.rawValue))
        binds.append(quotas.map(\.scope.key))
        binds.append(quotas.map(\.day))
        binds.append(keys.map(\.actorId))
        binds.append(keys.map(\.endpoint))
        binds.append(keys.map(\.key))
        binds.append(Array(questions.deployments))
        binds.append(builds.map(\.service))
        binds.append(builds.map(\.version))
        binds.append(Array(questions.outbox))
        binds.append(scopes.map(\.key.group))
        binds.append(scopes.map(\.key.environment))
        binds.append(scopes.map(\.value.microseconds))
        binds.append(questions.generation)
        let rows = try session.rows(PostgresQuery(unsafeSQL: Self.fetchStatement, binds: binds))

        // Asked and not found: known absent (or zero).
        for window in rates { self.rates[window] = 0 }
        for key in quotas { self.quotas[key] = 0 }
        for key in keys { idempotency.updateValue(nil, forKey: key) }
        for id in questions.deployments { deployments.updateValue(nil, forKey: id) }
        for key in builds { self.builds.updateValue(nil, forKey: key) }
        for id in questions.outbox { outbox.updateValue(nil, forKey: id) }
        for (scope, bound) in scopes { slots[scope] = SlotsKnown(holding: 0, candidates: [], bound: bound) }
        for row in rows {
            let (tag, a, b, c, value) = try row.decode((String, String, String, String, String).self)
            switch tag {
            case "r":
                guard let bucket = RateWindow.Bucket(rawValue: b), let minute = Int64(c), let count = Int(value) else { throw UndecodableValue(what: "rate window row") }
                self.rates[RateWindow(actorId: a, bucket: bucket, minute: minute)] = count
            case "q":
                guard let kind = QuotaScope.Kind(rawValue: a), let day = Int64(c), let used = Int(value) else { throw UndecodableValue(what: "quota row") }
                self.quotas[QuotaKey(scope: QuotaScope(kind: kind, key: b), day: day)] = used
            case "i":
                idempotency[IdempotencyScope(actorId: a, endpoint: b, key: c)] = try codec.decode(IdempotencyRecord.self, Array(value.utf8))
            case "d":
                deployments[a] = try codec.decode(DeploymentRecord.self, Array(value.utf8))
            case "b":
                self.builds[BuildKey(service: a, version: b)] = try codec.decode(Build.self, Array(value.utf8))
            case "o":
                let (endpoint, key) = (c, value)
                outbox[a] = IdempotencyScope(actorId: b, endpoint: endpoint, key: key)
            case "h":
                guard let count = Int(value) else { throw UndecodableValue(what: "slot count") }
                slots[SlotScope(group: a, environment: b)]?.holding = count
            case "s":
                guard let updatedAt = Int64(value) else { throw UndecodableValue(what: "slot row") }
                slots[SlotScope(group: a, environment: b)]?.candidates.append(
                    ActiveDeployment(id: c, state: .inProgress, updatedAt: Timestamp(microseconds: updatedAt), awaitingEngine: false))
            case "g":
                generation = Int64(a)
            default:
                throw UndecodableValue(what: "fetched row")
            }
        }
        for (scope, _) in scopes { slots[scope]?.candidates.sort { ($0.updatedAt, $0.id) < ($1.updatedAt, $1.id) } }
    }

    // MARK: Writing

    /// The last state of each row the batch changed.
    private struct Pending {
        enum RecordChange {
            case insert(DeploymentRecord), update(DeploymentRecord), delete
        }

        var rates = RowMap<RateWindow, Int>()
        var quotas = RowMap<QuotaKey, Int>()
        /// Per scope, the day before which its counters are removed.
        var quotaFloors = RowMap<QuotaScope, Int64>()
        var deployments = RowMap<String, RecordChange>()
        var slots = RowMap<String, (scope: SlotScope, slot: ActiveDeployment?)>()
        var idempotency = RowMap<IdempotencyScope, IdempotencyRecord?>()
        var outbox = RowMap<String, IdempotencyScope?>()
        var insights = RowMap<InsightKey, Int>()
        var builds = RowMap<BuildKey, Build>()
        var audit: [AuditEntry] = []
        var refusals = RowMap<RefusalKey, (count: Int, note: AuditNote)>()

        var isEmpty: Bool {
            rates.isEmpty && quotas.isEmpty && quotaFloors.isEmpty && deployments.isEmpty && slots.isEmpty && idempotency.isEmpty
                && outbox.isEmpty && insights.isEmpty && builds.isEmpty && audit.isEmpty && refusals.isEmpty
        }
    }

    func countRate(_ window: RateWindow) {
        pending.rates[window, default: 0] += 1
        rates[window]? += 1
    }

    func addQuota(_ key: QuotaKey, _ delta: Int) {
        pending.quotas[key, default: 0] += delta
        // A counter at or below zero is removed, so it reads zero.
        if let used = quotas[key] { quotas[key] = max(0, used + delta) }
    }

    /// Removes the scope's counters of days before `day`.
    func removeQuota(_ scope: QuotaScope, before day: Int64) {
        pending.quotaFloors[scope] = max(pending.quotaFloors[scope] ?? day, day)
        let bytes = scope.rowKey
        for key in quotas.keys where key.day < day && key.scope.rowKey == bytes { quotas[key] = 0 }
    }

    /// Stores `record` (new when `previous` is nil), its slot row and insight counts in step. A
    /// new record whose id is already stored is refused, as one node refuses it.
    func putDeployment(_ record: DeploymentRecord, previous: DeploymentRecord?) throws {
        let change = pending.deployments[record.id]
        if previous != nil {
            if case .insert? = change {
                pending.deployments[record.id] = .insert(record)
            } else {
                pending.deployments[record.id] = .update(record)
            }
        } else {
            switch change {
            case .delete?:
                // Removed earlier in this batch, stored again: the row is replaced.
                pending.deployments[record.id] = .update(record)
            case .insert?, .update?:
                throw StoreError(.storage, path: path, "deployment \(record.id) already exists")
            case nil:
                if case .some(.some) = deployments[record.id] { throw StoreError(.storage, path: path, "deployment \(record.id) already exists") }
                pending.deployments[record.id] = .insert(record)
            }
        }
        deployments[record.id] = record
        changeSlot(record.id, SlotScope(group: record.deliveryGroupId, environment: record.environment),
            from: previous.flatMap(Self.slot), to: Self.slot(record))
        countInsights(from: previous, to: record)
    }

    /// Removes a stored record, its slot row and its insight counts.
    func deleteDeployment(_ record: DeploymentRecord) {
        deployments.updateValue(nil, forKey: record.id)
        if case .insert = pending.deployments[record.id] {
            pending.deployments[record.id] = nil
        } else {
            pending.deployments[record.id] = .delete
        }
        changeSlot(record.id, SlotScope(group: record.deliveryGroupId, environment: record.environment), from: Self.slot(record), to: nil)
        countInsights(from: record, to: nil)
    }

    private static func slot(_ record: DeploymentRecord) -> ActiveDeployment? {
        guard record.state.holdsSlot else { return nil }
        return ActiveDeployment(id: record.id, state: record.state, updatedAt: record.updatedAt, awaitingEngine: record.engineExecutionId == nil)
    }

    private func changeSlot(_ id: String, _ scope: SlotScope, from old: ActiveDeployment?, to new: ActiveDeployment?) {
        guard old != nil || new != nil else { return }
        pending.slots[id] = (scope, new)
        slots[scope]?.change(from: old, to: new)
    }

    /// The insight counters moved from what `old` counted to what `new` counts (nil: not stored).
    private func countInsights(from old: DeploymentRecord?, to new: DeploymentRecord?) {
        guard let any = new ?? old else { return }
        func count(_ measure: InsightCount.Measure, _ label: String, by delta: Int) {
            pending.insights[InsightKey(hour: any.createdAt.hour, group: any.deliveryGroupId, service: any.service, measure: measure, label: label), default: 0] += delta
        }
        let measure: InsightCount.Measure = any.rollbackOf != nil || any.kind == .rollback ? .rollback : .deploy
        if old == nil, new != nil { count(measure, any.recipeId, by: 1) }
        if old != nil, new == nil { count(measure, any.recipeId, by: -1) }
        if old?.failures != new?.failures {
            for failure in old?.failures ?? [] { count(.failure, failure.category.rawValue, by: -1) }
            for failure in new?.failures ?? [] { count(.failure, failure.category.rawValue, by: 1) }
        }
    }

    func putIdempotency(_ scope: IdempotencyScope, _ record: IdempotencyRecord?) {
        idempotency.updateValue(record, forKey: scope)
        pending.idempotency.updateValue(record, forKey: scope)
    }

    func putDispatchOrder(_ id: String, _ scope: IdempotencyScope?) {
        outbox.updateValue(scope, forKey: id)
        pending.outbox.updateValue(scope, forKey: id)
    }

    func putBuild(_ build: Build) {
        let key = BuildKey(service: build.service, version: build.version)
        builds[key] = build
        pending.builds[key] = build
    }

    func appendAudit(_ entry: AuditEntry) {
        pending.audit.append(entry)
    }

    func tallyRefusal(_ note: AuditNote, code: String, minute: Int64) {
        let key = RefusalKey(minute: minute, actor: note.actorId, code: code)
        // The tally keeps the minute's first refusal as its example, as the row does.
        if let tally = pending.refusals[key] {
            pending.refusals[key] = (tally.count + 1, tally.note)
        } else {
            pending.refusals[key] = (1, note)
        }
    }

    /// What the writer's last statement of a batch also writes.
    struct Closing {
        var token: String
        var committedAt: Timestamp
        var chain: AuditChain
        var generation: UInt64
        /// The new policy, when the batch changed it.
        var policy: PolicySnapshot?
    }

    /// Writes every pending change in one call of `dxcp_flush` (counters that fall to zero are
    /// removed, as one node removes them), and with `closing`, the batch's token, the fleet's
    /// head and a changed policy.
    func flush(closing: Closing? = nil) throws {
        guard !pending.isEmpty || closing != nil else { return }
        let pending = self.pending
        self.pending = Pending()
        func json(_ value: some Encodable) throws -> String { String(decoding: try codec.encode(value), as: UTF8.self) }
        var binds = PostgresBindings(capacity: 77)

        let rates = Array(pending.rates)
        binds.append(rates.map(\.key.minute))
        binds.append(rates.map(\.key.actorId))
        binds.append(rates.map(\.key.bucket.rawValue))
        binds.append(rates.map { Int64($0.value) })
        // A counter of a day its scope's floor removes is removed with it (never written).
        let quotas = Array(pending.quotas.filter { $0.value != 0 && $0.key.day >= pending.quotaFloors[$0.key.scope] ?? .min })
        binds.append(quotas.map(\.key.scope.kind.rawValue))
        binds.append(quotas.map(\.key.scope.key))
        binds.append(quotas.map(\.key.day))
        binds.append(quotas.map { Int64($0.value) })
        let floors = Array(pending.quotaFloors)
        binds.append(floors.map(\.key.kind.rawValue))
        binds.append(floors.map(\.key.key))
        binds.append(floors.map(\.value))

        var inserted: [DeploymentRecord] = [], updated: [DeploymentRecord] = [], deleted: [String] = []
        for (id, change) in pending.deployments {
            switch change {
            case .insert(let record): inserted.append(record)
            case .update(let record): updated.append(record)
            case .delete: deleted.append(id)
            }
        }
        binds.append(inserted.map(\.id))
        binds.append(inserted.map(\.service))
        binds.append(inserted.map(\.environment))
        binds.append(inserted.map(\.deliveryGroupId))
        binds.append(inserted.map(\.state.rawValue))
        binds.append(inserted.map(\.kind.rawValue))
        binds.append(inserted.map(\.version))
        binds.append(inserted.map(\.createdAt.microseconds))
        binds.append(inserted.map(\.updatedAt.microseconds))
        binds.append(inserted.map { $0.engineExecutionId ?? "" })
        binds.append(try inserted.map(json))
        binds.append(updated.map(\.id))
        binds.append(updated.map(\.state.rawValue))
        binds.append(updated.map(\.updatedAt.microseconds))
        binds.append(updated.map { $0.engineExecutionId ?? "" })
        binds.append(try updated.map(json))
        binds.append(deleted)

        let held = pending.slots.compactMap { id, change in change.slot.map { (change.scope, $0) } }
        binds.append(held.map(\.0.group))
        binds.append(held.map(\.0.environment))
        binds.append(held.map(\.1.id))
        binds.append(held.map(\.1.state.rawValue))
        binds.append(held.map(\.1.updatedAt.microseconds))
        binds.append(held.map(\.1.awaitingEngine))
        let freed = pending.slots.filter { $0.value.slot == nil }.map { ($0.value.scope, $0.key) }
        binds.append(freed.map(\.0.group))
        binds.append(freed.map(\.0.environment))
        binds.append(freed.map(\.1))

        let keys = pending.idempotency.compactMap { scope, record in record.map { (scope, $0) } }
        binds.append(keys.map(\.0.actorId))
        binds.append(keys.map(\.0.endpoint))
        binds.append(keys.map(\.0.key))
        binds.append(keys.map(\.1.expiresAt.microseconds))
        binds.append(try keys.map { try json($0.1) })
        let freedKeys = pending.idempotency.filter { $0.value == nil }.map(\.key)
        binds.append(freedKeys.map(\.actorId))
        binds.append(freedKeys.map(\.endpoint))
        binds.append(freedKeys.map(\.key))

        let orders = pending.outbox.compactMap { id, scope in scope.map { (id, $0) } }
        binds.append(orders.map(\.0))
        binds.append(orders.map(\.1.actorId))
        binds.append(orders.map(\.1.endpoint))
        binds.append(orders.map(\.1.key))
        binds.append(pending.outbox.filter { $0.value == nil }.map(\.key))

        let insights = pending.insights.filter { $0.value != 0 }.map { ($0.key, Int64($0.value)) }
        binds.append(insights.map(\.0.hour))
        binds.append(insights.map(\.0.group))
        binds.append(insights.map(\.0.service))
        binds.append(insights.map(\.0.measure.rawValue))
        binds.append(insights.map(\.0.label))
        binds.append(insights.map(\.1))

        let builds = pending.builds.map(\.value)
        binds.append(builds.map(\.service))
        binds.append(builds.map(\.version))
        binds.append(builds.map(\.registeredAt.microseconds))
        binds.append(try builds.map(json))

        let entries = pending.audit
        binds.append(try entries.map { try bigint($0.sequence, "an audit sequence") })
        binds.append(entries.map(\.timestamp.microseconds))
        binds.append(entries.map(\.eventType))
        binds.append(entries.map { $0.deliveryGroupId ?? "" })
        binds.append(entries.map(\.hash))
        // The entry's canonical form, as one node keeps it (written by hand, read back exactly).
        binds.append(entries.map { String(decoding: $0.canonicalBytes(hash: $0.hash), as: UTF8.self) })

        let refusals = Array(pending.refusals)
        binds.append(refusals.map(\.key.minute))
        binds.append(refusals.map(\.key.actor))
        binds.append(refusals.map(\.key.code))
        binds.append(refusals.map { Int64($0.value.count) })
        binds.append(try refusals.map { try json($0.value.note) })

        binds.append(closing?.token ?? "")
        binds.append(closing?.committedAt.microseconds ?? 0)
        binds.append(try bigint(closing?.chain.sequence ?? 0, "the audit head"))
        binds.append(closing?.chain.headHash ?? "")
        binds.append(try bigint(closing?.generation ?? 0, "the policy generation"))
        binds.append(try closing?.policy.map(json) ?? "")
        try session.run(PostgresQuery(unsafeSQL: Self.flushStatement, binds: binds))
    }

    /// `value` as a `bigint`; past one only when a stored head was changed by hand.
    private func bigint(_ value: UInt64, _ what: String) throws(StoreError) -> Int64 {
        guard let signed = Int64(exactly: value) else {
            throw StoreError(.corrupt, path: path, "\(what) would be \(value), past a bigint; the stored audit head or generation was changed by hand")
        }
        return signed
    }
}

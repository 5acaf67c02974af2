import Audit
import PostgresNIO
import Rules

/// A quota counter's row: a scope on a UTC day.
struct QuotaKey: Hashable {
    var scope: QuotaScope
    var day: Int64
}

/// A delivery group in an environment: where slots are counted.
struct SlotScope: Hashable {
    var group: String
    var environment: String
}

/// A build's row.
struct BuildKey: Hashable {
    var service: String
    var version: String
}

/// An insight counter's row.
struct InsightKey: Hashable {
    var hour: Int64
    var group: String
    var service: String
    var measure: InsightCount.Measure
    var label: String
}

/// A refusal tally's row.
struct RefusalKey: Hashable {
    var minute: Int64
    var actor: String
    var code: String
}

/// The rows a batch asks about by key and does not know yet, gathered so that one statement
/// answers them all.
struct Questions {
    var rates: Set<RateWindow> = []
    var quotas: Set<QuotaKey> = []
    var idempotency: Set<IdempotencyScope> = []
    var deployments: Set<String> = []
    var builds: Set<BuildKey> = []
    var outbox: Set<String> = []
    /// For each group and environment, the latest `staleBefore` asked.
    var slots: [SlotScope: Timestamp] = [:]
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
    var rates: [RateWindow: Int] = [:]
    var quotas: [QuotaKey: Int] = [:]
    var idempotency: [IdempotencyScope: IdempotencyRecord?] = [:]
    var deployments: [String: DeploymentRecord?] = [:]
    var builds: [BuildKey: Build?] = [:]
    var outbox: [String: IdempotencyScope?] = [:]
    var slots: [SlotScope: SlotsKnown] = [:]
    /// The policy's generation, once fetched.
    var generation: Int64?

    /// Asked while probing and not known.
    var asked = Questions()
    /// How many statements read keyed rows (for tests and statistics).
    private(set) var fetches = 0

    private var pending = Pending()

    init(session: SQLSession, codec: RecordCodec, path: String) {
        self.session = session
        self.codec = codec
        self.path = path
    }

    /// Forgets every known row (after a statement that changed rows behind the batch's back).
    func forget() {
        rates = [:]
        quotas = [:]
        idempotency = [:]
        deployments = [:]
        builds = [:]
        outbox = [:]
        slots = [:]
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

    /// Reads every row `questions` asks about in one statement (after flushing the batch's
    /// writes, so that what is read includes them); rows that do not exist are known absent.
    func fetch(_ questions: Questions) throws {
        guard !questions.isEmpty else { return }
        try flush()
        fetches += 1
        var binds = PostgresBindings()
        func bind(_ values: [String]) -> String {
            binds.append(values)
            return "$\(binds.count)::text[]"
        }
        func bind(_ values: [Int64]) -> String {
            binds.append(values)
            return "$\(binds.count)::int8[]"
        }
        var parts: [String] = []
        let rates = Array(questions.rates)
        if !rates.isEmpty {
            parts.append("""
                SELECT 'r', r.actor, r.bucket, r.minute::text, r.count::text FROM rate_windows r
                JOIN unnest(\(bind(rates.map(\.minute))), \(bind(rates.map(\.actorId))), \(bind(rates.map(\.bucket.rawValue)))) AS k(minute, actor, bucket)
                  ON r.minute = k.minute AND r.actor = k.actor AND r.bucket = k.bucket
                """)
        }
        let quotas = Array(questions.quotas)
        if !quotas.isEmpty {
            parts.append("""
                SELECT 'q', q.kind, q.scope, q.day::text, q.used::text FROM quota_counters q
                JOIN unnest(\(bind(quotas.map(\.scope.kind.rawValue))), \(bind(quotas.map(\.scope.key))), \(bind(quotas.map(\.day)))) AS k(kind, scope, day)
                  ON q.kind = k.kind AND q.scope = k.scope AND q.day = k.day
                """)
        }
        let keys = Array(questions.idempotency)
        if !keys.isEmpty {
            parts.append("""
                SELECT 'i', i.actor, i.endpoint, i.key, i.record::text FROM idempotency i
                JOIN unnest(\(bind(keys.map(\.actorId))), \(bind(keys.map(\.endpoint))), \(bind(keys.map(\.key)))) AS k(actor, endpoint, key)
                  ON i.actor = k.actor AND i.endpoint = k.endpoint AND i.key = k.key
                """)
        }
        if !questions.deployments.isEmpty {
            parts.append("SELECT 'd', id, '', '', record::text FROM deployments WHERE id = ANY(\(bind(Array(questions.deployments))))")
        }
        let builds = Array(questions.builds)
        if !builds.isEmpty {
            parts.append("""
                SELECT 'b', b.service, b.version, '', b.build::text FROM builds b
                JOIN unnest(\(bind(builds.map(\.service))), \(bind(builds.map(\.version)))) AS k(service, version)
                  ON b.service = k.service AND b.version = k.version
                """)
        }
        if !questions.outbox.isEmpty {
            parts.append("SELECT 'o', deployment_id, actor, endpoint, key FROM outbox WHERE deployment_id = ANY(\(bind(Array(questions.outbox))))")
        }
        let scopes = Array(questions.slots)
        if !scopes.isEmpty {
            let groups = bind(scopes.map(\.key.group)), environments = bind(scopes.map(\.key.environment))
            parts.append("""
                SELECT 'h', s.delivery_group, s.environment, '', count(*)::text FROM slots s
                JOIN unnest(\(groups), \(environments)) AS k(delivery_group, environment)
                  ON s.delivery_group = k.delivery_group AND s.environment = k.environment
                GROUP BY s.delivery_group, s.environment
                """)
            parts.append("""
                SELECT 's', s.delivery_group, s.environment, s.deployment_id, s.updated_at::text FROM slots s
                JOIN unnest(\(groups), \(environments), \(bind(scopes.map(\.value.microseconds)))) AS k(delivery_group, environment, bound)
                  ON s.delivery_group = k.delivery_group AND s.environment = k.environment
                WHERE s.state = 'IN_PROGRESS' AND NOT s.awaiting_engine AND s.updated_at <= k.bound
                """)
        }
        if questions.generation {
            parts.append("SELECT 'g', generation::text, '', '', '' FROM policy")
        }
        let rows = try session.rows(PostgresQuery(unsafeSQL: parts.map { "(\($0))" }.joined(separator: " UNION ALL "), binds: binds))

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

        var rates: [RateWindow: Int] = [:]
        var quotas: [QuotaKey: Int] = [:]
        /// Per scope, the day before which its counters are removed.
        var quotaFloors: [QuotaScope: Int64] = [:]
        var deployments: [String: RecordChange] = [:]
        var slots: [String: (scope: SlotScope, slot: ActiveDeployment?)] = [:]
        var idempotency: [IdempotencyScope: IdempotencyRecord?] = [:]
        var outbox: [String: IdempotencyScope?] = [:]
        var insights: [InsightKey: Int] = [:]
        var builds: [BuildKey: Build] = [:]
        var audit: [AuditEntry] = []
        var refusals: [RefusalKey: (count: Int, note: AuditNote)] = [:]

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
        quotas[key]? += delta
    }

    /// Removes the scope's counters of days before `day`.
    func removeQuota(_ scope: QuotaScope, before day: Int64) {
        pending.quotaFloors[scope] = max(pending.quotaFloors[scope] ?? day, day)
        for key in quotas.keys where key.scope == scope && key.day < day { quotas[key] = 0 }
    }

    /// Stores `record` (new when `previous` is nil), its slot row and insight counts in step.
    func putDeployment(_ record: DeploymentRecord, previous: DeploymentRecord?) {
        deployments[record.id] = record
        switch (previous, pending.deployments[record.id]) {
        case (nil, _), (_, .insert): pending.deployments[record.id] = .insert(record)
        default: pending.deployments[record.id] = .update(record)
        }
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

    /// Writes every pending change in one statement (two when counters fell to zero), and with
    /// `closing`, the batch's token, the fleet's head and a changed policy.
    func flush(closing: Closing? = nil) throws {
        guard !pending.isEmpty || closing != nil else { return }
        let pending = self.pending
        self.pending = Pending()
        var binds = PostgresBindings()
        func text(_ values: [String]) -> String {
            binds.append(values)
            return "$\(binds.count)::text[]"
        }
        func int(_ values: [Int64]) -> String {
            binds.append(values)
            return "$\(binds.count)::int8[]"
        }
        func bool(_ values: [Bool]) -> String {
            binds.append(values)
            return "$\(binds.count)::bool[]"
        }
        func json(_ value: some Encodable) throws -> String { String(decoding: try codec.encode(value), as: UTF8.self) }
        var parts: [String] = []

        let rates = Array(pending.rates)
        if !rates.isEmpty {
            parts.append("""
                INSERT INTO rate_windows (minute, actor, bucket, count)
                SELECT * FROM unnest(\(int(rates.map(\.key.minute))), \(text(rates.map(\.key.actorId))), \(text(rates.map(\.key.bucket.rawValue))), \(int(rates.map { Int64($0.value) })))
                ON CONFLICT (minute, actor, bucket) DO UPDATE SET count = rate_windows.count + EXCLUDED.count
                """)
        }
        // A counter of a day its scope's floor removes is removed with it (never written).
        let quotas = pending.quotas.filter { $0.key.day >= pending.quotaFloors[$0.key.scope] ?? .min }
        if !quotas.isEmpty {
            let rows = Array(quotas)
            parts.append("""
                INSERT INTO quota_counters (kind, scope, day, used)
                SELECT * FROM unnest(\(text(rows.map(\.key.scope.kind.rawValue))), \(text(rows.map(\.key.scope.key))), \(int(rows.map(\.key.day))), \(int(rows.map { Int64($0.value) })))
                ON CONFLICT (kind, scope, day) DO UPDATE SET used = quota_counters.used + EXCLUDED.used
                """)
        }
        if !pending.quotaFloors.isEmpty {
            let floors = Array(pending.quotaFloors)
            parts.append("""
                DELETE FROM quota_counters q USING unnest(\(text(floors.map(\.key.kind.rawValue))), \(text(floors.map(\.key.key))), \(int(floors.map(\.value)))) AS f(kind, scope, floor)
                WHERE q.kind = f.kind AND q.scope = f.scope AND q.day < f.floor
                """)
        }
        var inserted: [DeploymentRecord] = [], updated: [DeploymentRecord] = [], deleted: [String] = []
        for (id, change) in pending.deployments {
            switch change {
            case .insert(let record): inserted.append(record)
            case .update(let record): updated.append(record)
            case .delete: deleted.append(id)
            }
        }
        if !inserted.isEmpty {
            parts.append("""
                INSERT INTO deployments (id, service, environment, delivery_group, state, kind, version, created_at, updated_at, execution_id, record)
                SELECT id, service, environment, delivery_group, state, kind, version, created_at, updated_at, NULLIF(execution_id, ''), record::jsonb
                FROM unnest(\(text(inserted.map(\.id))), \(text(inserted.map(\.service))), \(text(inserted.map(\.environment))), \(text(inserted.map(\.deliveryGroupId))),
                            \(text(inserted.map(\.state.rawValue))), \(text(inserted.map(\.kind.rawValue))), \(text(inserted.map(\.version))),
                            \(int(inserted.map(\.createdAt.microseconds))), \(int(inserted.map(\.updatedAt.microseconds))),
                            \(text(inserted.map { $0.engineExecutionId ?? "" })), \(text(try inserted.map(json))))
                  AS u(id, service, environment, delivery_group, state, kind, version, created_at, updated_at, execution_id, record)
                """)
        }
        if !updated.isEmpty {
            parts.append("""
                UPDATE deployments d SET state = u.state, updated_at = u.updated_at, execution_id = NULLIF(u.execution_id, ''), record = u.record::jsonb
                FROM unnest(\(text(updated.map(\.id))), \(text(updated.map(\.state.rawValue))), \(int(updated.map(\.updatedAt.microseconds))),
                            \(text(updated.map { $0.engineExecutionId ?? "" })), \(text(try updated.map(json))))
                  AS u(id, state, updated_at, execution_id, record)
                WHERE d.id = u.id
                """)
        }
        if !deleted.isEmpty {
            parts.append("DELETE FROM deployments WHERE id = ANY(\(text(deleted)))")
        }
        let held = pending.slots.compactMap { id, change in change.slot.map { (change.scope, $0) } }
        if !held.isEmpty {
            parts.append("""
                INSERT INTO slots (delivery_group, environment, deployment_id, state, updated_at, awaiting_engine)
                SELECT * FROM unnest(\(text(held.map(\.0.group))), \(text(held.map(\.0.environment))), \(text(held.map(\.1.id))),
                                     \(text(held.map(\.1.state.rawValue))), \(int(held.map(\.1.updatedAt.microseconds))), \(bool(held.map(\.1.awaitingEngine))))
                ON CONFLICT (delivery_group, environment, deployment_id) DO UPDATE
                SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at, awaiting_engine = EXCLUDED.awaiting_engine
                """)
        }
        let freed = pending.slots.filter { $0.value.slot == nil }.map { ($0.value.scope, $0.key) }
        if !freed.isEmpty {
            parts.append("""
                DELETE FROM slots s USING unnest(\(text(freed.map(\.0.group))), \(text(freed.map(\.0.environment))), \(text(freed.map(\.1)))) AS u(delivery_group, environment, deployment_id)
                WHERE s.delivery_group = u.delivery_group AND s.environment = u.environment AND s.deployment_id = u.deployment_id
                """)
        }
        let keys = pending.idempotency.compactMap { scope, record in record.map { (scope, $0) } }
        if !keys.isEmpty {
            parts.append("""
                INSERT INTO idempotency (actor, endpoint, key, expires_at, record)
                SELECT actor, endpoint, key, expires_at, record::jsonb
                FROM unnest(\(text(keys.map(\.0.actorId))), \(text(keys.map(\.0.endpoint))), \(text(keys.map(\.0.key))),
                            \(int(keys.map(\.1.expiresAt.microseconds))), \(text(try keys.map { try json($0.1) }))) AS u(actor, endpoint, key, expires_at, record)
                ON CONFLICT (actor, endpoint, key) DO UPDATE SET expires_at = EXCLUDED.expires_at, record = EXCLUDED.record
                """)
        }
        let freedKeys = pending.idempotency.filter { $0.value == nil }.map(\.key)
        if !freedKeys.isEmpty {
            parts.append("""
                DELETE FROM idempotency i USING unnest(\(text(freedKeys.map(\.actorId))), \(text(freedKeys.map(\.endpoint))), \(text(freedKeys.map(\.key)))) AS u(actor, endpoint, key)
                WHERE i.actor = u.actor AND i.endpoint = u.endpoint AND i.key = u.key
                """)
        }
        let orders = pending.outbox.compactMap { id, scope in scope.map { (id, $0) } }
        if !orders.isEmpty {
            parts.append("""
                INSERT INTO outbox (deployment_id, actor, endpoint, key)
                SELECT * FROM unnest(\(text(orders.map(\.0))), \(text(orders.map(\.1.actorId))), \(text(orders.map(\.1.endpoint))), \(text(orders.map(\.1.key))))
                ON CONFLICT (deployment_id) DO UPDATE SET actor = EXCLUDED.actor, endpoint = EXCLUDED.endpoint, key = EXCLUDED.key
                """)
        }
        let taken = pending.outbox.filter { $0.value == nil }.map(\.key)
        if !taken.isEmpty {
            parts.append("DELETE FROM outbox WHERE deployment_id = ANY(\(text(taken)))")
        }
        let insights = pending.insights.filter { $0.value != 0 }.map { ($0.key, Int64($0.value)) }
        if !insights.isEmpty {
            parts.append("""
                INSERT INTO insights (hour, delivery_group, service, measure, label, count)
                SELECT * FROM unnest(\(int(insights.map(\.0.hour))), \(text(insights.map(\.0.group))), \(text(insights.map(\.0.service))),
                                     \(text(insights.map(\.0.measure.rawValue))), \(text(insights.map(\.0.label))), \(int(insights.map(\.1))))
                ON CONFLICT (hour, delivery_group, service, measure, label) DO UPDATE SET count = insights.count + EXCLUDED.count
                """)
        }
        let builds = Array(pending.builds.values)
        if !builds.isEmpty {
            parts.append("""
                INSERT INTO builds (service, version, registered_at, build)
                SELECT service, version, registered_at, build::jsonb
                FROM unnest(\(text(builds.map(\.service))), \(text(builds.map(\.version))), \(int(builds.map(\.registeredAt.microseconds))), \(text(try builds.map(json))))
                  AS u(service, version, registered_at, build)
                ON CONFLICT (service, version) DO UPDATE SET registered_at = EXCLUDED.registered_at, build = EXCLUDED.build
                """)
        }
        if !pending.audit.isEmpty {
            let entries = pending.audit
            parts.append("""
                INSERT INTO audit (sequence, timestamp, event_type, delivery_group, hash, entry)
                SELECT sequence, timestamp, event_type, NULLIF(delivery_group, ''), hash, entry::jsonb
                FROM unnest(\(int(entries.map { Int64($0.sequence) })), \(int(entries.map(\.timestamp.microseconds))), \(text(entries.map(\.eventType))),
                            \(text(entries.map { $0.deliveryGroupId ?? "" })), \(text(entries.map(\.hash))), \(text(try entries.map(json))))
                  AS u(sequence, timestamp, event_type, delivery_group, hash, entry)
                """)
        }
        let refusals = Array(pending.refusals)
        if !refusals.isEmpty {
            parts.append("""
                INSERT INTO refusals (minute, actor, code, count, note)
                SELECT minute, actor, code, count, note::jsonb
                FROM unnest(\(int(refusals.map(\.key.minute))), \(text(refusals.map(\.key.actor))), \(text(refusals.map(\.key.code))),
                            \(int(refusals.map { Int64($0.value.count) })), \(text(try refusals.map { try json($0.value.note) }))) AS u(minute, actor, code, count, note)
                ON CONFLICT (minute, actor, code) DO UPDATE SET count = refusals.count + EXCLUDED.count
                """)
        }
        if let closing {
            binds.append(closing.token)
            let token = binds.count
            binds.append(closing.committedAt.microseconds)
            parts.append("INSERT INTO batches (token, committed_at) VALUES ($\(token), $\(binds.count))")
            binds.append(Int64(closing.chain.sequence))
            let sequence = binds.count
            binds.append(closing.chain.headHash)
            let hash = binds.count
            binds.append(Int64(closing.generation))
            parts.append("""
                UPDATE fleet_head SET audit_sequence = $\(sequence), audit_hash = $\(hash), policy_generation = $\(binds.count), commits = commits + 1
                """)
            if let policy = closing.policy {
                let generation = binds.count
                binds.append(try json(policy))
                parts.append("UPDATE policy SET generation = $\(generation), snapshot = $\(binds.count)::jsonb")
            }
        }
        let statement = "WITH " + parts.enumerated().map { "w\($0.offset) AS (\($0.element))" }.joined(separator: ",\n") + " SELECT 1"
        try session.run(PostgresQuery(unsafeSQL: statement, binds: binds))

        // Counters that fell to zero or below are removed, as one node removes them.
        let emptied = quotas.filter { $0.value < 0 }.map(\.key)
        let faded = insights.filter { $0.1 < 0 }.map(\.0)
        guard !emptied.isEmpty || !faded.isEmpty else { return }
        binds = PostgresBindings()
        parts = []
        if !emptied.isEmpty {
            parts.append("""
                DELETE FROM quota_counters q USING unnest(\(text(emptied.map(\.scope.kind.rawValue))), \(text(emptied.map(\.scope.key))), \(int(emptied.map(\.day)))) AS u(kind, scope, day)
                WHERE q.kind = u.kind AND q.scope = u.scope AND q.day = u.day AND q.used <= 0
                """)
        }
        if !faded.isEmpty {
            parts.append("""
                DELETE FROM insights i USING unnest(\(int(faded.map(\.hour))), \(text(faded.map(\.group))), \(text(faded.map(\.service))),
                                                    \(text(faded.map(\.measure.rawValue))), \(text(faded.map(\.label)))) AS u(hour, delivery_group, service, measure, label)
                WHERE i.hour = u.hour AND i.delivery_group = u.delivery_group AND i.service = u.service AND i.measure = u.measure AND i.label = u.label
                  AND i.count <= 0
                """)
        }
        try session.run(PostgresQuery(unsafeSQL: "WITH " + parts.enumerated().map { "w\($0.offset) AS (\($0.element))" }.joined(separator: ",\n") + " SELECT 1", binds: binds))
    }
}

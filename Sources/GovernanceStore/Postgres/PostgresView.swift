import PostgresNIO
import Rules

/// The rules' view of governance state in a fleet's PostgreSQL, read on one session (inside the
/// writer's transaction, or on a reader's connection). Every rate window, read ones included, is
/// a row shared by the fleet (DECISIONS 80).
///
/// As with ``StoreView``, a read error cannot be thrown through the rules: the view records the
/// first one and answers neutrally, and the owner discards the decision when ``failure`` is set.
final class PostgresView: StateView {
    let session: SQLSession
    let codec: RecordCodec
    // INVARIANT: set at most once, by the first failed read; a decision evaluated while it is set
    // is never committed or returned.
    private(set) var failure: (any Error)?

    init(session: SQLSession, codec: RecordCodec) {
        self.session = session
        self.codec = codec
    }

    private func attempt<T>(_ fallback: T, _ body: () throws -> T) -> T {
        // After a failed read the decision is discarded: ask nothing more.
        guard failure == nil else { return fallback }
        do { return try body() } catch {
            if failure == nil { failure = error }
            return fallback
        }
    }

    /// The first column of the first row, when there is one.
    private func single<T: PostgresDecodable>(_ type: T.Type, _ query: PostgresQuery) throws -> T? {
        try session.rows(query).first.map { try $0.decode(T.self) }
    }

    private func records(_ query: PostgresQuery) throws -> [DeploymentRecord] {
        try session.rows(query).map { try codec.decode(DeploymentRecord.self, Array(try $0.decode(String.self).utf8)) }
    }

    func rateCount(_ window: RateWindow) -> Int {
        attempt(0) {
            try single(Int.self, "SELECT count FROM rate_windows WHERE minute = \(window.minute) AND actor = \(window.actorId) AND bucket = \(window.bucket.rawValue)") ?? 0
        }
    }

    func quotaUsed(_ scope: QuotaScope, day: Int64) -> Int {
        attempt(0) {
            try single(Int.self, "SELECT used FROM quota_counters WHERE kind = \(scope.kind.rawValue) AND scope = \(scope.key) AND day = \(day)") ?? 0
        }
    }

    func activeDeployments(group: String, environment: String) -> [ActiveDeployment] {
        attempt([]) {
            try session.rows("""
                SELECT deployment_id, state, updated_at, awaiting_engine FROM slots
                WHERE delivery_group = \(group) AND environment = \(environment) ORDER BY deployment_id
                """).map(Self.active)
        }
    }

    func slotUsage(group: String, environment: String, staleBefore: Timestamp) -> SlotUsage {
        attempt(SlotUsage(holding: 0, stale: [])) {
            let holding = try single(Int.self, "SELECT count(*)::bigint FROM slots WHERE delivery_group = \(group) AND environment = \(environment)") ?? 0
            let stale = try session.rows("""
                SELECT deployment_id, state, updated_at, awaiting_engine FROM slots
                WHERE delivery_group = \(group) AND environment = \(environment) AND state = 'IN_PROGRESS'
                  AND NOT awaiting_engine AND updated_at <= \(staleBefore.microseconds)
                ORDER BY updated_at, deployment_id
                """).map(Self.active)
            return SlotUsage(holding: holding, stale: stale)
        }
    }

    static func active(_ row: PostgresRow) throws -> ActiveDeployment {
        let (id, state, updatedAt, awaiting) = try row.decode((String, String, Int64, Bool).self)
        guard let state = DeploymentRecord.State(rawValue: state) else { throw UndecodableValue(what: "slot row") }
        return ActiveDeployment(id: id, state: state, updatedAt: Timestamp(microseconds: updatedAt), awaitingEngine: awaiting)
    }

    func deployment(id: String) -> DeploymentRecord? {
        attempt(nil) { try records("SELECT record::text FROM deployments WHERE id = \(id)").first }
    }

    func latestSucceeded(service: String, environment: String, before: Timestamp) -> DeploymentRecord? {
        attempt(nil) {
            try records("""
                SELECT record::text FROM deployments
                WHERE service = \(service) AND environment = \(environment) AND state = 'SUCCEEDED' AND created_at < \(before.microseconds)
                ORDER BY created_at DESC, id DESC LIMIT 1
                """).first
        }
    }

    func hasSucceeded(service: String, environment: String, version: String) -> Bool {
        attempt(false) {
            try single(Bool.self, """
                SELECT EXISTS (SELECT 1 FROM deployments
                WHERE service = \(service) AND environment = \(environment) AND version = \(version) AND state = 'SUCCEEDED')
                """) ?? false
        }
    }

    func latestDeployment(service: String, environment: String) -> DeploymentRecord? {
        attempt(nil) {
            try records("""
                SELECT record::text FROM deployments WHERE service = \(service) AND environment = \(environment)
                ORDER BY created_at DESC, id DESC LIMIT 1
                """).first
        }
    }

    func insightCounts(hours: ClosedRange<Int64>) -> [InsightCount] {
        attempt([]) {
            try session.rows("""
                SELECT hour, delivery_group, service, measure, label, count FROM insights
                WHERE hour >= \(hours.lowerBound) AND hour <= \(hours.upperBound)
                ORDER BY hour, delivery_group, service, measure, label
                """).map { row in
                let (hour, group, service, measure, label, count) = try row.decode((Int64, String, String, String, String, Int).self)
                guard let measure = InsightCount.Measure(rawValue: measure) else { throw UndecodableValue(what: "insight row") }
                return InsightCount(hour: hour, group: group, service: service, measure: measure, label: label, count: count)
            }
        }
    }

    func build(service: String, version: String) -> Build? {
        attempt(nil) {
            try single(String.self, "SELECT build::text FROM builds WHERE service = \(service) AND version = \(version)")
                .map { try codec.decode(Build.self, Array($0.utf8)) }
        }
    }

    func builds(service: String) -> [Build] {
        attempt([]) {
            try session.rows("SELECT build::text FROM builds WHERE service = \(service) ORDER BY registered_at DESC, version").map {
                try codec.decode(Build.self, Array(try $0.decode(String.self).utf8))
            }
        }
    }

    func uploadCapabilities(service: String, version: String) -> [UploadCapability] {
        attempt([]) {
            try session.rows("SELECT capability::text FROM upload_capabilities WHERE service = \(service) AND version = \(version) ORDER BY token")
                .map { try codec.decode(UploadCapability.self, Array(try $0.decode(String.self).utf8)) }
        }
    }

    func idempotencyRecord(_ scope: IdempotencyScope) -> IdempotencyRecord? {
        attempt(nil) {
            try single(String.self, "SELECT record::text FROM idempotency WHERE actor = \(scope.actorId) AND endpoint = \(scope.endpoint) AND key = \(scope.key)")
                .map { try codec.decode(IdempotencyRecord.self, Array($0.utf8)) }
        }
    }

    func deployments(matching query: DeploymentQuery, groups: Set<String>?) -> [DeploymentRecord] {
        attempt([]) {
            var sql: PostgresQuery = "SELECT record::text FROM deployments WHERE true"
            var binds = PostgresBindings()
            func bind(_ value: String) -> String {
                binds.append(value)
                return "$\(binds.count)"
            }
            var text = ""
            if let service = query.service { text += " AND service = \(bind(service))" }
            if let environment = query.environment { text += " AND environment = \(bind(environment))" }
            if let state = query.state { text += " AND state = \(bind(state.rawValue))" }
            if let groups { text += " AND delivery_group = ANY(ARRAY[\(groups.sorted().map(bind).joined(separator: ","))]::text[])" }
            if let before = query.before {
                binds.append(before.createdAt.microseconds)
                text += " AND (created_at, id) < ($\(binds.count), \(bind(before.id)))"
            }
            text += " ORDER BY created_at DESC, id DESC"
            if let limit = query.limit {
                binds.append(Int64(limit))
                text += " LIMIT $\(binds.count)"
            }
            sql = PostgresQuery(unsafeSQL: "SELECT record::text FROM deployments WHERE true" + text, binds: binds)
            return try records(sql)
        }
    }
}

import PostgresNIO
import Rules

/// The rules' questions that are not asked by key — listings, the newest record of a service,
/// insight counters — each one SQL statement on a session (inside the writer's transaction, or on
/// a reader's connection). Questions by key are read for a whole batch by ``FleetBatch``;
/// ``FleetView`` answers the rules from both.
struct PostgresReads {
    let session: SQLSession
    let codec: RecordCodec

    private func records(_ query: PostgresQuery) throws -> [DeploymentRecord] {
        try session.rows(query).map { try codec.decode(DeploymentRecord.self, Array(try $0.decode(String.self).utf8)) }
    }

    func activeDeployments(group: String, environment: String) throws -> [ActiveDeployment] {
        try session.rows("""
            SELECT deployment_id, state, updated_at, awaiting_engine FROM slots
            WHERE delivery_group = \(group) AND environment = \(environment) ORDER BY deployment_id
            """).map(Self.active)
    }

    static func active(_ row: PostgresRow) throws -> ActiveDeployment {
        let (id, state, updatedAt, awaiting) = try row.decode((String, String, Int64, Bool).self)
        guard let state = DeploymentRecord.State(rawValue: state) else { throw UndecodableValue(what: "slot row") }
        return ActiveDeployment(id: id, state: state, updatedAt: Timestamp(microseconds: updatedAt), awaitingEngine: awaiting)
    }

    func latestSucceeded(service: String, environment: String, before: Timestamp) throws -> DeploymentRecord? {
        try records("""
            SELECT record::text FROM deployments
            WHERE service = \(service) AND environment = \(environment) AND state = 'SUCCEEDED' AND created_at < \(before.microseconds)
            ORDER BY created_at DESC, id DESC LIMIT 1
            """).first
    }

    func hasSucceeded(service: String, environment: String, version: String) throws -> Bool {
        try session.rows("""
            SELECT EXISTS (SELECT 1 FROM deployments
            WHERE service = \(service) AND environment = \(environment) AND version = \(version) AND state = 'SUCCEEDED')
            """).first?.decode(Bool.self) ?? false
    }

    func latestDeployment(service: String, environment: String) throws -> DeploymentRecord? {
        try records("""
            SELECT record::text FROM deployments WHERE service = \(service) AND environment = \(environment)
            ORDER BY created_at DESC, id DESC LIMIT 1
            """).first
    }

    func insightCounts(hours: ClosedRange<Int64>) throws -> [InsightCount] {
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

    func builds(service: String) throws -> [Build] {
        try session.rows("SELECT build::text FROM builds WHERE service = \(service) ORDER BY registered_at DESC, version").map {
            try codec.decode(Build.self, Array(try $0.decode(String.self).utf8))
        }
    }

    func uploadCapabilities(service: String, version: String) throws -> [UploadCapability] {
        try session.rows("SELECT capability::text FROM upload_capabilities WHERE service = \(service) AND version = \(version) ORDER BY token")
            .map { try codec.decode(UploadCapability.self, Array(try $0.decode(String.self).utf8)) }
    }

    func deployments(matching query: DeploymentQuery, groups: Set<String>?) throws -> [DeploymentRecord] {
        var binds = PostgresBindings()
        func bind(_ value: String) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        var text = "SELECT record::text FROM deployments WHERE true"
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
        return try records(PostgresQuery(unsafeSQL: text, binds: binds))
    }
}

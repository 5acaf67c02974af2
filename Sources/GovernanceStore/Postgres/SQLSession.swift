import Dispatch
import FoundationEssentials
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// Where a fleet's PostgreSQL is: parsed from `postgres://user[:password]@host[:port]/database`.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String

    /// Parses a `postgres://` or `postgresql://` URL; nil when it is not one.
    public init?(url: String) {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql",
            let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty
        else { return nil }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { return nil }
        self.host = host
        self.port = components.port ?? 5432
        // URLComponents gives these decoded already.
        guard components.queryItems == nil, components.fragment == nil else { return nil }
        self.username = user
        self.password = components.password
        self.database = database
    }

    /// The location without its password: what logs and errors name.
    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }
}

/// One PostgreSQL connection used synchronously by one thread at a time (the writer's thread, a
/// reader's queue, the lease's queue), never by a thread of the cooperative pool or an event loop.
///
/// Every statement waits at most `timeout`: past it the connection is closed and the statement
/// fails, so no caller waits on an unreachable database longer than that. A lost connection is
/// replaced at the start of the next unit of work — never inside a transaction, whose statements
/// must all run on the connection that began it.
final class SQLSession: Sendable {
    let location: PostgresLocation
    let logger: Logger
    let timeout: Duration
    /// How long a connection attempt may take (the statement timeout unless told).
    let connectTimeout: Duration

    private struct State {
        var connection: PostgresConnection?
        var inTransaction = false
        /// Statements sent in this transaction whose answers are not yet checked (``send(_:)``).
        var pending: [EventLoopFuture<PostgresQueryResult>] = []
    }

    // INVARIANT: touched only by the one thread using the session at a time; the lock makes
    // that visible to the compiler and costs nothing uncontended.
    private let state = Mutex(State())

    /// The session's `application_name`: what the replica tells the fleet about itself.
    let applicationName: String

    init(_ location: PostgresLocation, timeout: Duration, connectTimeout: Duration? = nil, applicationName: String = "dxcp-policy", logger: Logger) {
        self.location = location
        self.timeout = timeout
        self.connectTimeout = connectTimeout ?? timeout
        self.applicationName = applicationName
        self.logger = logger
    }

    /// Connects now, failing with the reason when the database cannot be reached.
    static func connect(
        _ location: PostgresLocation, timeout: Duration, connectTimeout: Duration? = nil, applicationName: String = "dxcp-policy", logger: Logger
    ) throws(StoreError) -> SQLSession {
        let session = SQLSession(location, timeout: timeout, connectTimeout: connectTimeout, applicationName: applicationName, logger: logger)
        _ = try session.connection(reconnect: true)
        return session
    }

    /// The open connection; a new one when there is none and `reconnect` allows it.
    private func connection(reconnect: Bool) throws(StoreError) -> PostgresConnection {
        if let current = state.withLock({ $0.connection }), !current.isClosed { return current }
        guard reconnect else {
            throw StoreError(.unavailable, path: location.description, "the connection to PostgreSQL was lost during a transaction; nothing of it was committed")
        }
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: .disable)
        configuration.options.connectTimeout = .milliseconds(Int64(connectTimeout / .milliseconds(1)))
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        let future = PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
            id: Self.nextID.add(1, ordering: .relaxed).newValue, logger: logger)
        do {
            // A connection that arrives after the timeout is closed, not leaked.
            let connection = try wait(for: future, onTimeout: { future.whenSuccess { Self.closeSoon($0) } })
            // PostgreSQL cancels a statement itself past the timeout (a wait for the fleet lock
            // included), so an abandoned wait never takes its turn later; the client waits a
            // little longer as a backstop.
            // The schema's functions look rows up by key: their plans are kept generic (an index
            // lookup whatever the keys), not planned again on every call.
            // A session left idle inside a transaction (its client partitioned away or frozen
            // while holding the fleet lock) is ended by the server after a few timeouts (a long
            // verification decodes and hashes between its statements), never the OS's keepalive
            // hours, so it cannot hold every replica's writes for long. A commit is flushed on the
            // primary before it is answered even where the database's default says otherwise
            // (`synchronous_commit = off`); every other setting (`local`, `remote_write`, `on`,
            // `remote_apply`) already waits for that flush and is kept.
            let ms = Int64(timeout / .milliseconds(1))
            let idleMs = max(4 * ms, 10_000)
            let setup = """
                SELECT set_config('statement_timeout', '\(ms)', false), set_config('idle_in_transaction_session_timeout', '\(idleMs)', false),
                  set_config('plan_cache_mode', 'force_generic_plan', false),
                  CASE WHEN current_setting('synchronous_commit') = 'off' THEN set_config('synchronous_commit', 'on', false) END
                """
            // Only a connection with its settings is used: one whose setup failed is closed.
            do {
                _ = try wait(for: connection.query(PostgresQuery(unsafeSQL: setup), logger: logger), onTimeout: {})
            } catch {
                Self.closeSoon(connection)
                throw error
            }
            state.withLock { $0.connection = connection }
            return connection
        } catch {
            throw StoreError(.unavailable, path: location.description, "cannot connect to PostgreSQL: \(Self.reason(error))", unreachable: true)
        }
    }

    private static let nextID = Atomic<Int>(0)

    /// Waits for `future` at most `timeout`; past it runs `onTimeout` (closing the connection
    /// fails the future) and throws.
    private func wait<T: Sendable>(for future: EventLoopFuture<T>, onTimeout: () -> Void) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        future.whenComplete { outcome in
            result.withLock { $0 = outcome }
            done.signal()
        }
        if done.wait(timeout: .now() + timeout / .seconds(1) + 2) == .timedOut {
            onTimeout()
            throw StoreError(.unavailable, path: location.description, "PostgreSQL did not answer within \(timeout)", unreachable: true)
        }
        return try result.withLock { $0! }.get()
    }

    /// Runs one statement; a failure of the connection closes it and throws `.unavailable`.
    private func query(_ query: PostgresQuery) throws -> PostgresQueryResult {
        let inTransaction = state.withLock { $0.inTransaction }
        let connection = try connection(reconnect: !inTransaction)
        do {
            return try wait(for: connection.query(query, logger: logger), onTimeout: { self.drop(connection) })
        } catch let error as PSQLError where error.serverInfo == nil || Self.endsConnection(error.serverInfo?[.sqlState]) {
            // No answer from the server (the socket closed, the connection failed), or the server
            // ending the session (shutting down, crashed, not yet accepting): it is unusable.
            drop(connection)
            throw StoreError(.unavailable, path: location.description, "the connection to PostgreSQL failed: \(Self.reason(error))")
        }
    }

    /// Closes `connection` without waiting and forgets it.
    private func drop(_ connection: PostgresConnection) {
        state.withLock { if $0.connection === connection { $0.connection = nil } }
        Self.closeSoon(connection)
    }

    /// Starts closing `connection` and keeps it alive until it is closed (PostgresNIO requires a
    /// connection to be closed before it is released).
    private static func closeSoon(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Runs `query` and returns its rows.
    @discardableResult
    func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        Array(try self.query(query).rows)
    }

    /// Runs `query` and returns the number of rows it changed.
    @discardableResult
    func run(_ query: PostgresQuery) throws -> Int {
        try self.query(query).metadata.rows ?? 0
    }

    /// Sends a statement of the current transaction without waiting for its answer: the
    /// connection runs statements in order, so a later read sees it, and the transaction checks
    /// every answer before it commits (a failure rolls the whole transaction back). Outside a
    /// transaction, runs it and waits.
    func send(_ query: PostgresQuery) throws {
        guard state.withLock({ $0.inTransaction }) else {
            try run(query)
            return
        }
        let connection = try connection(reconnect: false)
        let answer = connection.query(query, logger: logger)
        state.withLock { $0.pending.append(answer) }
    }

    /// Waits for the answers of every statement sent; the first failure is thrown.
    private func settle() throws {
        let pending = state.withLock { state in defer { state.pending = [] }; return state.pending }
        guard let connection = state.withLock({ $0.connection }) else {
            if pending.isEmpty { return }
            throw StoreError(.unavailable, path: location.description, "the connection to PostgreSQL was lost during a transaction; nothing of it was committed")
        }
        for answer in pending {
            do {
                _ = try wait(for: answer, onTimeout: { self.drop(connection) })
            } catch let error as PSQLError where error.serverInfo == nil || Self.endsConnection(error.serverInfo?[.sqlState]) {
                drop(connection)
                throw StoreError(.unavailable, path: location.description, "the connection to PostgreSQL failed: \(Self.reason(error))")
            }
        }
    }

    /// Runs statements that take no parameters (schema changes).
    func execute(_ sql: String) throws {
        _ = try query(PostgresQuery(unsafeSQL: sql))
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    /// A commit whose answer is lost throws `.unconfirmed`: it may or may not have been applied.
    func transaction<T>(begin: String = "BEGIN", _ body: () throws -> T) throws -> T {
        try within(begin: begin, body) {
            do {
                try execute("COMMIT")
            } catch {
                // Whatever went wrong, the commit was sent: it may have been applied.
                throw StoreError(.unconfirmed, path: location.description, "PostgreSQL did not confirm the commit (\(Self.reason(error))); its outcome is unknown")
            }
        }
    }

    /// Runs `body` in a transaction that is rolled back, never committed: for reads (a snapshot
    /// has nothing to commit, and a lost answer to a `COMMIT` would leave a read "unconfirmed"),
    /// and for questions that take locks only to wait for other transactions (a commit would
    /// write, and wait for a synchronous standby).
    func rolledBack<T>(begin: String = "BEGIN", _ body: () throws -> T) throws -> T {
        try within(begin: begin, body) {
            // The answer stands even if the ROLLBACK fails: the session is closed, and the server
            // rolls back a transaction whose connection ended.
            do { try execute("ROLLBACK") } catch { close() }
        }
    }

    /// `body` between `begin` and `end`, all on the connection that began it (the session never
    /// reconnects in between: a `COMMIT` on a new connection would "succeed" at nothing); rolled
    /// back when `body` throws.
    private func within<T>(begin: String, _ body: () throws -> T, end: () throws -> Void) throws -> T {
        try execute(begin)
        state.withLock { $0.inTransaction = true }
        defer { state.withLock { $0.inTransaction = false } }
        let value: T
        do {
            value = try body()
            try settle()
        } catch {
            state.withLock { $0.pending = [] }
            try? execute("ROLLBACK")
            throw error
        }
        try end()
        return value
    }

    /// Whether the session holds an open connection (a failure drops it; the next use reconnects).
    var isConnected: Bool {
        state.withLock { $0.connection.map { !$0.isClosed } ?? false }
    }

    /// Disconnects (waiting for the socket to close, unless called on the connection's own event
    /// loop, which must never block).
    func close() {
        guard let connection = state.withLock({ state in defer { state.connection = nil }; return state.connection }) else { return }
        if connection.eventLoop.inEventLoop {
            Self.closeSoon(connection)
        } else {
            let closing: EventLoopFuture<Void> = connection.close()
            try? closing.wait()
        }
    }

    deinit { close() }

    /// SQLSTATE classes after which the session is gone: 08 (connection exception) and 57
    /// (operator intervention: shutdown, crash recovery, not yet accepting connections).
    static func endsConnection(_ sqlState: String?) -> Bool {
        // 57014: a statement cancelled by statement_timeout; the session lives on.
        guard let sqlState, sqlState != "57014" else { return false }
        // 25P03: the server ended a session left idle in a transaction.
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57") || sqlState == "25P03"
    }

    /// What a PostgreSQL error says, for an operator.
    static func reason(_ error: any Error) -> String {
        if let error = error as? StoreError { return error.message }
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
        }
        return "\(error)"
    }
}

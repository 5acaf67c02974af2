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
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
    }

    /// The location without its password: what logs and errors name.
    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }
}

/// One PostgreSQL connection used synchronously by one thread at a time: the writer's thread, or
/// a reader holding it. Every call blocks its thread until PostgreSQL answers (never a thread of
/// the cooperative pool or an event loop).
final class SQLSession: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    let location: PostgresLocation

    private init(connection: PostgresConnection, location: PostgresLocation, logger: Logger) {
        self.connection = connection
        self.location = location
        self.logger = logger
    }

    /// Connects to `location` (no TLS: the fleet's database is reached over a private network or
    /// loopback; see docs/FLEET.md).
    static func connect(_ location: PostgresLocation, logger: Logger) throws(StoreError) -> SQLSession {
        let configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: .disable)
        do {
            let connection = try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                id: Self.nextID.add(1, ordering: .relaxed).newValue, logger: logger
            ).wait()
            return SQLSession(connection: connection, location: location, logger: logger)
        } catch {
            throw StoreError(.inaccessible, path: location.description, "cannot connect: \(String(reflecting: error))")
        }
    }

    private static let nextID = Atomic<Int>(0)

    /// Runs `query` and returns its rows.
    @discardableResult
    func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        Array(try connection.query(query, logger: logger).wait().rows)
    }

    /// Runs `query` and returns the number of rows it changed.
    @discardableResult
    func run(_ query: PostgresQuery) throws -> Int {
        try connection.query(query, logger: logger).wait().metadata.rows ?? 0
    }

    /// Runs statements that take no parameters (schema changes, transaction control).
    func execute(_ sql: String) throws {
        _ = try connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).wait()
    }

    /// Disconnects (waiting for the socket to close, unless called on the connection's own event
    /// loop, which must never block).
    func close() {
        if connection.eventLoop.inEventLoop {
            let _: EventLoopFuture<Void> = connection.close()
        } else {
            let closing: EventLoopFuture<Void> = connection.close()
            try? closing.wait()
        }
    }

    deinit { close() }
}

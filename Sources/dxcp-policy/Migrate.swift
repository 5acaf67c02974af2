import ArgumentParser
import FoundationEssentials
import GovernanceStore
import Logging

/// `dxcp-policy migrate-schema`: creates or upgrades a fleet's PostgreSQL schema.
struct MigrateSchema: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-schema",
        abstract: "Create or upgrade the schema of a fleet's PostgreSQL database (serve also does it on start).",
        discussion: "Runs in one transaction under an advisory lock: safe while replicas start or run. A database already at this version is left as it is.")

    @Option(name: .long, help: "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (default: DXCP_DATABASE_URL).")
    var store: String?

    func run() async throws {
        let timeout = try commandTimeout()
        let fleet = try openFleet(store ?? ProcessInfo.processInfo.environment["DXCP_DATABASE_URL"], migrate: true, timeout: timeout)
        await fleet.close()
        print("schema of \(fleet.path) is current")
    }
}

/// `dxcp-policy migrate`: moves a node's data directory into a fleet's PostgreSQL.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a node's data directory into a fleet's PostgreSQL database (docs/FLEET.md).",
        discussion: """
            Copies policy and settings, deployment records, builds, upload capabilities, idempotency keys, quota and rate \
            counters, refusal tallies, pending dispatches and the audit chain (entry for entry, with its head and retention \
            checkpoint) in one transaction; the schema is created first when missing. The database must hold no state yet. \
            Stop the node first: what it decides meanwhile is not copied. Then check with `dxcp-policy audit verify --store URL`.
            """)

    @Option(name: .long, help: "The node's data directory.")
    var from: String

    @Option(name: .long, help: "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
    var to: String

    func run() async throws {
        let timeout = try commandTimeout()
        let node = try openNode(from)
        let fleet = try openFleet(to, migrate: true, timeout: timeout)
        do {
            let report = try await fleet.migrate(from: node)
            print("copied \(report) from \(from) to \(fleet.path)")
        } catch {
            printError("error: \(error)")
            await fleet.close()
            await node.close()
            throw ExitCode(2)
        }
        await fleet.close()
        await node.close()
    }
}

/// Opens a node's store in `dataDir`; a missing or unreadable one exits 2 with the reason.
func openNode(_ dataDir: String) throws -> GovernanceStore {
    do {
        return try GovernanceStore(directory: dataDir)
    } catch {
        printError("error: \(error)")
        throw ExitCode(2)
    }
}

/// The statement timeout of the one-off fleet commands (`migrate-schema`, `migrate`, `audit
/// verify --store`), which may rewrite, copy or read whole tables: `DXCP_COMMAND_TIMEOUT_MS`,
/// 1,000–3,600,000 ms (default 600,000). It is not `serve`'s `DXCP_DATABASE_TIMEOUT_MS`, which
/// bounds a decision's statements; a value out of range stops the command before it touches anything.
func commandTimeout() throws -> Duration {
    .milliseconds(try Serve.bounded(ProcessInfo.processInfo.environment, "DXCP_COMMAND_TIMEOUT_MS", 1_000...3_600_000, default: 600_000))
}

/// Connects to a fleet's database; a bad URL or an unreachable database exits 2 with the reason.
func openFleet(_ url: String?, migrate: Bool = false, timeout: Duration) throws -> FleetStore {
    guard let url, let location = PostgresLocation(url: url) else {
        printError("error: give the database as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        throw ExitCode(2)
    }
    do {
        var logger = Logger(label: "dxcp")
        logger.logLevel = .warning
        return try FleetStore(location: location, options: .init(migrate: migrate, readers: 1, timeout: timeout), logger: logger)
    } catch {
        printError("error: \(error)")
        throw ExitCode(2)
    }
}

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
        let fleet = try openFleet(store ?? ProcessInfo.processInfo.environment["DXCP_DATABASE_URL"], migrate: true)
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
        let node = try openNode(from)
        let fleet = try openFleet(to, migrate: true)
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

/// Connects to a fleet's database; a bad URL or an unreachable database exits 2 with the reason.
func openFleet(_ url: String?, migrate: Bool = false) throws -> FleetStore {
    guard let url, let location = PostgresLocation(url: url) else {
        printError("error: give the database as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        throw ExitCode(2)
    }
    // A migration or a verification may rewrite or read whole tables: its statements get more
    // time than a decision's, and a value out of range stops it, as it stops `serve`.
    let timeoutMs = try Serve.bounded(ProcessInfo.processInfo.environment, "DXCP_DATABASE_TIMEOUT_MS", 100...600_000, default: 60_000)
    do {
        var logger = Logger(label: "dxcp")
        logger.logLevel = .warning
        return try FleetStore(location: location, options: .init(migrate: migrate, readers: 1, timeout: .milliseconds(timeoutMs)), logger: logger)
    } catch {
        printError("error: \(error)")
        throw ExitCode(2)
    }
}

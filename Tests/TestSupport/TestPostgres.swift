import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The backends the store's behavioural suites run against, unchanged: one LMDB environment, and
/// a fleet's PostgreSQL (the test command's server; a fresh database per test).
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case lmdb, postgres

    public var description: String { rawValue }

    /// The backends this run tests: both, or those `DXCP_TEST_BACKENDS` names (comma-separated).
    /// The test command runs one node's cases with the other tests and the fleet's in the fleet
    /// phase, whose filter names every suite that takes these arguments (scripts/test.sh).
    public static var underTest: [Backend] {
        guard let names = ProcessInfo.processInfo.environment["DXCP_TEST_BACKENDS"] else { return allCases }
        return names.split(separator: ",").compactMap { Backend(rawValue: String($0)) }
    }
}

/// A fresh database on the test command's PostgreSQL (`DXCP_TEST_POSTGRES_URL`, started by
/// scripts/test.sh), or on `server`.
public struct TestDatabase: Sendable {
    /// The database's URL.
    public let url: String

    public init(server: String? = nil) throws {
        guard let base = server ?? ProcessInfo.processInfo.environment["DXCP_TEST_POSTGRES_URL"],
            let components = URLComponents(string: base), let host = components.host, let port = components.port, let user = components.user
        else {
            throw SetupError(message: "DXCP_TEST_POSTGRES_URL is not set: run the README's test command, or start one with `bash scripts/postgres.sh start DIR`")
        }
        let name = "dxcp_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        url = "postgres://\(user)@\(host):\(port)/\(name)"
        try Self.psql(base, "CREATE DATABASE \(name)")
    }

    /// Runs one statement with psql and returns its unaligned output.
    @discardableResult
    public func psql(_ sql: String) throws -> String { try Self.psql(url, sql) }

    /// Another session takes a lock with `statement` (on `table`, in `mode` as `pg_locks` names
    /// it) and holds it for `seconds` before it commits; this returns once the lock is held. The
    /// task ends with that session.
    public func holding(_ statement: String, on table: String, mode: String, for seconds: Int) async throws -> Task<Void, any Error> {
        let url = url
        let holder = Task { _ = try await offThePool { try Self.psql(url, "BEGIN; \(statement); SELECT pg_sleep(\(seconds)); COMMIT;") } }
        // pg_locks lists every database's locks: only this one's, held by another session.
        let held = """
            SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND c.relname = '\(table)' AND l.mode = '\(mode)' AND l.pid <> pg_backend_pid()
            """
        for _ in 0..<200 {
            if try psql(held) != "0" { return holder }
            try await Task.sleep(for: .milliseconds(20))
        }
        holder.cancel()
        throw SetupError(message: "no other session came to hold \(mode) on \(table)")
    }

    @discardableResult
    public static func psql(_ url: String, _ sql: String) throws -> String {
        let run = try runToEnd(URL(fileURLWithPath: "/usr/bin/psql"), [url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        guard run.status == 0 else { throw SetupError(message: "psql failed: \(run.err)") }
        return run.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A PostgreSQL of one test's own (scripts/postgres.sh), to stop, crash and restart without
/// disturbing other tests; removed when released.
public final class TestPostgres: Sendable {
    let directory: String
    /// The URL of its `dxcp_test` database.
    public let url: String

    public init() throws {
        directory = NSTemporaryDirectory() + "dxcp-pg-" + UUID().uuidString
        url = try Self.script("start", directory)
    }

    /// Stops the server at once, as a crash would.
    public func crash() throws { _ = try Self.script("crash", directory) }
    /// Starts it again on its port.
    public func resume() throws { _ = try Self.script("resume", directory) }
    /// Crashes it and starts it again.
    public func restart() throws { _ = try Self.script("restart", directory) }

    deinit { _ = try? Self.script("stop", directory) }

    /// Runs scripts/postgres.sh with its output in a file (spawned and waited for directly: the
    /// server it starts outlives the script, and must not hold a pipe of ours).
    private static func script(_ verb: String, _ directory: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let output = directory + ".\(verb).out"
        let command = "bash '\(root.path)/scripts/postgres.sh' \(verb) '\(directory)' >'\(output)' 2>&1 </dev/null"
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else { throw SetupError(message: "cannot run postgres.sh") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: output)
        guard status == 0 else { throw SetupError(message: "postgres.sh \(verb) failed: \(text)") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

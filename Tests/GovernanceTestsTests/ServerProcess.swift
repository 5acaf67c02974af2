import Foundation
import TestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `dxcp-policy serve` process on a fresh temporary data directory (or, given `store`, on a
/// fleet's PostgreSQL) with the demo policy, trusting `key` (JWKS file) and deploying through
/// `gate`; stopped and removed when released.
final class ServerProcess {
    static let issuer = "https://governance-tests.example/"
    static let audience = "dxcp-api"
    static let binaries = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        .deletingLastPathComponent()
    static let demoPolicy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/demo-policy.yaml").path

    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gt-server-\(UUID().uuidString)").path
    let port: Int
    let process = Process()
    var baseURL: String { "http://127.0.0.1:\(port)" }
    var logPath: String { dir + ".log" }

    /// Starts the server on `policy` (the demo policy by default); `environment` adds variables.
    init(
        key: SigningKey, gate: String, policy: String = ServerProcess.demoPolicy, store: String? = nil, environment extra: [String: String] = [:]
    ) async throws {
        port = try freePort()
        process.executableURL = Self.binaries.appendingPathComponent("dxcp-policy")
        process.arguments = ["serve", "--port", String(port)] + (store.map { ["--store", $0] } ?? ["--data-dir", dir])
            + ["--policy", policy, "--gate-url", gate]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DXCP_") && !$0.key.hasPrefix("GOV_") }
        environment["DXCP_OIDC_JWKS_FILE"] = key.jwksPath
        environment["DXCP_OIDC_ISSUER"] = Self.issuer
        environment["DXCP_OIDC_AUDIENCE"] = Self.audience
        environment.merge(extra) { _, new in new }
        process.environment = environment
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        for _ in 0..<300 where process.isRunning {
            if (try? await URLSession.shared.data(from: URL(string: "\(baseURL)/livez")!)) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw SetupError(message: "dxcp-policy serve did not start: \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
    }

    deinit {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dir)
        try? FileManager.default.removeItem(atPath: logPath)
    }

    /// Stops the process at once (SIGKILL), as a crash would.
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// One request as `token` with a JSON body and headers: the status and the body as JSON.
    func send(_ method: String, _ path: String, token: String, body: String? = nil, headers: [String: String] = [:]) async throws -> (status: Int, json: Any?) {
        try await Self.send(to: baseURL, method, path, token: token, body: body, headers: headers)
    }

    /// One request to the server at `baseURL` (for tasks, which cannot share the process object).
    static func send(
        to baseURL: String, _ method: String, _ path: String, token: String, body: String? = nil, headers: [String: String] = [:]
    ) async throws -> (status: Int, json: Any?) {
        var request = URLRequest(url: URL(string: baseURL + path)!, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 60)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, try? JSONSerialization.jsonObject(with: data))
    }

    /// One GET as `token`, decoded as JSON.
    func get(_ path: String, token: String) async throws -> Any {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        return try JSONSerialization.jsonObject(with: data)
    }
}

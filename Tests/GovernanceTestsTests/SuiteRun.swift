import Foundation

/// One run of the `governance-tests` executable against a server, with its outputs read back.
struct SuiteRun {
    /// Exit status.
    let status: Int32
    /// What it printed.
    let output: String
    /// The JUnit XML it wrote.
    let junit: String
    /// The snapshot it wrote.
    let snapshot: [String: Any]

    /// The snapshot's checks by id.
    var checks: [String: [String: Any]] {
        Dictionary(((snapshot["checks"] as? [[String: Any]]) ?? []).map { ($0["id"] as? String ?? "", $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Ids of the checks with `status`.
    func ids(_ status: String) -> Set<String> {
        Set(checks.filter { $0.value["status"] as? String == status }.keys)
    }

    /// The detail of check `id` ("" when it did not run).
    func detail(_ id: String) -> String { checks[id]?["detail"] as? String ?? "" }

    /// The snapshot's summary figure `name`.
    func summary(_ name: String) -> Int? { (snapshot["summary"] as? [String: Any])?[name] as? Int }

    /// Runs the suite against `server`. With `mint`, tokens are minted from the server's key;
    /// `environment` adds variables (tokens given that way).
    static func run(
        _ server: ServerProcess, through proxy: FaultProxy? = nil, baseURL: String? = nil, key: SigningKey, profile: String, guardrails: String, mint: Bool = true, environment extra: [String: String] = [:],
        interruptAfter line: String? = nil, arguments extraArguments: [String] = []
    ) async throws -> SuiteRun {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gt-run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let process = Process()
        process.executableURL = ServerProcess.binaries.appendingPathComponent("governance-tests")
        var arguments = [
            "--base-url", baseURL ?? proxy?.baseURL ?? server.baseURL, "--profile", profile, "--guardrails", guardrails, "--junit", dir + "/junit.xml",
            "--snapshot", dir + "/snapshot.json", "--deploy-timeout", "90", "--poll-interval", "0.3",
        ]
        if mint {
            arguments += ["--mint-key", key.pemPath, "--issuer", ServerProcess.issuer, "--audience", ServerProcess.audience, "--kid", key.kid]
        }
        process.arguments = arguments + extraArguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GOV_") }
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let outputPath = dir + "/output.txt"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = output
        process.standardError = output
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus) }
        try process.run()
        if let line {
            // Interrupt once the line is printed (it is printed before the next check starts).
            while process.isRunning, !((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "").contains(line) {
                try await Task.sleep(for: .milliseconds(20))
            }
            if process.isRunning { kill(process.processIdentifier, SIGINT) }
        }
        var iterator = exited.stream.makeAsyncIterator()
        let status = await iterator.next() ?? -1
        try output.close()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let junit = (try? String(contentsOfFile: dir + "/junit.xml", encoding: .utf8)) ?? ""
        let snapshot = (try? Data(contentsOf: URL(fileURLWithPath: dir + "/snapshot.json")))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        return SuiteRun(status: status, output: text, junit: junit, snapshot: snapshot)
    }
}

import Foundation
import Testing
import TestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Schemathesis (installed by `scripts/setup.sh test`) generates requests from the served
/// `/v1/openapi.yaml` — every operation, bodies and parameters inside and outside the schema —
/// against a real `dxcp-policy serve` with the Gate emulator, as each role in turn, with a fixed
/// seed. No answer may be a server error other than the documented engine and store ones, every
/// error must be the contract's envelope (scripts/schemathesis_envelope.py), and the server
/// answers `/livez` afterwards.
@Suite struct SchemathesisTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let st = root.appendingPathComponent(".build/tools/schemathesis/bin/st").path

    @Test func generatedRequestsGetNoServerErrorAndAlwaysTheEnvelope() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.st), "schemathesis is missing: run scripts/setup.sh test")
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "1"])
        // The corpus policy: limits high enough that rate windows do not hide the operations.
        let server = try await ServerProcess(key: key, gate: gate.baseURL, policy: CorpusRunTests.corpus + "/policy.yaml")
        var total = 0
        for (name, role) in [
            ("admin", "dxcp-platform-admins"), ("owner", "dxcp-delivery-owners"), ("observer", "dxcp-observers"), ("ci", "dxcp-ci-publishers"),
        ] {
            let token = try await TestTokens.mint(
                key, subject: "governance-tests-\(name)", email: name == "ci" ? nil : "governance-tests-\(name)@example.com", role: role)
            let (status, output) = try await Self.run([
                "run", "\(server.baseURL)/v1/openapi.yaml", "--header", "Authorization: Bearer \(token)",
                "--checks", "not_a_server_error,error_envelope", "--max-examples", "8", "--generation-deterministic",
                "--request-timeout", "10", "--no-color",
                // The reference's operations that are not served answer 501 by design (their own tests).
                "--exclude-deprecated",
            ])
            let line = output.split(separator: "\n").first { $0.contains(" generated, ") }.map(String.init) ?? ""
            print("fuzz schemathesis as \(name): \(line.trimmingCharacters(in: .whitespaces))")
            #expect(status == 0, "as \(name):\n\(output.suffix(4000))")
            let generated = Int(line.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") ?? 0
            #expect(generated > 100, "as \(name): \(line)")
            total += generated
            let (data, response) = try await URLSession.shared.data(from: URL(string: "\(server.baseURL)/livez")!)
            #expect((response as? HTTPURLResponse)?.statusCode == 200 && !data.isEmpty, "the server answers after the run as \(name)")
        }
        print("fuzz schemathesis: cases=\(total) roles=4")
    }

    /// Runs `st` with the envelope check loaded; its exit status and output.
    static func run(_ arguments: [String]) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: st)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = root.appendingPathComponent("scripts").path
        environment["SCHEMATHESIS_HOOKS"] = "schemathesis_envelope"
        process.environment = environment
        // Its working files (.schemathesis/) go to a scratch directory, not the checkout.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("schemathesis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        process.currentDirectoryURL = scratch
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return try await offThePool {
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }
}

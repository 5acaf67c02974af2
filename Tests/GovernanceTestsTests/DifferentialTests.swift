import Foundation
import Testing
import TestSupport

/// `governance-tests --differential` against real processes: a fresh dxcp-policy agrees with the
/// contract's model over a few thousand seeded steps; a server made to ignore its kill switch
/// (through the fault proxy) diverges, and the divergence is shrunk to a few steps.
@Suite(.serialized) struct DifferentialTests {
    /// Fixed, so a failure here is reproduced with `--seed`.
    static let seed: UInt64 = 20_261_206

    /// 2000 steps with engine ends, from the fixed seed: exit 0, and every kind of step ran.
    @Test(.timeLimit(.minutes(3))) func aConformantServerAgreesWithTheModel() async throws {
        let key = try SigningKey()
        // Executions outlast the run: only the test's engine-end steps end them.
        let gate = try EmulatorProcess(["--run-seconds", "3600"])
        let server = try await ServerProcess(key: key, gate: gate.baseURL)
        let run = try await DifferentialProcess.run(baseURL: server.baseURL, key: key, steps: 2000, seed: Self.seed, emulator: gate.baseURL)
        for line in run.lines(starting: ["differential: steps=", "differential: summary", "differential: kinds", "differential: outcomes"]) {
            print(line)
        }
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("differential: steps=2000 seed=\(Self.seed) "))
        #expect(run.output.contains("differential: summary seed=\(Self.seed) steps=2000 ran=2000/2000 divergences=0 "))
        for kind in ["validate", "deploy", "rollback", "read", "kill_switch", "guardrails", "engine_end"] {
            #expect((run.figure(kind, in: "differential: kinds") ?? 0) > 0, "no \(kind) step ran: \(run.output)")
        }
        for outcome in ["201", "201 replay", "409 CONCURRENCY_LIMIT_REACHED", "429 QUOTA_EXCEEDED", "503 MUTATIONS_DISABLED", "409 IDEMPOTENCY_CONFLICT"] {
            #expect(run.output.contains(" \(outcome)="), "no \(outcome) answer: \(run.output)")
        }
        #expect(run.output.contains("differential: restored the kill switch, the delivery group, the CI allowlist and the rate limits"))
    }

    /// The kill switch accepted and echoed but never applied: exit 1, and the sequence shrinks to
    /// the switch turned on and one refused mutation.
    @Test(.timeLimit(.minutes(3))) func anIgnoredKillSwitchIsShrunkToAFewSteps() async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "3600"])
        let server = try await ServerProcess(key: key, gate: gate.baseURL)
        let proxy = try await FaultProxy(upstream: server.baseURL, faults: [.killSwitchIgnored])
        let run = try await DifferentialProcess.run(baseURL: proxy.baseURL, key: key, steps: 300, seed: Self.seed, emulator: gate.baseURL)
        for line in run.lines(starting: ["differential: steps=", "differential: DIVERGENCE", "differential: shrunk", "differential:   "]) {
            print(line)
        }
        #expect(run.status == 1, "\(run.output)")
        let shrunk = try #require(run.figure("shrunk to", in: "differential: shrunk to"), "\(run.output)")
        #expect(shrunk <= 3, "\(run.output)")
        #expect(run.output.contains("turns the kill switch on"))
        #expect(run.output.contains("expected 503 MUTATIONS_DISABLED"))
        #expect(run.output.contains("<-- DIVERGES"))
    }
}

/// One run of `governance-tests --differential` with tokens minted from the server's key.
private struct DifferentialProcess {
    let status: Int32
    let output: String

    /// The printed lines beginning with one of `prefixes`.
    func lines(starting prefixes: [String]) -> [Substring] {
        output.split(separator: "\n").filter { line in prefixes.contains { line.hasPrefix($0) } }
    }

    /// The number after `name` (`name=12` or `name 12`) on the first line beginning with `prefix`.
    func figure(_ name: String, in prefix: String) -> Int? {
        guard let line = lines(starting: [prefix]).first, let range = line.range(of: " \(name)") else { return nil }
        return Int(line[range.upperBound...].drop { $0 == "=" || $0 == " " }.prefix { $0.isNumber })
    }

    static func run(baseURL: String, key: SigningKey, steps: Int, seed: UInt64, emulator: String) async throws -> DifferentialProcess {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("gt-differential-\(UUID().uuidString).txt").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        let process = Process()
        process.executableURL = ServerProcess.binaries.appendingPathComponent("governance-tests")
        process.arguments = [
            "--base-url", baseURL, "--mint-key", key.pemPath, "--issuer", ServerProcess.issuer, "--audience", ServerProcess.audience,
            "--kid", key.kid, "--differential", String(steps), "--seed", String(seed), "--emulator-url", emulator,
        ]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GOV_") }
        process.standardOutput = output
        process.standardError = output
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus) }
        try process.run()
        var iterator = exited.stream.makeAsyncIterator()
        let status = await iterator.next() ?? -1
        try output.close()
        return DifferentialProcess(status: status, output: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }
}

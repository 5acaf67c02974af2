import Foundation
import Testing
import TestSupport

/// The corpus over HTTP: the same case files the rules run in-process (RulesTests'
/// `CorpusTests`), run by `governance-tests --corpus` against a fresh `dxcp-policy serve` seeded
/// with the corpus policy — and against the same server made to ignore its kill switch, where
/// exactly the cases that expect the kill switch to refuse fail.
@Suite struct CorpusRunTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("governance-tests/corpus").path

    /// The case files' ids and count.
    static func caseIds() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: corpus).filter { $0.hasSuffix(".json") }.sorted().flatMap { name in
            let data = try Data(contentsOf: URL(fileURLWithPath: corpus + "/" + name))
            let cases = ((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["cases"] as? [[String: Any]]) ?? []
            return cases.compactMap { $0["id"] as? String }
        }
    }

    static func run(through fault: ProxyFault?) async throws -> SuiteRun {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "1"])
        let server = try await ServerProcess(key: key, gate: gate.baseURL, policy: corpus + "/policy.yaml")
        let proxy: FaultProxy? = if let fault { try await FaultProxy(upstream: server.baseURL, faults: [fault]) } else { nil }
        return try await SuiteRun.run(
            server, through: proxy, key: key, profile: "strict", guardrails: "safe", arguments: ["--corpus", corpus])
    }

    @Test func everyCaseHoldsOverHTTP() async throws {
        let ids = try Self.caseIds()
        let run = try await Self.run(through: nil)
        let summary = run.output.split(separator: "\n").filter { $0.hasPrefix("corpus") }
        print(summary.joined(separator: "\n"))
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("cases=\(ids.count) passed=\(ids.count) failed=0 required_failed=0 trails_compared=0"), "\(summary)")
        for id in ids { #expect(run.output.contains("PASS  corpus.\(id) "), "\(id)") }
    }

    @Test func aServerIgnoringItsKillSwitchFailsTheKillSwitchCases() async throws {
        let run = try await Self.run(through: .killSwitchIgnored)
        #expect(run.status == 1)
        let failed = Set(run.output.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("FAIL  corpus.") else { return nil }
            return String(line.dropFirst("FAIL  corpus.".count).prefix { $0 != " " })
        })
        #expect(failed == [
            "killswitch.validate", "killswitch.deploy", "killswitch.rollback", "killswitch.register", "killswitch.before_key",
            "promotion.killswitch_validate", "promotion.killswitch_submit",
        ], "\(run.output)")
    }
}

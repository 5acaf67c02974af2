import Foundation
import TestSupport
import Testing

/// `dxcp-policy eval` and `seed` through the real executable: exit 0 allowed, 1 denied, 2 bad
/// input; decisions against a seeded data directory see its state and write nothing.
@Suite struct EvalCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let policy = root.appendingPathComponent("examples/demo-policy.yaml").path

    static func executable() -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("dxcp-policy").path
    }

    /// Runs the executable; returns exit status, standard output and standard error.
    static func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        var copyToRemove: String?
        defer { copyToRemove.map { try? FileManager.default.removeItem(atPath: $0) } }
        if arguments.first == "--as-nobody" {
            // A copy outside the checkout, which an unprivileged user may not be able to enter.
            let copyDir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-bin-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: copyDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            let copy = copyDir + "/dxcp-policy"
            copyToRemove = copyDir
            try FileManager.default.copyItem(atPath: executable(), toPath: copy)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy)
            return try runToEnd(URL(fileURLWithPath: "/usr/bin/setpriv"), ["--reuid=65534", "--regid=65534", "--clear-groups", copy] + arguments.dropFirst())
        }
        return try runToEnd(URL(fileURLWithPath: executable()), arguments)
    }

    static func requestFile(_ json: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("req-\(UUID().uuidString).json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func decision(_ out: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
    }

    static let validateBody = #""body": {"service": "demo-service", "environment": "sandbox", "version": "1.0.0", "changeSummary": "x"}"#
    static let ownerClaims = #""claims": {"sub": "owner-1", "email": "owner@example.com", "https://dxcp.example/claims/roles": ["dxcp-delivery-owners"]}"#

    @Test func deniedDecisionExitsOneAndPrintsTheTrail() throws {
        let file = try Self.requestFile(#"{"method": "POST", "path": "/v1/deployments/validate", \#(Self.ownerClaims), \#(Self.validateBody)}"#)
        let result = try Self.run(["eval", "--policy", Self.policy, "--request", file])
        #expect(result.status == 1, "\(result.err)")
        let decision = try Self.decision(result.out)
        #expect(decision["code"] as? String == "VERSION_NOT_FOUND")
        #expect(decision["status"] as? Int == 400)
        let trail = try #require(decision["trail"] as? [[String: Any]])
        #expect(trail.first?["check"] as? String == "role_recognised")
        #expect(trail.last?["check"] as? String == "version_registered")
        #expect(trail.last?["code"] as? String == "VERSION_NOT_FOUND")
    }

    @Test func allowedDecisionExitsZero() throws {
        let file = try Self.requestFile(#"""
            {"method": "POST", "path": "/v1/builds/register", "idempotency_key": "b1",
             "claims": {"sub": "ci-bot", "https://dxcp.example/claims/roles": ["dxcp-ci-publishers"]},
             "body": {"service": "demo-service", "version": "1.0.0", "artifactRef": "s3://dxcp-artifacts/demo-service/demo-service-1.0.0.zip",
                      "git_sha": "abc", "git_branch": "main", "ci_provider": "github", "ci_run_id": "7", "built_at": "2026-11-25T10:00:00Z"}}
            """#)
        let result = try Self.run(["eval", "--policy", Self.policy, "--request", file])
        #expect(result.status == 0, "\(result.out)\(result.err)")
        let decision = try Self.decision(result.out)
        #expect(decision["allowed"] as? Bool == true)
        #expect(decision["status"] as? Int == 201)
    }

    @Test(arguments: [
        #"{"method": "POST", "path": "/v1/deployments/validate", "claims": {}, "body": {"service": 5}}"#,
        #"{"method": "POST", "path": "/v1/deployments/validate", "body": {}}"#,
        #"not json"#,
        #"{"method": "GET", "path": "/v1/nowhere", "claims": {}}"#,
    ])
    func badRequestFilesExitTwo(_ json: String) throws {
        let file = try Self.requestFile(json)
        let result = try Self.run(["eval", "--policy", Self.policy, "--request", file])
        #expect(result.status == 2)
        #expect(result.err.contains("error:"))
        #expect(result.out.isEmpty)
    }

    @Test func badPolicyFileExitsTwoNamingIt() throws {
        let file = try Self.requestFile(#"{"method": "POST", "path": "/v1/deployments/validate", \#(Self.ownerClaims), \#(Self.validateBody)}"#)
        let result = try Self.run(["eval", "--policy", "/nonexistent/policy.yaml", "--request", file])
        #expect(result.status == 2)
        #expect(result.err.contains("/nonexistent/policy.yaml"))
    }

    @Test func seedThenEvalAgainstTheDataDirectorySeesItsStateAndWritesNothing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-eval-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let seeded = try Self.run(["seed", "--data-dir", dir, "--policy", Self.policy])
        #expect(seeded.status == 0, "\(seeded.err)")
        #expect(seeded.out.contains("seeded"))
        let verify = try Self.run(["audit", "verify", "--data-dir", dir])
        #expect(verify.status == 0)
        #expect(verify.out.hasPrefix("OK 1 entries"))

        let file = try Self.requestFile(#"{"method": "POST", "path": "/v1/deployments", "idempotency_key": "k", \#(Self.ownerClaims), \#(Self.validateBody)}"#)
        let result = try Self.run(["eval", "--policy", Self.policy, "--request", file, "--data-dir", dir])
        #expect(result.status == 1)
        #expect(try Self.decision(result.out)["code"] as? String == "VERSION_NOT_FOUND")
        let after = try Self.run(["audit", "verify", "--data-dir", dir])
        #expect(after.out.hasPrefix("OK 1 entries"), "eval wrote nothing")

        let missing = try Self.run(["eval", "--policy", Self.policy, "--request", file, "--data-dir", dir + "-missing"])
        #expect(missing.status == 2)
        #expect(missing.err.contains("dxcp-policy seed"))
    }

    @Test func unreadableDataDirectoryIsAnErrorNamingThePath() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-unreadable-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Self.run(["seed", "--data-dir", dir, "--policy", Self.policy]).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/data.mdb"))
        // Root reads anything, so as root the command runs as an unprivileged user instead.
        let arguments = ["audit", "verify", "--data-dir", dir]
        let result: (status: Int32, out: String, err: String)
        if getuid() == 0 {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir)
            result = try Self.run(["--as-nobody"] + arguments)
        } else {
            try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: dir + "/data.mdb")
            result = try Self.run(arguments)
        }
        #expect(result.status == 2)
        #expect(result.err.contains(dir))
        #expect(result.err.contains("permissions") || result.err.contains("readable"), "\(result.err)")
        try? FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: dir + "/data.mdb")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/data.mdb")) == before)
    }
}

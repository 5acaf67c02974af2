import Foundation
import TestSupport
import Testing

/// `serve --demo` as a newcomer runs it: from any directory, on an empty data directory, it
/// prints a token per role (and the webhook token), and those tokens work at once.
@Suite struct DemoServeTests {
    @Test func demoServesFromAnyDirectoryAndItsTokensWork() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let port = try freePort()
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("dxcp-policy")
        process.arguments = ["serve", "--demo", "--port", String(port), "--data-dir", scratch.appendingPathComponent("data").path]
        process.currentDirectoryURL = scratch  // no examples/ here: the demo policy comes with the binary
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DXCP_") }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            process.waitUntilExit()
        }
        var served = false
        for _ in 0..<100 where !served && process.isRunning {
            served = (try? await exchange("GET", port: port, "/readyz"))?.status == 200
            if !served { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(served, "serve --demo answers /readyz")
        let printed = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        var tokens: [String: String] = [:]
        for line in printed.split(separator: "\n") {
            guard let range = line.range(of: "export DXCP_") else { continue }
            let assignment = line[range.upperBound...].split(separator: " ").first ?? ""
            let parts = assignment.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { tokens[String(parts[0])] = String(parts[1]) }
        }
        // The webhook token is printed under the variable `serve` reads it from.
        #expect(Set(tokens.keys) == ["ADMIN_TOKEN", "OWNER_TOKEN", "OBSERVER_TOKEN", "CI_TOKEN", "SPINNAKER_WEBHOOK_TOKEN"])
        let webhook = try await exchange("POST", port: port, "/v1/spinnaker/webhook/check", token: tokens["SPINNAKER_WEBHOOK_TOKEN"] ?? "", body: Data("{}".utf8))
        #expect(webhook.status == 400, "the printed token is accepted; the empty body is not: \(webhook.status)")
        let stranger = try await exchange("POST", port: port, "/v1/spinnaker/webhook/check", token: "not-the-token", body: Data("{}".utf8))
        #expect(stranger.status == 401)
        for (name, role) in [("ADMIN_TOKEN", "PLATFORM_ADMIN"), ("OWNER_TOKEN", "DELIVERY_OWNER"), ("OBSERVER_TOKEN", "OBSERVER"), ("CI_TOKEN", "CI_PUBLISHER")] {
            let whoami = try await exchange("GET", port: port, "/v1/whoami", token: tokens[name] ?? "")
            #expect(whoami.status == 200, "\(name)")
            #expect(whoami.json["role"] as? String == role, "\(name)")
        }
        // The demo policy was loaded: the demo service and its group are there.
        let listed = try await exchange("GET", port: port, "/v1/services", token: tokens["OWNER_TOKEN"] ?? "").body
        #expect(String(decoding: listed, as: UTF8.self).contains("demo-service"))
    }
}

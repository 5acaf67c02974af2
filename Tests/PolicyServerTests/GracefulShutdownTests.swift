import Foundation
import TestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GovernanceStore
import PolicyServer
import Rules
import Testing

/// SIGTERM while decisions are in flight: the server stops taking requests, lets those in flight
/// finish and commit, and exits cleanly; every acknowledged change is stored and the audit chain
/// verifies — nothing half written.
@Suite(.serialized) struct GracefulShutdownTests {
    @Test func sigtermLetsInFlightDecisionsFinish() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-shutdown-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try freePort()
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("dxcp-policy")
        process.arguments = ["serve", "--port", String(port), "--data-dir", dir, "--policy", RunningServer.demoPolicy]
        var environment = ProcessInfo.processInfo.environment
        environment["DXCP_DEV_JWT_SECRET"] = RunningServer.secret
        environment["DXCP_OIDC_ISSUER"] = RunningServer.issuer
        environment["DXCP_OIDC_AUDIENCE"] = RunningServer.audience
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()

        let signer = Authenticator(
            keys: try await Authenticator.keys(jwks: nil, developmentSecret: RunningServer.secret),
            requirements: .init(issuer: nil, audience: nil))
        let ci = try await signer.signDevelopmentToken([
            "sub": .string("ci-bot"), WireClaims.defaultRolesClaim: .array([.string("dxcp-ci-publishers")]),
            "iss": .string(RunningServer.issuer), "aud": .string(RunningServer.audience), "exp": .int(Int64(Date().timeIntervalSince1970) + 600),
        ])
        func register(_ n: Int) async -> Int? {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/builds/register")!)
            request.httpMethod = "POST"
            request.setValue("Bearer \(ci)", forHTTPHeaderField: "Authorization")
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("key-\(n)", forHTTPHeaderField: "Idempotency-Key")
            request.httpBody = Data(registerBody("1.0.\(n)").utf8)
            return try? await (URLSession.shared.data(for: request).1 as? HTTPURLResponse)?.statusCode
        }
        // Wait for the server, then load it and stop it halfway.
        var up = false
        for _ in 0..<100 where !up {
            up = (try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/livez")!)) != nil
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(up)
        // Ten complete for certain; then fifty race the shutdown.
        var results: [Int: Int?] = [:]
        for n in 0..<10 { results[n] = await register(n) }
        #expect(results.values.allSatisfy { $0 == 201 })
        let racing = await withTaskGroup(of: (Int, Int?).self) { group in
            for n in 10..<60 { group.addTask { (n, await register(n)) } }
            kill(process.processIdentifier, SIGTERM)
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        results.merge(racing) { first, _ in first }
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "a graceful stop exits 0")

        let acknowledged = results.filter { $0.value == 201 }.map(\.key)
        #expect(acknowledged.count >= 10)
        let store = try GovernanceStore(directory: dir)
        for n in acknowledged {
            #expect(try store.build(service: "demo-service", version: "1.0.\(n)") != nil, "acknowledged 1.0.\(n) is stored")
        }
        guard case .intact = try store.verifyAudit() else {
            Issue.record("audit chain broken by the shutdown")
            return
        }
    }
}

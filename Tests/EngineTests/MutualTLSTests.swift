import TestSupport
import Engine
import Foundation
import Rules
import Testing

/// Mutual TLS to Gate, the recommended mode (DECISIONS D16): with a CA, a server certificate and
/// a client certificate made here by openssl, the call succeeds; without the client certificate,
/// or without trusting the server's CA, it fails with an engine error.
@Suite(.serialized) struct MutualTLSTests {
    /// A CA, a server certificate for 127.0.0.1, and a client certificate, in a temporary folder.
    final class Certificates {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-tls-\(UUID().uuidString)").path
        var ca: String { dir + "/ca.pem" }
        var serverCert: String { dir + "/server.pem" }
        var serverKey: String { dir + "/server.key" }
        var clientCert: String { dir + "/client.pem" }
        var clientKey: String { dir + "/client.key" }

        init() throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=dxcp-test-ca")
            try sh("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext")
            try sh("openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1")
            try sh("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext")
            try sh("openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=dxcp-policy")
            try sh("openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2")
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }

        private func sh(_ command: String) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", command]
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw EmulatorError(message: "failed: \(command)") }
        }
    }

    @Test func clientCertificateIsRequiredAndWorks() async throws {
        let certs = try Certificates()
        let emulator = try EmulatorProcess(
            ["--tls-certificate", certs.serverCert, "--tls-key", certs.serverKey, "--client-ca", certs.ca], tls: true)

        let mtls = GateClient(configuration: GateConfiguration(
            baseURL: emulator.baseURL, authentication: .mutualTLS(certificatePath: certs.clientCert, keyPath: certs.clientKey),
            caFile: certs.ca))
        try await mtls.health(requestId: "r")
        let calls = try emulator.calls(caFile: certs.ca, clientCert: (certs.clientCert, certs.clientKey))
        #expect(calls.count == 1)
        #expect((calls.first?["headers"] as? [String: String])?["authorization"] == nil)

        let noCertificate = GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, caFile: certs.ca))
        let refused = await #expect(throws: EngineError.self) { try await noCertificate.health(requestId: "r") }
        #expect([ContractCode.engineMisconfigured, .engineUnavailable, .engineCallFailed].contains(refused?.code ?? .internalError))

        let untrusted = GateClient(configuration: GateConfiguration(
            baseURL: emulator.baseURL, authentication: .mutualTLS(certificatePath: certs.clientCert, keyPath: certs.clientKey)))
        let unverified = await #expect(throws: EngineError.self) { try await untrusted.health(requestId: "r") }
        #expect(unverified?.code == .engineMisconfigured)
        #expect(unverified?.detail.contains("TLS") == true)
        #expect(try emulator.calls(caFile: certs.ca, clientCert: (certs.clientCert, certs.clientKey)).count == 1, "refused calls never reached Gate")
    }
}

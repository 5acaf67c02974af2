import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PolicyServer
import Rules
import Testing
import TestSupport

/// The HTTP server's own limits and protocol answers, over raw sockets against a real
/// `dxcp-policy serve` (a client library would refuse to send most of these requests), with a
/// 2-second idle timeout (docs/DECISIONS.md 60). After each, `/livez` still answers.
@Suite struct HTTPServerLimitsTests {
    /// A `serve` process on a fresh data directory with the demo policy and a development secret.
    final class Served {
        let port: Int
        let process = Process()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-limits-\(UUID().uuidString)").path

        init(environment extra: [String: String] = [:]) async throws {
            port = try freePort()
            process.executableURL = URL(fileURLWithPath: EvalCommandTests.executable())
            process.arguments = ["serve", "--port", String(port), "--data-dir", dir, "--policy", RunningServer.demoPolicy]
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DXCP_") }
            environment["DXCP_DEV_JWT_SECRET"] = RunningServer.secret
            environment["DXCP_HTTP_IDLE_TIMEOUT_SECONDS"] = "2"
            environment.merge(extra) { _, new in new }
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            for _ in 0..<100 where process.isRunning {
                if (try? await exchange("GET", port: port, "/livez"))?.status == 200 { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw SetupError(message: "serve did not start")
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: dir)
        }

        func expectAlive() async throws {
            #expect(try await exchange("GET", port: port, "/livez").status == 200)
        }
    }

    /// A raw TCP connection to loopback `port`.
    final class Connection {
        let fd: Int32

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw SetupError(message: "connect failed") }
            // A read waits at most 10 s: a test never hangs on a server that keeps a connection open.
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        func send(_ text: String) {
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// What arrives until the server closes the connection (nil if it is still open after 10 s).
        func readToClose() -> String? {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count == 0 { return String(decoding: received, as: UTF8.self) }
                if count < 0 { return errno == ECONNRESET ? String(decoding: received, as: UTF8.self) : nil }
                received += buffer[..<count]
            }
        }

        /// One response: reads until the head and the body its Content-Length announces have arrived.
        func readResponse() -> String {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let text = String(decoding: received, as: UTF8.self)
                if let headEnd = text.range(of: "\r\n\r\n") {
                    let head = text[..<headEnd.lowerBound].lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    if text.utf8.count - text.utf8.distance(from: text.startIndex, to: headEnd.upperBound) >= length { return text }
                }
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { return text }
                received += buffer[..<count]
            }
        }
    }

    /// A delivery owner's token `serve` accepts (signed with its development secret): a body is
    /// read only after authentication (D17).
    static func ownerToken() async throws -> String {
        let signer = Authenticator(
            keys: try await Authenticator.keys(jwks: nil, developmentSecret: RunningServer.secret), requirements: .init(issuer: nil, audience: nil))
        return try await signer.signDevelopmentToken([
            "sub": .string("owner-1"), "email": .string("owner@example.com"), WireClaims.defaultRolesClaim: .array([.string("dxcp-delivery-owners")]),
            "exp": .int(currentTime().seconds + 600),
        ])
    }

    @Test func slowAndStalledClientsAreClosed() async throws {
        let server = try await Served()
        // Half a head, never finished (slowloris).
        let half = try Connection(port: server.port)
        half.send("GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        // A body shorter than its Content-Length.
        let short = try Connection(port: server.port)
        short.send("POST /v1/deployments/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
        // An idle keep-alive connection after one answered request.
        let idle = try Connection(port: server.port)
        idle.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(idle.readResponse().hasPrefix("HTTP/1.1 200"))
        try await server.expectAlive()
        #expect(half.readToClose() != nil, "a head never finished is closed")
        #expect(short.readToClose() != nil, "a body that stalls is closed")
        #expect(idle.readToClose() != nil, "an idle keep-alive connection is closed")
        try await server.expectAlive()
    }

    @Test func protocolErrorsAreAnswered() async throws {
        let server = try await Served()
        // HTTP/1.1 without Host.
        let noHost = try Connection(port: server.port)
        noHost.send("GET /v1/health HTTP/1.1\r\n\r\n")
        let refused = noHost.readResponse()
        #expect(refused.hasPrefix("HTTP/1.1 400"), "\(refused)")
        #expect(refused.contains("\"code\":\"INVALID_REQUEST\"") && refused.contains("Host"), "\(refused)")
        // TRACE and unknown methods on known paths: 405 in the envelope.
        for (method, path) in [("TRACE", "/v1/health"), ("DELETE", "/livez"), ("PUT", "/metrics")] {
            let connection = try Connection(port: server.port)
            connection.send("\(method) \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let answer = connection.readResponse()
            #expect(answer.hasPrefix("HTTP/1.1 405"), "\(method) \(path): \(answer)")
            #expect(answer.contains("\"code\":\"METHOD_NOT_ALLOWED\""), "\(method) \(path): \(answer)")
        }
        try await server.expectAlive()
    }

    /// Reading deadlines apart from the idle timeout: a head must be whole within the head timeout
    /// of its first byte and a body within the body timeout of its head, however steadily the
    /// bytes trickle in (each byte is progress to the idle timeout); past either, 408 in the
    /// envelope and the connection closed.
    @Test func trickledHeadsAndBodiesMeetTheirDeadlines() async throws {
        let server = try await Served(environment: [
            "DXCP_HTTP_IDLE_TIMEOUT_SECONDS": "30", "DXCP_HTTP_HEAD_TIMEOUT_SECONDS": "1", "DXCP_HTTP_BODY_TIMEOUT_SECONDS": "2",
        ])
        // The body is read after authentication (D17): the request carries a valid token.
        let token = try await Self.ownerToken()
        let head = try Connection(port: server.port)
        let body = try Connection(port: server.port)
        body.send(
            "POST /v1/deployments/validate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\n"
                + "Content-Length: 100\r\n\r\n")
        for text in ["GET /livez HTTP/1.1\r\n", "Host: x\r\n", "X-Slow: a\r\n", "X-Slower: b\r\n", "X-Slowest: c\r\n", "X-More: d\r\n"] {
            head.send(text)
            body.send(" ")
            try await Task.sleep(for: .milliseconds(600))
        }
        let headAnswer = head.readToClose() ?? "still open"
        #expect(headAnswer.hasPrefix("HTTP/1.1 408"), "\(headAnswer)")
        #expect(headAnswer.contains("\"code\":\"INVALID_REQUEST\"") && headAnswer.contains("head did not arrive within 1 s"), "\(headAnswer)")
        let bodyAnswer = body.readToClose() ?? "still open"
        #expect(bodyAnswer.hasPrefix("HTTP/1.1 408"), "\(bodyAnswer)")
        #expect(bodyAnswer.contains("\"code\":\"INVALID_REQUEST\"") && bodyAnswer.contains("body did not arrive within 2 s"), "\(bodyAnswer)")
        // A kept-alive connection that waits between requests is the idle timeout's, not the head's.
        let patient = try Connection(port: server.port)
        patient.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(patient.readResponse().hasPrefix("HTTP/1.1 200"))
        try await Task.sleep(for: .milliseconds(1500))
        patient.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(patient.readResponse().hasPrefix("HTTP/1.1 200"))
        try await server.expectAlive()
    }

    /// Requests the HTTP parser cannot frame get the contract's envelope, not a bare status, and
    /// their connection is closed; a body whose chunk size is bogus is 400, not 413.
    @Test(arguments: [
        ("Transfer-Encoding with Content-Length",
         "POST /v1/deployments/validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "400"),
        ("negative Content-Length", "POST /v1/deployments/validate HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "400"),
        ("bogus chunk size",
         "POST /v1/deployments/validate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer TOKEN\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzzzzzzzzzzzzzzzzzzzz\r\n{}\r\n0\r\n\r\n", "400"),
        ("malformed request line", "GET /livez HTTP/1.1 extra\r\nHost: x\r\n\r\n", "400"),
        ("header fields past the limit", "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n", "431"),
    ])
    func framingErrorsCarryTheEnvelope(_ name: String, _ request: String, _ status: String) async throws {
        let server = try await Served()
        let connection = try Connection(port: server.port)
        connection.send(request.replacingOccurrences(of: "TOKEN", with: try await Self.ownerToken()))
        let answer = connection.readToClose() ?? "still open"
        #expect(answer.hasPrefix("HTTP/1.1 \(status)"), "\(name): \(answer.prefix(300))")
        #expect(answer.contains("\"code\":\"INVALID_REQUEST\"") && answer.contains("\"request_id\""), "\(name): \(answer.prefix(600))")
        try await server.expectAlive()
    }

    /// `Connection: close` among other tokens closes the connection after the answer; with the
    /// default idle timeout (30 s) only that can close it before the test's 10 s read deadline.
    @Test func connectionCloseAmongOtherTokensIsHonoured() async throws {
        let server = try await Served(environment: ["DXCP_HTTP_IDLE_TIMEOUT_SECONDS": "30"])
        for value in ["keep-alive, close", "Close", "upgrade,  CLOSE"] {
            let connection = try Connection(port: server.port)
            connection.send("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: \(value)\r\n\r\n")
            let closing = connection.readToClose()
            #expect(closing?.hasPrefix("HTTP/1.1 200") == true, "Connection: \(value) → \(closing ?? "still open after 10 s")")
        }
        try await server.expectAlive()
    }

    @Test func theLimitsAreBoundedSettings() throws {
        for (name, value) in [
            ("DXCP_HTTP_IDLE_TIMEOUT_SECONDS", "0"), ("DXCP_HTTP_HEAD_TIMEOUT_SECONDS", "301"), ("DXCP_HTTP_BODY_TIMEOUT_SECONDS", "-1"),
            ("DXCP_HTTP_MAX_HEADER_BYTES", "10"), ("DXCP_HTTP_MAX_CONNECTIONS", "x"),
        ] {
            let refused = try Self.start(with: [name: value])
            #expect(refused.status == 2, "\(name)=\(value)")
            #expect(refused.errors.contains(name), "\(refused.errors)")
        }
    }

    /// `serve` started with `environment` (and the development secret) on a fresh data
    /// directory, for a setting that must stop it: its exit status and what it wrote to stderr.
    static func start(with environment: [String: String]) throws -> (status: Int32, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: EvalCommandTests.executable())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-limits-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        process.arguments = ["serve", "--port", String(try freePort()), "--data-dir", dir, "--policy", RunningServer.demoPolicy]
        process.environment = environment.merging(["DXCP_DEV_JWT_SECRET": RunningServer.secret]) { own, _ in own }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}

import Foundation
import TestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Real NGINX (Debian's nginx-light) with the documented auth_request configuration
/// (examples/gateways/nginx.conf) in front of a small upstream, asking a real dxcp-policy:
/// allowed requests reach the upstream with the decision's headers; denied ones end at NGINX
/// with 401 or 403 and the reason; the kill switch stops mutations end to end.
@Suite(.serialized) struct NginxGatewayTests {
    static let nginx = "/usr/sbin/nginx"
    static let template = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/gateways/nginx.conf")

    /// NGINX running in the foreground from a temporary prefix; stopped when released.
    final class RunningNginx {
        let process = Process()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-nginx-\(UUID().uuidString)").path
        let port: Int
        let upstreamPort: Int

        init(decisions: Int) throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            (port, upstreamPort) = (try freePort(), try freePort())
            let gateway = try String(contentsOf: NginxGatewayTests.template, encoding: .utf8)
                .replacingOccurrences(of: "{{DXCP_POLICY}}", with: "127.0.0.1:\(decisions)")
                .replacingOccurrences(of: "{{DXCP_API}}", with: "127.0.0.1:\(upstreamPort)")
                .replacingOccurrences(of: "{{LISTEN}}", with: "127.0.0.1:\(port)")
                // The example's 1 s / 2 s fail fast in production; on a test machine running many
                // servers at once they would make this test a race against the machine's load.
                .replacingOccurrences(of: "proxy_connect_timeout 1s;", with: "proxy_connect_timeout 30s;")
                .replacingOccurrences(of: "proxy_read_timeout 2s;", with: "proxy_read_timeout 30s;")
            #expect(gateway.contains("proxy_read_timeout 30s;") && gateway.contains("proxy_connect_timeout 30s;"), "the example's timeouts moved")
            try gateway.write(toFile: directory + "/gateway.conf", atomically: true, encoding: .utf8)
            // The small upstream: echoes what reached it and the decision headers it was given.
            let main = nginxMainConfig(directory: directory, include: directory + "/gateway.conf", connections: 64, servers: """
                    server {
                        listen 127.0.0.1:\(upstreamPort);
                        location / {
                            default_type text/plain;
                            return 200 "upstream $request_method $request_uri role=$http_x_dxcp_role actor=$http_x_dxcp_actor decision=$http_x_decision_id";
                        }
                    }
                """)
            try main.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: NginxGatewayTests.nginx)
            process.arguments = ["-p", directory, "-c", directory + "/nginx.conf"]
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
        }

        deinit {
            // SIGKILL: a process started from the test runner inherits signal masks under which
            // nginx's single-process mode never sees SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// Waits until NGINX answers (without blocking a thread the in-process server needs).
        func ready() async throws {
            for _ in 0..<100 {
                if (try? await send("GET", "/v1/health", token: nil)) != nil { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw NginxError(message: "nginx did not start: \((try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? "")")
        }

        /// One request through NGINX (a `{}` body on POST and PUT); the body read as text.
        func send(_ method: String, _ path: String, token: String?, headers: [String: String] = [:]) async throws -> (status: Int, headers: [String: String], body: String) {
            let reply = try await exchange(
                method, port: port, path, token: token, body: method == "POST" || method == "PUT" ? Data("{}".utf8) : nil, headers: headers)
            return (reply.status, reply.headers, String(decoding: reply.body, as: UTF8.self))
        }
    }

    struct NginxError: Error { let message: String }

    @Test func allowedDeniedAndKillSwitchThroughNginx() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.nginx), "nginx-light is installed by scripts/test.sh")
        let server = try await RunningServer()
        let gateway = try RunningNginx(decisions: server.port)
        try await gateway.ready()
        let (owner, observer, admin) = (try await server.owner, try await server.observer, try await server.admin)

        // Allowed: the upstream answers, and was told the role, the actor and the decision.
        let list = try await gateway.send("GET", "/v1/deployments?service=demo-service", token: owner)
        #expect(list.status == 200)
        #expect(list.body.hasPrefix("upstream GET /v1/deployments?service=demo-service role=DELIVERY_OWNER actor=owner-1 decision="))
        #expect(list.headers["x-decision-id"].map { list.body.hasSuffix($0) } == true)
        // A client cannot claim a role: the gateway sets those headers itself.
        let spoofed = try await gateway.send("GET", "/v1/services", token: observer, headers: ["X-Dxcp-Role": "PLATFORM_ADMIN"])
        #expect(spoofed.body.contains("role=OBSERVER"))

        // Denied: NGINX answers 401 or 403 itself, with the reason; the upstream is not reached.
        let anonymous = try await gateway.send("GET", "/v1/deployments", token: nil)
        #expect(anonymous.status == 401)
        #expect(anonymous.headers["x-decision-reason"] == "UNAUTHORIZED")
        #expect(!anonymous.body.contains("upstream"))
        let forbidden = try await gateway.send("POST", "/v1/deployments", token: observer, headers: ["Idempotency-Key": "d1"])
        #expect(forbidden.status == 403)
        #expect(forbidden.headers["x-decision-reason"] == "ROLE_FORBIDDEN")
        #expect(!forbidden.body.contains("upstream"))
        let noKey = try await gateway.send("POST", "/v1/deployments", token: owner)
        #expect(noKey.status == 403 && noKey.headers["x-decision-reason"] == "IDMP_KEY_REQUIRED")
        #expect(try await gateway.send("POST", "/v1/deployments", token: owner, headers: ["Idempotency-Key": "d1"]).status == 200)

        // The kill switch, set on dxcp-policy, stops mutations at the gateway; reads and the
        // toggle itself go on.
        #expect(try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": true}"#).status == 200)
        let stopped = try await gateway.send("POST", "/v1/deployments", token: owner, headers: ["Idempotency-Key": "d2"])
        #expect(stopped.status == 403 && stopped.headers["x-decision-reason"] == "MUTATIONS_DISABLED")
        #expect(try await gateway.send("PUT", "/v1/admin/system/rate-limits", token: admin).headers["x-decision-reason"] == "MUTATIONS_DISABLED")
        #expect(try await gateway.send("GET", "/v1/deployments", token: owner).status == 200)
        let toggle = try await gateway.send("PUT", "/v1/admin/system/mutations-disabled", token: admin)
        #expect(toggle.status == 200 && toggle.body.hasPrefix("upstream PUT /v1/admin/system/mutations-disabled"))
        #expect(try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: admin, json: #"{"mutations_disabled": false}"#).status == 200)
        #expect(try await gateway.send("POST", "/v1/deployments", token: owner, headers: ["Idempotency-Key": "d3"]).status == 200)
    }
}

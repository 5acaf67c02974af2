import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import Testing
import TestSupport

/// Replicas of `dxcp-policy serve --store postgres://…` on one real PostgreSQL (the test
/// command's), with the Gate emulator: the guarantees of one node hold across the fleet.
@Suite(.serialized) struct FleetHTTPTests {
    static let deployBody = #"{"service":"demo-service","environment":"sandbox","version":"1.0.0","changeSummary":"fleet"}"#
    static let buildBody = #"""
        {"service":"demo-service","version":"1.0.0","artifactRef":"s3://dxcp-artifacts/demo-service/demo-service-1.0.0.zip","git_sha":"abc","git_branch":"main","ci_provider":"github","ci_run_id":"1","built_at":"2026-01-01T00:00:00Z"}
        """#

    /// A fleet of `count` replicas on a fresh database, the first having loaded the demo policy,
    /// with version 1.0.0 of demo-service registered; and the owner's token.
    static func fleet(_ count: Int, key: SigningKey, gate: EmulatorProcess, database: TestDatabase) async throws -> (servers: [ServerProcess], owner: String) {
        var servers = [try await ServerProcess(key: key, gate: gate.baseURL, store: database.url)]
        while servers.count < count { servers.append(try await ServerProcess(key: key, gate: gate.baseURL, store: database.url)) }
        let ci = try await TestTokens.mint(key, subject: "ci-bot", email: nil, role: "dxcp-ci-publishers")
        let registered = try await servers[0].send("POST", "/v1/builds/register", token: ci, body: buildBody, headers: ["Idempotency-Key": "build-1"])
        #expect(registered.status == 201, "\(registered)")
        let owner = try await TestTokens.mint(key, subject: "owner-1", email: "owner@example.com", role: "dxcp-delivery-owners")
        return (servers, owner)
    }

    /// Triggers Gate received.
    static func triggers(_ gate: EmulatorProcess) throws -> [[String: Any]] {
        try gate.calls().filter { ($0["method"] as? String) == "POST" && ($0["path"] as? String ?? "").hasPrefix("/pipelines/") }
    }

    @Test func threeReplicasAdmitOneOfTwoHundredDeploysAtLimitOne() async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "120"])
        let (servers, owner) = try await Self.fleet(3, key: key, gate: gate, database: try TestDatabase())
        let urls = servers.map(\.baseURL)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for n in 0..<200 {
                group.addTask {
                    try await ServerProcess.send(to: urls[n % 3], "POST", "/v1/deployments", token: owner, body: Self.deployBody, headers: ["Idempotency-Key": "k\(n)"]).status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // One is admitted; the others meet the held slot (409), or, past the demo policy's
        // mutate_rpm of 120 counted once for the whole fleet, the rate limit (429).
        let tally = Dictionary(grouping: statuses) { $0 }.mapValues(\.count)
        #expect(tally[201] == 1, "\(tally)")
        #expect(tally[409] == 119, "\(tally)")
        #expect(tally[429] == 80, "\(tally)")
        #expect(try Self.triggers(gate).count == 1)
    }

    @Test func oneKeySpreadOverThreeReplicasStartsOneExecution() async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "120"])
        let (servers, owner) = try await Self.fleet(3, key: key, gate: gate, database: try TestDatabase())
        let urls = servers.map(\.baseURL)
        let answers = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for n in 0..<50 {
                group.addTask {
                    let answer = try await ServerProcess.send(to: urls[n % 3], "POST", "/v1/deployments", token: owner, body: Self.deployBody, headers: ["Idempotency-Key": "one-key"])
                    return (answer.status, (answer.json as? [String: Any])?["id"] as? String)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // The first is created; the others replay it or find it still in flight (409).
        let ids = Set(answers.compactMap(\.1))
        #expect(ids.count == 1, "\(answers.map(\.0))")
        #expect(answers.allSatisfy { $0.0 == 201 || $0.0 == 409 }, "\(answers.map(\.0))")
        #expect(try Self.triggers(gate).count == 1)
        // Once settled, every replica replays the same deployment.
        for server in servers {
            let replay = try await server.send("POST", "/v1/deployments", token: owner, body: Self.deployBody, headers: ["Idempotency-Key": "one-key"])
            #expect(replay.0 == 201)
            #expect((replay.1 as? [String: Any])?["id"] as? String == ids.first)
        }
    }

    /// Four clients deploy through three replicas while a replica is SIGKILLed and replaced five
    /// times (every original replica dies, the lease's holder among them). A client retries an
    /// unanswered request with the same key on the next replica, as a client behind a load
    /// balancer does. Nothing acknowledged is lost, no deployment reaches Gate twice, and the
    /// background work carries on wherever the lease went: every execution is seen to end.
    @Test func replicasKilledUnderLoadLoseNothingAndTheLeaseMoves() async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "1"])
        let database = try TestDatabase()
        let policy = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-policy-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: policy) }
        // The demo policy with limits a load run does not meet.
        try String(contentsOfFile: ServerProcess.demoPolicy, encoding: .utf8)
            .replacingOccurrences(of: #"max_concurrent_deployments: \d+"#, with: "max_concurrent_deployments: 1000", options: .regularExpression)
            .replacingOccurrences(of: #"daily_deploy_quota: \d+"#, with: "daily_deploy_quota: 100000", options: .regularExpression)
            .replacingOccurrences(of: #"mutate_rpm: \d+"#, with: "mutate_rpm: 5000", options: .regularExpression)
            .write(toFile: policy, atomically: true, encoding: .utf8)
        // The emulator stores an execution before it answers: a reservation a killed replica left
        // untriggered is released once two looks agree, without Gate's settle period.
        let settle = ["DXCP_SPINNAKER_SETTLE_SECONDS": "0"]
        var servers = [try await ServerProcess(key: key, gate: gate.baseURL, policy: policy, store: database.url, environment: settle)]
        while servers.count < 3 {
            servers.append(try await ServerProcess(key: key, gate: gate.baseURL, policy: policy, store: database.url, environment: settle))
        }
        let ci = try await TestTokens.mint(key, subject: "ci-bot", email: nil, role: "dxcp-ci-publishers")
        #expect(try await servers[0].send("POST", "/v1/builds/register", token: ci, body: Self.buildBody, headers: ["Idempotency-Key": "b"]).status == 201)
        let owner = try await TestTokens.mint(key, subject: "owner-1", email: "owner@example.com", role: "dxcp-delivery-owners")

        let live = LiveURLs(servers.map(\.baseURL))
        let clients = Task {
            try await withThrowingTaskGroup(of: [String: String].self) { group in
                for client in 0..<4 {
                    group.addTask {
                        var acknowledged: [String: String] = [:]
                        for n in 0..<40 {
                            let key = "c\(client)-\(n)"
                            var attempt = 0
                            while true {
                                attempt += 1
                                let url = live.pick(client + n + attempt)
                                if let answer = try? await ServerProcess.send(to: url, "POST", "/v1/deployments", token: owner, body: Self.deployBody, headers: ["Idempotency-Key": key]),
                                    answer.status == 201, let id = (answer.json as? [String: Any])?["id"] as? String
                                {
                                    acknowledged[key] = id
                                    break
                                }
                                try await Task.sleep(for: .milliseconds(100))
                            }
                        }
                        return acknowledged
                    }
                }
                return try await group.reduce(into: [:]) { $0.merge($1) { a, _ in a } }
            }
        }
        for round in 0..<5 {
            try await Task.sleep(for: .milliseconds(700))
            let victim = round % 3
            live.remove(servers[victim].baseURL)
            servers[victim].kill()
            servers[victim] = try await ServerProcess(key: key, gate: gate.baseURL, policy: policy, store: database.url, environment: settle)
            live.add(servers[victim].baseURL)
        }
        let acknowledged = try await clients.value
        #expect(acknowledged.count == 160)

        // The reconciler and the poller run on whichever replica holds the lease now: every
        // reservation is resolved and every execution is seen to end.
        var unsettled = ""
        for _ in 0..<300 {
            unsettled = try database.psql("SELECT (SELECT count(*) FROM outbox) || ' ' || (SELECT count(*) FROM slots)")
            if unsettled == "0 0" { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(unsettled == "0 0", "outbox and slots left: \(unsettled)")
        let stored = try database.psql("SELECT string_agg(id || '=' || coalesce(execution_id, '-'), ',') FROM deployments")
            .split(separator: ",").map { $0.split(separator: "=").map(String.init) }
        let storedIds = Set(stored.map { $0[0] })
        #expect(Set(acknowledged.values).isSubset(of: storedIds), "every acknowledged deployment is stored")
        #expect(stored.allSatisfy { $0[1] != "-" }, "every stored deployment has its execution")
        let bodies = try Self.triggers(gate).map { $0["body"] as? String ?? "" }
        for id in storedIds {
            #expect(bodies.count { $0.contains(id) } == 1, "deployment \(id) triggered \(bodies.count { $0.contains(id) }) times")
        }
        #expect(bodies.count == storedIds.count, "no trigger for a deployment that is not stored")
        let states = try database.psql("SELECT string_agg(DISTINCT state, ',') FROM deployments")
        #expect(states == "SUCCEEDED", "every execution ended and was recorded: \(states)")
    }
}

/// The conformance suite, strict + active, through real NGINX balancing round-robin over two
/// replicas (examples/fleet/nginx.conf): consecutive requests of one check land on different
/// replicas, and every guarantee the suite proves — limits, keys, rate windows, the kill switch,
/// the audit trail — holds across them.
@Suite struct FleetConformanceTests {
    @Test func theSuitePassesThroughNginxOverTwoReplicas() async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "3"])
        let database = try TestDatabase()
        let first = try await ServerProcess(key: key, gate: gate.baseURL, store: database.url)
        let second = try await ServerProcess(key: key, gate: gate.baseURL, store: database.url)
        let balancer = try FleetBalancer(replicas: [first.baseURL, second.baseURL])
        try await balancer.ready()
        let run = try await SuiteRun.run(first, baseURL: balancer.baseURL, key: key, profile: "strict", guardrails: "active")
        #expect(run.status == 0, "\(run.output)")
        #expect(run.ids("PASSED") == ConformanceTests.allChecks, "not passed: \(ConformanceTests.allChecks.subtracting(run.ids("PASSED")).sorted())")
        #expect(run.output.contains("RESULT: CONFORMANT"))
        // Both replicas answered a good share of the run.
        var answered: [Int] = []
        for server in [first, second] {
            let (data, _) = try await URLSession.shared.data(from: URL(string: server.baseURL + "/metrics")!)
            answered.append(String(decoding: data, as: UTF8.self).split(separator: "\n")
                .filter { $0.hasPrefix("dxcp_http_request_duration_seconds_count") }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0) { $0 + Int($1) })
        }
        #expect(answered.allSatisfy { $0 > 100 }, "requests answered per replica: \(answered)")
        let entries = try database.psql("SELECT count(*) FROM audit")
        #expect((Int(entries) ?? 0) > 50, "one audit chain for the fleet: \(entries) entries")
    }
}

/// NGINX in the foreground with examples/fleet/nginx.conf over `replicas`; killed when released.
final class FleetBalancer {
    static let template = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/fleet/nginx.conf")
    let process = Process()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-fleet-nginx-\(UUID().uuidString)").path
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(replicas: [String]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = try freePort()
        let hosts = replicas.map { $0.replacingOccurrences(of: "http://", with: "") }
        let balancer = try String(contentsOf: Self.template, encoding: .utf8)
            .replacingOccurrences(of: "{{REPLICA_1}}", with: hosts[0])
            .replacingOccurrences(of: "{{REPLICA_2}}", with: hosts[1])
            .replacingOccurrences(of: "{{LISTEN}}", with: "127.0.0.1:\(port)")
        try balancer.write(toFile: directory + "/fleet.conf", atomically: true, encoding: .utf8)
        let main = nginxMainConfig(directory: directory, include: directory + "/fleet.conf", connections: 256)
        try main.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-p", directory, "-c", directory + "/nginx.conf"]
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
    }

    /// Waits until NGINX answers through to a replica.
    func ready() async throws {
        for _ in 0..<100 {
            if let (_, response) = try? await URLSession.shared.data(from: URL(string: baseURL + "/v1/health")!),
                (response as? HTTPURLResponse)?.statusCode == 200
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SetupError(message: "nginx did not start: \((try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? "")")
    }

    deinit {
        // SIGKILL: nginx's single-process mode may not see SIGTERM under the test runner's signal mask.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The replicas clients may use now (one is missing while it is replaced).
final class LiveURLs: Sendable {
    private let urls: Mutex<[String]>

    init(_ urls: [String]) { self.urls = Mutex(urls) }

    func pick(_ n: Int) -> String { urls.withLock { $0[n % $0.count] } }
    func remove(_ url: String) { urls.withLock { $0.removeAll { $0 == url } } }
    func add(_ url: String) { urls.withLock { $0.append(url) } }
}

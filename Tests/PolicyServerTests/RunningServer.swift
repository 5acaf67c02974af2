import Engine
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GovernanceStore
import Hummingbird
import PolicyFile
import PolicyServer
import Rules
import Testing

/// A real dxcp-policy server on a loopback port, over a temporary store seeded with the demo
/// policy; stopped and removed when released.
final class RunningServer {
    static let secret = "test-secret-0123456789abcdef0123456789"
    static let webhookToken = "test-webhook-token-0123456789"
    static let issuer = "test-issuer"
    static let audience = "dxcp-api"
    static let demoPolicy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/demo-policy.yaml").path

    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-http-\(UUID().uuidString)").path
    let store: GovernanceStore
    let authenticator: Authenticator
    let port: Int
    /// The server's dispatcher, when it has a Gate.
    let dispatcher: Dispatcher?
    private let task: Task<Void, any Error>

    init(
        gate: String? = nil, gateTimeoutMs: Int = 10_000, bodyLimit: Int = 64 * 1024, jwks: String? = nil, developmentSecret: String? = RunningServer.secret,
        jwksURL: String? = nil, jwksRefreshInterval: Int64 = Authenticator.unknownKeyRefreshInterval, webhookToken: String? = RunningServer.webhookToken,
        mapSize: Int = 64 << 20, maxQueue: Int = 4096
    ) async throws {
        let metrics = ServerMetrics()
        store = try GovernanceStore(directory: dir, options: .init(mapSize: mapSize, create: true, maxQueue: maxQueue, commitObserver: { size, applying, committing in
            metrics.batch(size: size, applying: applying, committing: committing)
        }))
        try await store.replacePolicy(try PolicyFile.load(path: Self.demoPolicy), actorId: "test", now: currentTime())
        authenticator = Authenticator(
            keys: try await Authenticator.keys(jwks: jwks, developmentSecret: developmentSecret),
            requirements: .init(issuer: Self.issuer, audience: Self.audience),
            jwksURL: jwksURL, fetch: { url in try await HTTPFetch.get(url) }, unknownKeyRefreshInterval: jwksRefreshInterval)
        if jwksURL != nil { try await authenticator.refreshKeys(now: currentTime()) }
        let client = gate.map { GateClient(configuration: GateConfiguration(baseURL: $0, requestTimeoutMs: gateTimeoutMs)) }
        dispatcher = client.map { [store] in Dispatcher(store: store, gate: $0, clock: currentTime) }
        let server = GovernanceServer(
            store: store, authenticator: authenticator, dispatcher: dispatcher, readiness: client.map { ReadinessProbe(gate: $0) },
            configuration: .init(bodyLimit: bodyLimit, spinnakerWebhookToken: webhookToken), clock: currentTime, makeId: { RecordID.make(at: currentTime()) }, metrics: metrics)
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            responder: server.responder(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
        task = Task { try await app.run() }
        var iterator = stream.makeAsyncIterator()
        port = await iterator.next() ?? 0
    }

    deinit {
        task.cancel()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A token with `roles`; `tweak` may change any claim.
    func token(_ roles: [String], subject: String, email: String?, tweak: (inout [String: JSON]) -> Void = { _ in }) async throws -> String {
        var claims: [String: JSON] = [
            "sub": .string(subject), WireClaims.defaultRolesClaim: .array(roles.map { .string($0) }), "iss": .string(Self.issuer),
            "aud": .string(Self.audience), "exp": .int(currentTime().seconds + 600),
        ]
        if let email { claims["email"] = .string(email) }
        tweak(&claims)
        return try await authenticator.signDevelopmentToken(claims)
    }

    var admin: String { get async throws { try await token(["dxcp-platform-admins"], subject: "admin-1", email: "admin@example.com") } }
    var owner: String { get async throws { try await token(["dxcp-delivery-owners"], subject: "owner-1", email: "owner@example.com") } }
    var stranger: String { get async throws { try await token(["dxcp-delivery-owners"], subject: "owner-2", email: "stranger@example.com") } }
    var observer: String { get async throws { try await token(["dxcp-observers"], subject: "obs-1", email: "observer@example.com") } }
    var ci: String { get async throws { try await token(["dxcp-ci-publishers"], subject: "ci-bot", email: nil) } }

    /// One HTTP exchange.
    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
        var array: [[String: Any]]? { (try? JSONSerialization.jsonObject(with: body)) as? [[String: Any]] }
        var code: String? { json["code"] as? String }
    }

    func send(_ method: String, _ path: String, token: String? = nil, body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        try await exchange(method, port: port, path, token: token, body: body, headers: headers)
    }

    func send(_ method: String, _ path: String, token: String? = nil, json: String, headers: [String: String] = [:]) async throws -> Reply {
        try await send(method, path, token: token, body: Data(json.utf8), headers: headers)
    }
}

/// One HTTP exchange with the server on loopback `port`: a JSON body when given, the bearer
/// token when given, header names of the reply lower-cased.
func exchange(
    _ method: String, port: Int, _ path: String, token: String? = nil, body: Data? = nil, headers: [String: String] = [:]
) async throws -> RunningServer.Reply {
    var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
    request.httpMethod = method
    // A bound on a hung server, not a speed check: the test command runs many servers, fuzzers
    // and schemathesis at once on a couple of cores.
    request.timeoutInterval = 30
    request.httpBody = body
    if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
    if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = response as! HTTPURLResponse
    var fields: [String: String] = [:]
    for (name, value) in http.allHeaderFields { fields[String(describing: name).lowercased()] = String(describing: value) }
    return RunningServer.Reply(status: http.statusCode, headers: fields, body: data)
}

/// Waits for the next minute when fewer than 30 seconds of this one are left, so that a test
/// counting requests against per-minute rate windows runs inside one window — with room for a
/// server to start and a dozen requests on a loaded test machine (5 s was not always enough).
func startWithinOneMinute() async throws {
    let second = Int(Date().timeIntervalSince1970) % 60
    if second >= 30 { try await Task.sleep(for: .seconds(61 - second)) }
}

/// Now, from the system clock (tests only).
func currentTime() -> Timestamp {
    Timestamp(microseconds: Int64(Date().timeIntervalSince1970 * 1_000_000))
}

func deployBody(_ version: String = "1.0.0", summary: String = "ship") -> String {
    #"{"service":"demo-service","environment":"sandbox","version":"\#(version)","changeSummary":"\#(summary)"}"#
}

func registerBody(_ version: String, sha: String = "abc") -> String {
    #"{"service":"demo-service","version":"\#(version)","artifactRef":"s3://dxcp-artifacts/demo-service/demo-service-\#(version).zip","git_sha":"\#(sha)","git_branch":"main","ci_provider":"github","ci_run_id":"1","built_at":"2026-11-25T10:00:00Z"}"#
}

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPTypes
import Hummingbird
import Logging
import Synchronization
import TestSupport

/// An HTTP proxy on a loopback port in front of a real server, which changes requests and answers
/// on their way through to make the server *look* broken (or merely different) to a client: the
/// suite's own tests point `governance-tests` at it to show the suite notices exactly what it
/// should. It lives in the test target, so the shipped server has no switch that breaks it.
final class FaultProxy {
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }
    private let task: Task<Void, any Error>

    /// A proxy to `upstream` (e.g. `http://127.0.0.1:8080`) that applies `faults` in order.
    init(upstream: String, faults: [ProxyFault]) async throws {
        let forwarder = Forwarder(upstream: upstream, faults: faults)
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        // Quiet: a proxy stopped with connections open is expected, not an error to log.
        var logger = Logger(label: "fault-proxy")
        logger.logLevel = .critical
        let app = Application(
            responder: CallbackResponder<BasicRequestContext> { request, _ in try await forwarder.respond(to: request) },
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        task = Task { try await app.run() }
        var iterator = stream.makeAsyncIterator()
        port = await iterator.next() ?? 0
    }

    deinit { task.cancel() }
}

/// One request on its way through the proxy.
struct ProxiedRequest {
    var method: String
    /// Path and query, e.g. `/v1/deployments?limit=5`.
    var target: String
    var headers: [String: String]
    var body: Data

    /// The path without the query.
    var path: String { String(target.split(separator: "?", maxSplits: 1).first ?? "") }
    /// The body as a JSON object, if it is one.
    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    /// The bearer token, if any.
    var token: String? {
        guard let value = headers["authorization"], value.hasPrefix("Bearer ") else { return nil }
        return String(value.dropFirst("Bearer ".count))
    }

    /// The `sub` claim of the bearer token, read without verifying it (the server verifies).
    var subject: String? {
        guard let token, case let parts = token.split(separator: ".", omittingEmptySubsequences: false), parts.count == 3 else { return nil }
        var text = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text), let claims = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        return claims["sub"] as? String
    }

    /// The governance-tests identity the token was minted for (`admin`, `owner`, `non-member-owner`, …).
    var identity: String? {
        subject.flatMap { $0.hasPrefix("governance-tests-") ? String($0.dropFirst("governance-tests-".count)) : nil }
    }

    mutating func setJSON(_ object: [String: Any]) {
        body = (try? JSONSerialization.data(withJSONObject: object)) ?? body
    }
}

/// One answer on its way back through the proxy.
struct ProxiedResponse {
    var status: Int
    var headers: [String: String]
    var body: Data

    var json: Any? { try? JSONSerialization.jsonObject(with: body) }
    /// The contract error code of an error envelope.
    var code: String? { (json as? [String: Any])?["code"] as? String }

    mutating func setJSON(_ value: Any) {
        body = (try? JSONSerialization.data(withJSONObject: value)) ?? body
    }

    /// A contract error envelope.
    static func error(_ status: Int, _ code: String, _ message: String, requestId: String?) -> ProxiedResponse {
        let envelope: [String: Any] = ["code": code, "error_code": code, "message": message, "request_id": requestId ?? "", "failure_cause": "POLICY_CHANGE"]
        return ProxiedResponse(
            status: status, headers: ["content-type": "application/json", "x-request-id": requestId ?? ""],
            body: (try? JSONSerialization.data(withJSONObject: envelope)) ?? Data())
    }
}

/// What a proxy fault remembers between requests (tokens seen, answers cached, settings faked).
final class ProxyMemory: Sendable {
    private let values = Mutex<[String: String]>([:])
    private let bodies = Mutex<[String: ProxiedResponseBox]>([:])

    subscript(key: String) -> String? {
        get { values.withLock { $0[key] } }
        set { values.withLock { $0[key] = newValue } }
    }

    func response(_ key: String) -> ProxiedResponse? { bodies.withLock { $0[key]?.response } }
    func remember(_ key: String, _ response: ProxiedResponse) { bodies.withLock { $0[key] = ProxiedResponseBox(response: response) } }
}

/// A response kept in ``ProxyMemory``.
struct ProxiedResponseBox: Sendable {
    let status: Int
    let headers: [String: String]
    let body: Data
    init(response: ProxiedResponse) {
        status = response.status
        headers = response.headers
        body = response.body
    }
    var response: ProxiedResponse { ProxiedResponse(status: status, headers: headers, body: body) }
}

/// Forwards requests upstream with the faults applied on the way in and out.
final class Forwarder: Sendable {
    let upstream: String
    let faults: [ProxyFault]
    let memory = ProxyMemory()
    private let session: URLSession

    init(upstream: String, faults: [ProxyFault]) {
        self.upstream = upstream
        self.faults = faults
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.httpShouldSetCookies = false
        session = URLSession(configuration: configuration)
    }

    func respond(to incoming: Request) async throws -> Response {
        var headers: [String: String] = [:]
        for field in incoming.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        let buffer = try await incoming.body.collect(upTo: 4 << 20)
        var request = ProxiedRequest(
            method: incoming.method.rawValue, target: incoming.uri.description, headers: headers, body: Data(buffer: buffer))
        var answer: ProxiedResponse?
        for fault in faults where answer == nil { answer = fault.request(&request, memory) }
        var response: ProxiedResponse
        if let answer { response = answer } else { response = try await forward(request) }
        for fault in faults { fault.response(request, &response, memory) }
        var fields = HTTPFields()
        for (name, value) in response.headers where !Self.hopByHop.contains(name) {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return Response(status: .init(code: response.status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: response.body)))
    }

    /// Headers the proxy sets itself.
    static let hopByHop: Set<String> = ["connection", "content-length", "transfer-encoding", "keep-alive", "date", "server"]

    private func forward(_ request: ProxiedRequest) async throws -> ProxiedResponse {
        var outgoing = URLRequest(url: URL(string: upstream + request.target)!, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 60)
        outgoing.httpMethod = request.method
        for (name, value) in request.headers where !Self.hopByHop.contains(name) && name != "host" { outgoing.setValue(value, forHTTPHeaderField: name) }
        if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method) { outgoing.httpBody = request.body }
        let (data, response) = try await session.data(for: outgoing)
        guard let http = response as? HTTPURLResponse else { throw SetupError(message: "not an HTTP answer") }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields { headers[String(describing: name).lowercased()] = String(describing: value) }
        return ProxiedResponse(status: http.statusCode, headers: headers, body: data)
    }
}

/// A change a ``FaultProxy`` makes: to the request (or an answer instead of forwarding it), and
/// to the answer.
struct ProxyFault: Sendable {
    /// Changes the request, or answers it without forwarding.
    var request: @Sendable (inout ProxiedRequest, ProxyMemory) -> ProxiedResponse? = { _, _ in nil }
    /// Changes the answer.
    var response: @Sendable (ProxiedRequest, inout ProxiedResponse, ProxyMemory) -> Void = { _, _, _ in }
}

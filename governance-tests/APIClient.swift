import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The API under test, reached over HTTP with Foundation's `URLSession` (docs/DECISIONS.md 44): every
/// call carries a run-scoped `X-Request-Id` and has a timeout.
final class APIClient {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    let baseURL: String
    /// Tokens by identity; an identity missing here cannot be used.
    let tokens: [Identity: String]
    /// Seconds one call may take.
    let timeout: TimeInterval
    /// Prefix of every request id (the run id).
    let runId: String
    private let session: URLSession
    private var counter = 0

    /// A client of `baseURL` acting with `tokens`.
    init(baseURL: String, tokens: [Identity: String], timeout: TimeInterval, runId: String) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.tokens = tokens
        self.timeout = timeout
        self.runId = runId
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.httpShouldSetCookies = false
        session = URLSession(configuration: configuration)
    }

    /// The token of `identity`, or a reason the check cannot run.
    func token(_ identity: Identity) throws(CannotRun) -> String {
        guard let token = tokens[identity] else { throw CannotRun("no \(identity.label) identity (\(identity.environmentVariable) or --mint-key)") }
        return token
    }

    /// A fresh request id of this run.
    func nextRequestId() -> String {
        counter += 1
        return "\(runId)-\(counter)"
    }

    /// Sends one request. `as: nil` sends no token; `key` sets `Idempotency-Key` (an empty
    /// string sends the header empty); `rawToken` replaces the identity's token.
    func send(
        _ method: String, _ path: String, as identity: Identity?, body: JSON? = nil, key: String? = nil,
        rawToken: String? = nil, headers: [String: String] = [:]
    ) async throws -> Reply {
        guard let url = URL(string: baseURL + path) else { throw CheckFailure("not a URL: \(baseURL + path)") }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = method
        let requestId = nextRequestId()
        request.setValue(requestId, forHTTPHeaderField: "X-Request-Id")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let body {
            request.httpBody = Data(body.text.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let token = try rawToken ?? identity.map({ identity throws(CannotRun) in try token(identity) }) {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        if let key { request.setValue(key, forHTTPHeaderField: "Idempotency-Key") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw CheckFailure("\(method) \(path): no answer within \(Int(timeout)) s or transport error: \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else { throw CheckFailure("\(method) \(path): not an HTTP response") }
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields { fields[String(describing: name).lowercased()] = String(describing: value) }
        return Reply(request: "\(method) \(path)", requestId: requestId, status: http.statusCode, headers: fields, body: data)
    }

    /// `GET path` as `identity`.
    func get(_ path: String, as identity: Identity?) async throws -> Reply {
        try await send("GET", path, as: identity)
    }

    /// `POST path` with a JSON body as `identity`.
    func post(_ path: String, as identity: Identity?, _ body: JSON?, key: String? = nil) async throws -> Reply {
        try await send("POST", path, as: identity, body: body, key: key)
    }

    /// `PUT path` with a JSON body as `identity`.
    func put(_ path: String, as identity: Identity?, _ body: JSON?, key: String? = nil) async throws -> Reply {
        try await send("PUT", path, as: identity, body: body, key: key)
    }
}

extension String {
    /// Percent-encoded for a URL path segment or query value.
    var urlEncoded: String {
        addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? self
    }
}

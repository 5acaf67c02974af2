import CCurlShim
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP exchange's result.
struct HTTPResponse: Sendable {
    var status: Int
    var body: [UInt8]
    var location: String?
    /// False when a 2xx answer was longer than the transport reads (its body is then empty):
    /// Gate answered, and what it said cannot be known.
    var complete = true
}

/// One HTTP request as the transport sends it.
struct HTTPExchange: Sendable {
    /// The body of a POST; nil for a GET.
    var post: [UInt8]?
    var url: String
    /// "Name: value" lines.
    var headers: [String]
    /// The whole call's timeout; nil for the configured one.
    var timeoutMs: Int? = nil
    /// On a new connection, closed afterwards: for requests that must never be sent twice (a
    /// trigger), since libcurl re-sends a request whose reused connection closed before answering.
    var freshConnection = false
    /// When set, the call is not started after this instant (it waited too long for a worker) and
    /// fails as not sent.
    var startBy: ContinuousClock.Instant? = nil
}

/// Blocking HTTP over libcurl with a pool of reused easy handles (kept-alive connections). Each
/// call runs on a thread of ``CurlWorkers``, never on the Swift concurrency pool.
final class CurlTransport: Sendable {
    /// A libcurl easy handle owned by the pool.
    private struct Handle: @unchecked Sendable {
        // INVARIANT: used by one call at a time (taken from and returned to `idle`).
        let pointer: UnsafeMutableRawPointer
    }

    private let idle = Mutex<[Handle]>([])
    private let configuration: GateConfiguration
    private let workers: CurlWorkers
    private static let maxResponseBytes = 4 << 20

    init(configuration: GateConfiguration, workers: CurlWorkers = .shared) {
        self.configuration = configuration
        self.workers = workers
        _ = Self.globalInit
    }

    deinit {
        for handle in idle.withLock({ $0 }) { dxcp_curl_free(handle.pointer) }
    }

    private static let globalInit: Int32 = dxcp_curl_global_init()

    /// Performs one request on a worker thread.
    func send(_ exchange: HTTPExchange) async throws(EngineError) -> HTTPResponse {
        let result: Result<HTTPResponse, EngineError> = await withCheckedContinuation { continuation in
            workers.submit {
                continuation.resume(returning: Result { () throws(EngineError) in try self.perform(exchange) })
            }
        }
        return try result.get()
    }

    /// Collects the response body, refusing more than `maxResponseBytes`.
    private final class Sink {
        var bytes: [UInt8] = []
        /// The answer ran past ``CurlTransport/maxResponseBytes`` and was cut off.
        var overflowed = false
    }

    private func perform(_ exchange: HTTPExchange) throws(EngineError) -> HTTPResponse {
        if let startBy = exchange.startBy, ContinuousClock.now > startBy {
            throw EngineError(.engineUnavailable, delivery: .notSent, "the call to Gate waited too long for a free connection and was not sent")
        }
        guard let handle = idle.withLock({ $0.popLast() }) ?? dxcp_curl_new().map({ Handle(pointer: $0) }) else {
            throw EngineError(.engineUnavailable, delivery: .notSent, "cannot create an HTTP client handle")
        }
        let sink = Sink()
        defer {
            dxcp_curl_reset(handle.pointer)
            idle.withLock { $0.append(handle) }
        }
        let h = handle.pointer
        dxcp_curl_set_url(h, exchange.url)
        if let body = exchange.post {
            _ = body.withUnsafeBufferPointer { buf in
                buf.withMemoryRebound(to: CChar.self) { chars in
                    chars.baseAddress.map { dxcp_curl_set_post_body(h, $0, chars.count) } ?? dxcp_curl_set_post_body(h, "", 0)
                }
            }
        } else {
            dxcp_curl_set_post_body(h, nil, 0)
        }
        if exchange.freshConnection { dxcp_curl_set_fresh_connection(h) }
        var lines = exchange.headers
        lines.append("Expect:")
        switch configuration.authentication {
        case .none: break
        case .bearer(let token): lines.append("Authorization: Bearer \(token)")
        case .header(let name, let value): lines.append("\(name): \(value)")
        case .mutualTLS(let cert, let key): dxcp_curl_set_client_certificate(h, cert, key)
        }
        let cLines: [UnsafeMutablePointer<CChar>?] = lines.map { strdup($0) }
        defer { cLines.forEach { free($0) } }
        let constLines: [UnsafePointer<CChar>?] = cLines.map { $0.map { UnsafePointer($0) } }
        _ = constLines.withUnsafeBufferPointer { dxcp_curl_set_headers(h, $0.baseAddress, Int32($0.count)) }
        if let ca = configuration.caFile { dxcp_curl_set_ca_file(h, ca) }
        let total = exchange.timeoutMs ?? configuration.requestTimeoutMs
        dxcp_curl_set_timeouts_ms(h, min(configuration.connectTimeoutMs, total), total)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        dxcp_curl_set_write_function(h, { data, size, count, context in
            guard let data, let context else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            let n = size * count
            guard sink.bytes.count + n <= CurlTransport.maxResponseBytes else {
                sink.overflowed = true
                return 0
            }
            sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n))
            return n
        }, context)
        let code = withExtendedLifetime(sink) { dxcp_curl_perform(h) }
        if code != 0, sink.overflowed, (200..<300).contains(dxcp_curl_response_code(h)) {
            return HTTPResponse(status: dxcp_curl_response_code(h), body: [], location: nil, complete: false)
        }
        guard code == 0 else { throw Self.failure(code, mayHaveSent: dxcp_curl_may_have_sent(h) != 0) }
        let location = dxcp_curl_redirect_url(h).map { String(cString: $0) }
        return HTTPResponse(status: dxcp_curl_response_code(h), body: sink.bytes, location: location)
    }

    /// The engine error for a failed libcurl call, with what it tells of the request's delivery:
    /// not sent only when libcurl never got as far as writing the request — no connection or TLS
    /// session was made, or the call gave up before one was; every other failure may have reached
    /// Gate.
    static func failure(_ code: Int32, mayHaveSent: Bool) -> EngineError {
        let text = String(cString: dxcp_curl_error_text(code))
        let delivery: EngineError.Delivery = mayHaveSent ? .ambiguous : .notSent
        if dxcp_curl_is_connect_failure(code) != 0 {
            return EngineError(.engineUnavailable, delivery: delivery, "connection to Gate failed: \(text)")
        }
        if dxcp_curl_is_tls_failure(code) != 0 {
            return EngineError(.engineMisconfigured, delivery: delivery, "TLS with Gate failed: \(text); check the CA and client certificate")
        }
        if dxcp_curl_is_timeout(code) != 0 {
            return EngineError(.engineTimeout, delivery: delivery, "Gate call timed out: \(text)")
        }
        if dxcp_curl_is_connection_lost(code) != 0 {
            // REFERENCE §10.4 rule 5 keeps a connection failure ENGINE_UNAVAILABLE.
            return EngineError(.engineUnavailable, delivery: delivery, "connection to Gate failed: \(text)")
        }
        return EngineError(.engineCallFailed, delivery: delivery, "Gate call failed: \(text)")
    }
}

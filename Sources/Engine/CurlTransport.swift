import CCurlShim
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP exchange's result.
struct HTTPResponse: Sendable {
    var status: Int
    var body: [UInt8]
    var location: String?
}

/// Blocking HTTP over libcurl with a pool of reused easy handles (kept-alive connections). Each
/// call runs on a Dispatch thread, never on the Swift concurrency pool.
final class CurlTransport: Sendable {
    /// A libcurl easy handle owned by the pool.
    private struct Handle: @unchecked Sendable {
        // INVARIANT: used by one call at a time (taken from and returned to `idle`).
        let pointer: UnsafeMutableRawPointer
    }

    private let idle = Mutex<[Handle]>([])
    private let configuration: GateConfiguration
    private static let maxResponseBytes = 4 << 20

    init(configuration: GateConfiguration) {
        self.configuration = configuration
        _ = Self.globalInit
    }

    deinit {
        for handle in idle.withLock({ $0 }) { dxcp_curl_free(handle.pointer) }
    }

    private static let globalInit: Int32 = dxcp_curl_global_init()

    /// Performs one request off the Swift concurrency pool.
    func send(post body: [UInt8]?, to url: String, headers: [String], timeoutMs: Int? = nil) async throws(EngineError) -> HTTPResponse {
        let result: Result<HTTPResponse, EngineError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(EngineError) in
                    try self.perform(post: body, to: url, headers: headers, timeoutMs: timeoutMs)
                })
            }
        }
        return try result.get()
    }

    /// Collects the response body, refusing more than `maxResponseBytes`.
    private final class Sink {
        var bytes: [UInt8] = []
    }

    private func perform(post body: [UInt8]?, to url: String, headers: [String], timeoutMs: Int?) throws(EngineError) -> HTTPResponse {
        guard let handle = idle.withLock({ $0.popLast() }) ?? dxcp_curl_new().map({ Handle(pointer: $0) }) else {
            throw EngineError(.engineUnavailable, "cannot create an HTTP client handle")
        }
        let sink = Sink()
        defer {
            dxcp_curl_reset(handle.pointer)
            idle.withLock { $0.append(handle) }
        }
        let h = handle.pointer
        dxcp_curl_set_url(h, url)
        if let body {
            _ = body.withUnsafeBufferPointer { buf in
                buf.withMemoryRebound(to: CChar.self) { chars in
                    chars.baseAddress.map { dxcp_curl_set_post_body(h, $0, chars.count) } ?? dxcp_curl_set_post_body(h, "", 0)
                }
            }
        } else {
            dxcp_curl_set_post_body(h, nil, 0)
        }
        var lines = headers
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
        let total = timeoutMs ?? configuration.requestTimeoutMs
        dxcp_curl_set_timeouts_ms(h, min(configuration.connectTimeoutMs, total), total)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        dxcp_curl_set_write_function(h, { data, size, count, context in
            guard let data, let context else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            let n = size * count
            guard sink.bytes.count + n <= CurlTransport.maxResponseBytes else { return 0 }
            sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n))
            return n
        }, context)
        let code = withExtendedLifetime(sink) { dxcp_curl_perform(h) }
        guard code == 0 else {
            let text = String(cString: dxcp_curl_error_text(code))
            if dxcp_curl_is_timeout(code) != 0 { throw EngineError(.engineTimeout, "Gate call timed out: \(text)") }
            if dxcp_curl_is_tls_failure(code) != 0 { throw EngineError(.engineMisconfigured, "TLS with Gate failed: \(text); check the CA and client certificate") }
            if dxcp_curl_is_connect_failure(code) != 0 { throw EngineError(.engineUnavailable, "connection to Gate failed: \(text)") }
            throw EngineError(.engineCallFailed, "Gate call failed: \(text)")
        }
        let location = dxcp_curl_redirect_url(h).map { String(cString: $0) }
        return HTTPResponse(status: dxcp_curl_response_code(h), body: sink.bytes, location: location)
    }
}

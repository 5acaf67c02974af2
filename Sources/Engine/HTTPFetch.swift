/// A plain GET over the same libcurl transport the Gate client uses (redirects not followed, TLS
/// verified, explicit timeouts): for small documents such as a JWKS, on threads of their own
/// (``CurlWorkers/fetches``), so a Gate that hangs every worker of its pool cannot hold them up.
public enum HTTPFetch {
    /// The body of `url` when it answers 2xx.
    public static func get(_ url: String, timeoutMs: Int = 5_000) async throws(EngineError) -> [UInt8] {
        let transport = CurlTransport(configuration: GateConfiguration(baseURL: url, requestTimeoutMs: timeoutMs), workers: .fetches)
        let response = try await transport.send(HTTPExchange(url: url, headers: ["Accept: application/json"]))
        guard (200..<300).contains(response.status) else { throw EngineError.answered(response.status, location: response.location) }
        return response.body
    }
}

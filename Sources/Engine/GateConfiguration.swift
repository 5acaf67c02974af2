/// How dxcp-policy reaches Spinnaker's Gate (DECISIONS D16).
public struct GateConfiguration: Sendable {
    /// How calls authenticate to Gate. With none, calls carry no credentials (a Gate without
    /// authentication on a private network or loopback).
    public enum Authentication: Sendable {
        /// No credentials.
        case none
        /// `Authorization: Bearer <token>` from configuration.
        case bearer(String)
        /// A static header, e.g. a shared secret checked by a proxy in front of Gate.
        case header(name: String, value: String)
        /// A client certificate and key (PEM files): mutual TLS, the recommended mode.
        case mutualTLS(certificatePath: String, keyPath: String)
    }

    /// Gate's base URL, e.g. `https://gate.example.com:8084` (no trailing slash).
    public var baseURL: String
    /// How calls authenticate.
    public var authentication: Authentication
    /// CA bundle that verifies Gate's certificate (nil: the system's).
    public var caFile: String?
    /// Connection timeout, milliseconds.
    public var connectTimeoutMs: Int
    /// Whole-call timeout, milliseconds.
    public var requestTimeoutMs: Int

    /// A configuration; timeouts default to 2 s to connect and 10 s per call.
    public init(
        baseURL: String, authentication: Authentication = .none, caFile: String? = nil, connectTimeoutMs: Int = 2_000,
        requestTimeoutMs: Int = 10_000
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.authentication = authentication
        self.caFile = caFile
        self.connectTimeoutMs = connectTimeoutMs
        self.requestTimeoutMs = requestTimeoutMs
    }
}

extension GateConfiguration: CustomStringConvertible {
    /// The configuration without its secrets, for logs.
    public var description: String {
        let auth = switch authentication {
        case .none: "none"
        case .bearer: "bearer (token redacted)"
        case .header(let name, _): "header \(name) (value redacted)"
        case .mutualTLS(let cert, _): "mutual TLS (certificate \(cert))"
        }
        return "gate \(baseURL), auth \(auth), connect timeout \(connectTimeoutMs) ms, call timeout \(requestTimeoutMs) ms"
    }
}

public import Rules

/// A failed call to the engine, mapped to the contract's `ENGINE_*` codes (REFERENCE §10.4).
/// `detail` is for operators and logs; it never carries credentials.
public struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `ENGINE_UNAVAILABLE`, `ENGINE_TIMEOUT`, `ENGINE_MISCONFIGURED`, `ENGINE_UNAUTHORIZED` or
    /// `ENGINE_CALL_FAILED`.
    public var code: ContractCode
    /// Gate's HTTP status, when it answered.
    public var upstreamStatus: Int?
    /// What happened.
    public var detail: String

    /// An engine error from its parts.
    public init(_ code: ContractCode, upstreamStatus: Int? = nil, _ detail: String) {
        self.code = code
        self.upstreamStatus = upstreamStatus
        self.detail = detail
    }

    /// Whether the engine should be treated as unavailable (REFERENCE §3.2: timeouts, connection
    /// failures, and failed calls with an upstream status of 500 or more).
    public var engineUnavailable: Bool {
        switch code {
        case .engineUnavailable, .engineTimeout: true
        case .engineCallFailed: (upstreamStatus ?? 0) >= 500
        default: false
        }
    }

    /// The envelope `details` of REFERENCE §3.2: `engine_unavailable`, and diagnostics when it is.
    public func details(requestId: String, engineHost: String?) -> [String: JSONValue] {
        var details: [String: JSONValue] = ["engine_unavailable": .bool(engineUnavailable)]
        if engineUnavailable {
            var diagnostics: [String: JSONValue] = [
                "upstream_status": upstreamStatus.map { .int(Int64($0)) } ?? .null, "engine": .string("spinnaker"),
                "request_id": .string(requestId),
            ]
            if let engineHost { diagnostics["engine_host"] = .string(engineHost) }
            details["diagnostics"] = .object(diagnostics)
        }
        return details
    }

    public var description: String {
        "\(code.rawValue)\(upstreamStatus.map { " (HTTP \($0))" } ?? ""): \(detail)"
    }

    /// The error for a Gate answer with a non-2xx `status` (REFERENCE §10.4 rules 3, 4 and 6).
    static func answered(_ status: Int, location: String?) -> EngineError {
        switch status {
        case 300..<400:
            EngineError(.engineMisconfigured, upstreamStatus: status, "redirect blocked (to \(redacted(location ?? "?"))); point the Gate URL at Gate itself")
        case 401, 403:
            EngineError(.engineUnauthorized, upstreamStatus: status, "Gate refused the credentials")
        default:
            EngineError(.engineCallFailed, upstreamStatus: status, "Gate answered HTTP \(status)")
        }
    }
}

/// `scheme://host/...` of a URL: enough to locate it, nothing of its path or query.
func redacted(_ url: String) -> String {
    let parts = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
    guard parts.count >= 3, parts[0].hasSuffix(":"), parts[1].isEmpty else { return "..." }
    let host = parts[2].split(separator: "@").last.map(String.init) ?? ""
    return "\(parts[0])//\(host)/..."
}

public import Rules

/// A failed call to the engine, mapped to the contract's `ENGINE_*` codes (REFERENCE §10.4), and
/// what is known of its effect (DECISIONS D6). `detail` is for operators and logs; it never carries
/// credentials.
public struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What a failed call tells of whether Gate acted on it. Only a trigger's answer decides
    /// anything by it: a reservation is released only when nothing can have started.
    public enum Delivery: String, Sendable {
        /// Nothing reached Gate: the name did not resolve, the connection was refused, the TLS
        /// handshake failed, or not a byte of the request was written before the call gave up.
        case notSent = "NOT_SENT"
        /// Gate answered with a 4xx: it did not start anything.
        case refused = "REFUSED"
        /// Gate may have started it: a timeout after the request was written, a connection reset or
        /// closed before the answer, a 5xx, a redirect, a 2xx without an execution id or with a body
        /// that cannot be read.
        case ambiguous = "AMBIGUOUS"

        /// Whether the engine can have started what was asked.
        public var mayHaveStarted: Bool { self == .ambiguous }
    }

    /// `ENGINE_UNAVAILABLE`, `ENGINE_TIMEOUT`, `ENGINE_MISCONFIGURED`, `ENGINE_UNAUTHORIZED` or
    /// `ENGINE_CALL_FAILED`.
    public var code: ContractCode
    /// Gate's HTTP status, when it answered.
    public var upstreamStatus: Int?
    /// What is known of the call's effect.
    public var delivery: Delivery
    /// What happened.
    public var detail: String

    /// An engine error from its parts.
    public init(_ code: ContractCode, upstreamStatus: Int? = nil, delivery: Delivery, _ detail: String) {
        self.code = code
        self.upstreamStatus = upstreamStatus
        self.delivery = delivery
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
        "\(code.rawValue)\(upstreamStatus.map { " (HTTP \($0))" } ?? "") [\(delivery.rawValue)]: \(detail)"
    }

    /// The error for a Gate answer with a non-2xx `status` (REFERENCE §10.4 rules 3, 4 and 6). Only
    /// the statuses given before anything is started are refusals: the request itself was rejected
    /// (400, 405, 406, 411, 413, 414, 415, 431), its credentials (401, 403), its pipeline not found
    /// (404), or a rate limiter turned it away (429). Every other answer may follow a start: a
    /// redirect, a 5xx (Gate's, or a proxy's in front of it), and the other 4xx — Gate answers 422
    /// for *any* failure of its call to Orca, a timeout after Orca stored the execution included.
    static func answered(_ status: Int, location: String?) -> EngineError {
        let delivery: Delivery = refusedBeforeStart.contains(status) ? .refused : .ambiguous
        return switch status {
        case 300..<400:
            EngineError(.engineMisconfigured, upstreamStatus: status, delivery: delivery,
                "redirect blocked (to \(redacted(location ?? "?"))); point the Gate URL at Gate itself")
        case 401, 403:
            EngineError(.engineUnauthorized, upstreamStatus: status, delivery: delivery, "Gate refused the credentials")
        default:
            EngineError(.engineCallFailed, upstreamStatus: status, delivery: delivery, "Gate answered HTTP \(status)")
        }
    }
}

/// Gate statuses that are answered before any execution can have started (see ``EngineError/answered(_:location:)``).
let refusedBeforeStart: Set<Int> = [400, 401, 403, 404, 405, 406, 411, 413, 414, 415, 429, 431]

/// `scheme://host/...` of a URL: enough to locate it, nothing of its path or query.
func redacted(_ url: String) -> String {
    let parts = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
    guard parts.count >= 3, parts[0].hasSuffix(":"), parts[1].isEmpty else { return "..." }
    let host = parts[2].split(separator: "@").last.map(String.init) ?? ""
    return "\(parts[0])//\(host)/..."
}

import Foundation

/// One HTTP exchange with the API under test: what was asked and what came back.
struct Reply: Sendable {
    /// `METHOD /path` of the request (for messages).
    var request: String
    /// The `X-Request-Id` the suite sent.
    var requestId: String
    /// HTTP status.
    var status: Int
    /// Response headers, names lower-cased.
    var headers: [String: String]
    /// The raw body.
    var body: Data

    /// The body as JSON (nil when it is not JSON).
    var json: JSON? { JSON.parse(body) }

    /// The error envelope's `code`, if any.
    var code: String? { json?["code"]?.string }

    /// A header by name (any case).
    func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// `status CODE` or `status` and a body excerpt, for messages.
    var outcome: String {
        if let code { return "\(status) \(code)" }
        let text = String(decoding: body.prefix(160), as: UTF8.self)
        return text.isEmpty ? "\(status)" : "\(status) \(text)"
    }

    /// Fails unless the status is `status` and, when given, the envelope code is `code`.
    @discardableResult
    func expect(_ status: Int, _ code: String? = nil, _ what: String) throws(CheckFailure) -> Reply {
        guard self.status == status, code == nil || self.code == code else {
            let wanted = code.map { "\(status) \($0)" } ?? "\(status)"
            throw CheckFailure("\(what): expected \(wanted), got \(outcome) [\(request), X-Request-Id \(requestId)]")
        }
        return self
    }

    /// The JSON object body, or a failure naming `what`.
    func object(_ what: String) throws(CheckFailure) -> JSON {
        guard let json, json.object != nil else {
            throw CheckFailure("\(what): expected a JSON object, got \(outcome) [\(request)]")
        }
        return json
    }

    /// The JSON array body, or a failure naming `what`.
    func array(_ what: String) throws(CheckFailure) -> [JSON] {
        guard let elements = json?.array else {
            throw CheckFailure("\(what): expected a JSON array, got \(outcome) [\(request)]")
        }
        return elements
    }

    /// True when the response says the engine (Spinnaker) is unavailable (REFERENCE §3.2).
    var engineUnavailable: Bool {
        guard status >= 500, let json else { return false }
        return json["details"]?["engine_unavailable"]?.bool == true || (json["code"]?.string ?? "").hasPrefix("ENGINE_")
            || json["details"]?["diagnostics"]?["engine"]?.string == "spinnaker"
    }
}

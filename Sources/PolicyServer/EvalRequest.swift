public import Rules
public import GovernanceStore
import FoundationEssentials

/// A request described in a file, for `dxcp-policy eval`: the HTTP method and path, the body,
/// the `Idempotency-Key`, the verified token claims, and optionally the time.
///
/// ```json
/// {"method": "POST", "path": "/v1/deployments",
///  "idempotency_key": "k-1",
///  "claims": {"sub": "u1", "email": "owner@example.com",
///             "https://dxcp.example/claims/roles": ["dxcp-delivery-owners"]},
///  "body": {"service": "demo-service", "environment": "sandbox", "version": "1.0.0", "changeSummary": "x"},
///  "now": "2026-11-25T12:00:00Z"}
/// ```
public struct EvalRequest: Sendable {
    /// The contract request.
    public var request: Request
    /// The caller.
    public var principal: Principal
    /// The `Idempotency-Key`, if any.
    public var idempotencyKey: String?
    /// The time to decide at, if the file fixes it.
    public var now: Timestamp?

    /// Reads a request file's bytes.
    public static func parse(_ bytes: [UInt8], rolesClaim: String = WireClaims.defaultRolesClaim) throws(WireError) -> EvalRequest {
        var r = try WireRequest.reader(bytes)
        let method = r.string("method")
        let path = r.string("path")
        let key = r.optionalString("idempotency_key")
        let nowText = r.optionalString("now")
        try r.check()
        guard case .object? = r.object["claims"] else { throw WireError.invalid("claims", "claims must be an object of token claims") }
        let now = try nowText.map { (text: String) throws(WireError) -> Timestamp in
            guard let time = Timestamp(iso8601: text) else { throw WireError.invalid("now", "now must be an ISO-8601 date-time") }
            return time
        }
        let body = r.object["body"] ?? .object([])
        let request = try WireRequest.decode(method: method, path: path, query: [:], body: .parsed(body))
        return EvalRequest(
            request: request, principal: Principal(claims: WireClaims.claims(r.object["claims"] ?? .null, rolesClaim: rolesClaim)),
            idempotencyKey: key, now: now)
    }

    /// Decides the request against `policy` and, when given, the state in `store` (nothing is
    /// committed).
    public func decide(policy: PolicySnapshot, store: GovernanceStore?, now fallback: Timestamp) throws(StoreError) -> Decision {
        let context = DecisionContext(
            now: now ?? fallback, decisionId: "eval", newId: "eval-new", idempotencyKey: idempotencyKey)
        if let store {
            return try store.dryRun(request, by: principal, policy: policy, context: context)
        }
        return Evaluator.evaluate(request, by: principal, policy: policy, state: EmptyState(), context: context)
    }
}

/// Encodes decisions as JSON for people and tools: sorted keys, stable output.
public enum DecisionJSON {
    /// The decision as pretty-printed JSON.
    public static func encode(_ decision: Decision, pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(decision)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

import HTTPTypes

/// The header names the service reads and writes beyond HTTP's standard ones, made once: a name
/// built from a string is parsed and checked every time.
extension HTTPField.Name {
    /// `X-Request-Id`: echoed or generated, on every response.
    static let requestId = HTTPField.Name("X-Request-Id")!
    /// `X-Decision-Id`: the decision behind a response (D14).
    static let decisionId = HTTPField.Name("X-Decision-Id")!
    /// `X-Decision-Reason`: the contract code of a denial (D14).
    static let decisionReason = HTTPField.Name("X-Decision-Reason")!
    /// `Idempotency-Key` (REFERENCE §3.2).
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// `Idempotency-Replayed` (REFERENCE §6).
    static let idempotencyReplayed = HTTPField.Name("Idempotency-Replayed")!
    /// `X-Next-Before`: the audit events cursor.
    static let nextBefore = HTTPField.Name("X-Next-Before")!
    /// `X-Dxcp-Role` and `X-Dxcp-Actor`: who a gateway decision allowed.
    static let dxcpRole = HTTPField.Name("X-Dxcp-Role")!
    static let dxcpActor = HTTPField.Name("X-Dxcp-Actor")!
    /// The original request, as NGINX (`X-Original-*`) and Traefik (`X-Forwarded-*`) name it.
    static let originalMethod = HTTPField.Name("X-Original-Method")!
    static let originalURI = HTTPField.Name("X-Original-URI")!
    static let forwardedMethod = HTTPField.Name("X-Forwarded-Method")!
    static let forwardedURI = HTTPField.Name("X-Forwarded-Uri")!
}

extension HTTPFields {
    /// The value of the field `name`: the same as `self[name]`, but a field that appears once is
    /// returned as it is stored, without the new string the subscript joins even for one value.
    /// Every request reads several headers.
    func value(_ name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            if found != nil { return self[name] }
            found = field.value
        }
        return found
    }
}

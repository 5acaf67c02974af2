/// An admin change the suite made, which the audit log must show (REFERENCE §11, DECISIONS D10).
struct AdminChange: Sendable {
    /// `METHOD /path`.
    var request: String
    /// The `X-Request-Id` it was sent with.
    var requestId: String
    /// The object or setting it changed (e.g. `ci_publishers`, a group id).
    var target: String
}

/// An admin change the suite made, which the audit log must show (REFERENCE §11, DECISIONS D10).
struct AdminChange: Sendable {
    /// What kind of admin object a change is to: every kind the run changes must be audited.
    enum Kind: String, Sendable, CaseIterable {
        case ciPublishers = "ci_publishers"
        case killSwitch = "kill_switch"
        case rateLimits = "rate_limits"
        case deliveryGroup = "delivery_group"
        case recipe
        case routing

        /// The kind of a change sent to `path`, or nil for a path that changes no admin object.
        init?(path: String) {
            let kinds: [(String, Kind)] = [
                ("/v1/admin/system/ci-publishers", .ciPublishers), ("/v1/admin/system/mutations-disabled", .killSwitch),
                ("/v1/admin/system/rate-limits", .rateLimits), ("/v1/delivery-groups", .deliveryGroup), ("/v1/recipes", .recipe),
                ("/v1/admin/recipes", .recipe), ("/v1/admin/services/", .routing),
            ]
            guard let kind = kinds.first(where: { path.hasPrefix($0.0) })?.1 else { return nil }
            self = kind
        }
    }

    /// `METHOD /path`.
    var request: String
    /// What it changed.
    var kind: Kind?
    /// The `X-Request-Id` it was sent with.
    var requestId: String
    /// The object or setting it changed (e.g. `ci_publishers`, a group id).
    var target: String
}

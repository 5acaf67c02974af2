/// A request to a DXCP API as an API gateway sees it before forwarding it: method, path and
/// headers, no body. What can be decided from that alone: who may call the endpoint (contract
/// §1), the kill switch on mutating endpoints, rate limits, and `Idempotency-Key` presence.
public struct GatewayCheck: Sendable, Hashable, Codable {
    /// Which roles an endpoint admits (contract §1).
    public enum Access: String, Sendable, Hashable, Codable {
        /// Every DXCP role.
        case anyRole = "any_role"
        /// DELIVERY_OWNER and PLATFORM_ADMIN (validate, deploy, rollback, policy summary).
        case deployers
        /// Allowlisted CI publishers only (the build endpoints).
        case ciPublishers = "ci_publishers"
        /// PLATFORM_ADMIN only.
        case platformAdmins = "platform_admins"
    }

    /// The original method.
    public var method: String
    /// The original path, without the query.
    public var path: String
    /// Who may call it.
    public var access: Access
    /// Whether it may change state (kill switch, mutate rate window).
    public var mutating: Bool
    /// Whether the endpoint requires an `Idempotency-Key`.
    public var idempotencyKeyRequired: Bool

    /// Whether the kill switch stops it: every mutating endpoint but the switch itself, which
    /// must stay usable to turn it off (§8).
    public var killSwitchApplies: Bool { mutating && !path.hasSuffix("/admin/system/mutations-disabled") }

    /// A check from its parts.
    public init(method: String, path: String, access: Access, mutating: Bool, idempotencyKeyRequired: Bool) {
        self.method = method
        self.path = path
        self.access = access
        self.mutating = mutating
        self.idempotencyKeyRequired = idempotencyKeyRequired
    }
}

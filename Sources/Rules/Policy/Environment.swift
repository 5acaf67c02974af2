/// A deployment environment such as `sandbox` or `production` (REFERENCE §2.8).
public struct Environment: Sendable, Hashable, Codable {
    /// Production or not; locked once referenced.
    public enum Kind: String, Sendable, Codable {
        case nonProd = "non_prod"
        case prod
    }

    /// Whether deployments may target it.
    public enum Lifecycle: String, Sendable, Codable {
        case active
        case disabled
        case retired
    }

    /// Id matching `^[a-z0-9]+(-[a-z0-9]+)*$`; also the canonical name requests use.
    public var id: String
    /// Display name.
    public var displayName: String
    /// Production or not.
    public var kind: Kind
    /// Active, disabled or retired.
    public var lifecycle: Lifecycle
    /// Limits that override the delivery group's.
    public var guardrails: Guardrails

    /// An environment from its parts.
    public init(
        id: String, displayName: String? = nil, kind: Kind = .nonProd, lifecycle: Lifecycle = .active,
        guardrails: Guardrails = Guardrails()
    ) {
        self.id = id
        self.displayName = displayName ?? id
        self.kind = kind
        self.lifecycle = lifecycle
        self.guardrails = guardrails
    }

    /// Whether `id` is a valid environment id: lower-case letters and digits in dash-separated runs.
    public static func isValidId(_ id: String) -> Bool {
        var previousDash = true
        for byte in id.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): previousDash = false
            case UInt8(ascii: "-") where !previousDash: previousDash = true
            default: return false
            }
        }
        return !id.isEmpty && !previousDash
    }
}

/// The binding of an environment to a delivery group: whether the group may deploy there, and
/// where it appears in the group's promotion order.
public struct EnvironmentBinding: Sendable, Hashable, Codable {
    /// The group.
    public var deliveryGroupId: String
    /// The environment.
    public var environmentId: String
    /// Disabled bindings refuse deployments with `ENVIRONMENT_DISABLED`.
    public var isEnabled: Bool
    /// Position in the group's environment order (0 first).
    public var orderIndex: Int

    /// A binding from its parts.
    public init(deliveryGroupId: String, environmentId: String, isEnabled: Bool = true, orderIndex: Int = 0) {
        self.deliveryGroupId = deliveryGroupId
        self.environmentId = environmentId
        self.isEnabled = isEnabled
        self.orderIndex = orderIndex
    }
}

/// Service + environment routing: the recipe that deploys `service` to `environment`. Routing is
/// authoritative; a request's `recipeId` must agree with it (DECISIONS D3).
public struct Route: Sendable, Hashable, Codable {
    /// The service.
    public var service: String
    /// The environment.
    public var environment: String
    /// The routed recipe; an empty id is a configuration error (`RECIPE_ID_REQUIRED`).
    public var recipeId: String

    /// A route from its parts.
    public init(service: String, environment: String, recipeId: String) {
        self.service = service
        self.environment = environment
        self.recipeId = recipeId
    }
}

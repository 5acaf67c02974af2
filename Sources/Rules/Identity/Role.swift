/// A DXCP role (contract §1). A token maps to at most one.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    case platformAdmin = "PLATFORM_ADMIN"
    case deliveryOwner = "DELIVERY_OWNER"
    case observer = "OBSERVER"
    case ciPublisher = "CI_PUBLISHER"

    /// Roles-claim values in precedence order: the first one a token holds decides its role, so a
    /// token in several groups gets the most powerful (REFERENCE §1.2).
    public static let claimValues: [(value: String, role: Role)] = [
        ("dxcp-platform-admins", .platformAdmin),
        ("dxcp-delivery-owners", .deliveryOwner),
        ("dxcp-observers", .observer),
        ("dxcp-ci-publishers", .ciPublisher),
        ("dxcp-ci-publisher", .ciPublisher),
    ]

    /// The role for a roles claim, or nil when it holds no recognised value.
    public static func from(rolesClaim values: [String]) -> Role? {
        for (value, role) in claimValues where values.contains(value) {
            return role
        }
        return nil
    }

    private var rank: Int {
        switch self {
        case .platformAdmin: 0
        case .deliveryOwner: 1
        case .observer: 2
        case .ciPublisher: 3
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

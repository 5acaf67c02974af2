/// The five identities the suite acts as (REFERENCE §1.2, §12.2).
enum Identity: String, CaseIterable, Sendable, Hashable {
    case admin
    case owner
    case nonMemberOwner = "non_member_owner"
    case observer
    case ci

    /// Human name for messages.
    var label: String {
        switch self {
        case .admin: "platform admin"
        case .owner: "delivery owner"
        case .nonMemberOwner: "non-member delivery owner"
        case .observer: "observer"
        case .ci: "CI publisher"
        }
    }

    /// The environment variable holding its token.
    var environmentVariable: String { "GOV_\(rawValue.uppercased())_TOKEN" }

    /// The roles-claim value its token must hold (claims sanity, REFERENCE §1.2).
    var roleValue: String {
        switch self {
        case .admin: "dxcp-platform-admins"
        case .owner, .nonMemberOwner: "dxcp-delivery-owners"
        case .observer: "dxcp-observers"
        case .ci: "dxcp-ci-publishers"
        }
    }

    /// The subject a minted token carries.
    var mintedSubject: String { "governance-tests-\(rawValue.replacingOccurrences(of: "_", with: "-"))" }

    /// The email a minted token carries (the CI token carries none).
    var mintedEmail: String? {
        self == .ci ? nil : "governance-tests-\(rawValue.replacingOccurrences(of: "_", with: "-"))@example.com"
    }
}

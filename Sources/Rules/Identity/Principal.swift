/// The caller as the contract sees it: role, actor id, email and engine user, derived from
/// verified claims (REFERENCE §1.2, §1.3).
public struct Principal: Sendable, Hashable, Codable {
    /// The derived fields and their claims, made once per verified token and shared by every copy:
    /// a principal is passed through every step of a decision, and copying ten strings each time
    /// costs more than the step.
    private final class Fields: Sendable {
        let role: Role?
        let actorId: String
        let email: String?
        let engineUser: String?
        let claims: Claims

        init(claims: Claims) {
            self.claims = claims
            if case .values(let values) = claims.roles {
                self.role = Role.from(rolesClaim: values)
            } else {
                self.role = nil
            }
            self.actorId = claims.subject.nonEmpty ?? claims.email.nonEmpty ?? claims.customEmail.nonEmpty ?? "unknown"
            self.email = (claims.email.nonEmpty ?? claims.customEmail.nonEmpty).map { normalizedEmail($0) }.nonEmpty
            self.engineUser =
                claims.customEmail.nonEmpty.map { $0.lowercased() } ?? claims.email.nonEmpty.map { $0.lowercased() }
                ?? claims.subject.nonEmpty
        }
    }

    private let fields: Fields

    /// The DXCP role, or nil when the roles claim holds no recognised value.
    public var role: Role? { fields.role }
    /// `sub`, else `email`, else the custom email claim, else `unknown`: the key of per-actor
    /// limits, idempotency scoping and audit entries.
    public var actorId: String { fields.actorId }
    /// `email`, else the custom email claim; trimmed and lower-cased. Decides delivery-group
    /// membership.
    public var email: String? { fields.email }
    /// The custom email claim, else `email` (both lower-cased), else `sub`: the user sent to the
    /// engine. Endpoints that may reach the engine require it.
    public var engineUser: String? { fields.engineUser }
    /// The claims it came from.
    public var claims: Claims { fields.claims }

    /// Derives the principal from verified claims.
    public init(claims: Claims) {
        fields = Fields(claims: claims)
    }

    /// Everything else is derived from the claims.
    public static func == (lhs: Principal, rhs: Principal) -> Bool {
        lhs.fields === rhs.fields || lhs.claims == rhs.claims
    }

    /// Everything else is derived from the claims.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(claims)
    }

    private enum CodingKeys: String, CodingKey {
        case role, actorId, email, engineUser, claims
    }

    /// Decodes the claims and derives the rest from them.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(claims: try container.decode(Claims.self, forKey: .claims))
    }

    /// Encodes the derived fields with their claims.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(role, forKey: .role)
        try container.encode(actorId, forKey: .actorId)
        try container.encodeIfPresent(email, forKey: .email)
        try container.encodeIfPresent(engineUser, forKey: .engineUser)
        try container.encode(claims, forKey: .claims)
    }

    /// Whether the principal owns `group`: a platform admin owns every group; anyone else when
    /// their email is among the group's owners (REFERENCE §1.4).
    public func isMember(of group: DeliveryGroup) -> Bool {
        if role == .platformAdmin { return true }
        guard let email else { return false }
        return group.owners.contains(email)
    }
}

/// Trims ASCII whitespace and lower-cases, as owner lists and email claims are compared.
func normalizedEmail(_ text: String) -> String {
    trimmed(text).lowercased()
}

/// `text` without leading and trailing whitespace.
func trimmed(_ text: String) -> String {
    let scalars = text.unicodeScalars
    guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
    let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) ?? first
    return String(scalars[first...last])
}

/// `text` trimmed with every inner run of whitespace folded to one space (REFERENCE §6).
func whitespaceNormalized(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    var pendingSpace = false
    for scalar in text.unicodeScalars {
        if scalar.properties.isWhitespace {
            pendingSpace = !out.isEmpty
        } else {
            if pendingSpace { out.append(" ") }
            pendingSpace = false
            out.append(scalar)
        }
    }
    return String(out)
}

extension Optional where Wrapped == String {
    /// The string unless it is nil or empty.
    var nonEmpty: String? {
        switch self {
        case .some(let s) where !s.isEmpty: s
        default: nil
        }
    }
}

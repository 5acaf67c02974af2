/// The claims of a verified token that the contract reads (REFERENCE §1).
///
/// Signature, expiry, issuer and audience are checked before a token becomes `Claims`; the rules
/// only interpret what a verified token says.
public struct Claims: Sendable, Hashable, Codable {
    /// What the roles claim held.
    public enum RolesClaim: Sendable, Hashable, Codable {
        /// The claim was absent (treated as an empty list).
        case absent
        /// The claim was present but not a JSON array.
        case notAnArray
        /// The claim's string values (non-strings dropped).
        case values([String])
    }

    /// `sub`.
    public var subject: String?
    /// `email`.
    public var email: String?
    /// The custom email claim (`https://dxcp.example/claims/email`).
    public var customEmail: String?
    /// `iss`.
    public var issuer: String?
    /// `aud`, always as a list.
    public var audiences: [String]
    /// `azp`.
    public var authorizedParty: String?
    /// The roles claim.
    public var roles: RolesClaim

    /// Claims from their parts; absent ones are nil or empty.
    public init(
        subject: String? = nil, email: String? = nil, customEmail: String? = nil, issuer: String? = nil,
        audiences: [String] = [], authorizedParty: String? = nil, roles: RolesClaim = .absent
    ) {
        self.subject = subject
        self.email = email
        self.customEmail = customEmail
        self.issuer = issuer
        self.audiences = audiences
        self.authorizedParty = authorizedParty
        self.roles = roles
    }
}

/// An allowlisted CI identity: which CI tokens may publish builds (REFERENCE §1.5).
///
/// Every non-empty constraint list must be satisfied; empty lists are ignored, so a publisher
/// without constraints matches every CI token.
public struct CIPublisher: Sendable, Hashable, Codable {
    /// The CI system.
    public enum Provider: String, Sendable, Codable, CaseIterable {
        case github, jenkins, spinnaker, custom
    }

    /// Unique, non-empty name; stored on each build it registers as `ci_publisher`.
    public var name: String
    /// The CI system.
    public var provider: Provider
    /// Accepted `iss` values.
    public var issuers: [String]
    /// Accepted `aud` values (any one of the token's audiences).
    public var audiences: [String]
    /// Accepted `azp` values.
    public var authorizedParties: [String]
    /// Accepted `sub` values.
    public var subjects: [String]
    /// Accepted `sub` prefixes.
    public var subjectPrefixes: [String]
    /// Accepted email values.
    public var emails: [String]
    /// Free text.
    public var description: String?
    /// Who runs this publisher.
    public var owner: String?

    /// A publisher from its parts.
    public init(
        name: String, provider: Provider = .custom, issuers: [String] = [], audiences: [String] = [],
        authorizedParties: [String] = [], subjects: [String] = [], subjectPrefixes: [String] = [],
        emails: [String] = [], description: String? = nil, owner: String? = nil
    ) {
        self.name = name
        self.provider = provider
        self.issuers = issuers
        self.audiences = audiences
        self.authorizedParties = authorizedParties
        self.subjects = subjects
        self.subjectPrefixes = subjectPrefixes
        self.emails = emails
        self.description = description
        self.owner = owner
    }

    /// How many constraint lists are set: the most specific matching publisher wins.
    public var specificity: Int {
        [issuers, audiences, authorizedParties, subjects, subjectPrefixes, emails].count { !$0.isEmpty }
    }

    /// Whether a token with `claims` satisfies every constraint.
    public func matches(_ claims: Claims) -> Bool {
        if !issuers.isEmpty, !issuers.contains(claims.issuer ?? "") { return false }
        if !audiences.isEmpty, !claims.audiences.contains(where: audiences.contains) { return false }
        if !authorizedParties.isEmpty, !authorizedParties.contains(claims.authorizedParty ?? "") { return false }
        let subject = claims.subject ?? ""
        if !subjects.isEmpty, !subjects.contains(subject) { return false }
        if !subjectPrefixes.isEmpty, subject.isEmpty || !subjectPrefixes.contains(where: { subject.hasPrefix($0) }) {
            return false
        }
        if !emails.isEmpty {
            let email = (claims.email.nonEmpty ?? claims.customEmail.nonEmpty).map(normalizedEmail) ?? ""
            if email.isEmpty || !emails.map(normalizedEmail).contains(email) { return false }
        }
        return true
    }

    /// The publisher a CI token publishes as: the matching one with the most constraints; ties go
    /// to the smallest name. Nil when none matches.
    public static func select(from publishers: [CIPublisher], for claims: Claims) -> CIPublisher? {
        publishers.filter { $0.matches(claims) }.min { a, b in
            a.specificity != b.specificity ? a.specificity > b.specificity : a.name < b.name
        }
    }
}

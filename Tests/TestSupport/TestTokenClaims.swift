public import JWTKit

/// The claims of a test token, as an identity provider would issue them: subject, email, issuer,
/// audience, expiry, and the roles under the reference's default roles claim.
public struct TestTokenClaims: JWTPayload {
    public var sub: String
    public var email: String?
    public var iss: String
    public var aud: String
    public var exp: Int
    public var roles: [String]

    enum CodingKeys: String, CodingKey {
        case sub, email, iss, aud, exp
        case roles = "https://dxcp.example/claims/roles"
    }

    /// Claims from their parts.
    public init(sub: String, email: String?, iss: String, aud: String, exp: Int, roles: [String]) {
        self.sub = sub
        self.email = email
        self.iss = iss
        self.aud = aud
        self.exp = exp
        self.roles = roles
    }

    /// Checks nothing: the server under test is what verifies.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

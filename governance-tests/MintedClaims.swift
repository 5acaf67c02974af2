import JWTKit

/// The claims of a minted token, with claim names chosen at run time.
struct MintedClaims: JWTPayload {
    /// Every claim by name.
    var claims: [String: JSON]

    init(claims: [String: JSON]) { self.claims = claims }

    init(from decoder: any Decoder) throws {
        claims = try [String: JSON](from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try claims.encode(to: encoder)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

import Foundation
import JWTKit

/// Mints RS256 tokens for the five identities from a private key the deployment trusts
/// (`--mint-key`), so the suite needs no identity-provider login.
struct TokenMinter {
    /// PEM of the RSA private key.
    var privateKeyPEM: String
    /// `iss` of the tokens.
    var issuer: String
    /// `aud` of the tokens.
    var audience: String
    /// `kid` of the key in the deployment's JWKS.
    var keyId: String
    /// Name of the roles claim.
    var rolesClaim: String
    /// Name of the email claim.
    var emailClaim: String
    /// Lifetime of a token.
    var lifetimeSeconds: Int

    /// One token per identity.
    func mint(_ identities: [Identity]) async throws -> [Identity: String] {
        let keys = JWTKeyCollection()
        let key: Insecure.RSA.PrivateKey
        do {
            key = try Insecure.RSA.PrivateKey(pem: privateKeyPEM)
        } catch {
            throw MintError(message: "--mint-key is not an RSA private key in PEM: \(error)")
        }
        await keys.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: keyId))
        let now = Int(Date().timeIntervalSince1970)
        var tokens: [Identity: String] = [:]
        for identity in identities {
            var claims: [String: JSON] = [
                "sub": .string(identity.mintedSubject), "iss": .string(issuer), "aud": .string(audience),
                "iat": .int(Int64(now)), "exp": .int(Int64(now + lifetimeSeconds)),
                rolesClaim: .array([.string(identity.roleValue)]),
            ]
            if let email = identity.mintedEmail { claims[emailClaim] = .string(email) }
            tokens[identity] = try await keys.sign(MintedClaims(claims: claims), kid: JWKIdentifier(string: keyId))
        }
        return tokens
    }
}

/// A token could not be minted.
struct MintError: Error, CustomStringConvertible {
    /// What went wrong.
    let message: String
    var description: String { message }
}

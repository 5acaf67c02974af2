import Foundation
import JWTKit
import TestSupport

/// RS256 tokens signed with a test key, made the way any identity provider would.
enum TestTokens {
    static func mint(_ key: SigningKey, subject: String, email: String?, role: String) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(rsa: try Insecure.RSA.PrivateKey(pem: String(contentsOfFile: key.pemPath, encoding: .utf8)), digestAlgorithm: .sha256,
            kid: JWKIdentifier(string: key.kid))
        let claims = TestTokenClaims(
            sub: subject, email: email, iss: ServerProcess.issuer, aud: ServerProcess.audience, exp: Int(Date().timeIntervalSince1970) + 3600,
            roles: [role])
        return try await keys.sign(claims, kid: JWKIdentifier(string: key.kid))
    }
}

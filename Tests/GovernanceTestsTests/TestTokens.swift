import Foundation
import JWTKit

/// RS256 tokens signed with a test key, made the way any identity provider would.
enum TestTokens {
    struct Claims: JWTPayload {
        var sub: String
        var email: String?
        var iss: String
        var aud: String
        var exp: Int
        var roles: [String]

        enum CodingKeys: String, CodingKey {
            case sub, email, iss, aud, exp
            case roles = "https://dxcp.example/claims/roles"
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func mint(_ key: SigningKey, subject: String, email: String?, role: String) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(rsa: try Insecure.RSA.PrivateKey(pem: String(contentsOfFile: key.pemPath, encoding: .utf8)), digestAlgorithm: .sha256,
            kid: JWKIdentifier(string: key.kid))
        let claims = Claims(
            sub: subject, email: email, iss: ServerProcess.issuer, aud: ServerProcess.audience, exp: Int(Date().timeIntervalSince1970) + 3600,
            roles: [role])
        return try await keys.sign(claims, kid: JWKIdentifier(string: key.kid))
    }
}

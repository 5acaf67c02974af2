import Foundation
import JWTKit
import PolicyServer
import TestSupport
import Testing

/// Tokens signed with real RS256 and ES256 keys, published in a JWKS document, are accepted;
/// unknown keys, wrong keys and algorithm confusion (an HS256 token whose secret is the RSA public
/// key) are refused with 401 (REFERENCE §1.1, issue: RS256/ES256 via JWKS, HS256 only for a dev
/// secret).
@Suite(.serialized) struct JWKSTests {
    /// Keys made by openssl in a temporary folder.
    final class Keys {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-jwks-\(UUID().uuidString)").path
        var rsaPEM = "", rsaPublicPEM = "", otherRSAPEM = "", ecPEM = "", jwks = ""

        init() throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            _ = try shell("openssl genrsa -out rsa.pem 2048 && openssl rsa -in rsa.pem -pubout -out rsa.pub.pem && openssl genrsa -out other.pem 2048", in: dir)
            _ = try shell("openssl ecparam -name prime256v1 -genkey -noout -out ec.sec1.pem && openssl pkcs8 -topk8 -nocrypt -in ec.sec1.pem -out ec.pem", in: dir)
            rsaPEM = try String(contentsOfFile: dir + "/rsa.pem", encoding: .utf8)
            rsaPublicPEM = try String(contentsOfFile: dir + "/rsa.pub.pem", encoding: .utf8)
            otherRSAPEM = try String(contentsOfFile: dir + "/other.pem", encoding: .utf8)
            ecPEM = try String(contentsOfFile: dir + "/ec.pem", encoding: .utf8)
            let n = try JWKEncoding.rsaModulus(of: "rsa.pem", in: dir)
            let ecDER = try shell("openssl ec -in ec.sec1.pem -pubout -outform DER 2>/dev/null", in: dir)
            let point = ecDER.suffix(64)
            jwks = """
                {"keys":[
                 {"kty":"RSA","kid":"rsa-1","alg":"RS256","use":"sig","n":"\(n)","e":"AQAB"},
                 {"kty":"EC","kid":"ec-1","alg":"ES256","use":"sig","crv":"P-256","x":"\(JWKEncoding.base64url(Data(point.prefix(32))))","y":"\(JWKEncoding.base64url(Data(point.suffix(32))))"}
                ]}
                """
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// The claims of the owner's test tokens.
    static let ownerClaims = TestTokenClaims(
        sub: "owner-1", email: "owner@example.com", iss: RunningServer.issuer, aud: RunningServer.audience,
        exp: Int(Date().timeIntervalSince1970) + 600, roles: ["dxcp-delivery-owners"])

    @Test func realKeysWorkAndConfusionIsRefused() async throws {
        let keys = try Keys()
        let server = try await RunningServer(jwks: keys.jwks, developmentSecret: nil)

        let signers = JWTKeyCollection()
        await signers.add(rsa: try Insecure.RSA.PrivateKey(pem: keys.rsaPEM), digestAlgorithm: .sha256, kid: "rsa-1")
        await signers.add(ecdsa: try ES256PrivateKey(pem: keys.ecPEM), kid: "ec-1")
        for kid in ["rsa-1", "ec-1"] {
            let token = try await signers.sign(Self.ownerClaims, kid: JWKIdentifier(string: kid))
            let reply = try await server.send("GET", "/v1/whoami", token: token)
            #expect(reply.status == 200, "\(kid)")
            #expect(reply.json["actor_id"] as? String == "owner-1")
        }

        let impostors = JWTKeyCollection()
        await impostors.add(rsa: try Insecure.RSA.PrivateKey(pem: keys.otherRSAPEM), digestAlgorithm: .sha256, kid: "rsa-1")
        await impostors.add(rsa: try Insecure.RSA.PrivateKey(pem: keys.otherRSAPEM), digestAlgorithm: .sha256, kid: "unknown-kid")
        await impostors.add(hmac: HMACKey(from: RunningServer.secret), digestAlgorithm: .sha256, kid: "dev")
        var refused: [String] = []
        refused.append(try await impostors.sign(Self.ownerClaims, kid: "rsa-1"))
        refused.append(try await impostors.sign(Self.ownerClaims, kid: "unknown-kid"))
        // HS256 signed with the RSA public key, under the RSA key's id: header {alg: HS256, kid: rsa-1}.
        let confusion = JWTKeyCollection()
        await confusion.add(hmac: HMACKey(from: keys.rsaPublicPEM), digestAlgorithm: .sha256, kid: "rsa-1")
        let confused = try await confusion.sign(Self.ownerClaims, kid: "rsa-1")
        let header = try #require(Data(base64Encoded: String(confused.split(separator: ".")[0]).padding(toLength: ((confused.split(separator: ".")[0].count + 3) / 4) * 4, withPad: "=", startingAt: 0)))
        #expect(String(decoding: header, as: UTF8.self).contains(#""alg":"HS256""#))
        #expect(String(decoding: header, as: UTF8.self).contains(#""kid":"rsa-1""#))
        refused.append(confused)
        // A development-style token where no development secret is configured.
        refused.append(try await impostors.sign(Self.ownerClaims, kid: "dev"))
        for token in refused {
            let reply = try await server.send("GET", "/v1/whoami", token: token)
            #expect(reply.status == 401, "\(token.prefix(40))")
            #expect(reply.code == "UNAUTHORIZED")
        }
    }
}

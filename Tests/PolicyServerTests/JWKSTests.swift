import Foundation
import JWTKit
import PolicyServer
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
            _ = try sh("openssl genrsa -out rsa.pem 2048 && openssl rsa -in rsa.pem -pubout -out rsa.pub.pem && openssl genrsa -out other.pem 2048")
            _ = try sh("openssl ecparam -name prime256v1 -genkey -noout -out ec.sec1.pem && openssl pkcs8 -topk8 -nocrypt -in ec.sec1.pem -out ec.pem")
            rsaPEM = try String(contentsOfFile: dir + "/rsa.pem", encoding: .utf8)
            rsaPublicPEM = try String(contentsOfFile: dir + "/rsa.pub.pem", encoding: .utf8)
            otherRSAPEM = try String(contentsOfFile: dir + "/other.pem", encoding: .utf8)
            ecPEM = try String(contentsOfFile: dir + "/ec.pem", encoding: .utf8)
            let modulusHex = try sh("openssl rsa -in rsa.pem -modulus -noout").split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            let ecDER = try shData("openssl ec -in ec.sec1.pem -pubout -outform DER 2>/dev/null")
            let point = ecDER.suffix(64)
            jwks = """
                {"keys":[
                 {"kty":"RSA","kid":"rsa-1","alg":"RS256","use":"sig","n":"\(Self.base64url(Self.bytes(hex: modulusHex)))","e":"AQAB"},
                 {"kty":"EC","kid":"ec-1","alg":"ES256","use":"sig","crv":"P-256","x":"\(Self.base64url(Data(point.prefix(32))))","y":"\(Self.base64url(Data(point.suffix(32))))"}
                ]}
                """
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }

        func sh(_ command: String) throws -> String { String(decoding: try shData(command), as: UTF8.self) }

        func shData(_ command: String) throws -> Data {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", command]
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw JWKSError(message: "failed: \(command)") }
            return data
        }

        static func bytes(hex: String) -> Data {
            var data = Data()
            var index = hex.startIndex
            while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
                if let byte = UInt8(hex[index..<next], radix: 16) { data.append(byte) }
                index = next
            }
            return data
        }

        static func base64url(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
    }

    struct JWKSError: Error { let message: String }

    /// The claims a test token carries.
    struct Payload: JWTPayload {
        var sub: String
        var email: String
        var iss: String
        var aud: String
        var exp: Int
        var roles: [String]

        enum CodingKeys: String, CodingKey {
            case sub, email, iss, aud, exp
            case roles = "https://dxcp.example/claims/roles"
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}

        static let owner = Payload(
            sub: "owner-1", email: "owner@example.com", iss: RunningServer.issuer, aud: RunningServer.audience,
            exp: Int(Date().timeIntervalSince1970) + 600, roles: ["dxcp-delivery-owners"])
    }

    @Test func realKeysWorkAndConfusionIsRefused() async throws {
        let keys = try Keys()
        let server = try await RunningServer(jwks: keys.jwks, developmentSecret: nil)

        let signers = JWTKeyCollection()
        await signers.add(rsa: try Insecure.RSA.PrivateKey(pem: keys.rsaPEM), digestAlgorithm: .sha256, kid: "rsa-1")
        await signers.add(ecdsa: try ES256PrivateKey(pem: keys.ecPEM), kid: "ec-1")
        for kid in ["rsa-1", "ec-1"] {
            let token = try await signers.sign(Payload.owner, kid: JWKIdentifier(string: kid))
            let reply = try await server.send("GET", "/v1/whoami", token: token)
            #expect(reply.status == 200, "\(kid)")
            #expect(reply.json["actor_id"] as? String == "owner-1")
        }

        let impostors = JWTKeyCollection()
        await impostors.add(rsa: try Insecure.RSA.PrivateKey(pem: keys.otherRSAPEM), digestAlgorithm: .sha256, kid: "rsa-1")
        await impostors.add(rsa: try Insecure.RSA.PrivateKey(pem: keys.otherRSAPEM), digestAlgorithm: .sha256, kid: "unknown-kid")
        await impostors.add(hmac: HMACKey(from: RunningServer.secret), digestAlgorithm: .sha256, kid: "dev")
        var refused: [String] = []
        refused.append(try await impostors.sign(Payload.owner, kid: "rsa-1"))
        refused.append(try await impostors.sign(Payload.owner, kid: "unknown-kid"))
        // HS256 signed with the RSA public key, under the RSA key's id: header {alg: HS256, kid: rsa-1}.
        let confusion = JWTKeyCollection()
        await confusion.add(hmac: HMACKey(from: keys.rsaPublicPEM), digestAlgorithm: .sha256, kid: "rsa-1")
        let confused = try await confusion.sign(Payload.owner, kid: "rsa-1")
        let header = try #require(Data(base64Encoded: String(confused.split(separator: ".")[0]).padding(toLength: ((confused.split(separator: ".")[0].count + 3) / 4) * 4, withPad: "=", startingAt: 0)))
        #expect(String(decoding: header, as: UTF8.self).contains(#""alg":"HS256""#))
        #expect(String(decoding: header, as: UTF8.self).contains(#""kid":"rsa-1""#))
        refused.append(confused)
        // A development-style token where no development secret is configured.
        refused.append(try await impostors.sign(Payload.owner, kid: "dev"))
        for token in refused {
            let reply = try await server.send("GET", "/v1/whoami", token: token)
            #expect(reply.status == 401, "\(token.prefix(40))")
            #expect(reply.code == "UNAUTHORIZED")
        }
    }
}

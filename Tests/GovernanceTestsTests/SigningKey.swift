import Foundation
import TestSupport

/// An RSA key made by openssl for one test: the private key as PEM (what the suite mints with)
/// and a JWKS document holding its public half (what the server trusts).
final class SigningKey {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gt-key-\(UUID().uuidString)").path
    let kid = "governance-tests-key"
    var pemPath: String { dir + "/key.pem" }
    var jwksPath: String { dir + "/jwks.json" }

    init() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try shell("openssl genrsa -out key.pem 2048", in: dir)
        let n = try JWKEncoding.rsaModulus(of: "key.pem", in: dir)
        let jwks = #"{"keys":[{"kty":"RSA","kid":"\#(kid)","alg":"RS256","use":"sig","n":"\#(n)","e":"AQAB"}]}"#
        try Data(jwks.utf8).write(to: URL(fileURLWithPath: jwksPath))
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }
}

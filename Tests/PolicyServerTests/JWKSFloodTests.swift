import Foundation
import JWTKit
@testable import PolicyServer
import Rules
import TestSupport
import Testing

/// Forged tokens cannot make the server fetch its JWKS URL over and over: one fetch at a time,
/// at most one per refresh interval, and none for a token whose header does not parse. A token
/// must name its key by `kid` (with one key known as with several) and carry that key's `alg`,
/// and claims nested too deep are refused before the signature is checked (DECISIONS 61).
@Suite(.serialized) struct JWKSFloodTests {
    typealias JWKSServer = JWKSURLTests.JWKSServer

    /// The owner's claims as JSON text, for tokens made by hand.
    static let ownerClaims =
        #"{"sub":"owner-1","iss":"\#(RunningServer.issuer)","aud":"\#(RunningServer.audience)","exp":\#(Int(Date().timeIntervalSince1970) + 600)}"#

    /// A token no trusted key signed: `header` and `claims` (JSON text) and a random signature.
    static func forged(header: String, claims: String = ownerClaims) -> String {
        let signature = Data((0..<256).map { _ in UInt8.random(in: 0...255) })
        return [Data(header.utf8), Data(claims.utf8), signature].map(JWKEncoding.base64url).joined(separator: ".")
    }

    /// A forged RS256 token naming the key `kid`.
    static func forged(kid: String) -> String { forged(header: #"{"alg":"RS256","typ":"JWT","kid":"\#(kid)"}"#) }

    /// JSON text of objects nested `depth` deep.
    static func nestedObjects(_ depth: Int) -> String {
        String(repeating: #"{"a":"#, count: depth) + "0" + String(repeating: "}", count: depth)
    }

    /// The statuses of `GET /v1/whoami` with each of `tokens`, sent `concurrently` at a time.
    static func whoami(port: Int, tokens: [String], concurrently: Int) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            var statuses: [Int] = []
            for (index, token) in tokens.enumerated() {
                if index >= concurrently, let status = try await group.next() { statuses.append(status) }
                group.addTask { try await exchange("GET", port: port, "/v1/whoami", token: token).status }
            }
            for try await status in group { statuses.append(status) }
            return statuses
        }
    }

    @Test func forgedKeyIdsDoNotFloodTheJWKSURL() async throws {
        let keys = try JWKSTests.Keys()
        let jwks = try await JWKSServer(keys.jwks)
        let server = try await RunningServer(developmentSecret: nil, jwksURL: "http://127.0.0.1:\(jwks.port)/jwks.json")
        let tokens = (0..<200).map { _ in Self.forged(kid: UUID().uuidString) }

        let statuses = try await Self.whoami(port: server.port, tokens: tokens, concurrently: 20)

        #expect(statuses.count == 200)
        #expect(statuses.allSatisfy { $0 == 401 })
        #expect(jwks.fetches.value <= 2, "the fetch at start and at most one refresh, not \(jwks.fetches.value)")
        #expect(try await server.send("GET", "/livez").status == 200)
    }

    /// Driven with explicit times, so the refresh interval is exact and no test waits it out.
    @Test func oneFetchAtATimeAndOnePerInterval() async throws {
        let fetches = JWKSServer.FetchCount()
        let authenticator = Authenticator(
            keys: try await Authenticator.keys(jwks: nil, developmentSecret: nil), requirements: .init(issuer: nil, audience: nil),
            jwksURL: "http://jwks.invalid/jwks.json",
            fetch: { _ in
                fetches.increment()
                try await Task.sleep(for: .seconds(1))
                return Array(#"{"keys":[]}"#.utf8)
            },
            unknownKeyRefreshInterval: 1)
        let start = Timestamp(seconds: 1_000_000_000)
        @Sendable func refused(_ token: String, at now: Timestamp) async -> Bool {
            do {
                _ = try await authenticator.authenticate("Bearer \(token)", now: now)
                return false
            } catch {
                return true
            }
        }

        // No fetch has happened, so any token with a header that parses would cause one; these do not.
        let unread = [
            "not-a-jwt",
            Self.forged(header: #"{"typ":"JWT","kid":"k"}"#),  // no alg
            Self.forged(header: #"{"alg":"RS256","kid":7}"#),  // kid not a string
            Self.forged(header: #"{"alg":"RS256"}"#),  // no kid
            Self.forged(header: #"{"alg":"RS512","kid":"k"}"#),  // an algorithm not accepted
            Self.forged(header: "[1,2]"),
            Self.forged(header: #"{"alg":"RS256","kid":"k"}"#, claims: Self.nestedObjects(Authenticator.maximumClaimNesting + 1)),
            Self.forged(kid: "k") + String(repeating: "A", count: Authenticator.maximumTokenLength),
        ]
        for token in unread { #expect(await refused(token, at: start)) }
        #expect(fetches.value == 0)

        // Twenty tokens start one fetch; twenty more, after the interval but while it runs (1 s),
        // wait for the same fetch instead of starting another.
        let allRefused = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 { group.addTask { await refused(Self.forged(kid: UUID().uuidString), at: start) } }
            while fetches.value == 0 { try? await Task.sleep(for: .milliseconds(10)) }
            for _ in 0..<20 { group.addTask { await refused(Self.forged(kid: UUID().uuidString), at: start.adding(seconds: 5)) } }
            return await group.allSatisfy { $0 }
        }
        #expect(allRefused)
        #expect(fetches.value == 1)

        // Once it has ended: the interval since its start has passed, so one more fetch; then
        // none within the interval after that one.
        #expect(await refused(Self.forged(kid: "k1"), at: start.adding(seconds: 5)))
        #expect(fetches.value == 2)
        #expect(await refused(Self.forged(kid: "k2"), at: Timestamp(microseconds: start.adding(seconds: 5).microseconds + 900_000)))
        #expect(fetches.value == 2)
    }

    @Test func theKidMustNameTheSigningKey() async throws {
        let keys = try JWKSTests.Keys()
        func jwk(_ kid: String, _ pem: String) throws -> String {
            #"{"kty":"RSA","kid":"\#(kid)","alg":"RS256","use":"sig","n":"\#(try JWKEncoding.rsaModulus(of: pem, in: keys.dir))","e":"AQAB"}"#
        }
        let jwks = try await JWKSServer(#"{"keys":[\#(try jwk("key-a", "rsa.pem")),\#(try jwk("key-b", "other.pem"))]}"#)
        let server = try await RunningServer(developmentSecret: nil, jwksURL: "http://127.0.0.1:\(jwks.port)/jwks.json")
        let signerA = JWTKeyCollection()
        await signerA.add(rsa: try Insecure.RSA.PrivateKey(pem: keys.rsaPEM), digestAlgorithm: .sha256)
        let withoutKid = try await signerA.sign(JWKSTests.ownerClaims)
        let header = try #require(withoutKid.split(separator: ".").first.flatMap { Authenticator.base64URLDecoded(Substring($0).utf8) })
        #expect(!String(decoding: header, as: UTF8.self).contains("kid"))

        #expect(try await server.send("GET", "/v1/whoami", token: withoutKid).status == 401, "no kid, two keys")
        #expect(try await server.send("GET", "/v1/whoami", token: try await signerA.sign(JWKSTests.ownerClaims, kid: "key-b")).status == 401, "signed by A, kid B")
        #expect(try await server.send("GET", "/v1/whoami", token: try await signerA.sign(JWKSTests.ownerClaims, kid: "key-a")).status == 200, "signed by A, kid A")

        // The reference requires `kid` even when one key is known (REFERENCE §1.1).
        let onlyA = #"{"keys":[\#(try jwk("key-a", "rsa.pem"))]}"#
        let jwksOfA = try await JWKSServer(onlyA)
        let fetching = try await RunningServer(developmentSecret: nil, jwksURL: "http://127.0.0.1:\(jwksOfA.port)/jwks.json")
        #expect(try await fetching.send("GET", "/v1/whoami", token: withoutKid).status == 401, "no kid, one fetched key")
        let configured = try await RunningServer(jwks: onlyA, developmentSecret: nil)
        #expect(try await configured.send("GET", "/v1/whoami", token: withoutKid).status == 401, "no kid, one configured key")
        #expect(try await configured.send("GET", "/v1/whoami", token: try await signerA.sign(JWKSTests.ownerClaims, kid: "key-z")).status == 401, "unknown kid, one configured key")
    }

    /// Signed with the development key, so only the header's `alg` can be wrong.
    @Test func theAlgMustBeTheKeys() async throws {
        let keys = try await Authenticator.keys(jwks: nil, developmentSecret: RunningServer.secret)
        let authenticator = Authenticator(keys: keys, requirements: .init(issuer: RunningServer.issuer, audience: RunningServer.audience))
        let key = try await keys.getKey(for: "dev")
        func token(header: String) throws -> String {
            let input = [header, Self.ownerClaims].map { JWKEncoding.base64url(Data($0.utf8)) }.joined(separator: ".")
            return input + "." + JWKEncoding.base64url(Data(try key.sign(Array(input.utf8))))
        }
        let now = currentTime()
        #expect(try await authenticator.authenticate("Bearer " + token(header: #"{"alg":"HS256","kid":"dev"}"#), now: now).claims.subject == "owner-1")
        for alg in ["none", "HS512", "hs256", "RS256"] {
            await #expect(throws: Authenticator.Refusal.self, "alg \(alg)") {
                try await authenticator.authenticate("Bearer " + token(header: #"{"alg":"\#(alg)","kid":"dev"}"#), now: now)
            }
        }
    }

    @Test func deeplyNestedClaimsAreRefused() async throws {
        let server = try await RunningServer()
        func nested(_ depth: Int) -> JSON { (0..<depth).reduce(JSON.int(0)) { inner, _ in .object([("a", inner)]) } }
        // The claims object is level 1, so a claim nested one less than the bound is at the bound.
        let deepest = try await server.token(["dxcp-delivery-owners"], subject: "owner-1", email: "owner@example.com") {
            $0["nested"] = nested(Authenticator.maximumClaimNesting - 1)
        }
        let tooDeep = try await server.token(["dxcp-delivery-owners"], subject: "owner-1", email: "owner@example.com") { $0["nested"] = nested(500) }

        #expect(try await server.send("GET", "/v1/whoami", token: deepest).status == 200)
        let refused = try await server.send("GET", "/v1/whoami", token: tooDeep)
        #expect(refused.status == 401)
        #expect(refused.code == "UNAUTHORIZED")
        #expect(try await server.send("GET", "/livez").status == 200)
    }

    @Test func nestingIsCountedOutsideStrings() {
        let limit = 2
        #expect(Authenticator.jsonNests(Array(#"{"a":[1]}"#.utf8), atMost: limit))
        #expect(!Authenticator.jsonNests(Array(#"{"a":[[1]]}"#.utf8), atMost: limit))
        #expect(Authenticator.jsonNests(Array(#"{"a":"[[[{{{"}"#.utf8), atMost: limit), "brackets in a string")
        #expect(Authenticator.jsonNests(Array(#"{"a":"\"[[[{{{"}"#.utf8), atMost: limit), "an escaped quote does not end the string")
        #expect(Authenticator.jsonNests(Array(#"{"a":"\\"}"#.utf8), atMost: limit), "an escaped backslash does")
        #expect(!Authenticator.jsonNests(Array(#"{"a":"\\",[[["}"#.utf8), atMost: limit))
        #expect(!Authenticator.jsonNests(Array("]{[[".utf8), atMost: limit), "closing more than was opened")
    }

    @Test func base64URLIsDecodedStrictly() {
        for length in 0..<12 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255) }
            #expect(Authenticator.base64URLDecoded(Substring(JWKEncoding.base64url(Data(bytes))).utf8) == bytes)
        }
        #expect(Authenticator.base64URLDecoded(Substring("ab+c").utf8) == nil, "base64, not base64url")
        #expect(Authenticator.base64URLDecoded(Substring("abc=").utf8) == nil, "padding")
        #expect(Authenticator.base64URLDecoded(Substring("abcde").utf8) == nil, "a length no bytes encode to")
    }
}

import Foundation
import Hummingbird
import JWTKit
import Synchronization
import Testing

/// Keys fetched from a JWKS URL (REFERENCE §1.1): a token signed with a key the server has not
/// seen makes it fetch the JWKS again (once the refresh interval has passed since the last
/// fetch), so a rotated-in key works without a restart.
@Suite(.serialized) struct JWKSURLTests {
    /// Serves whatever document is current at `/jwks.json` on a loopback port, counting the
    /// fetches it serves.
    final class JWKSServer {
        /// The document served, replaceable while serving.
        final class Document: Sendable {
            let text: Mutex<String>
            init(_ text: String) { self.text = Mutex(text) }
        }

        /// How many times the document was served.
        final class FetchCount: Sendable {
            private let served = Atomic<Int>(0)
            var value: Int { served.load(ordering: .relaxed) }
            func increment() { served.add(1, ordering: .relaxed) }
        }

        let document: Document
        let fetches: FetchCount
        let port: Int
        private let task: Task<Void, any Error>

        init(_ initial: String) async throws {
            let document = Document(initial)
            self.document = document
            let fetches = FetchCount()
            self.fetches = fetches
            let (stream, continuation) = AsyncStream<Int>.makeStream()
            let app = Application(
                responder: CallbackResponder<BasicRequestContext> { _, _ in
                    fetches.increment()
                    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: document.text.withLock { $0 })))
                },
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
            task = Task { try await app.run() }
            var iterator = stream.makeAsyncIterator()
            port = await iterator.next() ?? 0
        }

        deinit { task.cancel() }
    }

    @Test func unknownKeyIdsRefreshTheKeys() async throws {
        let keys = try JWKSTests.Keys()
        let full = try #require(try JSONSerialization.jsonObject(with: Data(keys.jwks.utf8)) as? [String: [[String: String]]])
        func document(_ kids: Set<String>) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: ["keys": (full["keys"] ?? []).filter { kids.contains($0["kid"] ?? "") }]), as: UTF8.self)
        }
        let jwks = try await JWKSServer(try document(["rsa-1"]))
        let server = try await RunningServer(developmentSecret: nil, jwksURL: "http://127.0.0.1:\(jwks.port)/jwks.json", jwksRefreshInterval: 1)
        let signers = JWTKeyCollection()
        await signers.add(rsa: try Insecure.RSA.PrivateKey(pem: keys.rsaPEM), digestAlgorithm: .sha256, kid: "rsa-1")
        await signers.add(ecdsa: try ES256PrivateKey(pem: keys.ecPEM), kid: "ec-1")
        let rsa = try await signers.sign(JWKSTests.ownerClaims, kid: "rsa-1")
        let ec = try await signers.sign(JWKSTests.ownerClaims, kid: "ec-1")

        #expect(try await server.send("GET", "/v1/whoami", token: rsa).status == 200)
        #expect(try await server.send("GET", "/v1/whoami", token: ec).status == 401, "ec-1 is not published yet")
        let both = try document(["rsa-1", "ec-1"])
        jwks.document.text.withLock { $0 = both }
        try await Task.sleep(for: .milliseconds(1100))  // the refresh interval since the last fetch
        #expect(try await server.send("GET", "/v1/whoami", token: ec).status == 200, "an unknown kid refreshed the keys")
    }
}

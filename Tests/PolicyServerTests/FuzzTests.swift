import Foundation
import JWTKit
import PolicyFile
import PolicyServer
import Rules
import Testing
import TestSupport
import Yams

/// Seeded, bounded property tests that feed random and mutated bytes to the service's parsers: the
/// JSON reader, the request decoder over every route of docs/openapi.yaml, the policy file
/// decoder and the bearer token reader. Each call must return or throw its documented error type
/// (never trap, never take seconds), and what is accepted must obey simple invariants.
///
/// `DXCP_FUZZ_SEED` (decimal or 0x-hex) replaces the fixed seed, `DXCP_FUZZ_CASES` the number of
/// cases of every target. Each case draws from its own generator, so a failure names the seed and
/// the case number that replay it. Each target prints
/// `fuzz <target>: cases=<n> seed=<s> accepted=<a> refused=<r>`. The test command runs these after
/// the other tests (scripts/test.sh); run with them, the loops yield after every case, so the
/// in-process servers of other tests on Swift's cooperative pool keep answering.
@Suite struct FuzzTests {
    // MARK: JSON reader

    @Test func fuzzJSONReader() async throws {
        let settings = try Fuzz.settings(standardCases: 2000)
        var accepted = 0, refused = 0
        for index in 0..<settings.cases {
            // Tests share the cooperative pool with in-process servers: let them run.
            await Task.yield()
            var rng = Fuzz.generator("json", case: index)
            let document = JSONFuzz.document(&rng)
            let bytes: [UInt8]
            var pristine = false
            switch rng.below(10) {
            case 0...2:
                bytes = Array(document.text.utf8)
                pristine = true
            case 3: bytes = Fuzz.randomBytes(&rng, tokens: JSONFuzz.tokens)
            default: bytes = Fuzz.mutate(Array(document.text.utf8), &rng, tokens: JSONFuzz.tokens)
            }
            let start = ContinuousClock.now
            let result = Result { () throws(JSONSyntaxError) in try JSON.parse(bytes) }
            let elapsed = ContinuousClock.now - start
            let replay = Fuzz.replay("json", index)
            Fuzz.checkTime(elapsed, replay, Fuzz.show(bytes))
            switch result {
            case .success(let value):
                accepted += 1
                #expect(String(validating: bytes, as: UTF8.self) != nil, "\(replay): accepted invalid UTF-8 \(Fuzz.show(bytes))")
                #expect(JSONFuzz.nesting(value) <= 64, "\(replay): accepted nesting deeper than 64")
                if JSONFuzz.isFinite(value) {
                    let written = Array(JSONFuzz.write(value).utf8)
                    let again = Result { () throws(JSONSyntaxError) in try JSON.parse(written) }
                    #expect((try? again.get()) == value, "\(replay): written back as \(Fuzz.show(written)), read \(again)")
                }
            case .failure(let error):
                refused += 1
                #expect((0...bytes.count).contains(error.offset), "\(replay): offset \(error.offset) outside the \(bytes.count) input bytes")
                #expect(!error.reason.isEmpty, "\(replay)")
            }
            if pristine {
                // A generated document is valid JSON: read exactly when nesting allows it.
                #expect((try? result.get()) != nil || document.nesting > 64, "\(replay): refused valid JSON \(Fuzz.show(bytes)): \(result)")
                #expect((try? result.get()) == nil || document.nesting <= 64, "\(replay): accepted nesting \(document.nesting)")
            }
        }
        Fuzz.report("json", settings, accepted: accepted, refused: refused)
    }

    // MARK: Request decoder

    @Test func fuzzWireRequest() async throws {
        let settings = try Fuzz.settings(standardCases: 8000)
        let routes = WireFuzz.routes
        try #require(routes.count > 40, "docs/openapi.yaml lists \(routes.count) operations")
        var accepted = 0, refused = 0
        for index in 0..<settings.cases {
            // Tests share the cooperative pool with in-process servers: let them run.
            await Task.yield()
            var rng = Fuzz.generator("wire", case: index)
            let route = rng.pick(routes)
            let pristine = rng.chance(15)
            let method = pristine || rng.chance(75) ? route.method : rng.pick(WireFuzz.methods)
            let path = WireFuzz.path(route.template, &rng, pristine: pristine)
            let query = WireFuzz.query(route, &rng, pristine: pristine)
            let body = WireFuzz.body(route, &rng, pristine: pristine)
            let replay = Fuzz.replay("wire", index)
            let input = "\(method) \(Fuzz.show(path)) query \(query.mapValues { Fuzz.show($0, limit: 80) }) body \(Fuzz.show(body))"

            let start = ContinuousClock.now
            let result = Result { () throws(WireError) in try WireRequest.decode(method: method, path: path, query: query, body: body) }
            Fuzz.checkTime(ContinuousClock.now - start, replay, input)
            switch result {
            case .success(let request):
                accepted += 1
                // Every string of the decoded request is something the request said.
                let said = WireFuzz.strings(ofBody: body) + query.keys + query.values + [path]
                for text in WireFuzz.strings(of: request) where !WireFuzz.literals.contains(text) {
                    #expect(said.contains { Fuzz.contains($0, text) }, "\(replay): decoded \(Fuzz.show(text)), which the request did not say: \(input)")
                }
            case .failure(let error):
                refused += 1
                #expect((400..<500).contains(error.status), "\(replay): status \(error.status) for \(input)")
                let expected: Set<ContractCode> = switch error.status {
                case 404: [.routeNotFound]
                case 405: [.methodNotAllowed]
                default: [.invalidRequest, .invalidBuildRegistration]
                }
                #expect(expected.contains(error.code), "\(replay): \(error.code) with status \(error.status) for \(input)")
                #expect([400, 404, 405].contains(error.status), "\(replay): status \(error.status)")
                #expect(!error.message.isEmpty, "\(replay)")
            }
            if pristine, !WireFuzz.notDecoded.contains(route.key) {
                #expect((try? result.get()) != nil, "\(replay): a well-formed \(route.key) was refused: \(result) for \(input)")
            }

            // The Idempotency-Key header, bounded before it reaches a stored key.
            let key: String? = rng.chance(10) ? nil : (rng.chance(30) ? Fuzz.word(&rng) : Fuzz.text(&rng))
            switch Result(catching: { () throws(WireError) in try WireRequest.idempotencyKey(key) }) {
            case .success(let value):
                #expect(value == key, "\(replay)")
                if let value, !value.isEmpty {
                    #expect(value.utf8.count <= WireRequest.idempotencyKeyLimit && value.utf8.allSatisfy { (0x20...0x7E).contains($0) }, "\(replay)")
                }
            case .failure(let error):
                #expect(error.status == 400 && error.code == .invalidRequest && error.field == "Idempotency-Key", "\(replay): \(error)")
            }
        }
        Fuzz.report("wire", settings, accepted: accepted, refused: refused)
    }

    // MARK: Policy file decoder

    @Test func fuzzPolicyFile() async throws {
        let settings = try Fuzz.settings(standardCases: 1500)
        let demo = try String(contentsOfFile: RunningServer.demoPolicy, encoding: .utf8)
        let bases = [demo, PolicyFile.render(try PolicyFile.parse(demo, file: "demo.yaml"))]
        var accepted = 0, refused = 0
        for index in 0..<settings.cases {
            // Tests share the cooperative pool with in-process servers: let them run.
            await Task.yield()
            var rng = Fuzz.generator("policy", case: index)
            let base = rng.pick(bases)
            let pristine = rng.chance(3)
            let text = pristine ? base : PolicyFuzz.mutate(base, &rng)
            let replay = Fuzz.replay("policy", index)

            let start = ContinuousClock.now
            let result = Result { () throws(PolicyFileError) in try PolicyFile.parse(text, file: "fuzz.yaml") }
            Fuzz.checkTime(ContinuousClock.now - start, replay, Fuzz.show(text, limit: 2000))
            switch result {
            case .success(let snapshot):
                accepted += 1
                // What is accepted renders, and the rendering reads back as the same policy.
                let rendered = PolicyFile.render(snapshot)
                let again = Result { () throws(PolicyFileError) in try PolicyFile.parse(rendered, file: "rendered.yaml") }
                #expect((try? again.get()) == snapshot, "\(replay): \(again) for the rendering\n\(rendered)\nof\n\(Fuzz.show(text, limit: 4000))")
                if let reread = try? again.get() {
                    #expect(PolicyFile.render(reread) == rendered, "\(replay): rendering is not stable")
                }
            case .failure(let error):
                refused += 1
                #expect(error.file == "fuzz.yaml", "\(replay)")
                #expect(!error.message.isEmpty, "\(replay)")
                let lines = PolicyFuzz.lineCount(text)
                #expect(
                    error.line.map { (1...lines + 1).contains($0) } ?? true,
                    "\(replay): line \(error.line ?? 0) of \(lines): \(error) in \(Fuzz.show(text, limit: 3000))")
            }
            if pristine { #expect((try? result.get()) != nil, "\(replay): the unmutated policy was refused: \(result)") }
        }
        Fuzz.report("policy", settings, accepted: accepted, refused: refused)
    }

    // MARK: Token reader

    @Test func fuzzTokenReader() async throws {
        let settings = try Fuzz.settings(standardCases: 3000)
        let keys = try await Authenticator.keys(jwks: nil, developmentSecret: RunningServer.secret)
        let authenticator = Authenticator(keys: keys, requirements: .init(issuer: RunningServer.issuer, audience: RunningServer.audience))
        // The same HS256 key, to sign header and payload texts of any shape.
        let signing = JWTKeyCollection()
        await signing.add(hmac: HMACKey(from: RunningServer.secret), digestAlgorithm: .sha256, kid: "dev")
        let signer = try await signing.getKey(for: JWKIdentifier(string: "dev"))
        let now = TokenFuzz.now
        var accepted = 0, refused = 0

        /// Authenticates `header`, checking the call's time and what an accepted token carries.
        func authenticate(_ header: String?, _ replay: String) async -> Principal? {
            let start = ContinuousClock.now
            let result: Result<Principal, Authenticator.Refusal>
            do { result = .success(try await authenticator.authenticate(header, now: now)) } catch { result = .failure(error) }
            Fuzz.checkTime(ContinuousClock.now - start, replay, Fuzz.show(header ?? "nil"))
            switch result {
            case .success(let principal):
                accepted += 1
                #expect(principal.claims.issuer == RunningServer.issuer, "\(replay)")
                #expect(principal.claims.audiences.contains(RunningServer.audience), "\(replay)")
                return principal
            case .failure(let refusal):
                refused += 1
                #expect(!refusal.message.isEmpty, "\(replay)")
                return nil
            }
        }

        for index in 0..<settings.cases {
            // Tests share the cooperative pool with in-process servers: let them run.
            await Task.yield()
            var rng = Fuzz.generator("token", case: index)
            let replay = Fuzz.replay("token", index)
            switch rng.below(10) {
            case 0...1:
                // Anything at all as the header.
                _ = await authenticate(TokenFuzz.randomHeader(&rng), replay)
            case 2...3:
                // A token the service itself signs, with claims of any shape, then mutated.
                let claims = TokenFuzz.claims(&rng)
                guard let token = try? await authenticator.signDevelopmentToken(claims) else { continue }
                let original = await authenticate("Bearer " + token, replay)
                let mutated = TokenFuzz.mutate(token, &rng)
                if let principal = await authenticate(TokenFuzz.scheme(&rng) + mutated, replay) {
                    #expect(original == principal, "\(replay): a mutation of a token read as another principal: \(Fuzz.show(mutated))")
                }
            default:
                // A token signed with the right key over any header and payload text.
                let crafted = TokenFuzz.crafted(&rng)
                let token = try TokenFuzz.sign(header: crafted.header, payload: crafted.payload, with: signer)
                let principal = await authenticate("Bearer " + token, replay)
                let shown = "header \(Fuzz.show(crafted.header)) payload \(Fuzz.show(crafted.payload))"
                switch crafted.expectation {
                case .accepted: #expect(principal != nil, "\(replay): refused a valid token: \(shown)")
                case .refused: #expect(principal == nil, "\(replay): accepted \(shown)")
                case .either: break
                }
                if let principal, let subject = crafted.subject {
                    #expect(principal.claims.subject == subject, "\(replay): \(shown)")
                }
                if rng.chance(50) {
                    let mutated = TokenFuzz.mutate(token, &rng)
                    if let again = await authenticate(TokenFuzz.scheme(&rng) + mutated, replay) {
                        #expect(principal == again, "\(replay): a mutation of a token read as another principal: \(Fuzz.show(mutated))")
                    }
                }
            }
        }
        Fuzz.report("token", settings, accepted: accepted, refused: refused)
    }

    /// Found by ``fuzzTokenReader()``: a token HS256-signed by the `dev` key was read whatever its
    /// header's `alg` said (`none`, RS256, …), since JWTKit chooses the key by `kid` and verifies
    /// with that key's own algorithm without looking at `alg`. The contract refuses `alg: none`
    /// and any algorithm but the key's with 401.
    @Test(arguments: TokenFuzz.wrongAlgorithms)
    func fuzzFoundWrongAlgorithmsAreRefused(_ algorithm: String) async throws {
        let authenticator = Authenticator(
            keys: try await Authenticator.keys(jwks: nil, developmentSecret: RunningServer.secret),
            requirements: .init(issuer: RunningServer.issuer, audience: RunningServer.audience))
        let signing = JWTKeyCollection()
        await signing.add(hmac: HMACKey(from: RunningServer.secret), digestAlgorithm: .sha256, kid: "dev")
        let claims = #"{"iss":"\#(RunningServer.issuer)","aud":"\#(RunningServer.audience)","sub":"s","exp":\#(TokenFuzz.now.seconds + 600)}"#
        let valid = try TokenFuzz.sign(
            header: Array(#"{"alg":"HS256","kid":"dev"}"#.utf8), payload: Array(claims.utf8), with: try await signing.getKey(for: JWKIdentifier(string: "dev")))
        #expect((try? await authenticator.authenticate("Bearer " + valid, now: TokenFuzz.now)) != nil)
        let token = try TokenFuzz.sign(
            header: Array(#"{"alg":"\#(algorithm)","kid":"dev"}"#.utf8), payload: Array(claims.utf8),
            with: try await signing.getKey(for: JWKIdentifier(string: "dev")))
        let principal = try? await authenticator.authenticate("Bearer " + token, now: TokenFuzz.now)
        #expect(principal == nil, "a token whose header says alg \(algorithm.debugDescription) was read")
    }
}

// MARK: - Harness

/// The seed, the case count, per-case generators and the shared mutators.
enum Fuzz {
    /// The seed when `DXCP_FUZZ_SEED` is not set.
    static let defaultSeed: UInt64 = 20_251_206

    /// `DXCP_FUZZ_SEED` (decimal or 0x-hex), else the default; nil when set but unreadable.
    static let seed: UInt64? = {
        guard let text = ProcessInfo.processInfo.environment["DXCP_FUZZ_SEED"]?.trimmingCharacters(in: .whitespaces) else {
            return defaultSeed
        }
        if text.lowercased().hasPrefix("0x") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text)
    }()

    /// The seed and the number of cases of a target whose default is `standardCases`.
    static func settings(standardCases: Int) throws -> (seed: UInt64, cases: Int) {
        let seed = try #require(Self.seed, "DXCP_FUZZ_SEED must be a decimal or 0x-hex 64-bit number")
        guard let text = ProcessInfo.processInfo.environment["DXCP_FUZZ_CASES"] else { return (seed, standardCases) }
        let cases = try #require(Int(text.trimmingCharacters(in: .whitespaces)), "DXCP_FUZZ_CASES must be a number")
        return (seed, max(0, cases))
    }

    /// The generator of case `index` of `target`: a function of the seed, the target and the index only.
    static func generator(_ target: String, case index: Int) -> SplitMix64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in target.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        func mix(_ value: UInt64) -> UInt64 {
            var generator = SplitMix64(seed: value)
            return generator.next()
        }
        return SplitMix64(seed: mix(mix((seed ?? defaultSeed) ^ hash) &+ UInt64(index)))
    }

    static func report(_ target: String, _ settings: (seed: UInt64, cases: Int), accepted: Int, refused: Int) {
        print("fuzz \(target): cases=\(settings.cases) seed=\(settings.seed) accepted=\(accepted) refused=\(refused)")
    }

    /// How to replay case `index` of `target`.
    static func replay(_ target: String, _ index: Int) -> String {
        "fuzz \(target) case \(index) (DXCP_FUZZ_SEED=\(seed ?? defaultSeed) DXCP_FUZZ_CASES=\(index + 1))"
    }

    /// Longer than this, one call counts as a hang (a debug build on a slow, busy machine).
    static let slowCall: Duration = .seconds(2)

    static func checkTime(_ elapsed: Duration, _ replay: String, _ input: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
        if elapsed > slowCall {
            Issue.record("\(replay) took \(elapsed); no input may take seconds: \(input())", sourceLocation: sourceLocation)
        }
    }

    /// `text` for a message: at most `limit` bytes, escaped.
    static func show(_ text: String, limit: Int = 400) -> String {
        show(Array(text.utf8), limit: limit)
    }

    static func show(_ bytes: [UInt8], limit: Int = 400) -> String {
        let head = String(decoding: bytes.prefix(limit), as: UTF8.self).debugDescription
        return bytes.count > limit ? "\(head)… (\(bytes.count) bytes)" : head
    }

    /// Whether `needle`'s bytes occur in `haystack`'s.
    static func contains(_ haystack: String, _ needle: String) -> Bool {
        needle.isEmpty || Array(haystack.utf8).firstRange(of: Array(needle.utf8)) != nil
    }

    /// Text that breaks parsers: dots and percent-escapes, NUL and control characters, combining
    /// and right-to-left marks, byte order marks, quotes and numbers that overflow.
    static let hostileTexts: [String] = [
        "", " ", ".", "..", "...", "../../etc/passwd", "%2e%2e", "%2F", "%00", "%", "%Z", "%ZZ", "a%20b", "%C3%A9", "%FF%FE",
        "\u{0}", "a\u{0}b", "\u{1}", "\u{7F}", "\u{1B}[31m", "é", "e\u{301}", "\u{301}", "🚀", "👩‍👩‍👧‍👦", "\u{202E}abc", "\u{200B}",
        "\u{FEFF}", "\u{2028}", "\u{85}", "\u{FFFD}", "\u{10FFFF}", "\r\n", "\r", "\n", "\t", "\"", "\\", "'", "\\u0000", "\\ud800",
        "<script>", "${x}", "{{x}}", "null", "true", "false", "0", "-0", "-1", "1e300", "-1e300", "NaN", "Infinity", "9223372036854775807",
        "9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999", "9300000000000", "日本語",
        ",", ",,", "a,b", " , ", "@", "a@b.c", "/", "//", "?", "#", "&", "=", ";", "*", "~", "-", "_", "a b", "  lead", "trail  ",
    ]

    /// A short word of id characters.
    static func word(_ rng: inout SplitMix64) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-._")
        return String((0...rng.below(12)).map { _ in rng.pick(alphabet) })
    }

    /// Any Unicode scalar, ASCII half the time.
    static func scalar(_ rng: inout SplitMix64) -> Unicode.Scalar {
        let value: Int = switch rng.below(4) {
        case 0, 1: rng.below(0x80)
        case 2: rng.below(0x10000)
        default: rng.below(0x110000)
        }
        return Unicode.Scalar(UInt32(value)) ?? "\u{FFFD}"
    }

    /// Text of any kind: hostile, ordinary, random scalars, long, or random bytes read leniently.
    static func text(_ rng: inout SplitMix64, nested: Bool = false) -> String {
        switch rng.below(10) {
        case 0...3: return rng.pick(hostileTexts)
        case 4, 5: return word(&rng)
        case 6: return String(String.UnicodeScalarView((0..<rng.below(16)).map { _ in scalar(&rng) }))
        case 7:
            let piece = rng.chance(50) ? rng.pick(hostileTexts) : word(&rng)
            return String(repeating: piece.isEmpty ? "x" : piece, count: rng.pick([64, 129, 241, 257, 1000, 5000]))
        case 8: return String(decoding: (0..<rng.below(24)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, as: UTF8.self)
        default: return nested ? word(&rng) : text(&rng, nested: true) + text(&rng, nested: true)
        }
    }

    /// Random bytes, often drawn from `tokens`.
    static func randomBytes(_ rng: inout SplitMix64, tokens: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<rng.below(48) {
            if rng.chance(50) { bytes += rng.pick(tokens) } else { bytes.append(UInt8(truncatingIfNeeded: rng.next())) }
        }
        return bytes
    }

    /// `input` after one to four edits: flipped, replaced, inserted, deleted, duplicated, swapped
    /// or repeated bytes, inserted tokens, or a cut; at most about `limit` bytes.
    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64, tokens: [[UInt8]], limit: Int = 256 * 1024) -> [UInt8] {
        var bytes = input
        for _ in 0...rng.below(4) {
            let n = bytes.count
            switch rng.below(11) {
            case 0 where n > 0: bytes[rng.below(n)] ^= UInt8(1) << UInt8(rng.below(8))
            case 1 where n > 0: bytes[rng.below(n)] = UInt8(truncatingIfNeeded: rng.next())
            case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(n + 1))
            case 3 where n > 0: bytes.remove(at: rng.below(n))
            case 4 where n > 0:
                let from = rng.below(n)
                bytes.removeSubrange(from..<min(n, from + 1 + rng.below(16)))
            case 5 where n > 0:
                let from = rng.below(n)
                let chunk = Array(bytes[from..<min(n, from + 1 + rng.below(32))])
                bytes.insert(contentsOf: chunk, at: rng.below(n + 1))
            case 7 where n > 0: bytes.removeSubrange(rng.below(n)...)
            case 8 where n > 1: bytes.swapAt(rng.below(n), rng.below(n))
            case 9 where n > 0:
                let from = rng.below(n)
                let chunk = bytes[from..<min(n, from + 1 + rng.below(8))]
                let times = min(1 + rng.below(3000), max(1, (limit - n) / chunk.count))
                bytes.insert(contentsOf: Array([ArraySlice<UInt8>](repeating: chunk, count: times).joined()), at: from)
            default: bytes.insert(contentsOf: rng.pick(tokens), at: rng.below(n + 1))
            }
        }
        return bytes
    }

    /// `text` as a JSON string literal; non-ASCII as `\u` escapes when `escapeAll`.
    static func jsonString(_ text: String, escapeAll: Bool = false) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || (escapeAll && scalar.value > 0x7E) {
                    for unit in String(scalar).utf16 {
                        let hex = String(unit, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

// MARK: - JSON

/// JSON text, written with raw number literals so documents can carry numbers no type holds.
indirect enum FuzzJSON {
    case raw(String)
    case string(String)
    case array([FuzzJSON])
    case object([(String, FuzzJSON)])

    var text: String {
        switch self {
        case .raw(let literal): literal
        case .string(let s): Fuzz.jsonString(s)
        case .array(let items): "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let members): "{" + members.map { Fuzz.jsonString($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    /// The value wrapped in `levels` arrays and objects.
    func nested(_ levels: Int) -> FuzzJSON {
        var value = self
        for level in 0..<levels { value = level % 2 == 0 ? .array([value]) : .object([("k", value)]) }
        return value
    }
}

enum JSONFuzz {
    static let numbers = [
        "0", "-0", "1", "-1", "42", "1.5", "-0.0", "1e3", "1E+2", "2.5e-3", "1e300", "-1e300", "1e400", "-1e400", "1e-400", "5e-324",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
        "99999999999999999999", "9300000000000", "0.000000000000000000000000000001", "123456789012345678901234567890.5e-10",
    ]

    static let rawStrings = [#""\ud83d\ude00""#, #""\u00e9\u0000""#, #""\/\b\f\n\r\t""#, #""\uFFFF""#, #""""#]

    static let tokens: [[UInt8]] = [
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "\\udc00", "0", "-", "e", "E", ".", "+", "true", "false",
        "null", "1e999", "-0", " ", "\n", "\u{0}", "é", "\u{FEFF}",
    ].map { Array($0.utf8) } + [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80]]

    static func space(_ rng: inout SplitMix64) -> String {
        rng.chance(80) ? "" : rng.pick([" ", "\n", "\t", "\r\n", "  \t "])
    }

    static func atom(_ rng: inout SplitMix64) -> String {
        switch rng.below(8) {
        case 0, 1: rng.pick(numbers)
        case 2: rng.pick(["true", "false", "null"])
        case 3: rng.pick(rawStrings)
        default: Fuzz.jsonString(Fuzz.text(&rng), escapeAll: rng.chance(30))
        }
    }

    /// A valid JSON document and how many levels of values it nests (see ``nesting(_:)``).
    static func document(_ rng: inout SplitMix64, depth: Int = 0) -> (text: String, nesting: Int) {
        if depth == 0, rng.chance(8) {
            let levels = rng.pick([62, 63, 64, 65, 66, 100, 1000, 20_000])
            let (inner, nesting) = document(&rng, depth: 5)
            let opening = (0..<levels).map { $0 % 2 == 0 ? "[" : "{\"k\":" }.joined()
            let closing = (0..<levels).reversed().map { $0 % 2 == 0 ? "]" : "}" }.joined()
            return (opening + inner + closing, levels + nesting)
        }
        if depth >= 5 || rng.chance(30) { return (space(&rng) + atom(&rng) + space(&rng), 1) }
        let isObject = rng.chance(50)
        var parts: [String] = [], nesting = 0
        for _ in 0..<rng.below(5) {
            let (item, inner) = document(&rng, depth: depth + 1)
            nesting = max(nesting, inner)
            parts.append(isObject ? space(&rng) + Fuzz.jsonString(rng.chance(20) ? "k" : Fuzz.text(&rng)) + space(&rng) + ":" + item : item)
        }
        let body = parts.joined(separator: ",") + space(&rng)
        return (isObject ? "{" + body + "}" : "[" + body + "]", nesting + 1)
    }

    /// Levels of values: 1 for a scalar or an empty container, one more for each container around.
    static func nesting(_ value: JSON) -> Int {
        switch value {
        case .array(let items): 1 + (items.map(nesting).max() ?? 0)
        case .object(let members): 1 + (members.map { nesting($0.1) }.max() ?? 0)
        default: 1
        }
    }

    static func isFinite(_ value: JSON) -> Bool {
        switch value {
        case .double(let d): d.isFinite
        case .array(let items): items.allSatisfy(isFinite)
        case .object(let members): members.allSatisfy { isFinite($0.1) }
        default: true
        }
    }

    /// `value` as JSON text.
    static func write(_ value: JSON) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let n): "\(n)"
        case .double(let d): "\(d)"
        case .string(let s): Fuzz.jsonString(s)
        case .array(let items): "[" + items.map(write).joined(separator: ",") + "]"
        case .object(let members): "{" + members.map { Fuzz.jsonString($0.0) + ":" + write($0.1) }.joined(separator: ",") + "}"
        }
    }
}

// MARK: - Requests

enum WireFuzz {
    struct Route {
        var method: String
        var template: String
        var key: String { "\(method) \(template)" }
    }

    /// Every operation of docs/openapi.yaml but the deprecated ones (the reference's, answered 501
    /// `NOT_SERVED` before any decoding: OpenAPITests), sorted.
    static let routes: [Route] = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/PolicyServer/Resources/openapi.yaml").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let document = try? Yams.load(yaml: text) as? [String: Any],
            let paths = document["paths"] as? [String: Any]
        else { return [] }
        var routes: [Route] = []
        for (template, item) in paths {
            guard let operations = item as? [String: Any] else { continue }
            for method in operations.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                if (operations[method] as? [String: Any])?["deprecated"] as? Bool == true { continue }
                routes.append(Route(method: method.uppercased(), template: template))
            }
        }
        return routes.sorted { $0.key < $1.key }
    }()

    /// Documented operations the request decoder does not serve (the server answers them before
    /// decoding, or refuses them by design).
    static let notDecoded = Set<String>([
        "GET /v1/health", "GET /livez", "GET /readyz", "GET /metrics", "GET /v1/openapi.yaml",
        "PUT /v1/deployments/{id}", "PATCH /v1/deployments/{id}", "POST /v1/deployments/{id}", "DELETE /v1/deployments/{id}",
    ]).union(["GET", "POST", "PUT", "PATCH", "DELETE"].flatMap { method in
        ["/v1/gateway/nginx", "/v1/gateway/traefik", "/v1/gateway/envoy/{original_path}"].map { "\(method) \($0)" }
    })

    static let methods = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT", "get", "Post", "", " GET", "GET ", "G\u{0}ET",
        String(repeating: "X", count: 1000), "É", "POST\r\n",
    ]

    /// Strings the decoder supplies itself.
    static let literals: Set<String> = Set(CIPublisher.Provider.allCases.map(\.rawValue) + [DeploymentView.record.rawValue])

    static let segments = [
        "..", ".", "%2e%2e", "%2E", "%2F", "%00", "%", "%ZZ", "a%2Fb", "\u{0}", "a\u{0}b", "é🚀x", "e\u{301}", " ", "a b", "?", "#", "*",
        ";", "\u{FEFF}", "\u{202E}", "v1", "validate", "rollback", "webhook", "-", "_", "A", String(repeating: "a", count: 128),
        String(repeating: "a", count: 129), String(repeating: "b", count: 10_000), String(repeating: "é", count: 65),
        String(repeating: "../", count: 50), "a/b", "a\\b", "..%2F..%2F",
    ]

    /// A path for `template`: parameters filled in, and when not pristine, bent.
    static func path(_ template: String, _ rng: inout SplitMix64, pristine: Bool) -> String {
        var parts = template.split(separator: "/", omittingEmptySubsequences: false).map { part -> String in
            guard part.hasPrefix("{") else { return String(part) }
            if pristine || rng.chance(50) { return Fuzz.word(&rng) }
            return rng.chance(50) ? rng.pick(segments) : Fuzz.text(&rng)
        }
        if pristine { return parts.joined(separator: "/") }
        for _ in 0..<rng.below(3) {
            let at = rng.below(parts.count)
            switch rng.below(12) {
            case 0: parts[at] = rng.pick(segments)
            case 1: parts.insert("", at: at)
            case 2: parts.append("")
            case 3: parts.insert(parts[at], at: at)
            case 4: if parts.count > 1 { parts.remove(at: at) }
            case 5: parts[at] = parts[at].uppercased()
            case 6: parts[at] = parts[at].utf8.map { "%" + String($0, radix: 16, uppercase: true) }.joined()
            case 7: parts[parts.count - 1] += rng.pick(["?a=b", "?", "#frag", "?state=x&state=y", ";x=1", "%3Fa=b"])
            case 8: parts.insert(contentsOf: rng.pick([["v1", ".."], ["."], [".."], ["v1", "..", "v1"]]), at: max(1, at))
            case 9: parts[at] = Fuzz.text(&rng)
            case 10: parts += Array(repeating: "a", count: rng.pick([10, 100, 5000]))
            default: return String(decoding: Fuzz.mutate(Array(parts.joined(separator: "/").utf8), &rng, tokens: [[0x2F], [0x2E, 0x2E], [0x25], [0]]), as: UTF8.self)
            }
        }
        return parts.joined(separator: "/")
    }

    static let queryKeys = [
        "state", "service", "environment", "version", "before", "limit", "start_time", "end_time", "event_type", "delivery_group_id",
        "windowDays", "groupId",
    ]
    static let queryValues = [
        "", "SUCCEEDED", "succeeded", "PENDING", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-1", "0", "1e3",
        " 1", "+5", "0x10", "2026-01-01T00:00:00Z", "2026-13-45T99:99:99Z", "9999-12-31T23:59:59Z", "10000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z", "2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:00+25:00", "2026-01-01T00:00:00-00:00",
        "1970-01-01T00:00:00Z", "0000-00-00T00:00:00Z", "2026-02-29T00:00:00Z", "2024-02-29T24:00:00Z", "2026-01-01T00:00:60Z",
        "2026-01-01", "2026-01-01T00:00:00", "99999999999999999999-01-01T00:00:00Z", "2026-01-01T00:00:00.Z", "T", "Z",
    ]

    static func query(_ route: Route, _ rng: inout SplitMix64, pristine: Bool) -> [String: String] {
        if pristine {
            switch route.key {
            case "GET /v1/builds": return ["service": Fuzz.word(&rng), "version": Fuzz.word(&rng)]
            case "GET /v1/services/{service}/delivery-status", "GET /v1/services/{service}/running": return ["environment": Fuzz.word(&rng)]
            default: return [:]
            }
        }
        var query: [String: String] = [:]
        for _ in 0..<rng.below(5) {
            let key = rng.chance(85) ? rng.pick(queryKeys) : Fuzz.text(&rng)
            query[key] = rng.chance(60) ? rng.pick(queryValues) : Fuzz.text(&rng)
        }
        return query
    }

    indirect enum Shape {
        case string, integer, boolean, strings, owner
        case choice([String])
        case object([(String, Shape)])
        case list([(String, Shape)])
    }

    static let intent: [(String, Shape)] = [
        ("service", .string), ("environment", .string), ("version", .string), ("changeSummary", .string), ("recipeId", .string),
    ]
    static let promotion: [(String, Shape)] = [
        ("service", .string), ("source_environment", .string), ("target_environment", .string), ("version", .string), ("changeSummary", .string),
    ]
    static let execution: [(String, Shape)] = [
        ("application", .string), ("pipeline", .string), ("executionId", .string), ("user", .string), ("service", .string),
        ("environment", .string), ("version", .string), ("changeSummary", .string), ("dxcpDeploymentId", .string),
    ]
    static let registration: [(String, Shape)] = [
        ("service", .string), ("version", .string), ("artifactRef", .string), ("git_sha", .string), ("git_branch", .string),
        ("ci_provider", .string), ("ci_run_id", .string), ("built_at", .string), ("checksum_sha256", .string), ("repo", .string),
        ("actor", .string), ("commit_url", .string), ("run_url", .string),
    ]
    static let environment: [(String, Shape)] = [
        ("id", .string), ("display_name", .string), ("name", .string), ("type", .string), ("lifecycle_state", .string), ("change_reason", .string),
    ]
    static let recipe: [(String, Shape)] = [
        ("id", .string), ("name", .string), ("description", .string), ("spinnaker_application", .string), ("deploy_pipeline", .string),
        ("rollback_pipeline", .string), ("effective_behavior_summary", .string), ("status", .string), ("change_reason", .string),
    ]
    static let group: [(String, Shape)] = [
        ("id", .string), ("name", .string), ("description", .string), ("owner", .owner), ("services", .strings),
        ("allowed_environments", .strings), ("allowed_recipes", .strings), ("change_reason", .string),
        ("guardrails", .object([("max_concurrent_deployments", .integer), ("daily_deploy_quota", .integer), ("daily_rollback_quota", .integer)])),
    ]
    static let publisher: [(String, Shape)] = [
        ("name", .string), ("provider", .choice(CIPublisher.Provider.allCases.map(\.rawValue))), ("issuers", .strings), ("audiences", .strings),
        ("authorized_party_azp", .strings), ("subjects", .strings), ("subject_prefixes", .strings), ("emails", .strings),
        ("description", .string), ("owner", .string),
    ]

    /// The members of each operation's body.
    static let bodies: [String: [(String, Shape)]] = [
        "POST /v1/deployments/validate": intent,
        "POST /v1/deployments": intent,
        "POST /v1/promotions/validate": promotion,
        "POST /v1/promotions": promotion,
        "PUT /v1/admin/system/ui-exposure-policy": [
            ("artifactRef", .object([("display", .boolean)])), ("externalLinks", .object([("display", .boolean)])),
        ],
        "POST /v1/spinnaker/webhook/check": execution,
        "POST /v1/spinnaker/webhook/admit": execution,
        "POST /v1/policy/summary": [("service", .string), ("environment", .string), ("recipeId", .string)],
        "POST /v1/builds/upload-capability": [
            ("service", .string), ("version", .string), ("expectedSizeBytes", .integer), ("expectedSha256", .string), ("contentType", .string),
        ],
        "POST /v1/builds": registration + [("sha256", .string), ("sizeBytes", .integer), ("contentType", .string)],
        "POST /v1/builds/register": registration,
        "POST /v1/environments": environment,
        "PATCH /v1/environments/{id}": environment,
        "POST /v1/recipes": recipe,
        "PUT /v1/recipes/{id}": recipe,
        "POST /v1/delivery-groups": group,
        "PUT /v1/delivery-groups/{id}": group,
        "PUT /v1/admin/services/{service}/environments/{environment}": [("recipe_id", .string)],
        "PATCH /v1/admin/services/{service}/environments/{environment}": [("recipe_id", .string)],
        "PUT /v1/admin/delivery-groups/{group}/environments/{environment}": [("is_enabled", .boolean), ("order_index", .integer)],
        "PATCH /v1/admin/delivery-groups/{group}/environments/{environment}": [("is_enabled", .boolean), ("order_index", .integer)],
        "PUT /v1/admin/system/rate-limits": [("read_rpm", .integer), ("mutate_rpm", .integer), ("daily_quota_build_register", .integer)],
        "PUT /v1/admin/system/ci-publishers": [("publishers", .list(publisher))],
        "PUT /v1/admin/system/mutations-disabled": [("mutations_disabled", .boolean), ("reason", .string)],
        "PATCH /v1/admin/system/mutations-disabled": [("mutations_disabled", .boolean), ("reason", .string)],
    ]

    static func value(_ shape: Shape, _ rng: inout SplitMix64) -> FuzzJSON {
        switch shape {
        case .string: .string(Fuzz.word(&rng))
        case .integer: .raw(String(rng.below(1000)))
        case .boolean: .raw(rng.chance(50) ? "true" : "false")
        case .strings: .array((0..<rng.below(3)).map { _ in .string(Fuzz.word(&rng)) })
        case .owner:
            rng.chance(50)
                ? .string("a@example.com, b@example.com")
                : .array((0..<rng.below(3)).map { _ in .string(Fuzz.word(&rng) + "@example.com") })
        case .choice(let options): .string(rng.pick(options))
        case .object(let members): .object(members.map { ($0.0, value($0.1, &rng)) })
        case .list(let members): .array((0..<rng.below(3)).map { _ in .object(members.map { ($0.0, value($0.1, &rng)) }) })
        }
    }

    /// A value of any type, hostile more often than not.
    static func hostile(_ rng: inout SplitMix64, depth: Int = 0) -> FuzzJSON {
        switch rng.below(9) {
        case 0: return .raw(rng.pick(["null", "true", "false"]))
        case 1, 2: return .raw(rng.pick(JSONFuzz.numbers))
        case 3, 4: return .string(Fuzz.text(&rng))
        case 5 where depth < 3: return .array((0..<rng.below(4)).map { _ in hostile(&rng, depth: depth + 1) })
        case 6 where depth < 3: return .object((0..<rng.below(4)).map { _ in (rng.chance(50) ? Fuzz.word(&rng) : Fuzz.text(&rng), hostile(&rng, depth: depth + 1)) })
        case 7: return hostile(&rng, depth: 3).nested(rng.pick([10, 62, 63, 64, 65, 100]))
        default: return .string(Fuzz.word(&rng))
        }
    }

    /// The body bytes: a well-formed body for the route, when not pristine bent member by member,
    /// then maybe byte by byte, or replaced.
    static func body(_ route: Route, _ rng: inout SplitMix64, pristine: Bool) -> [UInt8] {
        let shape = bodies[route.key] ?? []
        var members = shape.map { ($0.0, value($0.1, &rng)) }
        if pristine { return Array(FuzzJSON.object(members).text.utf8) }
        switch rng.below(20) {
        case 0: return []
        case 1: return Fuzz.randomBytes(&rng, tokens: JSONFuzz.tokens)
        case 2: return Array(hostile(&rng).text.utf8)
        default: break
        }
        for _ in 0..<rng.below(4) {
            let at = rng.below(members.count + 1)
            switch rng.below(6) {
            case 0 where at < members.count: members[at].1 = hostile(&rng)
            case 1 where at < members.count: members.remove(at: at)
            case 2 where at < members.count: members.insert((members[at].0, hostile(&rng)), at: rng.below(members.count + 1))
            case 3 where at < members.count: members[at].1 = members[at].1.nested(rng.pick([1, 10, 63, 64, 65]))
            case 4: members.insert((Fuzz.text(&rng), hostile(&rng)), at: at)
            default: if at < members.count { members[at].1 = .string(Fuzz.text(&rng)) }
            }
        }
        let bytes = Array(FuzzJSON.object(members).text.utf8)
        return rng.chance(25) ? Fuzz.mutate(bytes, &rng, tokens: JSONFuzz.tokens) : bytes
    }

    /// Every string member value of `body`, when it is JSON.
    static func strings(ofBody body: [UInt8]) -> [String] {
        guard let json = try? JSON.parse(body) else { return [] }
        return strings(of: json)
    }

    static func strings(of json: JSON) -> [String] {
        switch json {
        case .string(let s): [s]
        case .array(let items): items.flatMap(strings(of:))
        case .object(let members): members.flatMap { [$0.0] + strings(of: $0.1) }
        default: []
        }
    }

    /// Every string value of `request`, as it encodes.
    static func strings(of request: Request) -> [String] {
        guard let data = try? JSONEncoder().encode(request), let json = try? JSON.parse(Array(data)) else {
            Issue.record("\(request) does not encode as JSON")
            return []
        }
        func values(_ json: JSON) -> [String] {
            switch json {
            case .string(let s): [s]
            case .array(let items): items.flatMap(values)
            case .object(let members): members.flatMap { values($0.1) }
            default: []
            }
        }
        return values(json)
    }
}

// MARK: - Policy files

enum PolicyFuzz {
    /// Scalars YAML reads as numbers, nulls, booleans, tags, anchors, aliases, collections or text
    /// that needs care.
    static let scalars = [
        "9300000000000", "99999999999999999999", "-9223372036854775808", "9223372036854775807", "9223372036854775808", "-1", "0", "+1",
        "007", "0x10", "0o17", "1_000", "1e3", "1.5", ".inf", "-.inf", ".nan", "~", "null", "", "true", "yes", "no", "on", "True",
        "[]", "{}", "[a, b]", "{a: 1}", "\"\"", "''", "\"\\u0000\"", "\"\\x00\"", "'it''s'", "!!str 42", "!!int \"12\"", "!!int x",
        "!!float 1", "!!bool yes", "!!null", "!!binary aGVsbG8=", "!!timestamp 2024-01-01", "!custom x", "!<tag:yaml.org,2002:str> x",
        "&anchor value", "*anchor", "*undefined", "|\n  block\n  text", ">-\n  folded", "2024-01-01", "12:30:00", "@x", "`x`", "%x",
        "a: b: c", "- item", "? key", "#comment", "é🚀", "\u{202E}x", "\t", "x\u{0}y", "\u{85}", "\u{2028}", "\u{FEFF}x", "\"\\uD800\"",
        "\"\\U0010FFFF\"", "*", "&", "!", "'unterminated", "\"unterminated", "[unclosed", "{unclosed", "]", "}", ",",
        String(repeating: "x", count: 241), String(repeating: "é", count: 300), String(repeating: "long ", count: 20_000),
        "\"" + String(repeating: "\\\"", count: 5000) + "\"", String(repeating: "9", count: 5000),
    ]

    /// Blocks to insert: deep nesting, anchors and aliases (some expanding exponentially, some as
    /// keys), merge keys, tags, directives and document markers, many entries.
    static func block(_ rng: inout SplitMix64) -> String {
        switch rng.below(12) {
        case 0:
            let n = rng.pick([10, 100, 999, 1000, 1001, 5000])
            return "deep: " + String(repeating: "[", count: n) + String(repeating: "]", count: n)
        case 1:
            let n = rng.pick([10, 100, 999, 1000, 1001, 3000])
            return "deep: " + String(repeating: "{a: ", count: n) + "1" + String(repeating: "}", count: n)
        case 2:
            let n = rng.pick([10, 100, 500])
            return (0..<n).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n") + " 1"
        case 3:
            return laughs(levels: 2 + rng.below(PolicyFuzz.maxLaughLevels - 1), width: 2 + rng.below(9), key: rng.below(4))
        case 4: return "<<: *anchor"
        case 5: return rng.pick(["---", "...", "--- !!map", "%YAML 1.1\n---", "%TAG ! tag:example.com,2024:\n---", "--- |\n  text"])
        case 6: return "environments:\n" + (0..<rng.pick([100, 2000])).map { "  - id: env-\($0)" }.joined(separator: "\n")
        case 7: return "x: &anchor\n  - " + Fuzz.word(&rng) + "\ny: *anchor"
        case 8: return "? [a, b]\n: c"
        case 9: return "? " + String(repeating: "x", count: 2000) + "\n: c"
        case 10: return "!!set {a, b}: x"
        default: return "key: " + Fuzz.text(&rng)
        }
    }

    /// Billion laughs: `levels` anchors, each a list of `width` aliases of the one before, the
    /// last one used as a mapping key (`key` picks how) or as a value.
    static func laughs(levels: Int, width: Int, key: Int) -> String {
        var lines = ["l0: &l0 [" + Array(repeating: "x", count: width).joined(separator: ", ") + "]"]
        for level in 1..<levels {
            lines.append("l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: width).joined(separator: ", ") + "]")
        }
        let last = "*l\(levels - 1)"
        lines.append(["? \(last)\n: x", "\(last) : x", "[\(last)]: x", "value: \(last)"][key])
        return lines.joined(separator: "\n")
    }

    /// At least as many lines as YAML counts in `text` (it ends lines at CR, LF, CRLF, NEL, LS
    /// and PS; VT and FF count here too).
    static func lineCount(_ text: String) -> Int {
        text.count(where: \.isNewline) + 1
    }

    /// How deep the generated billion-laughs blocks go.
    static let maxLaughLevels = 10

    /// `text` after one to three edits of lines, characters, values or inserted blocks.
    static func mutate(_ text: String, _ rng: inout SplitMix64) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for _ in 0...rng.below(3) {
            let at = rng.below(lines.count)
            switch rng.below(14) {
            case 0: lines.remove(at: at)
            case 1: lines.insert(lines[at], at: at)
            case 2: lines.swapAt(at, rng.below(lines.count))
            case 3 where lines.count > 1:
                let line = lines.remove(at: at)
                lines.insert(line, at: rng.below(lines.count + 1))
            case 4, 5:
                // A value replaced.
                guard let colon = lines[at].firstIndex(of: ":") else { continue }
                lines[at] = String(lines[at][...colon]) + " " + (rng.chance(80) ? rng.pick(scalars) : Fuzz.text(&rng))
            case 6:
                // A number replaced.
                guard let digit = lines[at].firstIndex(where: \.isNumber) else { continue }
                let end = lines[at][digit...].firstIndex { !$0.isNumber } ?? lines[at].endIndex
                lines[at].replaceSubrange(digit..<end, with: rng.pick(["9300000000000", "99999999999999999999", "-1", "0", "5001", "1e3", "0x1F", "9223372036854775808"]))
            case 7:
                var scalars = Array(lines[at].unicodeScalars)
                guard !scalars.isEmpty else { continue }
                scalars[rng.below(scalars.count)] = rng.chance(50) ? rng.pick([":", "-", "#", "&", "*", "!", "|", ">", "'", "\"", "[", "{", "\t", " "]) : Fuzz.scalar(&rng)
                lines[at] = String(String.UnicodeScalarView(scalars))
            case 8: lines[at] = String(repeating: " ", count: rng.below(5)) + (rng.chance(20) ? "\t" : "") + lines[at].drop(while: { $0 == " " })
            case 9, 10: lines.insert(block(&rng), at: rng.chance(50) ? lines.count : at)
            case 11: lines = Array(lines.prefix(at))
            case 12:
                // An anchor on one value, an alias of it in place of another.
                guard let colon = lines[at].firstIndex(of: ":") else { continue }
                let other = rng.below(lines.count)
                lines[at].insert(contentsOf: " &a\(at)", at: lines[at].index(after: colon))
                if let otherColon = lines[other].firstIndex(of: ":"), other != at {
                    lines[other] = String(lines[other][...otherColon]) + " *a\(at)"
                }
            default:
                let bytes = Fuzz.mutate(Array(lines[at].utf8), &rng, tokens: [":", " ", "-", "#", "&a", "*a", "!!", "\t", "\"", "'", "{", "["].map { Array($0.utf8) })
                lines[at] = String(decoding: bytes, as: UTF8.self)
            }
            if lines.isEmpty { lines = [""] }
        }
        var result = lines.joined(separator: "\n")
        switch rng.below(20) {
        case 0: result = "\u{FEFF}" + result
        case 1: result = result.replacingOccurrences(of: "\n", with: "\r\n")
        case 2: result = result.replacingOccurrences(of: "  ", with: "\t")
        default: break
        }
        return result
    }
}

// MARK: - Tokens

enum TokenFuzz {
    /// The fixed now of the token target.
    static let now = Timestamp(seconds: 1_900_000_000)

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// `header.payload.signature`, signed with `signer` over the two texts as they are.
    static func sign(header: [UInt8], payload: [UInt8], with signer: any JWTAlgorithm) throws -> String {
        let input = base64URL(header) + "." + base64URL(payload)
        return input + "." + base64URL(try signer.sign(Array(input.utf8)))
    }

    static func scheme(_ rng: inout SplitMix64) -> String {
        rng.chance(85) ? "Bearer " : rng.pick(["bearer ", "BEARER ", "Bearer  ", "Bearer", "Basic ", "Bearer\t", " Bearer ", "Bearer\u{0}", "Béarer ", ""])
    }

    static func randomHeader(_ rng: inout SplitMix64) -> String? {
        switch rng.below(8) {
        case 0: return rng.chance(50) ? nil : ""
        case 1: return Fuzz.text(&rng)
        case 2: return scheme(&rng) + Fuzz.text(&rng)
        case 3:
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ")
            return scheme(&rng) + String((0..<rng.below(300)).map { _ in rng.pick(alphabet) })
        case 4:
            let size = rng.pick([1000, 10_000, 100_000])
            return "Bearer " + String(repeating: "A", count: size) + "." + String(repeating: "B", count: size) + "." + String(repeating: "C", count: 43)
        case 5: return scheme(&rng) + String(repeating: ".", count: rng.below(10))
        case 6: return "Bearer " + base64URL(Array(Fuzz.text(&rng).utf8)) + "." + base64URL(Array(Fuzz.text(&rng).utf8)) + "." + Fuzz.word(&rng)
        default: return String(decoding: Fuzz.randomBytes(&rng, tokens: ["Bearer ", ".", "eyJ", "=", " "].map { Array($0.utf8) }), as: UTF8.self)
        }
    }

    /// Claims for ``Authenticator/signDevelopmentToken(_:)``: usually sound, sometimes odd.
    static func claims(_ rng: inout SplitMix64) -> [String: JSON] {
        var claims: [String: JSON] = [
            "sub": .string(rng.chance(70) ? Fuzz.word(&rng) : Fuzz.text(&rng)), "iss": .string(RunningServer.issuer),
            "aud": .string(RunningServer.audience), "exp": .int(now.seconds + 600),
            WireClaims.defaultRolesClaim: .array([.string(rng.pick(["dxcp-platform-admins", "dxcp-delivery-owners", "dxcp-observers", "x"]))]),
        ]
        if rng.chance(30) { claims["email"] = .string(Fuzz.text(&rng)) }
        for _ in 0..<rng.below(3) {
            let key = rng.pick(["exp", "nbf", "iss", "aud", "sub", WireClaims.defaultRolesClaim, "email", Fuzz.word(&rng)])
            claims[key] = rng.pick([
                .double(1e300), .double(-1e300), .double(9_223_372_036_854_775_808), .double(18_446_744_073_709_551_616), .double(0.5),
                .double(-0.0), .int(.max), .int(.min), .int(0), .int(-1), .int(253_402_300_799), .int(253_402_300_800), .null, .bool(true),
                .string("NaN"), .string("1900000600"), .array([]), .object([]), .array([.string(RunningServer.audience), .int(1)]),
                .int(now.seconds + 61), .int(now.seconds + 60), .double(Double(now.seconds) + 600.5),
            ])
        }
        if rng.chance(10) { claims["deep"] = nestedJSON(rng.pick([10, 100, 400])) }
        return claims
    }

    static func nestedJSON(_ levels: Int) -> JSON {
        var value = JSON.int(1)
        for level in 0..<levels { value = level % 2 == 0 ? .array([value]) : .object([("k", value)]) }
        return value
    }

    enum Expectation { case accepted, refused, either }

    /// Numbers for `exp` that make a token valid at ``now``, that make it invalid, and that are
    /// merely odd.
    static let goodExp = ["1900000600", "1900000600.5", "1.9000006e9", "253402300799", "1900000001"]
    static let badExp = [
        "1899999999", "1900000000", "0", "-1", "-0", "1e300", "-1e300", "9223372036854775807", "9223372036854775808",
        "18446744073709551616", "-9223372036854775809", "1e400", "-1e400", "99999999999999999999999999999", "1e-300", "253402300800",
        "\"NaN\"", "\"Infinity\"", "\"1900000600\"", "null", "true", "[]", "{}", "[1900000600]", "{\"exp\":1900000600}",
    ]
    static let oddExp = ["NaN", "Infinity", "1900000600,", "01900000600", "1900000600e", "+1900000600", "0x71", ""]
    static let goodNbf = ["1899999000", "1900000060", "0", "-0", "1900000000.9"]
    static let badNbf = ["1900000061", "1e300", "-1e300", "-1", "9223372036854775808", "18446744073709551616", "253402300800", "-9223372036854775809"]

    static let goodHeaders = [#"{"alg":"HS256","kid":"dev","typ":"JWT"}"#, #"{"kid":"dev","alg":"HS256"}"#]
    /// Algorithms other than the `dev` key's.
    static let wrongAlgorithms = ["none", "RS256", "ES256", "HS512", "hs256", "HS384", ""]
    static let badHeaders = wrongAlgorithms.map { #"{"alg":"\#($0)","kid":"dev"}"# } + [
        #"{"alg":"HS256","kid":"nope"}"#, #"{"alg":["HS256"],"kid":"dev"}"#, #"{"alg":"HS256","kid":1}"#, "[]", "null", "", "{", "not json",
    ]
    static let oddHeaders = [
        #"{"alg":"HS256"}"#, #"{"kid":"dev"}"#, #"{"alg":"HS256","kid":"dev","crit":["x"]}"#, #"{"alg":"HS256","kid":"dev","x5c":["AAAA"]}"#,
        #"{"alg":"HS256","kid":"dev","kid":"dev"}"#, #"{"alg":"HS256","kid":"dev","jku":"http://127.0.0.1:1/"}"#,
        #"{"alg":"HS256","kid":"dev","typ":"\u0000"}"#, "{\"alg\":\"HS256\",\"kid\":\"dev\",\"x\":" + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}",
    ]

    /// A header and payload text to sign, what the service must make of them, and the subject.
    static func crafted(_ rng: inout SplitMix64) -> (header: [UInt8], payload: [UInt8], expectation: Expectation, subject: String?) {
        // What each part makes of the token: refused when any part refuses it, accepted when all
        // accept it, else either.
        var header = Expectation.accepted, exp = Expectation.accepted, nbf = Expectation.accepted
        var extra = Expectation.accepted, whole = Expectation.accepted
        let headerText: String
        switch rng.below(10) {
        case 0...6: headerText = rng.pick(goodHeaders)
        case 7, 8: headerText = rng.pick(badHeaders); header = .refused
        default: headerText = rng.pick(oddHeaders); header = .either
        }

        let subject = rng.chance(70) ? Fuzz.word(&rng) : Fuzz.text(&rng)
        var members: [String] = [
            #""iss":"\#(RunningServer.issuer)""#,
            rng.chance(80) ? #""aud":"\#(RunningServer.audience)""# : #""aud":["x","\#(RunningServer.audience)"]"#,
            #""sub":"# + Fuzz.jsonString(subject, escapeAll: rng.chance(30)),
            "\"\(WireClaims.defaultRolesClaim)\":[\"dxcp-delivery-owners\"]",
        ]
        switch rng.below(10) {
        case 0...3: members.append(#""exp":"# + rng.pick(goodExp))
        case 4...7: members.append(#""exp":"# + rng.pick(badExp)); exp = .refused
        case 8: members.append(#""exp":"# + rng.pick(oddExp)); exp = .either
        default: exp = .refused  // no expiry
        }
        switch rng.below(10) {
        case 0...5: break
        case 6, 7: members.append(#""nbf":"# + rng.pick(goodNbf))
        default: members.append(#""nbf":"# + rng.pick(badNbf)); nbf = .refused
        }
        if rng.chance(15) {
            // Deep, long, many or repeated claims: anything may come of them, but no trap.
            extra = .either
            switch rng.below(5) {
            case 0:
                let n = rng.pick([10, 100, 500, 600, 5000, 50_000])
                members.append(#""deep":"# + String(repeating: "[", count: n) + String(repeating: "]", count: n))
            case 1:
                let n = rng.pick([10, 100, 500, 600, 5000])
                members.append(#""deep":"# + String(repeating: #"{"a":"#, count: n) + "1" + String(repeating: "}", count: n))
            case 2: members.append(#""long":"# + Fuzz.jsonString(String(repeating: "x", count: rng.pick([1000, 100_000]))))
            case 3: members += (0..<rng.pick([100, 3000])).map { #""c\#($0)":\#($0)"# }
            default:
                // A second `exp`: which of the two counts is the JSON reader's choice.
                members.append(#""exp":"# + rng.pick(goodExp + badExp))
                exp = .either
            }
        }
        if rng.chance(10) { members.shuffle(using: &rng) }
        var payload = Array(("{" + members.joined(separator: ",") + "}").utf8)
        switch rng.below(20) {
        case 0: payload = Array(rng.pick(["[]", "1", "\"s\"", "null", "", "{}", "{\"exp\":"]).utf8); whole = .refused
        case 1:
            // A mutation may spoil the payload, or mend a bad `exp` or `nbf`.
            payload = Fuzz.mutate(payload, &rng, tokens: JSONFuzz.tokens)
            (exp, nbf, whole) = (.either, .either, .either)
        case 2: payload += [0xFF]; whole = .refused
        default: break
        }
        // Only small tokens are sure to be read; a long one may be refused for its length.
        if payload.count > 4096 { whole = whole == .refused ? .refused : .either }
        let parts = [header, exp, nbf, extra, whole]
        let expectation: Expectation = parts.contains(.refused) ? .refused : parts.contains(.either) ? .either : .accepted
        return (Array(headerText.utf8), payload, expectation, expectation == .accepted ? subject : nil)
    }

    /// `token` with a segment flipped, cut, grown or replaced.
    static func mutate(_ token: String, _ rng: inout SplitMix64) -> String {
        var parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let at = rng.below(parts.count)
        switch rng.below(10) {
        case 0: parts.removeLast()
        case 1: parts = [parts[0]]
        case 2: parts.append(rng.chance(50) ? "" : parts[at])
        case 3: parts[at] = ""
        case 4: parts[at] += String(repeating: rng.pick(["A", "_", "-", "="]), count: rng.pick([1, 2, 3, 4, 1000, 200_000]))
        case 5: parts[at] = parts[at].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "=="
        case 6: parts.swapAt(at, rng.below(parts.count))
        default:
            let bytes = Fuzz.mutate(Array(parts[at].utf8), &rng, tokens: [".", "=", " ", "+", "/", "\u{0}", "é", "eyJ"].map { Array($0.utf8) })
            parts[at] = String(decoding: bytes, as: UTF8.self)
        }
        return parts.joined(separator: ".")
    }
}

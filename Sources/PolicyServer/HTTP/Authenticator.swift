public import Rules
public import JWTKit
import FoundationEssentials
import Synchronization

/// Verifies bearer tokens (DECISIONS D17: before any body is read) and turns their claims into a
/// ``Principal`` (REFERENCE §1). Keys: RS256/ES256 from a JWKS document, and HS256 only when a
/// development secret is configured. `alg: none`, a wrong algorithm for the key, a bad
/// signature, an expired or not-yet-valid token, a wrong issuer or audience: all 401.
///
/// Before any costly work a token must be at most ``maximumTokenLength`` bytes, its header must
/// parse (``TokenHeader``) and its claims must nest at most ``maximumClaimNesting`` deep. Its
/// `kid` must name a known key and its `alg` be that key's: no token falls back to another key
/// (REFERENCE §1.1). Keys from a JWKS URL are fetched again when a token names an unknown `kid`
/// or they are older than ``jwksLifetime``: one fetch at a time, at most one per refresh
/// interval (DECISIONS 61).
///
/// Verified tokens are cached until they expire (at most 60 s), so a busy caller pays for
/// signature verification about once a minute.
public final class Authenticator: Sendable {
    /// What verification requires of a token.
    public struct Requirements: Sendable {
        /// `iss` must equal this exactly, when set.
        public var issuer: String?
        /// `aud` must contain this, when set.
        public var audience: String?
        /// Name of the roles claim.
        public var rolesClaim: String

        /// Requirements from their parts.
        public init(issuer: String?, audience: String?, rolesClaim: String = WireClaims.defaultRolesClaim) {
            self.issuer = issuer
            self.audience = audience
            self.rolesClaim = rolesClaim
        }
    }

    /// Why a token was refused (all are 401 `UNAUTHORIZED`).
    public struct Refusal: Error, Sendable, Equatable {
        /// User-safe message.
        public var message: String
    }

    /// What is known of the keys fetched from the JWKS URL.
    private struct FetchState {
        /// The ids of the keys in ``Authenticator/fetchedKeys``.
        var fetched: Set<String> = []
        /// When the last fetch started (whether it succeeded or not); nil before the first.
        var lastStart: Timestamp?
        /// The fetch running now, which every request that needs a refresh awaits; at most one.
        var running: Task<Void, any Error>?
    }

    /// The keys configured at start (a JWKS document, the development key).
    let keys: JWTKeyCollection
    /// The keys fetched from the JWKS URL, replaced by each fetch.
    private let fetchedKeys = JWTKeyCollection()
    // INVARIANT: neither `keys` nor `fetchedKeys` has a default key, so each finds a key only by
    // its id: `keys(jwks:developmentSecret:)` clears it, fetched keys are added as non-default.
    let requirements: Requirements
    /// Verified principals by `Authorization` header value, with the second they expire.
    private let cache = Mutex<[String: (principal: Principal, until: Int64)]>([:])
    /// Where keys come from when they are fetched: the JWKS URL and its fetch function.
    private let source: (url: String, fetch: @Sendable (String) async throws -> [UInt8])?
    private let fetchState = Mutex(FetchState())

    /// How long fetched keys are used before a token makes them be fetched again, in seconds.
    public static let jwksLifetime: Int64 = 300
    /// The least time between the starts of two JWKS fetches that tokens cause, in seconds, by
    /// default.
    public static let unknownKeyRefreshInterval: Int64 = 30
    private let refreshInterval: Int64
    /// The longest token accepted, in bytes; a longer one is refused before any other work.
    public static let maximumTokenLength = 16 * 1024
    /// How deep a token's claims may nest arrays and objects, the claims object itself being
    /// level 1; deeper is refused before the signature is checked.
    public static let maximumClaimNesting = 32
    /// The algorithms a token's `alg` may name: RS256 and ES256 for JWKS keys, HS256 for the
    /// development key. Also keeps a JWKS key published without `alg` from being set up, on
    /// first use, for an algorithm a forged token names.
    static let acceptedAlgorithms: Set<String> = ["RS256", "ES256", "HS256"]

    /// An authenticator over `keys`, which must have no default key (as
    /// ``keys(jwks:developmentSecret:)`` makes them). With `jwksURL`, keys are also fetched from
    /// it with `fetch` when a token names an unknown key id or the fetched keys are older than
    /// ``jwksLifetime``: one fetch at a time, and at most one every `unknownKeyRefreshInterval`
    /// seconds (at least 1).
    public init(
        keys: JWTKeyCollection, requirements: Requirements, jwksURL: String? = nil, fetch: (@Sendable (String) async throws -> [UInt8])? = nil,
        unknownKeyRefreshInterval: Int64 = Authenticator.unknownKeyRefreshInterval
    ) {
        self.keys = keys
        self.requirements = requirements
        self.refreshInterval = max(1, unknownKeyRefreshInterval)
        if let jwksURL, let fetch { self.source = (jwksURL, fetch) } else { self.source = nil }
    }

    /// Fetches the JWKS now (when a URL is configured), replacing the fetched keys, whatever the
    /// refresh interval; when a fetch is running already, waits for that one instead.
    public func refreshKeys(now: Timestamp) async throws {
        guard source != nil else { return }
        let fetch = fetchState.withLock { state in state.running ?? startFetch(&state, now: now) }
        try await fetch.value
    }

    /// The collection holding the key `header` names, for its `alg`: a configured key, else a
    /// fetched one, fetched again first when needed (``refreshIfNeeded(for:now:)``). Nil when no
    /// key has that id and algorithm.
    private func verifyingKeys(for header: TokenHeader, now: Timestamp) async -> JWTKeyCollection? {
        if await Self.holdsKey(keys, for: header) { return keys }
        await refreshIfNeeded(for: header.keyId, now: now)
        return await Self.holdsKey(fetchedKeys, for: header) ? fetchedKeys : nil
    }

    /// Whether `collection` holds the key `header`'s `kid` names, and that key's algorithm is
    /// the header's `alg`. Exact because no collection here has a default key to fall back on.
    private static func holdsKey(_ collection: JWTKeyCollection, for header: TokenHeader) async -> Bool {
        guard let key = try? await collection.getKey(for: JWKIdentifier(string: header.keyId), alg: header.algorithm) else { return false }
        return key.name == header.algorithm
    }

    /// Refreshes the fetched keys when `keyId` is not among them, or when they are older than
    /// ``jwksLifetime``: joins the running fetch, else starts one unless one started less than
    /// the refresh interval ago. A failed fetch leaves the keys as they were.
    private func refreshIfNeeded(for keyId: String, now: Timestamp) async {
        guard source != nil else { return }
        let fetch = fetchState.withLock { state -> Task<Void, any Error>? in
            let stale = state.lastStart.map { now >= $0.adding(seconds: Self.jwksLifetime) } ?? true
            guard !state.fetched.contains(keyId) || stale else { return nil }
            if let running = state.running { return running }
            if let lastStart = state.lastStart, now < lastStart.adding(seconds: refreshInterval) { return nil }
            return startFetch(&state, now: now)
        }
        _ = await fetch?.result
    }

    /// Starts a fetch of the JWKS, recorded in `state` as the running one and the last started.
    private func startFetch(_ state: inout FetchState, now: Timestamp) -> Task<Void, any Error> {
        // The task clears `running` under the same lock this caller holds while recording it, so
        // it cannot clear it before it is recorded.
        let fetch = Task {
            defer { self.fetchState.withLock { $0.running = nil } }
            try await self.replaceFetchedKeys()
        }
        state.running = fetch
        state.lastStart = now
        return fetch
    }

    /// Fetches the JWKS and makes its keys the fetched keys: new ones are added before keys no
    /// longer published are removed. A key that cannot be used (an unsupported type) is left
    /// out. Only one runs at a time.
    private func replaceFetchedKeys() async throws {
        guard let source else { return }
        let document = try JSONDecoder().decode(JWKS.self, from: Data(try await source.fetch(source.url)))
        var added: Set<String> = []
        for jwk in document.keys {
            guard let id = jwk.keyIdentifier?.string else { continue }
            do { try await fetchedKeys.add(jwk: jwk, isDefault: false) } catch { continue }
            added.insert(id)
        }
        let withdrawn = fetchState.withLock { $0.fetched.subtracting(added) }
        for id in withdrawn { await fetchedKeys.remove(kid: JWKIdentifier(string: id)) }
        fetchState.withLock { $0.fetched = added }
    }

    private static let bearerScheme: [UInt8] = Array("bearer ".utf8)

    /// The token of `Bearer <token>` (scheme case-insensitive, exactly one space, no other
    /// spaces), read on bytes: this runs for every request.
    static func bearerToken(_ header: String) -> String? {
        var header = header
        return header.withUTF8 { bytes -> String? in
            let scheme = bearerScheme
            guard bytes.count > scheme.count else { return nil }
            for i in 0..<scheme.count where bytes[i] | (i < 6 ? 0x20 : 0) != scheme[i] { return nil }
            let token = UnsafeBufferPointer(rebasing: bytes[scheme.count...])
            guard !token.contains(0x20) else { return nil }
            return String(decoding: token, as: UTF8.self)
        }
    }

    /// The header of `token` when the token is `header.payload.signature` in base64url, its
    /// header parses (``TokenHeader``) and its claims nest at most ``maximumClaimNesting`` deep;
    /// else nil. Nothing is verified: the header only chooses the key to try.
    static func checkedHeader(of token: String) -> TokenHeader? {
        let segments = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard segments.count == 3, let header = base64URLDecoded(segments[0]), let claims = base64URLDecoded(segments[1]),
            jsonNests(claims, atMost: maximumClaimNesting)
        else { return nil }
        return TokenHeader(json: header)
    }

    /// The bytes of unpadded base64url `text` (RFC 7515 §2), or nil when it is not that.
    static func base64URLDecoded(_ text: Substring.UTF8View) -> [UInt8]? {
        guard text.count % 4 != 1 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count * 3 / 4)
        var bits: UInt32 = 0
        var bitCount = 0
        for character in text {
            let sextet: UInt8
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): sextet = character - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): sextet = character - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sextet = character - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"): sextet = 62
            case UInt8(ascii: "_"): sextet = 63
            default: return nil
            }
            bits = bits << 6 | UInt32(sextet)
            bitCount += 6
            if bitCount >= 8 {
                bitCount -= 8
                bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(bitCount)))
            }
        }
        return bytes
    }

    /// Whether the JSON text `bytes` nests arrays and objects at most `limit` deep, told by
    /// counting brackets outside strings: one pass, before anything parses it. Text that closes
    /// more than it opened is refused too.
    static func jsonNests(_ bytes: [UInt8], atMost limit: Int) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth > limit { return false }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth < 0 { return false }
            default: break
            }
        }
        return true
    }

    /// Keys from a JWKS document (JSON) and, for development, an HS256 secret with key id `dev`;
    /// with no default key, so that only a token's `kid` chooses one.
    public static func keys(jwks: String?, developmentSecret: String?) async throws -> JWTKeyCollection {
        let keys = JWTKeyCollection()
        if let jwks { try await keys.add(jwksJSON: jwks) }
        if let developmentSecret { await keys.add(hmac: HMACKey(from: developmentSecret), digestAlgorithm: .sha256, kid: "dev") }
        await keys.clearDefault()
        return keys
    }

    /// The `exp` and `nbf` a token may carry: 1970-01-01 through 9999-12-31T23:59:59Z.
    static let tokenTimes: ClosedRange<Int64> = 0...253_402_300_799

    /// The principal of a request's `Authorization` header value.
    public func authenticate(_ header: String?, now: Timestamp) async throws(Refusal) -> Principal {
        guard let header, !header.isEmpty else { throw Refusal(message: "Authorization header required") }
        // Bounded before any work, even the cache lookup, which hashes the whole value.
        guard header.utf8.count <= Self.bearerScheme.count + Self.maximumTokenLength else { throw Refusal(message: "Invalid token") }
        // Cached by the whole header value, which only a verified bearer token put there: a hit
        // needs no parsing and no copy of the token.
        if let hit = cache.withLock({ $0[header] }), hit.until > now.seconds { return hit.principal }
        guard let token = Self.bearerToken(header) else { throw Refusal(message: "Authorization header must be 'Bearer <token>'") }
        // Only a token that is well formed, names its key and is not nested too deep may cause a
        // JWKS fetch or a signature check.
        guard let tokenHeader = Self.checkedHeader(of: token) else { throw Refusal(message: "Invalid token") }
        guard let verifyingKeys = await verifyingKeys(for: tokenHeader, now: now) else { throw Refusal(message: "Invalid token") }
        let payload: TokenPayload
        do {
            payload = try await verifyingKeys.verify(token, as: TokenPayload.self)
        } catch {
            throw Refusal(message: "Invalid token")
        }
        let claims = payload.claims
        guard let exp = payload.seconds("exp") else { throw Refusal(message: "Token has no expiry") }
        let notBefore = payload.seconds("nbf")
        // Times a token can sensibly carry: from the epoch through 9999-12-31 (DECISIONS 59).
        guard Self.tokenTimes.contains(exp), notBefore.map(Self.tokenTimes.contains) ?? true else {
            throw Refusal(message: "Token times are out of range")
        }
        guard exp > now.seconds else { throw Refusal(message: "Token expired") }
        if let notBefore, notBefore > now.seconds + 60 { throw Refusal(message: "Token not yet valid") }
        let principal = Principal(claims: WireClaims.claims(.object(claims.map { ($0.key, $0.value) }), rolesClaim: requirements.rolesClaim))
        if let issuer = requirements.issuer, principal.claims.issuer != issuer { throw Refusal(message: "Invalid token") }
        if let audience = requirements.audience, !principal.claims.audiences.contains(audience) { throw Refusal(message: "Invalid token") }
        cache.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[header] = (principal, min(exp, now.seconds + 60))
        }
        return principal
    }

    /// Signs development tokens (the `serve --demo` tokens) with the HS256 `dev` key.
    public func signDevelopmentToken(_ claims: [String: JSON]) async throws -> String {
        try await keys.sign(TokenPayload(claims: claims), kid: "dev")
    }
}

/// A token's header, read before its signature is checked: it only chooses the key to try.
struct TokenHeader {
    /// `alg`: the key's algorithm must be this.
    var algorithm: String
    /// `kid`: the id of the key to verify with.
    var keyId: String

    /// The header in the JSON text `json`, or nil unless it is an object with a string `kid` and
    /// an `alg` among ``Authenticator/acceptedAlgorithms``.
    init?(json: [UInt8]) {
        guard let header = try? JSON.parse(json), case .string(let algorithm)? = header["alg"], Authenticator.acceptedAlgorithms.contains(algorithm),
            case .string(let keyId)? = header["kid"]
        else { return nil }
        self.algorithm = algorithm
        self.keyId = keyId
    }
}

/// A token's claims, read without a fixed shape (the roles claim's name is configurable).
struct TokenPayload: JWTPayload {
    var claims: [String: JSON]

    init(claims: [String: JSON]) { self.claims = claims }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        var claims: [String: JSON] = [:]
        for key in c.allKeys { claims[key.stringValue] = try c.decode(JSONCodable.self, forKey: key).json }
        self.claims = claims
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for (key, value) in claims { try c.encode(JSONCodable(json: value), forKey: Key(stringValue: key)) }
    }

    /// Checked by ``Authenticator`` against an injected time, not here.
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// A numeric claim as whole seconds (a fraction dropped), saturating at the ends of Int64 so
    /// no value can trap; nil when absent, not a number, or NaN.
    func seconds(_ key: String) -> Int64? {
        switch claims[key] {
        case .int(let n)?: n
        case .double(let d)? where d.isNaN: nil
        case .double(let d)? where d >= 9.2e18: .max
        case .double(let d)? where d <= -9.2e18: .min
        case .double(let d)?: Int64(d)
        default: nil
        }
    }
}

/// `JSON` through `Codable`, for token payloads.
struct JSONCodable: Codable {
    var json: JSON

    init(json: JSON) { self.json = json }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { json = .null }
        else if let b = try? c.decode(Bool.self) { json = .bool(b) }
        else if let n = try? c.decode(Int64.self) { json = .int(n) }
        else if let d = try? c.decode(Double.self) { json = .double(d) }
        else if let s = try? c.decode(String.self) { json = .string(s) }
        else if let a = try? c.decode([JSONCodable].self) { json = .array(a.map(\.json)) }
        else {
            let o = try c.decode([String: JSONCodable].self)
            json = .object(o.map { ($0.key, $0.value.json) }.sorted { $0.0 < $1.0 })
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch json {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let n): try c.encode(n)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a.map(JSONCodable.init(json:)))
        case .object(let o): try c.encode(Dictionary(o.map { ($0.0, JSONCodable(json: $0.1)) }, uniquingKeysWith: { _, last in last }))
        }
    }
}

public import Rules
public import JWTKit
import FoundationEssentials
import Synchronization

/// Verifies bearer tokens (DECISIONS D17: before any body is read) and turns their claims into a
/// ``Principal`` (REFERENCE §1). Keys: RS256/ES256 from a JWKS document, and HS256 only when a
/// development secret is configured. `alg: none`, a wrong algorithm for the key, a bad
/// signature, an expired or not-yet-valid token, a wrong issuer or audience: all 401.
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

    let keys: JWTKeyCollection
    let requirements: Requirements
    /// Verified principals by `Authorization` header value, with the second they expire.
    private let cache = Mutex<[String: (principal: Principal, until: Int64)]>([:])
    /// Where keys come from when they are fetched: the JWKS URL and its fetch function.
    private let source: (url: String, fetch: @Sendable (String) async throws -> [UInt8])?
    // INVARIANT: `known` holds the key ids currently in `keys` from the JWKS (not the dev key);
    // `lastFetch` is when the JWKS was last fetched (seconds), to bound refreshes.
    private let jwksState = Mutex<(known: Set<String>, lastFetch: Int64)>(([], 0))

    /// How long fetched keys are used before they are fetched again, in seconds.
    public static let jwksLifetime: Int64 = 300
    /// The least time between two refreshes caused by unknown key ids, in seconds, by default.
    public static let unknownKeyRefreshInterval: Int64 = 30
    private let refreshInterval: Int64

    /// An authenticator over `keys`; with `jwksURL`, keys are fetched from it with `fetch`, again
    /// after ``jwksLifetime``, and at most every ``unknownKeyRefreshInterval`` when a token names
    /// an unknown key id.
    public init(
        keys: JWTKeyCollection, requirements: Requirements, jwksURL: String? = nil, fetch: (@Sendable (String) async throws -> [UInt8])? = nil,
        unknownKeyRefreshInterval: Int64 = Authenticator.unknownKeyRefreshInterval
    ) {
        self.keys = keys
        self.requirements = requirements
        self.refreshInterval = unknownKeyRefreshInterval
        if let jwksURL, let fetch { self.source = (jwksURL, fetch) } else { self.source = nil }
    }

    /// Fetches the JWKS now (when a URL is configured), replacing the fetched keys.
    public func refreshKeys(now: Timestamp) async throws {
        guard let source else { return }
        let document = String(decoding: try await source.fetch(source.url), as: UTF8.self)
        let jwks = try JSONDecoder().decode(JWKS.self, from: Data(document.utf8))
        let kids = Set(jwks.keys.compactMap { $0.keyIdentifier?.string })
        let old = jwksState.withLock { $0.known }
        for kid in old.subtracting(kids) { _ = await keys.remove(kid: JWKIdentifier(string: kid)) }
        try await keys.add(jwks: jwks)
        jwksState.withLock { $0 = (kids, now.seconds) }
    }

    /// Refreshes when the keys are old, or when `kid` is unknown and no refresh happened lately.
    private func refreshIfNeeded(for token: String, now: Timestamp) async {
        guard source != nil else { return }
        let state = jwksState.withLock { $0 }
        let stale = now.seconds - state.lastFetch >= Self.jwksLifetime
        let unknown = Self.keyId(of: token).map { !state.known.contains($0) } ?? false
        guard stale || (unknown && now.seconds - state.lastFetch >= refreshInterval) else { return }
        do { try await refreshKeys(now: now) } catch {
            jwksState.withLock { $0.lastFetch = now.seconds }  // do not hammer an unreachable JWKS
        }
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

    /// The `kid` of a token's header, if readable.
    static func keyId(of token: String) -> String? {
        guard let header = token.split(separator: ".").first else { return nil }
        var base64 = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), case .object(let members)? = try? JSON.parse(Array(data)),
            case .string(let kid)? = JSON.object(members)["kid"]
        else { return nil }
        return kid
    }

    /// Keys from a JWKS document (JSON) and, for development, an HS256 secret with key id `dev`.
    public static func keys(jwks: String?, developmentSecret: String?) async throws -> JWTKeyCollection {
        let keys = JWTKeyCollection()
        if let jwks { try await keys.add(jwksJSON: jwks) }
        if let developmentSecret { await keys.add(hmac: HMACKey(from: developmentSecret), digestAlgorithm: .sha256, kid: "dev") }
        return keys
    }

    /// The `exp` and `nbf` a token may carry: 1970-01-01 through 9999-12-31T23:59:59Z.
    static let tokenTimes: ClosedRange<Int64> = 0...253_402_300_799

    /// The principal of a request's `Authorization` header value.
    public func authenticate(_ header: String?, now: Timestamp) async throws(Refusal) -> Principal {
        guard let header, !header.isEmpty else { throw Refusal(message: "Authorization header required") }
        // Cached by the whole header value, which only a verified bearer token put there: a hit
        // needs no parsing and no copy of the token.
        if let hit = cache.withLock({ $0[header] }), hit.until > now.seconds { return hit.principal }
        guard let token = Self.bearerToken(header) else { throw Refusal(message: "Authorization header must be 'Bearer <token>'") }
        await refreshIfNeeded(for: token, now: now)
        let payload: TokenPayload
        do {
            payload = try await keys.verify(token, as: TokenPayload.self)
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

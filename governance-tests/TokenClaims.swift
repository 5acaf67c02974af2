import Foundation

/// Reads a JWT's claims without verifying it (claims sanity, REFERENCE §1.2): the suite checks
/// that each identity is what it claims to be before trusting any result obtained with it.
enum TokenClaims {
    /// The payload of `token`, or nil when it is not a JWT.
    static func decode(_ token: String) -> JSON? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var text = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text) else { return nil }
        return JSON.parse(data)
    }
}

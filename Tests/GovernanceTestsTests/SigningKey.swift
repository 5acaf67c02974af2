import Foundation

/// An RSA key made by openssl for one test: the private key as PEM (what the suite mints with)
/// and a JWKS document holding its public half (what the server trusts).
final class SigningKey {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gt-key-\(UUID().uuidString)").path
    let kid = "governance-tests-key"
    var pemPath: String { dir + "/key.pem" }
    var jwksPath: String { dir + "/jwks.json" }

    init() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try Shell.run("openssl genrsa -out key.pem 2048", in: dir)
        let modulus = try Shell.run("openssl rsa -in key.pem -modulus -noout", in: dir)
            .split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        let jwks = #"{"keys":[{"kty":"RSA","kid":"\#(kid)","alg":"RS256","use":"sig","n":"\#(Self.base64url(Self.bytes(hex: modulus)))","e":"AQAB"}]}"#
        try Data(jwks.utf8).write(to: URL(fileURLWithPath: jwksPath))
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

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

/// Runs shell commands for test setup.
enum Shell {
    struct Failure: Error { let message: String }

    static func run(_ command: String, in dir: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure(message: "failed: \(command)") }
        return String(decoding: data, as: UTF8.self)
    }
}

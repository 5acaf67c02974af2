public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A test's setup step failed (a command, a socket).
public struct SetupError: Error, CustomStringConvertible {
    /// What failed.
    public let message: String
    /// An error from its message.
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// A TCP port free on loopback right now (bound, read back and released).
public func freePort() throws -> Int {
    let (fd, port) = try loopbackSocket(listening: false)
    close(fd)
    return port
}

/// A socket bound to a free loopback port (and listening, when asked), and the port.
func loopbackSocket(listening: Bool) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var size = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
    guard bound == 0, !listening || listen(fd, 64) == 0 else {
        close(fd)
        throw SetupError(message: "cannot bind a loopback port")
    }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &size) } }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// Runs `command` with `/bin/sh` in `dir` and returns its standard output; throws when it fails.
public func shell(_ command: String, in dir: String) throws -> Data {
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
    guard process.terminationStatus == 0 else { throw SetupError(message: "failed: \(command)") }
    return data
}

/// The JWK encodings of key material printed by openssl.
public enum JWKEncoding {
    /// Bytes from hexadecimal digits (openssl's `-modulus` output).
    public static func bytes(hex: String) -> Data {
        var data = Data()
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            if let byte = UInt8(hex[index..<next], radix: 16) { data.append(byte) }
            index = next
        }
        return data
    }

    /// Unpadded base64url, as JWK members are written.
    public static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The RSA modulus of the private key `pem` in `dir`, base64url-encoded (a JWK's `n`).
    public static func rsaModulus(of pem: String, in dir: String) throws -> String {
        let printed = String(decoding: try shell("openssl rsa -in \(pem) -modulus -noout", in: dir), as: UTF8.self)
        let hex = printed.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        return base64url(bytes(hex: hex))
    }
}

import Foundation

/// A `gate-emulator` process on a free loopback port, stopped when released.
public final class EmulatorProcess {
    let process = Process()
    /// The port it listens on.
    public let port: Int
    let scheme: String

    /// `http(s)://127.0.0.1:<port>`.
    public var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    /// Starts an emulator with `arguments` (`tls`: it serves HTTPS).
    public init(_ arguments: [String] = [], tls: Bool = false) throws {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        process.executableURL = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("gate-emulator")
        process.arguments = ["--port", "0"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        var seen = Data()
        while !seen.contains(UInt8(ascii: "\n")) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        let line = String(decoding: seen, as: UTF8.self)
        let portText = line.split(separator: ":").last.map { $0.prefix(while: \.isNumber) } ?? ""
        guard let port = Int(portText) else {
            process.terminate()
            throw EmulatorError(message: "emulator did not start: \(line)")
        }
        self.port = port
        self.scheme = tls ? "https" : "http"
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }

    /// Calls a control endpoint over plain HTTP with curl's command-line tool (the emulator's
    /// control API is not what is under test).
    @discardableResult
    public func control(_ path: String, _ json: String = "{}", caFile: String? = nil, clientCert: (String, String)? = nil) throws -> String {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        var args = ["-sS", "-X", json == "GET" ? "GET" : "POST", "\(baseURL)\(path)"]
        if json != "GET" { args += ["-d", json] }
        if let caFile { args += ["--cacert", caFile] }
        if let (cert, key) = clientCert { args += ["--cert", cert, "--key", key] }
        curl.arguments = args
        let out = Pipe()
        curl.standardOutput = out
        try curl.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The calls Gate endpoints received, as JSON objects.
    public func calls(caFile: String? = nil, clientCert: (String, String)? = nil) throws -> [[String: Any]] {
        let text = try control("/_emulator/calls", "GET", caFile: caFile, clientCert: clientCert)
        return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
    }
}

/// The emulator could not be started or driven.
public struct EmulatorError: Error {
    /// What happened.
    public let message: String

    /// An error with `message`.
    public init(message: String) { self.message = message }
}

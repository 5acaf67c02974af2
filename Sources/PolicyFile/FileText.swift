#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file as UTF-8 text, reporting failures with the operating system's reason.
enum FileText {
    /// The contents of the file at `path`.
    static func contents(of path: String) throws(PolicyFileError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(path, "cannot open the policy file", errno) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw failure(path, "cannot read the policy file", code)
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw PolicyFileError(file: path, line: nil, field: "", message: "the policy file is not valid UTF-8 text")
        }
        return text
    }

    /// An error naming `path`, what failed and the system's description of `code`.
    private static func failure(_ path: String, _ what: String, _ code: Int32) -> PolicyFileError {
        PolicyFileError(file: path, line: nil, field: "", message: "\(what): \(String(cString: strerror(code)))")
    }
}

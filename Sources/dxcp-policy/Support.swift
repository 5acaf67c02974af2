import Rules
import GovernanceStore
import FoundationEssentials
import class Foundation.Bundle
#if canImport(Glibc)
import Glibc
#endif

/// Now, from the system clock: the only place time is read.
func currentTime() -> Timestamp {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Timestamp(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
}

/// A new time-ordered UUID string: the only place ids are made.
func newId() -> String {
    RecordID.make(at: currentTime())
}

/// Writes a line to standard error.
func printError(_ text: String) {
    writeLine(text, to: 2)
}

/// Writes `text` and a newline straight to file descriptor `fd`, unbuffered, so nothing written
/// is lost if the process is killed right after.
func writeLine(_ text: String, to fd: Int32) {
    var bytes = Array(text.utf8)
    if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
    _ = writeAll(bytes, to: fd)
}

/// Writes all of `bytes` to file descriptor `fd`; false when the descriptor stops taking them.
func writeAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0, errno == EINTR { continue }
        if n <= 0 { return false }
        offset += n
    }
    return true
}

/// Reads a whole file as bytes, or nil.
func readFile(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { Array($0) }
}

/// The demo policy bundled with the executable (`serve --demo`), if the bundle can be found.
func bundledDemoPolicy() -> String? {
    Bundle.module.path(forResource: "demo-policy", ofType: "yaml")
}

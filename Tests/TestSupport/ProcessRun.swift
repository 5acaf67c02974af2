public import Foundation

/// Runs `executable` with `arguments` (and this process's environment with `environment` over it)
/// to the end and returns its exit status and what it wrote to standard output and standard error.
public func runToEnd(
    _ executable: URL, _ arguments: [String], environment: [String: String] = [:]
) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// Runs blocking work (waiting for a child process, reading its pipes to the end) on a thread of
/// its own. Swift's cooperative pool has a thread per core (two here), and the servers other tests
/// run in this process answer on it: a test that blocked one of those threads for the seconds a
/// child runs would stall them all.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.name = "test.blocking"
        thread.start()
    }
}

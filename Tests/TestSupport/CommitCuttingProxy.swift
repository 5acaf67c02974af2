import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy in front of a PostgreSQL server that can fail the next `COMMIT` of any connection
/// through it, once: the commit reaches the server and its answer is lost (the connection is cut
/// as the answer comes back, or as the commit is sent), or the commit never reaches the server
/// (the connection is cut instead of sending it). Everything else passes through unchanged. It reads the frontend
/// protocol's message frames (a type byte and a length; the first message has no type byte) to
/// find a `Parse` or `Query` message whose text is `COMMIT`.
public final class CommitCuttingProxy: Sendable {
    /// What the next `COMMIT` meets.
    public enum Fault: Sendable {
        /// The commit is applied; the client never hears so.
        case loseTheAnswer
        /// The commit never reaches the server; the client's connection is cut.
        case neverArrive
        /// The commit reaches the server, and the client's connection is cut at once, while the
        /// server may still be committing.
        case cutAsItIsSent
    }

    /// The proxy's loopback port.
    public let port: Int
    private let target: (host: String, port: Int)
    private let listener: Int32
    private let armed = Mutex<Fault?>(nil)
    /// How many commits a fault was applied to.
    public var faultsApplied: Int { applied.load(ordering: .relaxed) }
    private let applied = Atomic<Int>(0)
    /// Whether the server has become unreachable: nothing more is forwarded, and new connections
    /// are accepted and left unanswered (a partitioned or frozen server).
    private let blackHoled = Atomic<Bool>(false)
    private let held = Mutex<[Int32]>([])
    /// Connections accepted since the server became unreachable.
    public var connectionsWhileUnreachable: Int { unreachableAccepts.load(ordering: .relaxed) }
    private let unreachableAccepts = Atomic<Int>(0)

    /// Listens on a free loopback port, forwarding to `host`:`port`.
    public init(host: String, port: Int) throws {
        target = (host, port)
        (listener, self.port) = try loopbackSocket(listening: true)
        let thread = Thread { [self] in accepting() }
        thread.start()
    }

    /// From now on nothing reaches the server and nothing comes back: clients wait until they
    /// give up, as behind a network partition.
    public func becomeUnreachable() {
        blackHoled.store(true, ordering: .relaxed)
    }

    /// Applies `fault` to the next `COMMIT` that passes, once.
    public func arm(_ fault: Fault) {
        armed.withLock { $0 = fault }
    }

    private func accepting() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            if blackHoled.load(ordering: .relaxed) {
                unreachableAccepts.add(1, ordering: .relaxed)
                held.withLock { $0.append(client) }
                continue
            }
            guard let server = try? connectToTarget() else {
                close(client)
                continue
            }
            let pair = Pair(client: client, server: server)
            Thread { [self] in
                clientToServer(pair)
                pair.done()
            }.start()
            Thread {
                Self.serverToClient(pair)
                pair.done()
            }.start()
        }
    }

    /// One proxied connection: both sockets are shut down by whichever direction ends first, and
    /// closed by the last one (never while the other may still read them).
    private final class Pair: Sendable {
        let client: Int32
        let server: Int32
        let cut = Atomic<Bool>(false)
        private let running = Atomic<Int>(2)

        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }

        func done() {
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(server, Int32(SHUT_RDWR))
            if running.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                close(client)
                close(server)
            }
        }
    }

    private func connectToTarget() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(target.host)
        address.sin_port = UInt16(target.port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw SetupError(message: "the proxy cannot reach the server")
        }
        return fd
    }

    /// Forwards the client's messages whole, watching for `COMMIT`.
    private func clientToServer(_ pair: Pair) {
        let (client, server) = (pair.client, pair.server)
        var buffer: [UInt8] = []
        var startup = true
        // Set once a commit to cut as it is sent has passed: the connection is cut after the
        // message that ends its exchange (Sync, or the commit itself as a simple query).
        var cutAfterSync = false
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(client, &chunk, chunk.count)
            guard count > 0 else { return }
            if blackHoled.load(ordering: .relaxed) { continue }
            buffer += chunk[0..<count]
            var out: [UInt8] = []
            while true {
                let header = startup ? 4 : 5
                guard buffer.count >= header else { break }
                let lengthAt = startup ? 0 : 1
                let length = Int(buffer[lengthAt]) << 24 | Int(buffer[lengthAt + 1]) << 16 | Int(buffer[lengthAt + 2]) << 8 | Int(buffer[lengthAt + 3])
                let total = length + lengthAt
                guard buffer.count >= total else { break }
                let message = Array(buffer[0..<total])
                buffer.removeFirst(total)
                if !startup, isCommit(message), let fault = armed.withLock({ armed in defer { armed = nil }; return armed }) {
                    applied.add(1, ordering: .relaxed)
                    switch fault {
                    case .neverArrive:
                        // What came before the commit is sent; the commit is not.
                        if !out.isEmpty { _ = out.withUnsafeBytes { write(server, $0.baseAddress, $0.count) } }
                        return
                    case .cutAsItIsSent:
                        cutAfterSync = true
                    case .loseTheAnswer:
                        // From here on, the server's answers are dropped and the client is cut.
                        pair.cut.store(true, ordering: .relaxed)
                    }
                }
                out += message
                startup = false
                if cutAfterSync, message.first == UInt8(ascii: "S") || message.first == UInt8(ascii: "Q") {
                    // The commit's exchange is sent whole; the client is cut before any answer.
                    _ = out.withUnsafeBytes { write(server, $0.baseAddress, $0.count) }
                    return
                }
            }
            if !out.isEmpty {
                let written = out.withUnsafeBytes { write(server, $0.baseAddress, $0.count) }
                guard written == out.count else { return }
            }
        }
    }

    /// Forwards the server's answers, unless a lost answer is due: then the client is cut once
    /// the server has answered.
    private static func serverToClient(_ pair: Pair) {
        let (client, server) = (pair.client, pair.server)
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(server, &chunk, chunk.count)
            guard count > 0 else { return }
            if pair.cut.load(ordering: .relaxed) { return }
            let written = chunk.withUnsafeBytes { write(client, $0.baseAddress, count) }
            guard written == count else { return }
        }
    }

    /// A `Parse` (extended protocol) or `Query` (simple protocol) message whose text is `COMMIT`.
    private func isCommit(_ message: [UInt8]) -> Bool {
        let commit = Array("COMMIT".utf8)
        switch message.first {
        case UInt8(ascii: "P"):
            // Type, length, the statement's name (zero-terminated), then the query text.
            guard let nameEnd = message[5...].firstIndex(of: 0) else { return false }
            let text = message[(nameEnd + 1)...].prefix { $0 != 0 }
            return Array(text) == commit
        case UInt8(ascii: "Q"):
            return Array(message[5...].prefix { $0 != 0 }) == commit
        default:
            return false
        }
    }
}

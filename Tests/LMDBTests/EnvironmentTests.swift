import Foundation
import LMDB
import Testing

/// The LMDB wrapper on a real environment on disk: transactions commit whole or leave no trace,
/// cursors walk keys in byte order, and failures come back as typed errors with advice.
@Suite struct EnvironmentTests {
    /// A fresh environment directory, removed afterwards.
    final class Directory {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-lmdb-\(UUID().uuidString)").path
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func aWriteCommitsWholeOrLeavesNoTrace() throws {
        let dir = try Directory()
        let env = try LMDB.Environment(path: dir.path, options: .init(mapSize: 16 << 20))
        let db = try env.database("things")
        try env.write { txn in
            try txn.put(db, Self.bytes("a"), Self.bytes("1"))
            try txn.put(db, Self.bytes("b"), Self.bytes("2"))
        }
        struct Abandon: Error {}
        #expect(throws: Abandon.self) {
            try env.write { txn in
                try txn.put(db, Self.bytes("c"), Self.bytes("3"))
                _ = try txn.delete(db, Self.bytes("a"))
                throw Abandon()
            }
        }
        try env.read { (txn: Transaction) throws -> Void in
            #expect(try txn.get(db, Self.bytes("a")) == Self.bytes("1"))
            #expect(try txn.get(db, Self.bytes("c")) == nil)
            #expect(try txn.count(db) == 2)
        }
    }

    @Test func cursorsWalkKeysInByteOrder() throws {
        let dir = try Directory()
        let env = try LMDB.Environment(path: dir.path, options: .init(mapSize: 16 << 20))
        let db = try env.database("ordered")
        try env.write { txn in
            for key in ["b/2", "a/1", "b/1", "c/1", "b/10"] { try txn.put(db, Self.bytes(key), Self.bytes(key.uppercased())) }
        }
        try env.read { (txn: Transaction) throws -> Void in
            let cursor = try txn.cursor(db)
            var keys: [String] = []
            var entry = try cursor.seek(atLeast: Self.bytes("b/"))
            while let current = entry, current.key.starts(with: Self.bytes("b/")) {
                keys.append(String(decoding: current.key, as: UTF8.self))
                entry = try cursor.next()
            }
            #expect(keys == ["b/1", "b/10", "b/2"])
            #expect(try cursor.last().map { String(decoding: $0.value, as: UTF8.self) } == "C/1")
            #expect(try cursor.previous().map { String(decoding: $0.key, as: UTF8.self) } == "b/2")
            #expect(try txn.entries(db, prefix: Self.bytes("b/")).map { String(decoding: $0.value, as: UTF8.self) } == ["B/1", "B/10", "B/2"])
            #expect(try txn.entries(db, prefix: Self.bytes("b/1")).map { String(decoding: $0.key, as: UTF8.self) } == ["b/1", "b/10"])
            #expect(try txn.entries(db, prefix: Self.bytes("a/2")).isEmpty)
            #expect(try txn.entries(db, prefix: Self.bytes("d/")).isEmpty)
            #expect(try txn.entries(db, prefix: []).count == 5)
            #expect(try txn.count(db, prefix: Self.bytes("a/")) == 1)
        }
    }

    @Test func aReaderSeesOnlyWhatWasCommittedBeforeItBegan() throws {
        let dir = try Directory()
        let env = try LMDB.Environment(path: dir.path, options: .init(mapSize: 16 << 20))
        let db = try env.database("snapshots")
        try env.write { txn in try txn.put(db, Self.bytes("k"), Self.bytes("old")) }
        try env.read { (txn: Transaction) throws -> Void in
            try env.write { write in try write.put(db, Self.bytes("k"), Self.bytes("new")) }
            #expect(try txn.get(db, Self.bytes("k")) == Self.bytes("old"))
        }
        try env.read { (txn: Transaction) throws -> Void in #expect(try txn.get(db, Self.bytes("k")) == Self.bytes("new")) }
    }

    /// Read transactions are reset and renewed from a pool: a renewed one must see the latest
    /// commit, and readers on many threads at once (more than the pool keeps) must each see a
    /// whole commit, never a value going backwards.
    @Test func renewedReadersSeeTheLatestCommitFromAnyThread() async throws {
        let dir = try Directory()
        let env = try LMDB.Environment(path: dir.path, options: .init(mapSize: 16 << 20))
        let db = try env.database("counter")
        func value(_ txn: Transaction) throws -> Int { Int(String(decoding: try txn.get(db, Self.bytes("n")) ?? [], as: UTF8.self)) ?? 0 }
        for n in 1...50 {
            try env.write { txn in try txn.put(db, Self.bytes("n"), Self.bytes(String(n))) }
            #expect(try env.read(value) == n)
        }
        let readers = 40
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for n in 51...250 { try env.write { txn in try txn.put(db, Self.bytes("n"), Self.bytes(String(n))) } }
                return true
            }
            for _ in 0..<readers {
                group.addTask {
                    var last = 0
                    for _ in 0..<300 {
                        let seen = try env.read(value)
                        guard seen >= last, seen >= 50 else { return false }
                        last = seen
                    }
                    return true
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == readers + 1 && results.allSatisfy { $0 })
        // Readers open inside one another, more than the pool keeps; all end and are reused.
        func nested(_ depth: Int) throws -> [Int] {
            try env.read { txn in [try value(txn)] + (depth > 1 ? try nested(depth - 1) : []) }
        }
        #expect(try nested(24) == Array(repeating: 250, count: 24))
        #expect(try nested(24) == Array(repeating: 250, count: 24))
        #expect(try env.read(value) == 250)
    }

    /// A transaction kept past its closure stops the process instead of reading through a handle
    /// that may by then belong to another reader.
    @Test func aTransactionUsedAfterItEndedStops() async {
        await #expect(processExitsWith: .failure) {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-lmdb-exit-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let env = try LMDB.Environment(path: path, options: .init(mapSize: 16 << 20))
            let db = try env.database("kept")
            let kept = try env.read { $0 }
            _ = try kept.get(db, Array("k".utf8))
        }
    }

    @Test func aFullMapIsATypedErrorAndTheWriteIsAbandoned() throws {
        let dir = try Directory()
        let env = try LMDB.Environment(path: dir.path, options: .init(mapSize: 1 << 20))
        let db = try env.database("big")
        let value = [UInt8](repeating: 7, count: 4096)
        do {
            try env.write { txn in
                for n in 0..<1000 { try txn.put(db, Self.bytes("key-\(n)"), value) }
            }
            Issue.record("a 4 MB write into a 1 MB map must fail")
        } catch let error as LMDBError {
            #expect(error.kind == .mapFull)
            #expect(error.path == dir.path)
            #expect(!error.advice.isEmpty)
        }
        try env.read { (txn: Transaction) throws -> Void in #expect(try txn.count(db) == 0) }
    }

    @Test func aMissingDatabaseIsNotCreatedWhenNotAsked() throws {
        let dir = try Directory()
        let env = try LMDB.Environment(path: dir.path, options: .init(mapSize: 16 << 20))
        #expect(throws: LMDBError.self) { try env.database("absent", create: false) }
    }

    @Test func aMissingDirectoryIsInaccessible() throws {
        do {
            _ = try LMDB.Environment(path: "/nonexistent/dxcp-\(UUID().uuidString)")
            Issue.record("opening a missing directory must fail")
        } catch {
            #expect(error.kind == .inaccessible)
        }
    }
}

import Foundation
import Rules
import GovernanceStore
import Testing

/// Bad state input gets a clear error naming the path and what to do; nothing is reset.
@Suite struct OpeningTests {
    @Test func missingDirectoryIsAnErrorNamingItAndTheSeedCommand() throws {
        let dir = TempDirectory()
        let error = try #require(throws: StoreError.self) { try GovernanceStore(directory: dir.path) }
        #expect(error.kind == .missing)
        #expect(error.description.contains(dir.path))
        #expect(error.description.contains("dxcp-policy seed"))
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }

    @Test func emptyDirectoryIsNotInitialised() throws {
        let dir = TempDirectory()
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        let error = try #require(throws: StoreError.self) { try GovernanceStore(directory: dir.path) }
        #expect(error.kind == .missing)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func aFileInsteadOfADirectoryIsRefused() throws {
        let dir = TempDirectory()
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: dir.path))
        let error = try #require(throws: StoreError.self) { try GovernanceStore(directory: dir.path, options: .init(create: true)) }
        #expect(error.kind == .inaccessible)
        #expect(error.description.contains(dir.path))
    }

    @Test func corruptDataFileIsRefusedAndLeftUntouched() throws {
        let dir = TempDirectory()
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        let garbage = Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let file = dir.path + "/data.mdb"
        try garbage.write(to: URL(fileURLWithPath: file))
        let error = try #require(throws: StoreError.self) { try GovernanceStore(directory: dir.path, options: .init(create: true)) }
        #expect(error.kind == .corrupt)
        #expect(error.description.contains(dir.path))
        #expect(error.description.contains("backup") || error.description.contains("--data-dir"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == garbage)
    }

    @Test func reopeningKeepsEverything() async throws {
        let dir = TempDirectory()
        do {
            let store = try await seededStore(dir)
            _ = try await store.decide(.deploy(deployIntent()), by: owner, context: context("k1", id: "dep-1"))
            await store.close()
        }
        let reopened = try GovernanceStore(directory: dir.path)
        #expect(try reopened.deployment(id: "dep-1")?.state == .inProgress)
        #expect(try reopened.policy().deliveryGroups["default"] != nil)
    }

    @Test func fullMapFailsTheDecisionCleanlyAndKeepsEarlierState() async throws {
        let dir = TempDirectory()
        let store = try await seededStore(dir, policy: testPolicy(maxConcurrent: 1_000_000, dailyDeploy: 1_000_000), mapSize: 1 << 20)
        var accepted = 0
        var failure: StoreError?
        for n in 0..<5000 {
            do {
                let decision = try await store.decide(.deploy(deployIntent(summary: String(repeating: "x", count: 200) + "\(n)")), by: owner, context: context("k\(n)"))
                if decision.allowed { accepted += 1 }
            } catch let error as StoreError {
                failure = error
                break
            }
        }
        let error = try #require(failure, "a 1 MiB map fills up")
        #expect(error.kind == .full)
        #expect(error.description.contains(dir.path))
        #expect(error.description.contains("map size"))
        // Everything acknowledged before the failure is there; nothing of the failed decision is.
        #expect(try store.deployments().count == accepted)
        #expect(try store.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: baseTime.day) == accepted)
        guard case .intact = try store.verifyAudit() else {
            Issue.record("audit chain broken after a full map")
            return
        }
    }
}

import Foundation
import Rules
import GovernanceStore
import TestSupport
import Testing

/// Limits hold under concurrency: quota, concurrency and the reservation are decided in one
/// write transaction, so no interleaving exceeds a limit (DECISIONS D8), in one process or two.
@Suite struct ContentionTests {
    @Test(arguments: Backend.underTest) func concurrentDeploysAgainstLimitOneAcceptExactlyOne(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend, policy: testPolicy(maxConcurrent: 1, dailyDeploy: 1000))
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        let decisions = try await withThrowingTaskGroup(of: Decision.self) { group in
            for n in 0..<64 {
                group.addTask { try await store.decide(.deploy(deployIntent(summary: "c\(n)")), by: owner, context: context("k\(n)"), requestId: nil) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(decisions.count { $0.allowed } == 1)
        #expect(decisions.count { $0.code == .concurrencyLimitReached } == 63)
        #expect(try await store.activeDeployments(group: "default", environment: "sandbox").count == 1)
        #expect(try await store.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: baseTime.day) == 1)
        let stats = store.writeStatistics()
        #expect(stats.largestBatch > 1, "concurrent callers share transactions (group commit)")
    }

    @Test(arguments: Backend.underTest) func concurrentDeploysAgainstDailyQuotaAcceptExactlyN(_ backend: Backend) async throws {
        let seeded = try await seededBackend(backend, policy: testPolicy(maxConcurrent: 1000, dailyDeploy: 7))
        let store = seeded.store
        defer { withExtendedLifetime(seeded) {} }
        let decisions = try await withThrowingTaskGroup(of: Decision.self) { group in
            for n in 0..<64 {
                group.addTask { try await store.decide(.deploy(deployIntent(summary: "q\(n)")), by: owner, context: context("k\(n)"), requestId: nil) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(decisions.count { $0.allowed } == 7)
        #expect(decisions.count { $0.code == .quotaExceeded } == 57)
        #expect(try await store.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: baseTime.day) == 7)
        #expect(try await store.allDeployments().count == 7)
    }

    @Test func twoProcessesSharingTheStoreAcceptExactlyOneUnderLimitOne() async throws {
        let dir = TempDirectory()
        do {
            let store = try await seededStore(dir, policy: testPolicy(maxConcurrent: 1, dailyDeploy: 1000))
            await store.close()
        }
        let outputs = try await runDrivers(dir.path, ["--count", "40", "--concurrency", "8"])
        let allows = outputs.flatMap { $0 }.filter { $0.hasPrefix("ALLOW ") }
        let denies = outputs.flatMap { $0 }.filter { $0 == "DENY CONCURRENCY_LIMIT_REACHED" }
        #expect(allows.count == 1)
        #expect(denies.count == 79)
    }

    @Test func twoProcessesSharingTheStoreSpendExactlyTheDailyQuota() async throws {
        let dir = TempDirectory()
        do {
            let store = try await seededStore(dir, policy: testPolicy(maxConcurrent: 1000, dailyDeploy: 13))
            await store.close()
        }
        let outputs = try await runDrivers(dir.path, ["--count", "30", "--concurrency", "8", "--complete"])
        let allows = outputs.flatMap { $0 }.filter { $0.hasPrefix("ALLOW ") }
        #expect(allows.count == 13)
        let quotaDenials = outputs.flatMap { $0 }.filter { $0 == "DENY QUOTA_EXCEEDED" }
        #expect(quotaDenials.count == 47)
        let store = try GovernanceStore(directory: dir.path)
        #expect(try await store.allDeployments().filter { $0.state == .succeeded }.count == 13)
        let day = try #require(try await store.allDeployments().first).createdAt.day
        #expect(try store.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: day) == 13)
    }
}

/// Runs two `dxcp-policy drive` processes at once on `dataDir` and returns each one's lines.
func runDrivers(_ dataDir: String, _ arguments: [String]) async throws -> [[String]] {
    let processes = try ["p1", "p2"].map { tag in
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dxcpPolicyExecutable())
        process.arguments = ["drive", "--data-dir", dataDir, "--tag", tag] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        return (process, pipe)
    }
    var outputs: [[String]] = []
    for (process, pipe) in processes {
        let (status, data) = try await offThePool {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, data)
        }
        #expect(status == 0)
        outputs.append(String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
    }
    return outputs
}

import TestSupport
import Engine
import Foundation
import GovernanceStore
import Rules
import Testing

/// A process dispatching deployments is killed with SIGKILL between reservation and trigger, and
/// between trigger and record. After a restart and recovery: exactly one execution per deployment
/// id, no slot held for a deployment that does not exist, quota spent only for executions that
/// exist (DECISIONS D6, D8, D13).
@Suite(.serialized) struct DispatchCrashTests {
    /// Runs `dxcp-policy drive` with `arguments`; returns its exit status, signal flag and lines.
    static func drive(_ arguments: [String]) throws -> (status: Int32, signalled: Bool, lines: [String]) {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("dxcp-policy")
        process.arguments = ["drive"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal,
            String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
    }

    @Test func killedBetweenTriggerAndRecordIsRecordedOnRecovery() async throws {
        let fixture = try await DispatchTests.Fixture()
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let killed = try Self.drive(["--data-dir", fixture.dir, "--gate", emulator.baseURL, "--count", "1", "--crash-after", "trigger"])
        #expect(killed.signalled && killed.status == SIGKILL)
        let record = try #require(try fixture.store.deployments().first)
        #expect(record.engineExecutionId == nil, "the crash came before the record")
        #expect(try DispatchTests.executions(emulator, for: record.id) == 1, "Gate started it")

        let recovered = try Self.drive(["--data-dir", fixture.dir, "--gate", emulator.baseURL, "--count", "0", "--recover"])
        #expect(recovered.status == 0)
        #expect(recovered.lines.contains("RECOVERED recorded=1 released=0 unresolved=0"))
        let after = try #require(try fixture.store.deployment(id: record.id))
        #expect(after.engineExecutionId != nil)
        #expect(try DispatchTests.executions(emulator, for: record.id) == 1, "exactly one execution")
        #expect(try fixture.quotaUsed(on: record.createdAt) == 1)
        #expect(try fixture.store.pendingDispatches().isEmpty)
        #expect(try fixture.store.activeDeployments(group: "default", environment: "sandbox").map(\.id) == [record.id])
    }

    @Test func killedBetweenReservationAndTriggerIsReleasedOnRecovery() async throws {
        let fixture = try await DispatchTests.Fixture()
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let killed = try Self.drive(["--data-dir", fixture.dir, "--gate", emulator.baseURL, "--count", "1", "--crash-after", "reservation"])
        #expect(killed.signalled && killed.status == SIGKILL)
        let record = try #require(try fixture.store.deployments().first)
        #expect(try DispatchTests.executions(emulator, for: record.id) == 0, "Gate never saw it")
        #expect(try fixture.quotaUsed(on: record.createdAt) == 1, "reserved before the crash")

        let recovered = try Self.drive(["--data-dir", fixture.dir, "--gate", emulator.baseURL, "--count", "0", "--recover"])
        #expect(recovered.lines.contains("RECOVERED recorded=0 released=1 unresolved=0"))
        #expect(try fixture.store.deployment(id: record.id) == nil)
        #expect(try fixture.quotaUsed(on: record.createdAt) == 0)
        #expect(try fixture.store.activeDeployments(group: "default", environment: "sandbox").isEmpty)
        #expect(try DispatchTests.executions(emulator, for: record.id) == 0, "recovery never triggers")

        // Afterwards the same deployment goes through normally, once.
        let again = try Self.drive(["--data-dir", fixture.dir, "--gate", emulator.baseURL, "--count", "1", "--tag", "again"])
        #expect(again.lines.contains { $0.hasPrefix("DISPATCHED ") })
        let redone = try #require(try fixture.store.deployments().first)
        #expect(try fixture.quotaUsed(on: redone.createdAt) == 1)
    }
}

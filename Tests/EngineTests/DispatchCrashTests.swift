import TestSupport
import Engine
import Foundation
import GovernanceStore
import Rules
import Testing

/// A process dispatching deployments is killed with SIGKILL between reservation and trigger, and
/// between trigger and record, and a server is started on its data directory at once. Its
/// reconciler resolves the reservation within the grace period and an interval, without another
/// restart: exactly one execution per deployment id, no slot held for a deployment that does not
/// exist, quota spent only for executions that exist (DECISIONS D6, D8, D13).
@Suite(.serialized) struct DispatchCrashTests {
    /// Runs `dxcp-policy drive` with `arguments`; returns its exit status, signal flag and lines.
    static func drive(_ arguments: [String]) async throws -> (status: Int32, signalled: Bool, lines: [String]) {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("dxcp-policy")
        process.arguments = ["drive"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        return try await offThePool {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, process.terminationReason == .uncaughtSignal,
                String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
        }
    }

    /// `dxcp-policy serve` on `dir`, its Gate calls timing out after a second (a grace period of
    /// two) and its reconciler running every second: what a supervisor restarts at once.
    final class Serve {
        let process = Process()
        let port: Int

        init(dir: String, gate: String) async throws {
            port = try freePort()
            let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            process.executableURL = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("dxcp-policy")
            process.arguments = ["serve", "--port", String(port), "--data-dir", dir, "--gate-url", gate]
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DXCP_") }
            environment["DXCP_DEV_JWT_SECRET"] = "crash-test-secret-0123456789abcdef"
            environment["DXCP_SPINNAKER_TIMEOUT_MS"] = "1000"
            environment["DXCP_SPINNAKER_RECONCILE_INTERVAL_SECONDS"] = "1"
            // Gate here is the emulator, which stores an execution before it answers.
            environment["DXCP_SPINNAKER_SETTLE_SECONDS"] = "0"
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        deinit {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
    }

    /// Waits (up to a bound that is no figure of speed: grace, interval and start-up, ten times
    /// over) until `done` holds; whether it held.
    static func eventually(_ done: () throws -> Bool) async throws -> Bool {
        for _ in 0..<300 {
            if try done() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try done()
    }

    @Test func killedBetweenTriggerAndRecordIsRecordedByTheRestartedServer() async throws {
        let fixture = try await DispatchTests.Fixture()
        let emulator = try EmulatorProcess(["--run-seconds", "600"])
        let killed = try await Self.drive(["--data-dir", fixture.dir, "--gate", emulator.baseURL, "--count", "1", "--crash-after", "trigger"])
        #expect(killed.signalled)
        let record = try #require(try fixture.node.deployments().first)
        #expect(record.engineExecutionId == nil)
        let server = try await Serve(dir: fixture.dir, gate: emulator.baseURL)
        #expect(try await Self.eventually { try fixture.node.deployment(id: record.id)?.engineExecutionId != nil }, "resolved without another restart")
        let recorded = try #require(try fixture.node.deployment(id: record.id))
        #expect(try DispatchTests.executions(emulator, for: record.id) == 1)
        #expect(try fixture.node.pendingDispatches().isEmpty)
        #expect(try await fixture.quotaUsed(on: record.createdAt) == 1)
        // What operators see: the pass that recorded it, and nothing pending after it.
        let metrics = String(decoding: try shell("curl -sf http://127.0.0.1:\(server.port)/metrics", in: "/"), as: UTF8.self)
        #expect(metrics.contains(#"dxcp_engine_reconciled_total{result="recorded"} 1"#), "\(metrics)")
        #expect(metrics.contains("dxcp_engine_dispatches_pending 0"))
        #expect(metrics.contains("dxcp_engine_dispatch_oldest_pending_seconds 0"))

        // The slot follows the execution: held while it runs, free once it ends.
        let blocked = try await Self.drive(["--data-dir", fixture.dir, "--gate", emulator.baseURL, "--count", "1", "--tag", "blocked"])
        #expect(blocked.lines == ["DENY CONCURRENCY_LIMIT_REACHED"])
        let executionId = try #require(recorded.engineExecutionId)
        try emulator.control("/_emulator/executions/\(executionId)", #"{"status": "SUCCEEDED"}"#)
        #expect(try await Self.eventually { try fixture.node.activeDeployments(group: "default", environment: "sandbox").isEmpty }, "the server's poller saw it end")
        let next = try await Self.drive(["--data-dir", fixture.dir, "--gate", emulator.baseURL, "--count", "1", "--tag", "next"])
        #expect(next.lines.contains { $0.hasPrefix("DISPATCHED ") })
        withExtendedLifetime(server) {}
    }

    @Test func killedBetweenReservationAndTriggerIsReleasedByTheRestartedServer() async throws {
        let fixture = try await DispatchTests.Fixture()
        let emulator = try EmulatorProcess(["--run-seconds", "600"])
        let killed = try await Self.drive(["--data-dir", fixture.dir, "--gate", emulator.baseURL, "--count", "1", "--crash-after", "reservation"])
        #expect(killed.signalled)
        let record = try #require(try fixture.node.deployments().first)
        let server = try await Serve(dir: fixture.dir, gate: emulator.baseURL)
        #expect(try await Self.eventually { try fixture.node.deployment(id: record.id) == nil }, "released without another restart")
        #expect(try DispatchTests.executions(emulator, for: record.id) == 0, "never triggered")
        #expect(try await fixture.quotaUsed(on: record.createdAt) == 0)
        #expect(try fixture.node.activeDeployments(group: "default", environment: "sandbox").isEmpty)
        let next = try await Self.drive(["--data-dir", fixture.dir, "--gate", emulator.baseURL, "--count", "1", "--tag", "next"])
        #expect(next.lines.contains { $0.hasPrefix("DISPATCHED ") })
        withExtendedLifetime(server) {}
    }
}

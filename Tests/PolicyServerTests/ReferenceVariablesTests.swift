import Foundation
import TestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GovernanceStore
@testable import PolicyServer
import Rules
import Testing

/// The reference's limit, kill-switch and CI-publisher variables mean the same here, and apply to
/// a data directory's first start only (DECISIONS D35).
@Suite struct ReferenceVariablesTests {
    @Test func everyVariableSetsItsSetting() throws {
        let settings = try ReferenceVariables.apply([
            "DXCP_READ_RPM": "120", "DXCP_MUTATE_RPM": " 20 ", "DXCP_DAILY_QUOTA_BUILD_REGISTER": "0",
            "DXCP_DAILY_QUOTA_UPLOAD_CAPABILITY": "7", "DXCP_DAILY_QUOTA_DEPLOY": "3", "DXCP_DAILY_QUOTA_ROLLBACK": "2",
            "DXCP_MUTATIONS_DISABLED": "TRUE",
        ], to: Settings())
        #expect(settings.readRPM == 120)
        #expect(settings.mutateRPM == 20)
        #expect(settings.dailyQuotaBuildRegister == 0)
        #expect(settings.dailyQuotaUploadCapability == 7)
        #expect(settings.dailyQuotaDeploy == 3)
        #expect(settings.dailyQuotaRollback == 2)
        #expect(settings.mutationsDisabled)
        #expect(try ReferenceVariables.apply([:], to: Settings()) == Settings(), "absent variables change nothing")
    }

    @Test func theLegacyKillSwitchIsAFallback() throws {
        #expect(try ReferenceVariables.apply(["DXCP_KILL_SWITCH": "1"], to: Settings()).mutationsDisabled)
        #expect(try !ReferenceVariables.apply(["DXCP_MUTATIONS_DISABLED": "false", "DXCP_KILL_SWITCH": "true"], to: Settings()).mutationsDisabled)
    }

    @Test(arguments: [
        ("DXCP_READ_RPM", "0"), ("DXCP_READ_RPM", "5001"), ("DXCP_MUTATE_RPM", "ten"), ("DXCP_DAILY_QUOTA_DEPLOY", "-1"),
        ("DXCP_MUTATIONS_DISABLED", "maybe"), ("DXCP_CI_PUBLISHERS", "ci-bot,other"), ("DXCP_CI_PUBLISHERS", #"{"name":"x"}"#),
        ("DXCP_CI_PUBLISHERS", #"[{"provider":"github"}]"#), ("DXCP_CI_PUBLISHERS", #"[{"name":"a","provider":"gitlab"}]"#),
        ("DXCP_CI_PUBLISHERS", #"["a","a"]"#), ("DXCP_CI_PUBLISHERS", "[1]"),
    ])
    func unusableValuesAreRefusedByName(name: String, value: String) {
        #expect(throws: ReferenceVariables.Invalid.self) { try ReferenceVariables.apply([name: value], to: Settings()) }
        do {
            _ = try ReferenceVariables.apply([name: value], to: Settings())
        } catch {
            #expect(error.name == name)
            #expect(!error.reason.isEmpty)
        }
    }

    @Test func ciPublishersTakeObjectsAndSubjectStrings() throws {
        let publishers = try ReferenceVariables.apply([
            "DXCP_CI_PUBLISHERS": #"["ci-bot", {"name":"gh","provider":"github","issuers":["https://token.actions.githubusercontent.com"],"subject_prefixes":["repo:org/"]}]"#,
        ], to: Settings()).ciPublishers
        #expect(publishers == [
            CIPublisher(name: "ci-bot", provider: .custom, subjects: ["ci-bot"]),
            CIPublisher(name: "gh", provider: .github, issuers: ["https://token.actions.githubusercontent.com"], subjectPrefixes: ["repo:org/"]),
        ])
        #expect(try ReferenceVariables.apply(["DXCP_CI_PUBLISHERS": "[]"], to: Settings(ciPublishers: publishers)).ciPublishers.isEmpty)
    }

    @Test func theServiceRegistryReplacesThePolicyServices() throws {
        let registry = #"""
            [{"service_name":"payments","allowed_environments":["sandbox"],"allowed_recipes":["default"],
              "allowed_artifact_sources":["s3://artifacts/payments/"],"stable_service_url_template":"https://{env}.example/payments",
              "backstage_entity_ref":"component:payments","backstage_entity_url":"https://backstage.example/payments"},
             {"service_name":"ledger"}]
            """#
        var policy = PolicySnapshot()
        policy.services = ["old": ServiceEntry(name: "old")]
        let applied = try ReferenceVariables.apply(["DXCP_SERVICE_REGISTRY_PATH": "/r.json"], to: policy) { path in
            path == "/r.json" ? Array(registry.utf8) : nil
        }
        #expect(applied.services.keys.sorted() == ["ledger", "payments"])
        #expect(applied.services["payments"] == ServiceEntry(
            name: "payments", allowedEnvironments: ["sandbox"], allowedRecipes: ["default"],
            allowedArtifactSources: ["s3://artifacts/payments/"], stableServiceURLTemplate: "https://{env}.example/payments"))
        let wrapped = try ReferenceVariables.apply(["DXCP_SERVICE_REGISTRY_PATH": "/r.json"], to: policy) { _ in
            Array(#"{"services":[{"service_name":"ledger"}]}"#.utf8)
        }
        #expect(wrapped.services.keys.sorted() == ["ledger"])
        #expect(try ReferenceVariables.apply([:], to: policy) { _ in nil } == policy)
    }

    @Test(arguments: [
        nil, "not json", #"{"name":"x"}"#, #"[{"allowed_recipes":["a"]}]"#, #"[{"service_name":""}]"#,
        #"[{"service_name":"a"},{"service_name":"a"}]"#, #"[{"service_name":"a","allowed_recipes":"default"}]"#, "[1]",
    ] as [String?])
    func anUnusableRegistryIsRefused(content: String?) {
        do {
            _ = try ReferenceVariables.apply(["DXCP_SERVICE_REGISTRY_PATH": "/r.json"], to: PolicySnapshot()) { _ in content.map { Array($0.utf8) } }
            Issue.record("accepted \(content ?? "an unreadable file")")
        } catch {
            #expect(error.name == "DXCP_SERVICE_REGISTRY_PATH")
        }
    }

    /// `serve --config`: the file's settings apply; the environment wins over the file.
    @Test func serveReadsItsConfigurationFile() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-config-\(UUID().uuidString)").path
        let config = dir + ".yaml"
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: config)
        }
        let port = try freePort()
        try Data("""
            listen: {host: 127.0.0.1, port: \(port)}
            data_dir: \(dir)
            limits: {read_rpm: 300, mutate_rpm: 30}
            mutations_disabled: false
            """.utf8).write(to: URL(fileURLWithPath: config))
        let run = try await Self.serve(
            dir: nil, variables: ["DXCP_MUTATE_RPM": "45", "DXCP_KILL_SWITCH": "1"], arguments: ["--config", config], port: port)
        #expect(run.served, "listening on the file's port: \(run.stderr)")
        let settings = try GovernanceStore(directory: dir).policy().settings
        #expect(settings.readRPM == 300)
        #expect(settings.mutateRPM == 45, "the environment wins over the file")
        #expect(settings.mutationsDisabled, "the environment's legacy kill switch wins over the file's mutations_disabled")

        try Data("listen: {prot: 1}\n".utf8).write(to: URL(fileURLWithPath: config))
        let bad = try await Self.serve(dir: nil, variables: [:], arguments: ["--config", config], port: port)
        #expect(!bad.served)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("listen.prot"))
    }

    /// `serve` on an empty directory with nothing but variables; a second start keeps what the
    /// first one stored; a bad value stops the start with exit 2 and writes nothing.
    @Test func serveAppliesTheVariablesAtFirstStartOnly() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-refvars-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let registry = dir + "-services.json"
        defer { try? FileManager.default.removeItem(atPath: registry) }
        try Data(#"[{"service_name":"payments","allowed_recipes":["default"]}]"#.utf8).write(to: URL(fileURLWithPath: registry))
        let first = try await Self.serve(dir: dir, variables: [
            "DXCP_READ_RPM": "77", "DXCP_DAILY_QUOTA_DEPLOY": "4", "DXCP_MUTATIONS_DISABLED": "true", "DXCP_CI_PUBLISHERS": #"["ci-bot"]"#,
            "DXCP_SERVICE_REGISTRY_PATH": registry,
        ])
        #expect(first.served)
        #expect(first.status == 0)
        var settings = try GovernanceStore(directory: dir).policy().settings
        #expect(settings.readRPM == 77)
        #expect(settings.dailyQuotaDeploy == 4)
        #expect(settings.mutationsDisabled)
        #expect(settings.ciPublishers.map(\.name) == ["ci-bot"])
        #expect(try GovernanceStore(directory: dir).policy().services.keys.sorted() == ["payments"])

        let second = try await Self.serve(dir: dir, variables: ["DXCP_READ_RPM": "9", "DXCP_MUTATIONS_DISABLED": "false"])
        #expect(second.served)
        settings = try GovernanceStore(directory: dir).policy().settings
        #expect(settings.readRPM == 77, "stored settings win after the first start")
        #expect(settings.mutationsDisabled)

        let fresh = dir + "-bad"
        defer { try? FileManager.default.removeItem(atPath: fresh) }
        let bad = try await Self.serve(dir: fresh, variables: ["DXCP_MUTATE_RPM": "lots"])
        #expect(!bad.served)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("DXCP_MUTATE_RPM"))
        if FileManager.default.fileExists(atPath: fresh) {
            #expect(try GovernanceStore(directory: fresh).policyGeneration() == 0, "nothing stored from a refused start")
        }
    }

    /// Gate's timeouts and the reconciler's interval are bounded: a value outside its range, or a
    /// connect timeout above the call timeout, stops the start naming the variable.
    @Test(arguments: [
        (["DXCP_SPINNAKER_TIMEOUT_MS": "100"], "DXCP_SPINNAKER_TIMEOUT_MS"),
        (["DXCP_SPINNAKER_TIMEOUT_MS": "ten"], "DXCP_SPINNAKER_TIMEOUT_MS"),
        (["DXCP_SPINNAKER_CONNECT_TIMEOUT_MS": "5000", "DXCP_SPINNAKER_TIMEOUT_MS": "1000"], "DXCP_SPINNAKER_CONNECT_TIMEOUT_MS"),
        (["DXCP_SPINNAKER_RECONCILE_INTERVAL_SECONDS": "0"], "DXCP_SPINNAKER_RECONCILE_INTERVAL_SECONDS"),
        (["DXCP_SPINNAKER_SETTLE_SECONDS": "3601"], "DXCP_SPINNAKER_SETTLE_SECONDS"),
    ])
    func engineSettingsAreBounded(_ variables: [String: String], _ named: String) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-engine-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try await Self.serve(dir: dir, variables: variables.merging(["DXCP_SPINNAKER_GATE_URL": "http://127.0.0.1:9"]) { a, _ in a })
        #expect(!run.served)
        #expect(run.status == 2)
        #expect(run.stderr.contains(named), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/data.mdb"), "refused before the data directory is touched")
    }

    /// Runs `serve` with `variables` until it answers `/livez` (then stops it with SIGTERM), or
    /// until it exits on its own.
    static func serve(
        dir: String?, variables: [String: String], arguments: [String] = [], port: Int? = nil
    ) async throws -> (served: Bool, status: Int32, stderr: String) {
        let port = try port ?? freePort()
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("dxcp-policy")
        process.arguments = ["serve"] + (dir.map { ["--port", String(port), "--data-dir", $0] } ?? []) + arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DXCP_") }
        environment["DXCP_DEV_JWT_SECRET"] = RunningServer.secret
        environment.merge(variables) { _, new in new }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        var served = false
        for _ in 0..<100 where !served && process.isRunning {
            served = (try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/livez")!)) != nil
            if !served { try await Task.sleep(for: .milliseconds(100)) }
        }
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (served, process.terminationStatus, stderr)
    }
}

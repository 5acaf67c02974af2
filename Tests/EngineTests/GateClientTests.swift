import TestSupport
import Engine
import Foundation
@testable import Rules
import Testing

/// The Gate client through real libcurl against the emulator on loopback: triggers, execution
/// states, recovery search, and every `ENGINE_*` code from the fault that causes it
/// (REFERENCE §10, DECISIONS D16).
@Suite(.serialized) struct GateClientTests {
    static func record(id: String = "dep-1", kind: DeploymentRecord.Kind = .rollForward) -> DeploymentRecord {
        DeploymentRecord(
            id: id, service: "demo-service", environment: "sandbox", version: "1.2.3", sourceEnvironment: nil, recipeId: "default",
            recipeRevision: 1, effectiveBehaviorSummary: "Standard", state: .inProgress, kind: kind, changeSummary: "x",
            createdAt: Timestamp(seconds: 1), updatedAt: Timestamp(seconds: 1), rollbackOf: kind == .rollback ? "dep-0" : nil,
            deliveryGroupId: "default", failures: [], intentCorrelationId: "key-1", engineExecutionId: nil, engineExecutionURL: nil,
            spinnakerApplication: "demo-app", spinnakerPipeline: "demo-deploy",
            actor: ActorIdentity(principal: Principal(claims: Claims(subject: "u1", email: "Owner@Example.com", roles: .values(["dxcp-delivery-owners"]))),
                role: .deliveryOwner, engineUser: "owner@example.com"),
            policySnapshot: PolicyNumbers(maxConcurrentDeployments: 1, currentConcurrentDeployments: 0, dailyDeployQuota: 25, deploymentsUsed: 0, dailyQuotaBuildRegister: 50))
    }

    static func client(_ emulator: EmulatorProcess, _ auth: GateConfiguration.Authentication = .none, timeoutMs: Int = 1_500) -> GateClient {
        GateClient(configuration: GateConfiguration(baseURL: emulator.baseURL, authentication: auth, requestTimeoutMs: timeoutMs))
    }

    @Test func triggerSendsThePayloadAndHeadersAndReturnsTheExecution() async throws {
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let client = Self.client(emulator)
        let trigger = TriggerRequest(record: Self.record(), artifactRef: "s3://dxcp-artifacts/demo-service/demo-service-1.2.3.zip")
        let execution = try await client.trigger(trigger, requestId: "req-42")
        #expect(execution.url == "\(emulator.baseURL)/pipelines/\(execution.id)")
        let call = try #require(try emulator.calls().first { ($0["method"] as? String) == "POST" })
        #expect(call["path"] as? String == "/pipelines/demo-app/demo-deploy")
        let headers = try #require(call["headers"] as? [String: String])
        #expect(headers["x-spinnaker-user"] == "owner@example.com")
        #expect(headers["x-request-id"] == "req-42")
        #expect(headers["authorization"] == nil, "no credentials unless configured")
        let body = try #require(try JSONSerialization.jsonObject(with: Data((call["body"] as? String ?? "").utf8)) as? [String: Any])
        #expect(body["type"] as? String == "manual")
        #expect(body["idempotencyKey"] as? String == "key-1")
        let parameters = try #require(body["parameters"] as? [String: String])
        #expect(parameters == [
            "service": "demo-service", "environment": "sandbox", "version": "1.2.3", "dxcpDeploymentId": "dep-1",
            "artifactRef": "s3://dxcp-artifacts/demo-service/demo-service-1.2.3.zip", "s3Bucket": "dxcp-artifacts",
            "s3Key": "demo-service/demo-service-1.2.3.zip",
        ])

        let running = try #require(try await client.execution(execution.id, user: "owner@example.com", requestId: "r"))
        #expect(running.state == .inProgress)
        try emulator.control("/_emulator/executions/\(execution.id)", #"{"status": "SUCCEEDED"}"#)
        let ended = try #require(try await client.execution(execution.id, user: "owner@example.com", requestId: "r"))
        #expect(ended.state == .succeeded)
        #expect(ended.deploymentId == "dep-1")
        #expect(try await client.execution("no-such-execution", user: "u", requestId: "r") == nil)

        let found = try await client.executions(application: "demo-app", deploymentId: "dep-1", user: "u", requestId: "r")
        #expect(found.map(\.id) == [execution.id])
        #expect(try await client.executions(application: "demo-app", deploymentId: "dep-2", user: "u", requestId: "r").isEmpty)
    }

    @Test func rollbackCarriesTheTargetVersion() throws {
        let trigger = TriggerRequest(record: Self.record(kind: .rollback), artifactRef: nil)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(trigger.payload)) as? [String: Any])
        let parameters = try #require(body["parameters"] as? [String: String])
        #expect(parameters["targetVersion"] == "1.2.3")
        #expect(parameters["artifactRef"] == nil)
    }

    @Test(arguments: [
        (GateConfiguration.Authentication.bearer("s3cret-token"), "authorization", "Bearer s3cret-token"),
        (.header(name: "X-Gate-Key", value: "k-123"), "x-gate-key", "k-123"),
    ])
    func configuredCredentialsAreSentAndNeverDescribed(_ auth: GateConfiguration.Authentication, _ header: String, _ value: String) async throws {
        let emulator = try EmulatorProcess()
        let client = Self.client(emulator, auth)
        try await client.health(requestId: "r")
        let headers = try #require(try emulator.calls().first?["headers"] as? [String: String])
        #expect(headers[header] == value)
        #expect(!client.configuration.description.contains(value.replacingOccurrences(of: "Bearer ", with: "")))
    }

    @Test func callerTokenIsForwardedOnlyWhenTheDevelopmentOptionIsOn() async throws {
        let emulator = try EmulatorProcess()
        let trigger = TriggerRequest(record: Self.record(), artifactRef: nil)
        _ = try await Self.client(emulator).trigger(trigger, requestId: "r", callerToken: "caller-jwt")
        var forwarding = GateConfiguration(baseURL: emulator.baseURL)
        forwarding.forwardCallerToken = true
        _ = try await GateClient(configuration: forwarding).trigger(trigger, requestId: "r", callerToken: "caller-jwt")
        let authorizations = try emulator.calls().map { ($0["headers"] as? [String: String])?["authorization"] }
        #expect(authorizations == [nil, "Bearer caller-jwt"])
        var withBearer = GateConfiguration(baseURL: emulator.baseURL, authentication: .bearer("service-token"))
        withBearer.forwardCallerToken = true
        _ = try await GateClient(configuration: withBearer).trigger(trigger, requestId: "r", callerToken: "caller-jwt")
        #expect(try emulator.calls().last.flatMap { ($0["headers"] as? [String: String])?["authorization"] } == "Bearer service-token")
    }

    @Test(arguments: [
        (#"{"status": 500, "times": 1}"#, ContractCode.engineCallFailed, 500, true),
        (#"{"status": 502, "times": 1}"#, .engineCallFailed, 502, true),
        (#"{"status": 400, "times": 1}"#, .engineCallFailed, 400, false),
        (#"{"status": 401, "times": 1}"#, .engineUnauthorized, 401, false),
        (#"{"status": 403, "times": 1}"#, .engineUnauthorized, 403, false),
        (#"{"redirect": "http://127.0.0.1:9/elsewhere", "times": 1}"#, .engineMisconfigured, 302, false),
        (#"{"garbage": true, "times": 1}"#, .engineCallFailed, 200, false),
        (#"{"noExecutionId": true, "times": 1}"#, .engineCallFailed, 200, false),
    ] as [(String, ContractCode, Int, Bool)])
    func triggerFaultsMapToEngineCodes(_ fault: String, _ code: ContractCode, _ status: Int, _ unavailable: Bool) async throws {
        let emulator = try EmulatorProcess()
        try emulator.control("/_emulator/faults", fault)
        let error = await #expect(throws: EngineError.self) {
            try await Self.client(emulator).trigger(TriggerRequest(record: Self.record(), artifactRef: nil), requestId: "r")
        }
        #expect(error?.code == code)
        #expect(error?.upstreamStatus == status)
        #expect(error?.engineUnavailable == unavailable)
        if code == .engineMisconfigured {
            #expect(error?.detail.contains("redirect") == true)
            #expect(try emulator.calls().count == 1, "the redirect was not followed")
        }
    }

    @Test(arguments: [#"{"delayMs": 3000, "times": 1}"#, #"{"hang": true, "times": 1}"#])
    func slowOrSilentGateTimesOut(_ fault: String) async throws {
        let emulator = try EmulatorProcess()
        try emulator.control("/_emulator/faults", fault)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: EngineError.self) { try await Self.client(emulator, timeoutMs: 500).health(requestId: "r") }
        #expect(error?.code == .engineTimeout)
        #expect(error?.engineUnavailable == true)
        #expect(clock.now - start < .seconds(5), "the call ended at its timeout, not at the fault's end")
    }

    @Test func nothingListeningIsUnavailable() async throws {
        let client = GateClient(configuration: GateConfiguration(baseURL: "http://127.0.0.1:9"))
        let error = await #expect(throws: EngineError.self) { try await client.health(requestId: "r") }
        #expect(error?.code == .engineUnavailable)
        let details = try #require(error?.details(requestId: "r", engineHost: nil))
        #expect(details["engine_unavailable"] == .bool(true))
        guard case .object(let diagnostics)? = details["diagnostics"] else {
            Issue.record("no diagnostics")
            return
        }
        #expect(diagnostics["engine"] == .string("spinnaker"))
        #expect(diagnostics["upstream_status"] == .null)
    }

    @Test func terminalExecutionsAreNormalisedFailures() async throws {
        let emulator = try EmulatorProcess(["--outcome", "TERMINAL", "--run-seconds", "0"])
        let client = Self.client(emulator)
        let execution = try await client.trigger(TriggerRequest(record: Self.record(), artifactRef: nil), requestId: "r")
        let status = try #require(try await client.execution(execution.id, user: "u", requestId: "r"))
        #expect(status.state == .failed)
        let failure = try #require(status.failure(isRollback: false, at: Timestamp(seconds: 5)))
        #expect(failure.category == .infrastructure)
        #expect(failure.detail?.contains("connection refused") == true)
    }

    @Test(arguments: [
        ("RUNNING", DeploymentRecord.State.inProgress), ("NOT_STARTED", .inProgress), ("PAUSED", .inProgress),
        ("SUCCEEDED", .succeeded), ("ROLLED_BACK", .rolledBack), ("TERMINAL", .failed), ("FAILED", .failed),
        ("CANCELED", .canceled), ("STOPPED", .canceled), ("SOMETHING_NEW", .pending),
    ])
    func gateStatesMapToContractStates(_ status: String, _ state: DeploymentRecord.State) {
        #expect(ExecutionStatus.state(for: status) == state)
        #expect(ExecutionStatus.state(for: status.lowercased()) == state)
    }
}

import TestSupport
@testable import Engine
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

    /// The emulator writes an execution's answer by hand: it must be the same JSON as the
    /// listing's, which Foundation serialises, whatever the trigger carried — while running, and
    /// ended in failure (with the stage's error).
    @Test func anExecutionAnswersAsItIsListed() throws {
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let trigger = #"{"type": "manual", "correlationId": "dxcp-q\"\\é", "parameters": {"service": "a\"b\\c\nd\u0001", "n": 7, "z": 0, "f": 1.5, "ok": true, "no": false, "nil": null, "list": ["x", 1, {"k": [true]}]}}"#
        let started = try emulator.control("/pipelines/demo-app/demo-deploy", trigger)
        let ref = try #require(try JSONSerialization.jsonObject(with: Data(started.utf8)) as? [String: Any])["ref"] as? String
        let id = try #require(ref?.split(separator: "/").last.map(String.init))
        for status in ["RUNNING", "TERMINAL"] {
            if status != "RUNNING" { try emulator.control("/_emulator/executions/\(id)", #"{"status": "\#(status)"}"#) }
            let one = try #require(try JSONSerialization.jsonObject(with: Data(emulator.control("/pipelines/\(id)", "GET").utf8)) as? NSDictionary)
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(emulator.control("/applications/demo-app/pipelines", "GET").utf8)) as? [NSDictionary])
            #expect(listed.count == 1)
            #expect(one == listed.first, "\(one)")
            #expect(one["status"] as? String == status)
            #expect((one["trigger"] as? NSDictionary)?["correlationId"] as? String == "dxcp-q\"\\é")
            // NSNumber equality takes true for 1: booleans and numbers are checked by their type.
            let parameters = try #require((one["trigger"] as? NSDictionary)?["parameters"] as? NSDictionary)
            let types = ["ok", "no", "n", "z", "f"].map { (parameters[$0] as? NSNumber).map { String(cString: $0.objCType) } ?? "-" }
            #expect(types[0] == "c" && types[1] == "c", "booleans stay booleans: \(types)")
            #expect(types[2] != "c" && types[3] != "c" && types[4] != "c", "numbers stay numbers: \(types)")
        }
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
        #expect(body["correlationId"] as? String == "dxcp-dep-1", "Orca starts no second execution for a running correlation id")
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

        let found = try await client.findExecution(application: "demo-app", deploymentId: "dep-1", createdAt: wallClock(), user: "u", requestId: "r")
        guard case .found(let status) = found else { Issue.record("not found: \(found)"); return }
        #expect(status.id == execution.id)
        #expect(try await client.findExecution(application: "demo-app", deploymentId: "dep-2", createdAt: wallClock(), user: "u", requestId: "r") == GateClient.Search.none)
        let searches = try emulator.calls().compactMap { $0["path"] as? String }.filter { $0.hasSuffix("/executions/search") }
        #expect(searches == ["/applications/demo-app/executions/search", "/applications/demo-app/executions/search"], "Gate's search, not the list")
    }

    @Test func aSecondTriggerOfARunningDeploymentStartsNothing() async throws {
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let client = Self.client(emulator)
        let trigger = TriggerRequest(record: Self.record(), artifactRef: nil)
        let first = try await client.trigger(trigger, requestId: "r1")
        let second = try await client.trigger(trigger, requestId: "r2")
        #expect(first.id == second.id, "the correlation id names the running execution")
        let list = try emulator.control("/applications/demo-app/pipelines", "GET")
        #expect((try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [Any])?.count == 1)
    }

    @Test func withoutGatesSearchTheListDecidesOnlyWhenItIsComplete() async throws {
        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let client = Self.client(emulator)
        try emulator.control("/_emulator/faults", #"{"path": "/applications/demo-app/executions/search", "status": 404}"#)
        let execution = try await client.trigger(TriggerRequest(record: Self.record(), artifactRef: nil), requestId: "r")
        #expect(try await client.findExecution(application: "demo-app", deploymentId: "dep-1", createdAt: wallClock(), user: "u", requestId: "r")
            == .found(try #require(try await client.execution(execution.id, user: "u", requestId: "r"))))
        #expect(try await client.findExecution(application: "demo-app", deploymentId: "dep-9", createdAt: wallClock(), user: "u", requestId: "r") == .none,
            "a short list holds everything Gate keeps")
        for n in 0..<100 {
            _ = try await client.trigger(TriggerRequest(record: Self.record(id: "other-\(n)"), artifactRef: nil), requestId: "r")
        }
        let error = await #expect(throws: EngineError.self, "a full list proves no absence") {
            try await client.findExecution(application: "demo-app", deploymentId: "dep-9", createdAt: wallClock(), user: "u", requestId: "r")
        }
        #expect(error?.detail.contains("absence cannot be proved") == true)
    }

    @Test func thePayloadIsJSONWhateverTheStringsHold() throws {
        var random = SplitMix64(seed: 20_261_206)
        let alphabet: [Character] = ["a", "\"", "\\", "\n", "\u{0}", "\u{1f}", "é", "😀", "/", " ", "\u{7f}", "}"]
        for _ in 0..<500 {
            var record = Self.record()
            record.intentCorrelationId = String((0..<random.below(12)).map { _ in random.pick(alphabet) })
            record.actor.engineUser = String((0..<random.below(12)).map { _ in random.pick(alphabet) })
            let payload = TriggerRequest(record: record, artifactRef: "s3://b/" + String((0..<random.below(8)).map { _ in random.pick(alphabet) })).payload
            let body = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
            #expect(body["idempotencyKey"] as? String == record.intentCorrelationId)
            #expect(body["user"] as? String == record.actor.engineUser)
            #expect(body["correlationId"] as? String == "dxcp-dep-1")
        }
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

    /// A caller's own token never reaches Gate: with no authentication configured a trigger
    /// carries none (DECISIONS 91).
    @Test func noCallerTokenIsEverSentToGate() async throws {
        let emulator = try EmulatorProcess()
        let trigger = TriggerRequest(record: Self.record(), artifactRef: nil)
        _ = try await Self.client(emulator).trigger(trigger, requestId: "r")
        let headers = try #require(try emulator.calls().first?["headers"] as? [String: String])
        #expect(headers["authorization"] == nil)
        #expect(headers["x-spinnaker-user"] != nil, "the caller is named, not authenticated as")
    }

    @Test(arguments: [
        (#"{"status": 500, "times": 1}"#, ContractCode.engineCallFailed, 500, true, EngineError.Delivery.ambiguous),
        (#"{"status": 502, "times": 1}"#, .engineCallFailed, 502, true, .ambiguous),
        (#"{"status": 400, "times": 1}"#, .engineCallFailed, 400, false, .refused),
        (#"{"status": 401, "times": 1}"#, .engineUnauthorized, 401, false, .refused),
        (#"{"status": 403, "times": 1}"#, .engineUnauthorized, 403, false, .refused),
        (#"{"status": 429, "times": 1}"#, .engineCallFailed, 429, false, .refused),
        (#"{"status": 404, "times": 1}"#, .engineCallFailed, 404, false, .refused),
        (#"{"status": 415, "times": 1}"#, .engineCallFailed, 415, false, .refused),
        // Gate answers 422 for any failure of its call to Orca, one after Orca stored the execution
        // included; a conflict may name a running execution: neither proves nothing started.
        (#"{"afterStart": "status", "afterStatus": 422, "times": 1}"#, .engineCallFailed, 422, false, .ambiguous),
        (#"{"status": 422, "times": 1}"#, .engineCallFailed, 422, false, .ambiguous),
        (#"{"status": 409, "times": 1}"#, .engineCallFailed, 409, false, .ambiguous),
        (#"{"redirect": "http://127.0.0.1:9/elsewhere", "times": 1}"#, .engineMisconfigured, 302, false, .ambiguous),
        (#"{"garbage": true, "times": 1}"#, .engineCallFailed, 200, false, .ambiguous),
        (#"{"noExecutionId": true, "times": 1}"#, .engineCallFailed, 200, false, .ambiguous),
        (#"{"afterStart": "status", "afterStatus": 502, "times": 1}"#, .engineCallFailed, 502, true, .ambiguous),
        (#"{"afterStart": "noExecutionId", "times": 1}"#, .engineCallFailed, 200, false, .ambiguous),
        (#"{"afterStart": "garbage", "times": 1}"#, .engineCallFailed, 200, false, .ambiguous),
    ] as [(String, ContractCode, Int, Bool, EngineError.Delivery)])
    func triggerFaultsMapToEngineCodes(_ fault: String, _ code: ContractCode, _ status: Int, _ unavailable: Bool, _ delivery: EngineError.Delivery) async throws {
        let emulator = try EmulatorProcess()
        try emulator.control("/_emulator/faults", fault)
        let error = await #expect(throws: EngineError.self) {
            try await Self.client(emulator).trigger(TriggerRequest(record: Self.record(), artifactRef: nil), requestId: "r")
        }
        #expect(error?.code == code)
        #expect(error?.upstreamStatus == status)
        #expect(error?.engineUnavailable == unavailable)
        #expect(error?.delivery == delivery)
        if code == .engineMisconfigured {
            #expect(error?.detail.contains("redirect") == true)
            #expect(try emulator.calls().count == 1, "the redirect was not followed")
        }
    }

    /// Transport failures: only those before a byte of the request was written prove nothing started.
    @Test func transportFailuresSayWhetherTheRequestWasSent() async throws {
        let trigger = TriggerRequest(record: Self.record(), artifactRef: nil)
        let refused = await #expect(throws: EngineError.self) {
            try await GateClient(configuration: GateConfiguration(baseURL: "http://127.0.0.1:9")).trigger(trigger, requestId: "r")
        }
        #expect(refused?.delivery == .notSent)
        #expect(refused?.code == .engineUnavailable)

        let emulator = try EmulatorProcess(["--run-seconds", "60"])
        let client = Self.client(emulator)
        // A kept-alive connection first: libcurl would re-send a request on it if it closed unanswered.
        try await client.health(requestId: "r")
        try emulator.control("/_emulator/faults", #"{"afterStart": "close", "times": 1}"#)
        let closed = await #expect(throws: EngineError.self) { try await client.trigger(trigger, requestId: "r") }
        #expect(closed?.delivery == .ambiguous)
        #expect(closed?.code == .engineUnavailable)
        try emulator.control("/_emulator/faults", #"{"afterStart": "late", "delayMs": 2000, "times": 1}"#)
        let late = await #expect(throws: EngineError.self) { try await Self.client(emulator, timeoutMs: 500).trigger(trigger, requestId: "r") }
        #expect(late?.delivery == .ambiguous)
        #expect(late?.code == .engineTimeout)
        let posts = try emulator.calls().filter { $0["method"] as? String == "POST" }
        #expect(posts.count == 2, "libcurl re-sent nothing after the closed connection")
        let list = try emulator.control("/applications/demo-app/pipelines", "GET")
        #expect((try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [Any])?.count == 1, "one execution, from the first trigger")

        let overdue = await #expect(throws: EngineError.self, "a call that waited past its start deadline is never sent") {
            try await Self.client(emulator).trigger(trigger, requestId: "r", startBy: .now - .seconds(1))
        }
        #expect(overdue?.delivery == .notSent)
        #expect(try emulator.calls().filter { $0["method"] as? String == "POST" }.count == 2)
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

/// The time now, as the store records it.
func wallClock() -> Timestamp {
    Timestamp(microseconds: Int64(Date().timeIntervalSince1970 * 1_000_000))
}

/// What the reconciler reads from Gate's search and list answers.
@Suite struct ExecutionListTests {
    static let client = GateClient(configuration: GateConfiguration(baseURL: "http://127.0.0.1:9"))

    static func list(_ json: String, filtered: Bool) throws(EngineError) -> [String] {
        try client.executionList(HTTPResponse(status: 200, body: Array(json.utf8), location: nil), deploymentId: "dep-1", filtered: filtered).ours.map(\.id)
    }

    /// An answer that cannot be read as one of ours proves nothing: it fails the look instead of
    /// counting as absent (which, on two looks, would release a reservation whose execution runs).
    @Test func anUnreadableExecutionIsNeverTakenForAbsence() throws {
        let ours = #"{"id": "e-1", "status": "RUNNING", "trigger": {"parameters": {"dxcpDeploymentId": "dep-1"}}}"#
        let unrelated = #"{"id": "e-2", "status": "SUCCEEDED", "trigger": {"parameters": {"dxcpDeploymentId": "dep-2"}}}"#
        let noStatus = #"{"id": "e-3", "trigger": {"parameters": {"dxcpDeploymentId": "dep-1"}}}"#
        let notAString = #"{"id": "e-4", "status": "RUNNING", "trigger": {"parameters": {"dxcpDeploymentId": ["dep-1"]}}}"#
        let unrelatedNoStatus = #"{"id": "e-5"}"#

        #expect(try Self.list("[\(ours)]", filtered: true) == ["e-1"])
        #expect(try Self.list("[\(unrelated), \(ours)]", filtered: false) == ["e-1"])
        for bad in [noStatus, notAString] {
            for filtered in [true, false] {
                let error = #expect(throws: EngineError.self, "\(bad), filtered \(filtered)") { try Self.list("[\(unrelated), \(bad)]", filtered: filtered) }
                #expect(error?.delivery == .ambiguous)
            }
        }
        // A search answers only executions whose trigger carries the id: any other answer (one
        // without it, or another's) means the search cannot be trusted. In a list, an execution
        // that never names the deployment is someone else's.
        for other in [unrelated, unrelatedNoStatus, "17"] {
            #expect(throws: EngineError.self, "\(other)") { try Self.list("[\(other)]", filtered: true) }
        }
        #expect(try Self.list("[\(unrelatedNoStatus), 17, \(unrelated)]", filtered: false).isEmpty)
        // Gate's search matches ignoring case; an id that differs only in case is someone else's.
        let otherCase = #"{"id": "e-6", "status": "RUNNING", "trigger": {"parameters": {"dxcpDeploymentId": "DEP-1"}}}"#
        #expect(try Self.list("[\(otherCase), \(ours)]", filtered: true) == ["e-1"])
    }

    /// A full page of the list proves nothing of what is not on it, readable or not.
    @Test func aFullListCountsWhatItHeld() throws {
        let unreadable = #"{"id": "x"}"#
        let page = "[" + Array(repeating: unreadable, count: GateClient.listLimit).joined(separator: ",") + "]"
        let answer = try Self.client.executionList(HTTPResponse(status: 200, body: Array(page.utf8), location: nil), deploymentId: "dep-1", filtered: false)
        #expect(answer.ours.isEmpty)
        #expect(answer.answered == GateClient.listLimit)
    }
}

import Foundation

/// `governance-tests --differential STEPS`: differential random testing of the governance
/// contract, as Cedar is tested against its formal model. A seeded sequence of requests runs
/// through `DifferentialModel` and through the live API; the first answer that differs in status,
/// error code or the facts of a success is a divergence, which is shrunk to the shortest sequence
/// that still shows one and printed step by step.
final class DifferentialRun {
    let server: DifferentialServer
    /// How many steps to generate, and the seed that picks them.
    let stepCount: Int
    let seed: UInt64
    let interruption: Interruption
    /// Attempts made so far: the run, then each shrinking candidate, each from a fresh start.
    private(set) var attempts = 0

    /// Each attempt starts with this many free slots and this much deploy and rollback quota.
    static let initialExtraSlots = 3
    static let initialDeployHeadroom = 25
    static let initialRollbackHeadroom = 10
    /// How long the server may take to show an execution's end.
    static let engineTimeout: Duration = .seconds(30)

    init(server: DifferentialServer, steps: Int, seed: UInt64, interruption: Interruption) {
        self.server = server
        stepCount = steps
        self.seed = seed
        self.interruption = interruption
    }

    /// Runs the test; true when the API agreed with the model at every step and everything the
    /// run changed was put back.
    func run() async -> Bool {
        let started = ContinuousClock.now
        let engine = server.emulator.map { "on (ended through \($0.baseURL))" } ?? "off (no --emulator-url)"
        say("differential: steps=\(stepCount) seed=\(seed) base-url=\(server.api.baseURL) engine-ends=\(engine)")
        say("differential: rate limits are not in the model: read_rpm and mutate_rpm are raised to \(DifferentialServer.raisedRate) for the run "
            + "(restored after); a request refused with 429 RATE_LIMITED is sent again once its minute window has turned")
        var agreed = false
        do {
            try await server.prepare()
            let model = try await startAttempt(first: true)
            var generator = DifferentialGenerator(seed: seed, engineEnds: server.emulator != nil, versions: server.versions, unregistered: server.unregistered)
            let steps = generator.steps(stepCount, from: model)
            let result = try await attempt(steps, from: model)
            summarize(result, of: steps.count, duration: ContinuousClock.now - started)
            if let divergence = result.divergence {
                try await report(steps, result, at: divergence)
            } else {
                agreed = true
                say("differential: RESULT: the API agreed with the model at every step")
            }
        } catch {
            say("differential: cannot run: \(error)")
        }
        let changed = server.changedAnything
        let failures = await server.restore()
        for failure in failures { say("differential: could not restore \(failure)") }
        if changed, failures.isEmpty { say("differential: restored the kill switch, the delivery group, the CI allowlist and the rate limits") }
        return agreed && failures.isEmpty
    }

    // MARK: Attempts

    private func startAttempt(first: Bool) async throws -> DifferentialModel {
        try await server.startAttempt(
            first: first, extraSlots: Self.initialExtraSlots, deployHeadroom: Self.initialDeployHeadroom, rollbackHeadroom: Self.initialRollbackHeadroom)
    }

    /// Runs `steps` from a fresh start (or from `initial`, the state just read) and stops at the
    /// first divergence. Idempotency keys carry the attempt's number, so no attempt replays
    /// another's. Executions ended by a step must show on the server before a step whose answer
    /// depends on deployment states; the attempt waits for that, and at its end.
    func attempt(_ steps: [DifferentialStep], from initial: DifferentialModel? = nil) async throws -> AttemptResult {
        attempts += 1
        let namespace = "\(server.settings.runId)-a\(attempts)"
        var model: DifferentialModel
        if let initial { model = initial } else { model = try await startAttempt(first: false) }
        var result = AttemptResult()
        var ids: [String] = []
        var pending: [PendingEnd] = []
        var sentKeys: Set<String> = []
        for (index, step) in steps.enumerated() {
            if interruption.requested { throw CannotRun("interrupted; nothing more is sent") }
            guard let request = model.resolve(step, versions: server.versions, unregistered: server.unregistered) else {
                result.skipped += 1
                continue
            }
            result.kinds[step.kind, default: 0] += 1
            let key = request.key
            let description = describe(request, step, keySentBefore: key.map(sentKeys.contains) ?? false)
            if let key { sentKeys.insert(key) }
            let expected = model.apply(request)
            if case .endExecution(let record, let succeeded) = request {
                guard record < ids.count else { throw CheckFailure("record \(DifferentialModel.name(record)) has no server id") }
                try await server.endExecution(of: ids[record], succeeded: succeeded)
                pending.append(PendingEnd(exchange: result.exchanges.count, step: index, id: ids[record], expected: expected))
                let shown = expected.facts.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                result.exchanges.append(Exchange(step: index, request: description, expected: shown, observed: "not seen yet"))
                continue
            }
            if expected.readsEngineState, !pending.isEmpty {
                try await settle(&pending, &result)
                if result.divergence != nil { return result }
            }
            let reply = try await server.send(request, namespace: namespace, ids: ids)
            let (observed, agrees) = compare(reply, with: expected, ids: &ids)
            result.exchanges.append(Exchange(step: index, request: description, expected: expected.summary, observed: observed, diverged: !agrees))
            result.outcomes[Self.outcome(of: reply, expected), default: 0] += 1
            if !agrees {
                result.divergence = index
                result.notes = await endedUnasked(model, ids)
                try await settle(&pending, &result, judging: false)
                return result
            }
        }
        try await settle(&pending, &result)
        return result
    }

    /// Waits until the server shows every pending execution end, and judges the state it shows
    /// (unless `judging` is false: then it only waits, so that the next attempt starts settled).
    /// Ends sent together show together (one engine poll on the server), so only the first
    /// still-pending one is polled until it shows; then the others are looked at.
    private func settle(_ pending: inout [PendingEnd], _ result: inout AttemptResult, judging: Bool = true) async throws {
        guard !pending.isEmpty else { return }
        let started = ContinuousClock.now
        result.engineWaits += 1
        defer { result.engineWaitTime += ContinuousClock.now - started }
        let inProgress = ModelRecord.State.inProgress.rawValue
        while !pending.isEmpty {
            let first = try await server.state(of: pending[0].id).state
            if first == inProgress, ContinuousClock.now - started < Self.engineTimeout {
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
            var waiting: [PendingEnd] = []
            for (position, end) in pending.enumerated() {
                let state = position == 0 ? first : try await server.state(of: end.id).state
                if state == inProgress, ContinuousClock.now - started < Self.engineTimeout {
                    waiting.append(end)
                    continue
                }
                let agrees = end.expected.facts.allSatisfy { $0.value == state }
                result.exchanges[end.exchange].observed = "state=\(state) (seen after \(Self.seconds(ContinuousClock.now - started)) s)"
                if judging, !agrees {
                    result.exchanges[end.exchange].diverged = true
                    result.divergence = min(result.divergence ?? end.step, end.step)
                }
            }
            pending = waiting
        }
    }

    /// Signs that something besides the run changed deployment states, so that a divergence
    /// may be the test setup's, not the API's: records the model still sees running that the
    /// server shows ended (the engine ended executions on its own), or another count of held
    /// slots (deployments the run did not make started or ended during the attempt).
    private func endedUnasked(_ model: DifferentialModel, _ ids: [String]) async -> [String] {
        var notes: [String] = []
        if let held = try? await server.slotsHeld(), held != model.slotsHeld {
            notes.append("the server counts \(held) slots held where the model counts \(model.slotsHeld): deployments the run did not make "
                + "(or did not see end) changed during the attempt")
        }
        for record in model.running.prefix(10) where record < ids.count {
            if let state = try? await server.state(of: ids[record]).state, state != ModelRecord.State.inProgress.rawValue {
                notes.append("\(DifferentialModel.name(record)) is \(state) without an engine-end step: the engine must not end executions "
                    + "during the run (gate-emulator --run-seconds 3600)")
            }
        }
        return notes
    }

    // MARK: Comparing

    /// What the server answered, in the terms of `expected`, and whether the two agree: status and
    /// code; for a success also the record (new, or the one expected), `Idempotency-Replayed` and
    /// each expected fact. A new record's id is appended to `ids` when everything agrees.
    func compare(_ reply: Reply, with expected: Expectation, ids: inout [String]) -> (observed: String, agrees: Bool) {
        var parts = [String(reply.status)]
        if let code = reply.code { parts.append(code) }
        var agrees = reply.status == expected.status && reply.code == expected.code
        let json = reply.json
        guard agrees else {
            if (200..<300).contains(reply.status), let json {
                parts += ["id", "state", "deploymentKind", "version", "mutations_disabled", "versionRegistered"].compactMap { name in
                    json[name].map { "\(name)=\(Self.render($0, ids))" }
                }
            }
            return (parts.joined(separator: " "), false)
        }
        guard expected.code == nil else { return (parts.joined(separator: " "), true) }
        var newId: String?
        let id = json?["id"]?.string
        switch expected.record {
        case .none:
            break
        case .new(let index):
            if let id, !ids.contains(id), id != DifferentialServer.unknownDeployment {
                parts.append("\(DifferentialModel.name(index)) (new)")
                newId = id
            } else {
                parts.append("id \(id.map { Self.render(.string($0), ids) } ?? "absent") (expected a new record)")
                agrees = false
            }
        case .existing(let index):
            parts.append(id.map { Self.render(.string($0), ids) } ?? "id absent")
            agrees = agrees && index < ids.count && id == ids[index]
        }
        let header = reply.header("Idempotency-Replayed")
        switch expected.replayed {
        case .any:
            break
        case .exactly(let value):
            parts.append("Idempotency-Replayed: \(header ?? "absent")")
            agrees = agrees && header == value
        case .truthful(let replayed):
            parts.append("Idempotency-Replayed: \(header ?? "absent")")
            agrees = agrees && (header == nil || header == String(replayed))
        }
        for fact in expected.facts {
            let value = Self.render(fact.name.split(separator: ".").reduce(json) { $0?[String($1)] }, ids)
            parts.append("\(fact.name)=\(value)")
            agrees = agrees && value == fact.value
        }
        if agrees, let newId { ids.append(newId) }
        return (parts.joined(separator: " "), agrees)
    }

    /// A JSON value as the model writes facts: text as is (a known record id as `#n`), numbers in
    /// decimal, `true`/`false`, `null`, and `absent` for a missing field.
    static func render(_ value: JSON?, _ ids: [String]) -> String {
        guard let value else { return "absent" }
        switch value {
        case .string(let text): return ids.firstIndex(of: text).map(DifferentialModel.name) ?? text
        case .null: return "null"
        case .bool(let flag): return String(flag)
        case .int(let number): return String(number)
        case .double(let number): return value.int.map(String.init) ?? String(number)
        case .array, .object: return value.text
        }
    }

    /// `201`, `201 replay` or `409 IDEMPOTENCY_CONFLICT`: how the summary counts an answer.
    static func outcome(of reply: Reply, _ expected: Expectation) -> String {
        if reply.status == 201, case .existing = expected.record { return "201 replay" }
        return reply.code.map { "\(reply.status) \($0)" } ?? String(reply.status)
    }

    // MARK: Describing

    /// A step as people read it: who does what, with which key (and whether the attempt sent
    /// that key before).
    func describe(_ request: ModelRequest, _ step: DifferentialStep, keySentBefore: Bool) -> String {
        func target(_ target: Target) -> String {
            if case .record(let index) = target { return DifferentialModel.name(index) }
            return "an unknown deployment"
        }
        func key(_ header: KeyHeader) -> String {
            switch (header, step) {
            case (.absent, _): return "without Idempotency-Key"
            case (.empty, _): return "with an empty Idempotency-Key"
            case (.key(let key), _) where !keySentBefore: return "with Idempotency-Key \(key)"
            case (.key(let key), .deploy(_, _, .reuse(_, let body))):
                let change = switch body {
                case .same: "the same body"
                case .whitespace: "only whitespace changed"
                case .other: "another body"
                }
                return "with Idempotency-Key \(key) again (\(change))"
            case (.key(let key), _): return "with Idempotency-Key \(key) again"
            }
        }
        switch request {
        case .validate(let identity, let intent):
            return "\(identity.rawValue) validates \(intent.version)"
        case .deploy(let identity, let intent, let header):
            return "\(identity.rawValue) deploys \(intent.version) (changeSummary \(JSON.string(intent.changeSummary).text)) \(key(header))"
        case .rollback(let identity, let deployment, let header):
            return "\(identity.rawValue) rolls back \(target(deployment)) \(key(header))"
        case .read(let identity, let deployment):
            return "\(identity.rawValue) reads \(target(deployment))"
        case .setKillSwitch(let identity, let on):
            return "\(identity.rawValue) turns the kill switch \(on ? "on" : "off")"
        case .setGuardrails(let identity, let limits):
            return "\(identity.rawValue) sets the group's guardrails: max_concurrent_deployments=\(limits.maxConcurrentDeployments) "
                + "daily_deploy_quota=\(limits.dailyDeployQuota) daily_rollback_quota=\(limits.dailyRollbackQuota)"
        case .endExecution(let record, let succeeded):
            return "the engine ends \(DifferentialModel.name(record)) \(succeeded ? "SUCCEEDED" : "TERMINAL") (through the Gate emulator)"
        }
    }

    // MARK: Printing

    private func summarize(_ result: AttemptResult, of total: Int, duration: Duration) {
        let ran = result.kinds.values.reduce(0, +) + result.skipped
        say("differential: summary seed=\(seed) steps=\(total) ran=\(ran)/\(total) divergences=\(result.divergence == nil ? 0 : 1) "
            + "duration=\(Self.seconds(duration))s engine-waits=\(result.engineWaits) (\(Self.seconds(result.engineWaitTime))s) "
            + "rate-limited-retries=\(server.rateLimitedRetries)")
        say("differential: kinds " + DifferentialStep.Kind.allCases.map { "\($0.rawValue)=\(result.kinds[$0] ?? 0)" }.joined(separator: " ")
            + " skipped=\(result.skipped)")
        say("differential: outcomes " + result.outcomes.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
    }

    /// Prints the divergence, shrinks it and prints the shortest sequence found.
    private func report(_ steps: [DifferentialStep], _ result: AttemptResult, at divergence: Int) async throws {
        if let exchange = result.exchanges.last(where: \.diverged) {
            say("differential: DIVERGENCE at step \(divergence + 1) of \(steps.count) (seed \(seed)): \(exchange.request)")
            say("differential:     expected \(exchange.expected)")
            say("differential:     server   \(exchange.observed)")
        }
        for note in result.notes { say("differential: note: \(note)") }
        say("differential: RESULT: the API diverged from the model; shrinking (each candidate runs from a fresh start: new idempotency keys, "
            + "the model re-read from the server, the attempt's guardrails set again)")
        let before = attempts
        guard let shrunk = try await shrink(Array(steps[...divergence])) else {
            say("differential: the divergence did not show again from a fresh start; the last steps up to it:")
            show(result.exchanges.suffix(30))
            return
        }
        say("differential: shrunk to \(shrunk.steps.count) steps (from \(divergence + 1)) in \(attempts - before) re-runs:")
        show(shrunk.result.exchanges)
        for note in shrunk.result.notes { say("differential: note: \(note)") }
    }

    /// Prints exchanges one by one, numbered by their step, with what the model expected and what
    /// the server answered.
    private func show(_ exchanges: some Sequence<Exchange>) {
        for exchange in exchanges {
            say("differential:   \(exchange.step + 1). \(exchange.request)\(exchange.diverged ? "   <-- DIVERGES" : "")")
            say("differential:        expected \(exchange.expected)")
            say("differential:        server   \(exchange.observed)")
        }
    }

    /// One line on standard output, unbuffered.
    func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.1f", Double(seconds) + Double(attoseconds) / 1e18)
    }
}

/// What one attempt of a sequence showed.
struct AttemptResult {
    /// The steps that sent something, in order.
    var exchanges: [Exchange] = []
    /// The sequence index of the first step the server answered differently, if any.
    var divergence: Int?
    /// Hints about a divergence's cause outside the API.
    var notes: [String] = []
    /// Steps run by kind, and those with nothing to act on.
    var kinds: [DifferentialStep.Kind: Int] = [:]
    var skipped = 0
    /// Answers by `status CODE`.
    var outcomes: [String: Int] = [:]
    /// Waits for the server to show execution ends, and their total time.
    var engineWaits = 0
    var engineWaitTime: Duration = .zero
}

/// One step as it ran.
struct Exchange {
    /// Its index in the sequence.
    var step: Int
    var request: String
    var expected: String
    var observed: String
    var diverged = false
}

/// An execution end sent to the engine that the server has not shown yet.
struct PendingEnd {
    /// Where its exchange is in the attempt's list, and its step's index in the sequence.
    var exchange: Int
    var step: Int
    /// The deployment's server id, and the state the model expects it to reach.
    var id: String
    var expected: Expectation
}

import Foundation

/// Runs corpus cases through a ``CorpusTransport`` and judges each answer: status, code, the
/// replay header, the record a replay returns and, where the server reports it, the trail.
final class CorpusRunner {
    /// How one case ended.
    struct Outcome: Sendable {
        var file: String
        var id: String
        var section: String
        /// A CONTRACT case (a DIAGNOSTIC one is reported, never decisive).
        var required: Bool
        /// Empty when the case passed; otherwise what differed.
        var failure: String
        /// Whether the trail was compared (the server reported one).
        var trailCompared: Bool
        var passed: Bool { failure.isEmpty }
    }

    let transport: any CorpusTransport
    /// Makes keys unique to the run, so a run never replays an earlier run's keys.
    let runId: String
    /// Where progress lines go.
    let log: ((String) -> Void)?

    init(transport: any CorpusTransport, runId: String, log: ((String) -> Void)?) {
        self.transport = transport
        self.runId = runId
        self.log = log
    }

    /// Runs every case of `files`, in order.
    func run(_ files: [CorpusFile]) async -> [Outcome] {
        var outcomes: [Outcome] = []
        for file in files {
            for item in file.cases {
                let outcome = await run(item, in: file)
                log?("\(outcome.passed ? "PASS" : "FAIL")  corpus.\(item.id)  [\(item.section)]\(outcome.passed ? "" : "\n      \(outcome.failure)")")
                outcomes.append(outcome)
            }
        }
        return outcomes
    }

    /// Runs one case: setup, the request under test, then teardown (always).
    func run(_ item: CorpusCase, in file: CorpusFile) async -> Outcome {
        var saved: [String: String] = [:]
        var outcome = Outcome(file: file.name, id: item.id, section: item.section, required: item.required, failure: "", trailCompared: false)
        do {
            for (index, step) in item.setup.enumerated() {
                try await perform(step, of: item, saved: &saved, what: "setup step \(index + 1)")
            }
            guard case .request(let request, _, _) = item.request else { throw CorpusError("the request under test is not a request") }
            let reply = try await send(request, of: item, saved: saved)
            (outcome.failure, outcome.trailCompared) = judge(reply, item.expect, saved: saved)
        } catch {
            outcome.failure = "\(error)"
        }
        for (index, step) in item.teardown.enumerated() {
            do {
                try await perform(step, of: item, saved: &saved, what: "teardown step \(index + 1)")
            } catch {
                outcome.failure += (outcome.failure.isEmpty ? "" : "; ") + "\(error)"
            }
        }
        return outcome
    }

    /// Compares `reply` with `expect`: the differences (empty when none), and whether the trail was compared.
    func judge(_ reply: CorpusReply, _ expect: CorpusExpectation, saved: [String: String]) -> (String, Bool) {
        var differences: [String] = []
        let wanted = expect.code.map { "\(expect.status) \($0)" } ?? "\(expect.status)"
        let got = reply.code.map { "\(reply.status) \($0)" } ?? "\(reply.status)"
        if reply.status != expect.status || reply.code != expect.code { differences.append("expected \(wanted), got \(got)") }
        if let replayed = expect.replayed, reply.replayed != replayed { differences.append("Idempotency-Replayed \(reply.replayed), expected \(replayed)") }
        if let label = expect.sameAs {
            let id = JSON.parse(reply.body)?["id"]?.string
            if id == nil || id != saved[label] { differences.append("answered record \(id ?? "none"), expected \(label) = \(saved[label] ?? "?")") }
        }
        var compared = false
        if let checks = reply.checks, let expected = expect.checks {
            compared = true
            if checks != expected { differences.append("trail \(checks.joined(separator: ",")), expected \(expected.joined(separator: ","))") }
        }
        return (differences.joined(separator: "; "), compared)
    }

    private func perform(_ step: CorpusStep, of item: CorpusCase, saved: inout [String: String], what: String) async throws {
        switch step {
        case .await(let label, let state):
            guard let id = saved[label] else { throw CorpusError("\(what): nothing saved as \(label)") }
            try await transport.awaitDeployment(id, state: state)
        case .request(let request, let expect, let save):
            let reply = try await send(request, of: item, saved: saved)
            if !expect.isEmpty, !expect.contains(reply.status) {
                let body = String(decoding: reply.body.prefix(200), as: UTF8.self)
                throw CorpusError("\(what) (\(request.method) \(request.path)): expected \(expect.sorted()), got \(reply.status) \(reply.code ?? body)")
            }
            if let save {
                guard let id = JSON.parse(reply.body)?["id"]?.string else { throw CorpusError("\(what): the answer has no id to save as \(save)") }
                saved[save] = id
            }
        }
    }

    private func send(_ request: CorpusRequest, of item: CorpusCase, saved: [String: String]) async throws -> CorpusReply {
        let key = request.key.map { $0.isEmpty ? "" : "\(runId)-\(item.id)-\($0)" }
        let body = request.body.map { Data($0.filling(saved).text.utf8) }
        return try await transport.send(request.identity, request.method, request.path.filling(saved), key: key, body: body)
    }

    /// The closing summary: counts in all and per file.
    static func summary(_ outcomes: [CorpusRunner.Outcome], files: [CorpusFile]) -> String {
        var lines: [String] = []
        for file in files {
            let mine = outcomes.filter { $0.file == file.name }
            lines.append("corpus file \(file.name) [\(file.section)]: cases=\(mine.count) passed=\(mine.count(where: \.passed))")
        }
        let failed = outcomes.filter { !$0.passed }
        lines.append(
            "corpus: files=\(files.count) cases=\(outcomes.count) passed=\(outcomes.count - failed.count) failed=\(failed.count) "
                + "required_failed=\(failed.count(where: \.required)) trails_compared=\(outcomes.count(where: \.trailCompared))")
        for outcome in failed {
            lines.append("FAILED corpus.\(outcome.id) [\(outcome.required ? "CONTRACT" : "DIAGNOSTIC") \(outcome.section)]: \(outcome.failure)")
        }
        return lines.joined(separator: "\n")
    }
}

/// The corpus over HTTP, as the suite's identities, through the suite's client.
struct HTTPCorpusTransport: CorpusTransport {
    let api: APIClient
    /// Seconds a deployment may take to reach the awaited state, and between polls.
    let deployTimeout: Double
    let pollInterval: Double

    func send(_ identity: Identity?, _ method: String, _ path: String, key: String?, body: Data?) async throws -> CorpusReply {
        let reply = try await api.send(method, path, as: identity, body: body.flatMap { JSON.parse($0) }, key: key)
        return CorpusReply(status: reply.status, code: reply.code, replayed: reply.header("Idempotency-Replayed") == "true", body: reply.body, checks: nil)
    }

    func awaitDeployment(_ id: String, state: String) async throws {
        let deadline = Date().addingTimeInterval(deployTimeout)
        while true {
            let record = try await api.get("/v1/deployments/\(id.urlEncoded)", as: .admin).expect(200, nil, "read deployment \(id)").object("deployment")
            let now = record["state"]?.string ?? ""
            if now == state { return }
            if Suite.terminalStates.contains(now) { throw CorpusError("deployment \(id) ended \(now), expected \(state)") }
            if Date() > deadline { throw CorpusError("deployment \(id) still \(now) after \(Int(deployTimeout)) s") }
            try await Task.sleep(for: .milliseconds(Int(pollInterval * 1000)))
        }
    }
}

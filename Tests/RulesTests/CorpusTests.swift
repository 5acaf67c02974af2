import Foundation
import PolicyFile
@testable import PolicyServer
@testable import Rules
import Testing
@testable import class governance_tests.CorpusRunner
@testable import enum governance_tests.Identity
@testable import protocol governance_tests.CorpusTransport
@testable import struct governance_tests.CorpusError
@testable import struct governance_tests.CorpusFile
@testable import struct governance_tests.CorpusReply

/// The contract as data, in-process: every case of `governance-tests/corpus` runs against the
/// rules (request decoding, then `Evaluator`, its effects applied to in-memory state), each on a
/// fresh state seeded with the corpus policy, and must answer its status, code and — the rules
/// report it here — the exact trail of named checks. The same files run over HTTP in
/// `GovernanceTestsTests`.
@Suite struct CorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("governance-tests/corpus").path

    @Test func everyCaseHoldsInProcess() async throws {
        let files = try CorpusFile.load(directory: Self.directory)
        let policy = try PolicyFile.load(path: Self.directory + "/policy.yaml")
        var outcomes: [CorpusRunner.Outcome] = []
        for file in files {
            for item in file.cases {
                // A fresh state per case: in-process there is nothing to restore.
                let runner = CorpusRunner(transport: RulesTransport(policy: policy), runId: "in-process", log: nil)
                let outcome = await runner.run(item, in: file)
                #expect(outcome.passed, "corpus.\(item.id) [\(file.name)]: \(outcome.failure)")
                #expect(outcome.trailCompared, "corpus.\(item.id) [\(file.name)] names no trail (`expect.checks`)")
                outcomes.append(outcome)
            }
        }
        let summary = CorpusRunner.summary(outcomes, files: files)
        print(summary)
        #expect(outcomes.count >= 60, "the corpus holds \(outcomes.count) cases")
        #expect(Set(files.map(\.name)).count == files.count)
    }

    @Test func aCaseThatDisagreesFails() async throws {
        let files = try CorpusFile.load(directory: Self.directory)
        let policy = try PolicyFile.load(path: Self.directory + "/policy.yaml")
        var file = try #require(files.first)
        var item = try #require(file.cases.first)
        item.expect.status += 1
        item.expect.checks = (item.expect.checks ?? []) + ["no_such_check"]
        file.cases = [item]
        let outcome = await CorpusRunner(transport: RulesTransport(policy: policy), runId: "in-process", log: nil).run(item, in: file)
        #expect(!outcome.passed)
        #expect(outcome.failure.contains("expected \(item.expect.status)"))
        #expect(outcome.failure.contains("no_such_check"))
    }
}

/// The rules as a corpus server: decodes each request as the HTTP edge does, decides it with
/// `Evaluator` over an in-memory state, and applies the decision's effects; a new deployment's
/// key is completed at once (the stand-in engine accepts every trigger), and an awaited
/// deployment ends as asked.
final class RulesTransport: CorpusTransport, @unchecked Sendable {
    private var policy: PolicySnapshot
    private var state = InMemoryState()
    private var clock = Timestamp(seconds: 1_796_083_200)  // 2026-12-01T00:00:00Z
    private var ids = 0

    init(policy: PolicySnapshot) { self.policy = policy }

    /// The claims the suite's minted tokens carry for `identity`.
    static func principal(_ identity: Identity) -> Principal {
        let name = identity.rawValue.replacingOccurrences(of: "_", with: "-")
        return Principal(claims: Claims(
            subject: "governance-tests-\(name)", email: identity == .ci ? nil : "governance-tests-\(name)@example.com",
            issuer: "https://governance-tests.example/", roles: .values([identity.roleValue])))
    }

    func send(_ identity: Identity?, _ method: String, _ target: String, key: String?, body: Data?) async throws -> CorpusReply {
        guard let identity else { return CorpusReply(status: 401, code: "UNAUTHORIZED", replayed: false, body: Data(), checks: nil) }
        clock = clock.adding(seconds: 1)
        let parts = target.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        for pair in (parts.count > 1 ? parts[1] : "").split(separator: "&") {
            let field = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            query[field[0]] = field.count > 1 ? field[1] : ""
        }
        let request: Request
        do {
            request = try WireRequest.decode(method: method, path: String(parts.first ?? ""), query: query, body: Array(body ?? Data()))
        } catch {
            // Refused while decoding, as the edge does: no check of the rules ran.
            return CorpusReply(status: error.status, code: error.code.rawValue, replayed: false, body: Data(), checks: [])
        }
        ids += 1
        let decision = Evaluator.evaluate(
            request, by: Self.principal(identity), policy: policy, state: state,
            context: DecisionContext(now: clock, decisionId: "decision-\(ids)", newId: String(format: "d%06d", ids), idempotencyKey: key))
        // A refusal commits nothing but its rate count and audit entry (D13): no record, no quota unit.
        if !decision.allowed, let change = decision.effects.first(where: { if case .countRate = $0 { false } else if case .audit = $0 { false } else if case .auditRefusal = $0 { false } else { true } }) {
            throw CorpusError("\(method) \(target) was refused (\(decision.code?.rawValue ?? "?")) yet changes state: \(change)")
        }
        apply(decision)
        let answer = decision.result.map { Data(Views.result($0, admin: identity == .admin)) } ?? Data()
        return CorpusReply(
            status: decision.status, code: decision.allowed ? nil : decision.code?.rawValue, replayed: decision.replayed, body: answer,
            checks: decision.trail.map(\.check.rawValue))
    }

    func awaitDeployment(_ id: String, state wanted: String) async throws {
        guard var record = state.records[id], let end = DeploymentRecord.State(rawValue: wanted) else {
            throw CorpusError("no deployment \(id) to end \(wanted)")
        }
        record.state = end
        record.updatedAt = clock
        state.records[id] = record
        let slot = InMemoryState.SlotKey(group: record.deliveryGroupId, environment: record.environment)
        state.active[slot] = state.active[slot]?.map { $0.id == id ? ActiveDeployment(id: id, state: end, updatedAt: clock) : $0 }
    }

    /// Commits the decision's effects, as a store would in one transaction.
    private func apply(_ decision: Decision) {
        var started: [(DeploymentRecord, IdempotencyScope)] = []
        for effect in decision.effects {
            switch effect {
            case .countRate(let window): state.rateCounts[window, default: 0] += 1
            case .spendQuota(let scope, let day): state.quotaCounts[InMemoryState.QuotaKey(scope: scope, day: day), default: 0] += 1
            case .insertDeployment(let record, let scope):
                admit(record)
                started.append((record, scope))
            case .admitExecution(let record): admit(record)
            case .expireDeployment(let id, _):
                state.records[id]?.state = .failed
            case .putIdempotency(let scope, let record): state.idempotency[scope] = record
            case .putBuild(let build): state.add(build)
            case .putUploadCapability(let capability): state.add(capability)
            case .consumeUploadCapability(let capability):
                let key = InMemoryState.BuildKey(service: capability.service, version: capability.version)
                state.capabilities[key]?.removeAll { $0.token == capability.token }
            case .putSettings(let settings): policy.settings = settings
            case .putPolicy(let snapshot): policy = snapshot
            case .audit, .auditRefusal: break
            }
        }
        // The stand-in engine starts every execution: the key completes with the record.
        for (record, scope) in started {
            state.idempotency[scope]?.response = StoredResponse(status: decision.status, result: .deployment(record))
        }
    }

    private func admit(_ record: DeploymentRecord) {
        state.add(record)
        state.hold(record.id, group: record.deliveryGroupId, environment: record.environment, state: record.state, updatedAt: record.updatedAt)
    }
}

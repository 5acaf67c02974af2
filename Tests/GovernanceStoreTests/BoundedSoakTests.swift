import Foundation
@testable import GovernanceStore
import Rules
import TestSupport
import Testing

/// The bounded soak (issue: bounded state): a store under mixed traffic — deploys, validates,
/// retries of recent keys, engine outcomes, and a flood refused by the rate limit — with time to
/// live and retention of seconds, the expiry and retention passes running as `serve` runs them.
/// Once the first period of time to live and retention has passed, the only growth left is the
/// deployment records, which are kept by design, at ≤ 2 KB each: what else the traffic adds —
/// idempotency keys, rate windows, refusal tallies, audit entries — the passes remove, and LMDB
/// reuses the pages they free.
@Suite struct BoundedSoakTests {
    static let ttl: Int64 = 30
    static let retention: Int64 = 60
    /// Seconds of traffic (one tick each, about ten requests and a flood every seventh): two and a
    /// half hours of it, about a minute of real time on the project's machine.
    static let ticks = Int(ProcessInfo.processInfo.environment["DXCP_SOAK_TICKS"] ?? "") ?? 9_000

    @Test func beyondItsRecordsTheStoreStopsGrowingAfterTheFirstPeriod() async throws {
        let dir = TempDirectory()
        var policy = threeGroupPolicy(guardrails: Guardrails(maxConcurrentDeployments: 2, dailyDeployQuota: 100_000, dailyRollbackQuota: 5))
        policy.settings.idempotencyTTLSeconds = Self.ttl
        policy.settings.mutateRPM = 100
        policy.settings.readRPM = 1_000_000
        let start = Timestamp(seconds: 1_795_608_000)  // 12:00 UTC: the soak stays within one day
        let store = try await seededThreeGroupStore(dir, policy: policy, mapSize: 1 << 30, at: start)
        let owners = (0..<8).map { Principal(claims: Claims(subject: "owner-\($0)", email: "all@example.com", roles: .values(["dxcp-delivery-owners"]))) }
        let flooder = Principal(claims: Claims(subject: "flooder", email: "all@example.com", roles: .values(["dxcp-delivery-owners"])))
        let environment = "sandbox"
        var random = SplitMix64(seed: 2026)
        var sent: [(key: String, intent: DeploymentIntent, actor: Int)] = []
        var inFlight: [String] = []
        var samples: [(tick: Int, used: Int, file: Int, records: Int, entries: [String: Int])] = []
        let transient = ["idempotency", "idempotency_expiry", "rate_windows", "refusals", "audit", "outbox"]
        var records = 0
        var outcomes: [String: Int] = [:]
        for tick in 0..<Self.ticks {
            let now = start.adding(seconds: Int64(tick))
            // This second's requests, decided concurrently.
            var jobs: [(request: Request, actor: Principal, key: String?)] = []
            for n in 0..<10 {
                let g = random.pick(threeGroups)
                let intent = DeploymentIntent(service: "svc-\(g)", environment: environment, version: "1.0.0", changeSummary: "t\(tick)-\(n)")
                switch random.below(100) {
                case 0..<40:
                    jobs.append((.validate(intent), random.pick(owners), nil))
                case 40..<70:
                    let actor = random.below(owners.count)
                    let key = "k-\(tick)-\(n)"
                    sent.append((key, intent, actor))
                    jobs.append((.deploy(intent), owners[actor], key))
                default:
                    // A retry of a recent request: replayed while its key lives, decided anew after.
                    if let old = sent.suffix(200).randomElement(using: &random) {
                        jobs.append((.deploy(old.intent), owners[old.actor], old.key))
                    }
                }
            }
            if tick % 7 == 0 {
                for n in 0..<60 {
                    let intent = DeploymentIntent(service: "svc-alpha", environment: environment, version: "1.0.0", changeSummary: "flood")
                    jobs.append((.deploy(intent), flooder, "f-\(tick)-\(n)"))
                }
            }
            let decisions = try await withThrowingTaskGroup(of: Decision.self) { group in
                for (i, job) in jobs.enumerated() {
                    group.addTask {
                        let ctx = DecisionContext(now: now, decisionId: "d-\(tick)-\(i)", newId: RecordID.make(at: now), idempotencyKey: job.key)
                        return try await store.decide(job.request, by: job.actor, context: ctx)
                    }
                }
                return try await group.reduce(into: [Decision]()) { $0.append($1) }
            }
            for d in decisions {
                outcomes[d.allowed ? (d.replayed ? "replayed" : "allowed") : d.code?.rawValue ?? "?", default: 0] += 1
                if d.allowed, !d.replayed, case .deployment(let record)? = d.result {
                    inFlight.append(record.id)
                    records += 1
                }
            }
            // The engine: what was reserved is dispatched, and ends a few seconds later.
            for id in inFlight where random.chance(30) {
                _ = try await store.recordDispatch(deploymentId: id, executionId: "e-\(id)", executionURL: nil, now: now)
                _ = try await store.recordEngineState(deploymentId: id, state: random.pick([.succeeded, .failed]), failures: [], now: now)
                inFlight.removeAll { $0 == id }
            }
            if tick % 5 == 4 {
                // What `serve` runs: expiry (DECISIONS 73) and audit retention.
                _ = try await store.expire(now: now)
                _ = try await store.pruneAudit(olderThan: now.adding(seconds: -Self.retention), actorId: "retention", now: now)
                let file = (try FileManager.default.attributesOfItem(atPath: dir.path + "/data.mdb")[.size] as? Int) ?? 0
                let entries = Dictionary(try store.databaseUsage().filter { transient.contains($0.name) }.map { ($0.name, $0.entries) }, uniquingKeysWith: +)
                samples.append((tick, mapUsed(store), file, records, entries))
            }
        }
        // Every kind of traffic happened.
        for kind in ["allowed", "replayed", "RATE_LIMITED", "CONCURRENCY_LIMIT_REACHED", "IDEMPOTENCY_CONFLICT"] {
            #expect(outcomes[kind, default: 0] > 0, "\(kind): \(outcomes)")
        }
        // After the first period (time to live, retention, a minute of refusal tallies, and
        // another to be sure), pages in use grow by the records made since, at ≤ 2 KB each, and by
        // nothing else; what expires stays within what one period holds.
        let settled = Int(Self.ttl + Self.retention) + 120
        guard let first = samples.last(where: { $0.tick <= settled }), let last = samples.last, last.tick > settled + 600 else {
            Issue.record("the soak must outlast its first period by ten minutes")
            return
        }
        let early = samples.filter { $0.tick <= settled }, late = samples.filter { $0.tick > settled }
        let newRecords = last.records - first.records
        let growth = late.map { $0.used - (early.map(\.used).max() ?? 0) }.max() ?? 0
        print("soak: \(Self.ticks) s of traffic \(outcomes); \(newRecords) records after the first period; pages in use grew \(growth) bytes after it (\(newRecords > 0 ? growth / newRecords : 0) per record); data file \(first.file) → \(last.file) bytes")
        #expect(newRecords > 1_000, "deploys went on being allowed")
        #expect(growth <= newRecords * 2_048 + 64 << 10, "\(growth) bytes for \(newRecords) records")
        for name in transient {
            let before = early.map { $0.entries[name] ?? 0 }.max() ?? 0, after = late.map { $0.entries[name] ?? 0 }.max() ?? 0
            #expect(Double(after) <= Double(before) * 1.2 + 10, "\(name): \(before) entries in the first period, up to \(after) after it")
        }
        guard case .intact = try store.verifyAudit() else { Issue.record("the audit log does not verify"); return }
    }
}

import Foundation
import Audit
@testable import GovernanceStore
import Logging
import Rules
import TestSupport
import Testing

/// The fleet backend against a real PostgreSQL (started by the test command: scripts/postgres.sh).
/// Each test gets a database of its own; "replicas" are separate ``FleetStore``s, each with its own
/// connections and writer, as separate processes would have.
@Suite struct FleetStoreTests {
    @Test func theSchemaIsCreatedOnceVersionedAndRequired() throws {
        let database = try TestDatabase()
        #expect(throws: StoreError.self) { try FleetStore(location: database.location) }
        let first = try FleetStore(location: database.location, options: .init(migrate: true))
        let second = try FleetStore(location: database.location, options: .init(migrate: true))
        _ = (first, second)
        #expect(try database.psql("SELECT version FROM dxcp_schema") == "2")
        #expect(try database.psql("SELECT count(*) FROM fleet_head") == "1")
        let tables = try database.psql("SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public'")
        for table in ["audit", "builds", "deployments", "idempotency", "outbox", "policy", "quota_counters", "rate_windows", "settings", "slots"] {
            #expect(tables.split(separator: ",").contains(Substring(table)), "table \(table) in \(tables)")
        }
        try database.psql("UPDATE dxcp_schema SET version = 99")
        #expect(throws: StoreError.self) { try FleetStore(location: database.location) }
    }

    /// A database of schema 1 (documents as `jsonb`, no batch functions) is refused until
    /// migrated; migrated, its state is all there and decides on.
    @Test func aSchemaOneDatabaseIsUpgraded() async throws {
        let database = try TestDatabase()
        do {
            let replica = try await seededFleet(database, policy: testPolicy(maxConcurrent: 10), count: 1)[0]
            #expect(try await replica.decide(.deploy(deployIntent(summary: "before")), by: owner, context: context("k1", id: "dep-1"), requestId: nil).allowed)
            _ = try await replica.recordDispatch(deploymentId: "dep-1", executionId: "e-1", executionURL: nil, now: baseTime)
            await replica.close()
        }
        try Self.makeSchemaOne(database)
        #expect(throws: StoreError.self) { try FleetStore(location: database.location) }
        let upgraded = try FleetStore(location: database.location, options: .init(migrate: true))
        #expect(try database.psql("SELECT version FROM dxcp_schema") == "2")
        #expect(try database.psql("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'jsonb'") == "0")
        #expect(try database.psql("SELECT settings ->> 'mutationsDisabled' FROM settings") == "false")
        let replay = try await upgraded.decide(.deploy(deployIntent(summary: "before")), by: owner, context: context("k1", id: "dep-2"), requestId: nil)
        #expect(replay.replayed, "the key and its deployment came through")
        #expect(try await upgraded.decide(.deploy(deployIntent(summary: "after")), by: owner, context: context("k2", id: "dep-3"), requestId: nil).allowed)
        #expect(try await upgraded.verifyAudit().isIntact)
        #expect(try await upgraded.allDeployments().map(\.id) == ["dep-3", "dep-1"])
    }

    /// Turns a database of the current schema back into schema 1 as it was (documents as
    /// `jsonb`, no batch functions).
    static func makeSchemaOne(_ database: TestDatabase) throws {
        let documents = [("policy", "snapshot"), ("deployments", "record"), ("idempotency", "record"), ("builds", "build"),
            ("upload_capabilities", "capability"), ("audit", "entry"), ("refusals", "note")]
        try database.psql("""
            DROP FUNCTION dxcp_fetch; DROP FUNCTION dxcp_flush; DROP FUNCTION dxcp_count_read; DROP VIEW settings;
            \(documents.map { "ALTER TABLE \($0.0) ALTER COLUMN \($0.1) TYPE jsonb USING \($0.1)::jsonb;" }.joined(separator: " "))
            CREATE VIEW settings AS SELECT generation, snapshot -> 'settings' AS settings FROM policy;
            UPDATE dxcp_schema SET version = 1;
            """)
    }

    /// An upgrade whose DDL meets a table in use (a long read holding it) waits its turn: each
    /// attempt gives up after the decision timeout, rolled back whole, until the table is free.
    @Test func anUpgradeWaitsForATableInUse() async throws {
        let database = try TestDatabase()
        do {
            let replica = try await seededFleet(database, policy: testPolicy(maxConcurrent: 10), count: 1)[0]
            await replica.close()
        }
        try Self.makeSchemaOne(database)
        let holder = try await database.holding("LOCK TABLE deployments IN ACCESS SHARE MODE", on: "deployments", mode: "AccessShareLock", for: 3)
        let location = database.location
        let upgraded = try await offThePool { try FleetStore(location: location, options: .init(migrate: true, readers: 1, timeout: .seconds(1))) }
        #expect(try database.psql("SELECT version FROM dxcp_schema") == "2")
        _ = try await holder.value
        #expect(try await upgraded.verifyAudit().isIntact)
        await upgraded.close()
    }

    @Test func threeReplicasAtLimitOneAdmitExactlyOne() async throws {
        let database = try TestDatabase()
        let replicas = try await seededFleet(database, policy: testPolicy(maxConcurrent: 1, dailyDeploy: 1000))
        let decisions = try await withThrowingTaskGroup(of: Decision.self) { group in
            for n in 0..<90 {
                group.addTask {
                    try await replicas[n % 3].decide(.deploy(deployIntent(summary: "c\(n)")), by: owner, context: context("k\(n)"))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(decisions.count { $0.allowed } == 1)
        #expect(decisions.count { $0.code == .concurrencyLimitReached } == 89)
        #expect(try await replicas[2].activeDeployments(group: "default", environment: "sandbox").count == 1)
        #expect(try await replicas[1].quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: baseTime.day) == 1)
        #expect(try database.psql("SELECT count(*) FROM deployments") == "1")
        #expect(try database.psql("SELECT count(*) FROM outbox") == "1")
        #expect(try await replicas[0].verifyAudit().isIntact)
        // Read-only decisions, answered without a transaction, see the slot another replica took.
        for (n, replica) in replicas.enumerated() {
            #expect(try await replica.decide(.validate(deployIntent()), by: owner, context: context()).code == .concurrencyLimitReached, "replica \(n)")
        }
    }

    /// A replica that waits for the fleet lock takes what queued meanwhile into the batch it is
    /// about to apply: one transaction for all of it, each decision seeing the ones before.
    @Test func whatQueuesWhileAReplicaWaitsForTheLockJoinsItsBatch() async throws {
        let database = try TestDatabase()
        let replica = try await seededFleet(database, policy: testPolicy(maxConcurrent: 1000, dailyDeploy: 12), count: 1)[0]
        let holder = try SQLSession.connect(database.location, timeout: .seconds(30), logger: Logger(label: "test"))
        try holder.execute("BEGIN")
        _ = try holder.rows("SELECT 1 FROM fleet_head FOR UPDATE")
        let before = replica.writeStatistics()
        async let first = replica.decide(.deploy(deployIntent(summary: "w0")), by: owner, context: context("w0"))
        // The writer has taken the first decision and waits for the lock.
        while try database.psql("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'") == "0" {
            try await Task.sleep(for: .milliseconds(10))
        }
        async let rest = withThrowingTaskGroup(of: Decision.self) { group in
            for n in 1..<20 {
                group.addTask { try await replica.decide(.deploy(deployIntent(summary: "w\(n)")), by: owner, context: context("w\(n)")) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        while replica.writeStatistics().queued < 19 { try await Task.sleep(for: .milliseconds(10)) }
        try holder.execute("COMMIT")
        let decisions = try await [first] + rest
        holder.close()
        let after = replica.writeStatistics()
        #expect(after.transactions - before.transactions == 1)
        #expect(after.largestBatch == 20)
        #expect(decisions.count { $0.allowed } == 12)
        #expect(decisions.count { $0.code == .quotaExceeded } == 8)
        #expect(try database.psql("SELECT count(*) FROM deployments") == "12")
        #expect(try await replica.verifyAudit().isIntact)
    }

    @Test func threeReplicasSpendExactlyTheDailyQuota() async throws {
        let database = try TestDatabase()
        let replicas = try await seededFleet(database, policy: testPolicy(maxConcurrent: 1000, dailyDeploy: 7))
        let decisions = try await withThrowingTaskGroup(of: Decision.self) { group in
            for n in 0..<60 {
                group.addTask { try await replicas[n % 3].decide(.deploy(deployIntent(summary: "q\(n)")), by: owner, context: context("k\(n)")) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(decisions.count { $0.allowed } == 7)
        #expect(decisions.count { $0.code == .quotaExceeded } == 53)
        #expect(try await replicas[0].quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: baseTime.day) == 7)
        #expect(try await replicas[2].deployments().count == 7)
    }

    @Test func oneKeySpreadOverReplicasMakesOneDeployment() async throws {
        let database = try TestDatabase()
        let replicas = try await seededFleet(database, policy: testPolicy(maxConcurrent: 1000, dailyDeploy: 1000))
        let decisions = try await withThrowingTaskGroup(of: Decision.self) { group in
            for n in 0..<30 {
                group.addTask { try await replicas[n % 3].decide(.deploy(deployIntent(summary: "same")), by: owner, context: context("one-key")) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let allowed = decisions.filter(\.allowed)
        #expect(allowed.count == 1, "the first decides; the rest find the key in flight")
        #expect(decisions.count { $0.code == .idempotencyConflict } == 29)
        #expect(try database.psql("SELECT count(*) FROM deployments") == "1")
        // Once the execution is recorded, every replica replays the same deployment.
        let id = try #require(try await replicas[0].deployments().first?.id)
        _ = try await replicas[1].recordDispatch(deploymentId: id, executionId: "exec-1", executionURL: nil, now: baseTime.adding(seconds: 1))
        for replica in replicas {
            let replay = try await replica.decide(.deploy(deployIntent(summary: "same")), by: owner, context: context("one-key", at: baseTime.adding(seconds: 2)))
            #expect(replay.allowed)
            #expect(replay.replayed)
            #expect(try await replica.deployments().map(\.id) == [id])
        }
    }

    @Test func engineOutcomesFreeTheSlotAndRefundAReleasedReservation() async throws {
        let database = try TestDatabase()
        let replicas = try await seededFleet(database, policy: testPolicy(maxConcurrent: 1, dailyDeploy: 10))
        let first = try await replicas[0].decide(.deploy(deployIntent(summary: "a")), by: owner, context: context("a"))
        let id = try #require(first.record?.id)
        // Released (Gate refused): the record, its key and its quota unit go; the slot is free.
        _ = try await replicas[1].releaseReservation(deploymentId: id, reason: "Gate answered 400", now: baseTime.adding(seconds: 1))
        #expect(try await replicas[2].deployment(id: id) == nil)
        #expect(try await replicas[2].quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: baseTime.day) == 0)
        #expect(try database.psql("SELECT count(*) FROM idempotency WHERE key = 'a'") == "0")
        // Started, then ended: the slot follows the execution.
        let second = try await replicas[2].decide(.deploy(deployIntent(summary: "b")), by: owner, context: context("b", at: baseTime.adding(seconds: 2)))
        let secondId = try #require(second.record?.id)
        let blocked = try await replicas[0].decide(.deploy(deployIntent(summary: "c")), by: owner, context: context("c", at: baseTime.adding(seconds: 3)))
        #expect(blocked.code == .concurrencyLimitReached)
        _ = try await replicas[0].recordDispatch(deploymentId: secondId, executionId: "exec-2", executionURL: nil, now: baseTime.adding(seconds: 3))
        let ended = try await replicas[1].recordEngineState(deploymentId: secondId, state: .succeeded, failures: [], now: baseTime.adding(seconds: 4))
        #expect(ended?.state == .succeeded)
        #expect(try await replicas[2].activeDeployments(group: "default", environment: "sandbox").isEmpty)
        let third = try await replicas[0].decide(.deploy(deployIntent(summary: "c")), by: owner, context: context("c2", at: baseTime.adding(seconds: 5)))
        #expect(third.allowed)
        #expect(try database.psql("SELECT string_agg(event_type, ',' ORDER BY sequence) FROM audit WHERE event_type LIKE 'ENGINE%' OR event_type LIKE 'DEPLOYMENT_S%'")
            == "ENGINE_TRIGGER_FAILED,ENGINE_TRIGGERED,DEPLOYMENT_SUCCEEDED")
        #expect(try await replicas[1].verifyAudit().isIntact)
    }

    @Test func theKillSwitchSetThroughOneReplicaStopsTheNextDecisionOfEvery() async throws {
        let database = try TestDatabase()
        let replicas = try await seededFleet(database, policy: testPolicy(maxConcurrent: 10, dailyDeploy: 100))
        // Each replica has decided (and cached the policy) before the change.
        for (n, replica) in replicas.enumerated() {
            #expect(try await replica.decide(.deploy(deployIntent(summary: "before \(n)")), by: owner, context: context("before-\(n)")).allowed)
            #expect(try await replica.decide(.validate(deployIntent()), by: owner, context: context()).allowed)
        }
        let toggle = try await replicas[0].decide(.setMutationsDisabled(KillSwitchChange(mutationsDisabled: true, reason: "freeze")), by: admin, context: context())
        #expect(toggle.allowed)
        for (n, replica) in replicas.enumerated() {
            let deploy = try await replica.decide(.deploy(deployIntent(summary: "after \(n)")), by: owner, context: context("after-\(n)"))
            #expect(deploy.code == .mutationsDisabled, "replica \(n)")
            // A read-only decision too, though it is answered without a transaction from the
            // policy the replica last saw: the generation read with its answers says it changed.
            let validate = try await replica.decide(.validate(deployIntent()), by: owner, context: context())
            #expect(validate.code == .mutationsDisabled, "replica \(n)")
            #expect(try await replica.policy().settings.mutationsDisabled, "replica \(n)")
        }
    }

    /// Read windows are rows every replica counts in: an actor's reads spread over three replicas
    /// meet one `read_rpm`, not one per replica.
    @Test func readsSpreadOverReplicasMeetOneReadLimit() async throws {
        let database = try TestDatabase()
        var policy = testPolicy()
        policy.settings.readRPM = 7
        let replicas = try await seededFleet(database, policy: policy)
        var codes: [String] = []
        for n in 0..<10 {
            let decision = try await replicas[n % 3].decide(.listDeployments(DeploymentQuery()), by: owner, context: context())
            codes.append(decision.code?.rawValue ?? "allowed")
        }
        #expect(codes == Array(repeating: "allowed", count: 7) + Array(repeating: "RATE_LIMITED", count: 3))
        #expect(try database.psql("SELECT sum(count) FROM rate_windows WHERE bucket = 'read'") == "7")
    }

    /// Replicas starting together on an empty database: one loads the policy, the others find it.
    @Test func replicasStartingTogetherLoadThePolicyOnce() async throws {
        let database = try TestDatabase()
        let replicas = [
            try FleetStore(location: database.location, options: .init(migrate: true)),
            try FleetStore(location: database.location, options: .init(migrate: true)),
            try FleetStore(location: database.location, options: .init(migrate: true)),
        ]
        let loads = try await withThrowingTaskGroup(of: Bool.self) { group in
            for (n, replica) in replicas.enumerated() {
                group.addTask { try await replica.loadPolicyIfNone(testPolicy(dailyDeploy: 10 + n), actorId: "replica \(n)", now: baseTime) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(loads.count { $0 } == 1)
        #expect(try database.psql("SELECT count(*) FROM audit WHERE event_type = 'ADMIN_POLICY_LOAD'") == "1")
        #expect(try await replicas[2].policyGeneration() == 1)
        // Replacing (seed, the admin path) still replaces.
        try await replicas[0].replacePolicy(testPolicy(dailyDeploy: 99), actorId: "seed", now: baseTime)
        #expect(try await replicas[1].policy().deliveryGroups["default"]?.guardrails.dailyDeployQuota == 99)
    }

    @Test func oneReplicaLeadsTheBackgroundWorkAndAnotherTakesOverWhenItGoes() async throws {
        let database = try TestDatabase()
        let replicas = try await seededFleet(database, policy: testPolicy(), count: 3)
        #expect(await replicas[1].leadsBackgroundWork())
        #expect(await replicas[1].leadsBackgroundWork(), "asking again keeps the lease")
        #expect(await !replicas[0].leadsBackgroundWork())
        #expect(await !replicas[2].leadsBackgroundWork())
        await replicas[1].close()
        // PostgreSQL frees the lock as the holder's session ends, a moment after it disconnects;
        // the replicas ask every few seconds.
        var taken = false
        for _ in 0..<50 where !taken {
            taken = await replicas[2].leadsBackgroundWork()
            if !taken { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(taken, "the lease is free once its holder's connection ends")
        #expect(await !replicas[0].leadsBackgroundWork())
    }

    /// A node's data directory moved into a fleet: the fleet holds and decides exactly what the
    /// node would have, and `audit verify --store` passes, from a chain that retention pruned.
    @Test func aNodeMovesIntoAFleetWithEverythingItHolds() async throws {
        let dir = TempDirectory()
        let node = try await seededStore(dir, policy: testPolicy(maxConcurrent: 3, dailyDeploy: 50), versions: ["1.0.0", "1.1.0"])
        var ids: [String] = []
        for n in 0..<6 {
            let decision = try await node.decide(.deploy(deployIntent(n % 2 == 0 ? "1.0.0" : "1.1.0", summary: "m\(n)")), by: owner,
                context: context("m\(n)", at: baseTime.adding(seconds: Int64(10 * n))))
            #expect(decision.allowed)
            if let id = decision.record?.id { ids.append(id) }
            if n < 5 { _ = try await node.recordDispatch(deploymentId: ids[n], executionId: "e\(n)", executionURL: nil, now: baseTime.adding(seconds: Int64(10 * n + 1))) }
            if n < 4 { _ = try await node.recordEngineState(deploymentId: ids[n], state: .succeeded, failures: [], now: baseTime.adding(seconds: Int64(10 * n + 5))) }
        }
        _ = try await node.pruneAudit(olderThan: baseTime.adding(seconds: 1), upTo: .max, actorId: "test", now: baseTime.adding(seconds: 100), batch: 100)
        #expect(try node.auditCheckpoint() != nil, "the chain starts after a retention checkpoint")
        await node.close()

        let database = try TestDatabase()
        let reopened = try GovernanceStore(directory: dir.path)
        let fleet = try FleetStore(location: database.location, options: .init(migrate: true))
        let report = try await fleet.migrate(from: reopened)
        #expect(report.deployments == 6)
        #expect(report.pendingDispatches == 1, "the sixth reservation's trigger was never recorded")
        #expect(try await fleet.deployments() == (try reopened.deployments()))
        #expect(try await fleet.auditEntries().map(\.hash) == (try reopened.auditEntries().map(\.hash)))
        #expect(try await fleet.verifyAudit() == (try reopened.verifyAudit()))
        #expect(try await fleet.pendingDispatches() == (try reopened.pendingDispatches()))
        #expect(try await fleet.slotHolders().map(\.id).sorted() == (try reopened.slotHolders().map(\.id).sorted()))
        #expect(try await fleet.quotaUsed(QuotaScope(kind: .deploy, key: "default:sandbox"), day: baseTime.day) == 6)
        #expect(try await fleet.policyGeneration() == (try reopened.policyGeneration()))
        // The fleet decides on: a retried key replays, the held slots count, the chain goes on.
        let replay = try await fleet.decide(.deploy(deployIntent("1.0.0", summary: "m0")), by: owner, context: context("m0", at: baseTime.adding(seconds: 200)))
        #expect(replay.replayed && replay.record?.id == ids[0])
        let next = try await fleet.decide(.deploy(deployIntent("1.0.0", summary: "next")), by: owner, context: context("next", at: baseTime.adding(seconds: 200)))
        #expect(next.allowed, "two slots held of three")
        let full = try await fleet.decide(.deploy(deployIntent("1.0.0", summary: "full")), by: owner, context: context("full", at: baseTime.adding(seconds: 201)))
        #expect(full.code == .concurrencyLimitReached)
        guard case .intact = try await fleet.verifyAudit() else { Issue.record("the chain broke after the move"); return }
        // A second move into the same database copies nothing.
        await #expect(throws: StoreError.self) { try await fleet.migrate(from: reopened) }
        await fleet.close()
        await reopened.close()

        // The command-line path: migrate, then audit verify --store.
        let second = try TestDatabase()
        let migrate = try runToEnd(URL(fileURLWithPath: dxcpPolicyExecutable()), ["migrate", "--from", dir.path, "--to", second.url])
        #expect(migrate.status == 0, "\(migrate.err)")
        #expect(migrate.out.hasPrefix("copied 6 deployments"), "\(migrate.out)")
        let verify = try runToEnd(URL(fileURLWithPath: dxcpPolicyExecutable()), ["audit", "verify", "--store", second.url])
        #expect(verify.status == 0, "\(verify.out) \(verify.err)")
        #expect(verify.out.hasPrefix("OK "), "\(verify.out)")
    }

    /// The one-off fleet commands take their statement timeout from `DXCP_COMMAND_TIMEOUT_MS`, not
    /// from `serve`'s `DXCP_DATABASE_TIMEOUT_MS`: a value out of range stops them, naming the
    /// variable, before they touch a data directory or a database; `serve`'s variable is not theirs.
    @Test(arguments: ["5", "3600001", "soon"])
    func theFleetCommandsRefuseATimeoutOutOfRange(_ value: String) throws {
        let nowhere = "postgres://dxcp@127.0.0.1:1/none"
        let executable = URL(fileURLWithPath: dxcpPolicyExecutable())
        let commands = [
            ["migrate-schema", "--store", nowhere], ["audit", "verify", "--store", nowhere],
            ["migrate", "--from", "/nonexistent/dxcp-data", "--to", nowhere],
        ]
        for arguments in commands {
            let refused = try runToEnd(executable, arguments, environment: ["DXCP_COMMAND_TIMEOUT_MS": value])
            #expect(refused.status == 2)
            #expect(refused.err.contains("DXCP_COMMAND_TIMEOUT_MS must be a whole number from 1000 to 3600000"), "\(arguments): \(refused.err)")
            let taken = try runToEnd(executable, arguments, environment: ["DXCP_COMMAND_TIMEOUT_MS": "2000", "DXCP_DATABASE_TIMEOUT_MS": value])
            #expect(taken.status != 0, "nothing is there to reach")
            #expect(!taken.err.contains("TIMEOUT_MS"), "a value in range is taken, serve's variable ignored: \(taken.err)")
        }
    }

    /// The same seeded sequence of requests and engine outcomes, decided by LMDB and by a fleet
    /// of two on PostgreSQL, gives the same decisions, records and audit entries.
    @Test func bothBackendsDecideTheSameSequencesAlike() async throws {
        var seen: [String: Int] = [:]
        for sequence: UInt64 in [11, 12, 13] {
            seen.merge(try await decideAlike(sequence: sequence)) { $0 + $1 }
        }
        // The sequences meet every limit and every write of the store's own they are meant to compare.
        for outcome in ["allowed", "replayed", "CONCURRENCY_LIMIT_REACHED", "IDEMPOTENCY_CONFLICT", "RATE_LIMITED", "pruned", "keys expired", "refusals audited"] {
            #expect(seen[outcome, default: 0] > 0, "no \(outcome) in \(seen)")
        }
    }

    /// One seeded sequence through both backends; what it met.
    private func decideAlike(sequence: UInt64) async throws -> [String: Int] {
        let dir = TempDirectory()
        var policy = testPolicy(maxConcurrent: 2, dailyDeploy: 30, mutateRPM: 2)
        policy.settings.idempotencyTTLSeconds = 300
        let lmdb = try GovernanceStore(directory: dir.path, options: .init(mapSize: 64 << 20, create: true))
        try await seed(policy: policy, versions: ["1.0.0", "1.1.0"], replacePolicy: lmdb.replacePolicy, decide: lmdb.decide)
        let database = try TestDatabase()
        let replicas = try await seededFleet(database, policy: policy, versions: ["1.0.0", "1.1.0"], count: 2)
        var random = SplitMix64(seed: sequence)
        var time = baseTime.adding(seconds: 10)
        var live: [String] = []
        var outcomes: [String: Int] = [:]
        for step in 0..<200 {
            time = time.adding(seconds: Int64(random.below(20)))
            let replica = replicas[Int(random.next() % 2)]
            if step % 10 == 9 {
                // Expiry and retention, the store's own writes, on both.
                let a = try await lmdb.expire(now: time, batch: 3)
                let b = try await replica.expire(now: time, batch: 3)
                // The fleet also removes past read windows: on one node they live in memory.
                #expect(a.idempotencyRecords == b.idempotencyRecords && a.uploadCapabilities == b.uploadCapabilities
                    && a.refusalMinutes == b.refusalMinutes && a.rateWindows <= b.rateWindows, "step \(step): expiry \(a) vs \(b)")
                if a.idempotencyRecords > 0 { outcomes["keys expired", default: 0] += 1 }
                if a.refusalMinutes > 0 { outcomes["refusals audited", default: 0] += 1 }
                let cutoff = time.adding(seconds: -300)
                let pa = try await lmdb.pruneAudit(olderThan: cutoff, actorId: "retention", now: time, batch: 4)
                let pb = try await replica.pruneAudit(olderThan: cutoff, actorId: "retention", now: time, batch: 4)
                #expect(pa == pb, "step \(step): retention")
                if !pa.isEmpty { outcomes["pruned", default: 0] += 1 }
                // The audit log read in pages, filtered and not, and from a cursor retention removed.
                for filter in [AuditQuery(limit: 5), AuditQuery(deliveryGroupId: "default", limit: 4), AuditQuery(eventType: "DEPLOY_SUBMIT", limit: 3)] {
                    var query = filter
                    for _ in 0..<50 {
                        let a = try lmdb.auditEvents(query)
                        let b = try await replica.auditEvents(query)
                        #expect(a.entries.map(\.hash) == b.entries.map(\.hash) && a.next == b.next, "step \(step): audit page \(query)")
                        guard let next = a.next else { break }
                        query.before = next
                    }
                }
                if let removed = pa.first?.removed.lowerBound {
                    let query = AuditQuery(deliveryGroupId: "default", limit: 4, before: removed)
                    let a = #expect(throws: StoreError.self) { try lmdb.auditEvents(query) }
                    let b = await #expect(throws: StoreError.self) { try await replica.auditEvents(query) }
                    #expect(a?.kind == .pruned && b?.kind == .pruned)
                }
            }
            switch random.below(8) {
            case 0, 1, 2:
                // A key names one request, mostly: a retry replays or meets its request in flight,
                // and one in eight reuses it for another request.
                let n = random.below(20)
                let key = "k\(n)"
                let version = n % 2 == 0 ? "1.0.0" : "1.1.0"
                let request = Request.deploy(deployIntent(version, summary: random.chance(12) ? "other \(step)" : "s\(n)"))
                let ctx = context(key, at: time, id: "00000000-0000-7000-8000-\(String(format: "%012d", step))")
                let a = try await lmdb.decide(request, by: owner, context: ctx)
                let b = try await replica.decide(request, by: owner, context: ctx)
                #expect(a == b, "step \(step): \(a.code.map(\.rawValue) ?? "allowed") vs \(b.code.map(\.rawValue) ?? "allowed")")
                if a.allowed, !a.replayed, let id = a.record?.id { live.append(id) }
                outcomes[a.replayed ? "replayed" : a.code?.rawValue ?? "allowed", default: 0] += 1
            case 3:
                let ctx = context(nil, at: time, id: "validate-\(step)")
                let request = Request.validate(deployIntent(summary: "v\(step)"))
                #expect(try await lmdb.decide(request, by: owner, context: ctx) == (try await replica.decide(request, by: owner, context: ctx)))
            case 4, 5:
                guard !live.isEmpty else { continue }
                let id = live.removeFirst()
                if random.next() % 3 == 0 {
                    let a = try await lmdb.releaseReservation(deploymentId: id, reason: "refused", now: time)
                    let b = try await replica.releaseReservation(deploymentId: id, reason: "refused", now: time)
                    #expect(a == b)
                } else {
                    let a = try await lmdb.recordDispatch(deploymentId: id, executionId: "e-\(id)", executionURL: nil, now: time)
                    let b = try await replica.recordDispatch(deploymentId: id, executionId: "e-\(id)", executionURL: nil, now: time)
                    #expect(a == b)
                    live.append(id)
                }
            default:
                guard let id = live.first else { continue }
                let state: DeploymentRecord.State = random.next() % 2 == 0 ? .succeeded : .failed
                let a = try await lmdb.recordEngineState(deploymentId: id, state: state, failures: [], now: time)
                let b = try await replica.recordEngineState(deploymentId: id, state: state, failures: [], now: time)
                #expect(a == b)
                if a?.state.isTerminal == true { live.removeFirst() }
            }
        }
        #expect(try lmdb.deployments() == (try await replicas[0].deployments()))
        let lmdbLog = try lmdb.auditEntries()
        let fleetLog = try await replicas[1].auditEntries()
        #expect(lmdbLog.count == fleetLog.count)
        #expect(lmdbLog.map(\.hash) == fleetLog.map(\.hash), "the same chain, entry for entry")
        #expect(try await replicas[0].verifyAudit().isIntact)
        return outcomes
    }
}

extension TestDatabase {
    var location: PostgresLocation { PostgresLocation(url: url)! }
}

/// `count` replicas on `database`: the first migrates and seeds the policy and builds.
func seededFleet(
    _ database: TestDatabase, policy: PolicySnapshot, versions: [String] = ["1.0.0"], count: Int = 3, timeout: Duration = .seconds(5)
) async throws -> [FleetStore] {
    var replicas = [try FleetStore(location: database.location, options: .init(migrate: true, readers: 2, timeout: timeout))]
    try await seed(policy: policy, versions: versions, replacePolicy: replicas[0].replacePolicy, decide: replicas[0].decide)
    while replicas.count < count { replicas.append(try FleetStore(location: database.location, options: .init(readers: 2, timeout: timeout))) }
    return replicas
}

/// The policy and a registered build of each version, with fixed decision ids: two stores seeded
/// alike hold the same audit chain.
func seed(
    policy: PolicySnapshot, versions: [String],
    replacePolicy: (PolicySnapshot, String, Timestamp) async throws -> Void,
    decide: (Request, Principal, DecisionContext, String?) async throws -> Decision
) async throws {
    try await replacePolicy(policy, "test", baseTime)
    for version in versions {
        let registration = BuildRegistration(
            service: "demo-service", version: version, artifactRef: "s3://artifacts/demo-service-\(version).zip",
            gitSha: "abc\(version)", gitBranch: "main", ciProvider: "github", ciRunId: "1", builtAt: "2026-11-25T11:00:00Z")
        let decision = try await decide(.registerExistingBuild(registration), ciBot, context("build-\(version)", id: "build-\(version)"), nil)
        #expect(decision.allowed, "build registration: \(decision.code.map(\.rawValue) ?? "")")
    }
}

extension AuditVerifier.Verdict {
    var isIntact: Bool {
        if case .intact = self { return true }
        return false
    }
}

extension Decision {
    /// The deployment record a deploy decision answers with.
    var record: DeploymentRecord? {
        if case .deployment(let record) = result { return record }
        return nil
    }
}

/// The fleet's audit chain is checked as one node's is: an entry changed, forged with a new hash,
/// removed or cut from the tail in the database is found at its sequence, and `audit verify
/// --store` names it.
@Suite struct FleetAuditTamperingTests {
    /// A replica whose log holds 20 entries: the policy load, a build registration, 18 deploys.
    static func populated() async throws -> (TestDatabase, FleetStore) {
        let database = try TestDatabase()
        let replica = try await seededFleet(database, policy: testPolicy(), count: 1)[0]
        for n in 1...18 {
            _ = try await replica.decide(
                .deploy(deployIntent(summary: "change \(n)")), by: owner, context: context("k\(n)", at: baseTime.adding(seconds: Int64(n) * 10)), requestId: nil)
        }
        #expect(try await replica.allAuditEntries().count == 20)
        return (database, replica)
    }

    @Test func aChangedEntryIsFoundAtItsSequence() async throws {
        let (database, replica) = try await Self.populated()
        _ = try database.psql(#"UPDATE audit SET entry = regexp_replace(entry::text, '"summary":"', '"summary":"X')::json WHERE sequence = 7"#)
        #expect(try await replica.verifyAudit() == .broken(sequence: 7, reason: "content does not match its hash"))
    }

    @Test func aRehashedForgeryIsFoundAtTheNextEntry() async throws {
        let (database, replica) = try await Self.populated()
        var entry = try #require(try await replica.allAuditEntries().first { $0.sequence == 9 })
        entry.summary = "nothing happened"
        entry.hash = AuditChain.hash(of: entry)
        let forged = String(decoding: entry.canonicalBytes(hash: entry.hash), as: UTF8.self).replacingOccurrences(of: "'", with: "''")
        _ = try database.psql("UPDATE audit SET entry = '\(forged)'::json, hash = '\(entry.hash)' WHERE sequence = 9")
        #expect(try await replica.verifyAudit() == .broken(sequence: 10, reason: "previous hash does not match the hash of entry 9"))
    }

    @Test func aDeletedEntryIsFoundAtItsNumber() async throws {
        let (database, replica) = try await Self.populated()
        _ = try database.psql("DELETE FROM audit WHERE sequence = 7")
        #expect(try await replica.verifyAudit() == .broken(sequence: 7, reason: "expected sequence 7, found 8"))
    }

    @Test func aTruncatedTailIsFoundAtTheFirstMissingEntry() async throws {
        let (database, replica) = try await Self.populated()
        _ = try database.psql("DELETE FROM audit WHERE sequence >= 18")
        #expect(try await replica.verifyAudit() == .broken(sequence: 18, reason: "entries 18...20 are missing"))
    }

    /// A head changed by hand to a value this service never writes (a negative sequence) is
    /// reported as corrupt by every reader and writer: never a crash of the replicas.
    @Test func aNegativeHeadIsCorruptNotACrash() async throws {
        let (database, replica) = try await Self.populated()
        let stored = try database.psql("SELECT count(*) FROM deployments")
        _ = try database.psql("UPDATE fleet_head SET audit_sequence = -1")
        let verified = await #expect(throws: StoreError.self) { try await replica.verifyAudit() }
        #expect(verified?.kind == .corrupt)
        #expect(verified?.message.contains("fleet_head.audit_sequence") == true, "\(String(describing: verified))")
        let decided = await #expect(throws: StoreError.self) {
            try await replica.decide(.deploy(deployIntent(summary: "after")), by: owner, context: context("k-after"), requestId: nil)
        }
        #expect(decided?.kind == .corrupt)
        _ = try database.psql("UPDATE fleet_head SET audit_sequence = 9223372036854775807")
        let atTheEnd = await #expect(throws: StoreError.self, "the next entry's sequence would not be a bigint") {
            try await replica.decide(.deploy(deployIntent(summary: "after")), by: owner, context: context("k-after"), requestId: nil)
        }
        #expect(atTheEnd?.kind == .corrupt)
        _ = try database.psql("UPDATE fleet_head SET audit_sequence = 20, policy_generation = -3")
        let refused = await #expect(throws: StoreError.self) {
            try await replica.decide(.deploy(deployIntent(summary: "after")), by: owner, context: context("k-after"), requestId: nil)
        }
        #expect(refused?.kind == .corrupt)
        #expect(try database.psql("SELECT count(*) FROM deployments") == stored, "nothing was written")
        #expect(try database.psql("SELECT count(*) FROM audit") == "20")

        // One entry's room left: decisions sent together may share a batch, whose second entry
        // would be past a bigint; at most one is decided, the rest refused, none traps.
        _ = try database.psql("UPDATE fleet_head SET audit_sequence = 9223372036854775806, policy_generation = 1")
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for n in 0..<4 {
                group.addTask {
                    (try? await replica.decide(.deploy(deployIntent(summary: "last \(n)")), by: owner, context: context("k-last-\(n)"), requestId: nil)) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.count { $0 } <= 1, "\(outcomes)")
    }

    @Test func theVerifyCommandNamesTheFirstBadSequence() async throws {
        let (database, _) = try await Self.populated()
        let intact = try runToEnd(URL(fileURLWithPath: dxcpPolicyExecutable()), ["audit", "verify", "--store", database.url])
        #expect(intact.out.hasPrefix("OK 20 entries"), "\(intact.out)")
        _ = try database.psql("DELETE FROM audit WHERE sequence = 15")
        let broken = try runToEnd(URL(fileURLWithPath: dxcpPolicyExecutable()), ["audit", "verify", "--store", database.url])
        #expect(broken.status == 1)
        #expect(broken.out == "BROKEN at sequence 15: expected sequence 15, found 16\n")
    }
}

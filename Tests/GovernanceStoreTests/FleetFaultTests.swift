import Foundation
import GovernanceStore
import Rules
import TestSupport
import Testing

/// Faults of a fleet's database, on a PostgreSQL of the test's own (stopped, crashed and
/// restarted here without disturbing the other tests' server).
@Suite(.timeLimit(.minutes(3))) struct FleetFaultTests {
    @Test func aStoppedDatabaseAnswersUnavailableAndTheReplicaReconnects() async throws {
        let server = try TestPostgres()
        let database = try TestDatabase(server: server.url)
        let replica = try await seededFleet(database, policy: testPolicy(maxConcurrent: 10, dailyDeploy: 100), count: 1, timeout: .seconds(2))[0]
        let first = try await replica.decide(.deploy(deployIntent(summary: "a")), by: owner, context: context("a"))
        #expect(first.allowed)

        try server.crash()
        // Every kind of work fails with nothing changed, and none waits past the timeout.
        for request in [Request.validate(deployIntent(summary: "v")), .deploy(deployIntent(summary: "b"))] {
            let error = await #expect(throws: StoreError.self) { try await replica.decide(request, by: owner, context: context("b")) }
            #expect(error?.kind == .unavailable, "\(String(describing: error))")
        }
        await #expect(throws: StoreError.self) { try await replica.policy() }

        try server.resume()
        // The same replica reconnects on its next piece of work; what was acknowledged is there.
        let second = try await replica.decide(.deploy(deployIntent(summary: "b")), by: owner, context: context("b"))
        #expect(second.allowed)
        #expect(try await replica.deployments().map(\.id).sorted() == [first.record?.id, second.record?.id].compactMap { $0 }.sorted())
        #expect(try await replica.verifyAudit().isIntact)
        await replica.close()
    }

    /// The connection is cut as a batch's `COMMIT` goes by. When the server applied it and only
    /// the answer was lost, the replica finds the batch's token and answers the decision; when the
    /// commit never arrived, it finds no token and answers that nothing was changed. Nothing is
    /// applied twice or in part, and the replica decides on.
    @Test func aLostCommitAnswerIsSettledByTheBatchToken() async throws {
        let database = try TestDatabase()
        _ = try await seededFleet(database, policy: testPolicy(maxConcurrent: 10, dailyDeploy: 100), count: 1)
        let (proxy, replica) = try Self.behindAProxy(database, .init(readers: 1))

        proxy.arm(.loseTheAnswer)
        let applied = try await replica.decide(.deploy(deployIntent(summary: "a")), by: owner, context: context("a", id: "dep-a"), requestId: nil)
        #expect(proxy.faultsApplied == 1)
        #expect(applied.allowed, "applied, and answered as applied")
        #expect(try database.psql("SELECT string_agg(id, ',') FROM deployments") == "dep-a")

        proxy.arm(.neverArrive)
        let error = await #expect(throws: StoreError.self) {
            try await replica.decide(.deploy(deployIntent(summary: "b")), by: owner, context: context("b", id: "dep-b"), requestId: nil)
        }
        #expect(proxy.faultsApplied == 2)
        #expect(error?.kind == .unavailable, "\(String(describing: error))")
        #expect(try database.psql("SELECT string_agg(id, ',') FROM deployments") == "dep-a", "nothing of the lost batch")

        // The same replica decides on: the unapplied key is free, the applied one is in flight.
        #expect(try await replica.decide(.deploy(deployIntent(summary: "b")), by: owner, context: context("b", id: "dep-b2"), requestId: nil).allowed)
        #expect(try await replica.decide(.deploy(deployIntent(summary: "a")), by: owner, context: context("a", id: "dep-a2"), requestId: nil).code == .idempotencyConflict)
        #expect(try await replica.verifyAudit().isIntact)
        await replica.close()
    }

    /// The connection is cut as `COMMIT` is sent, while the server is still committing: here it
    /// waits for a synchronous standby that does not answer (its WAL flushed, its token not yet
    /// visible). The replica must not take the missing token for "not applied": it waits for the
    /// committing transaction to end, and when it does not end within the timeout, the outcome is
    /// unconfirmed. Once the standby requirement is lifted, the commit completes: the deployment
    /// is there, and a retry of its key meets it.
    @Test func aCommitStillUnderWayWhenItsAnswerIsLostIsNeverCalledUnapplied() async throws {
        let server = try TestPostgres()
        let database = try TestDatabase(server: server.url)
        _ = try await seededFleet(database, policy: testPolicy(maxConcurrent: 10, dailyDeploy: 100), count: 1, timeout: .seconds(2))
        let (proxy, replica) = try Self.behindAProxy(database, .init(readers: 1, timeout: .seconds(2)))

        try database.psql("ALTER SYSTEM SET synchronous_standby_names = 'dxcp_absent_standby'")
        try database.psql("SELECT pg_reload_conf()")
        proxy.arm(.cutAsItIsSent)
        let error = await #expect(throws: StoreError.self) {
            try await replica.decide(.deploy(deployIntent(summary: "a")), by: owner, context: context("a", id: "dep-a"), requestId: nil)
        }
        #expect(proxy.faultsApplied == 1)
        #expect(error?.kind == .unconfirmed, "never \"nothing was changed\": \(String(describing: error))")
        try database.psql("ALTER SYSTEM RESET synchronous_standby_names")
        try database.psql("SELECT pg_reload_conf()")
        var committed = false
        for _ in 0..<100 where !committed {
            committed = try database.psql("SELECT count(*) FROM deployments WHERE id = 'dep-a'") == "1"
            if !committed { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(committed, "the commit completed once no standby was required")
        #expect(try await replica.decide(.deploy(deployIntent(summary: "a")), by: owner, context: context("a", id: "dep-a2"), requestId: nil).code == .idempotencyConflict)
        #expect(try await replica.verifyAudit().isIntact)
        await replica.close()
    }

    /// The database becomes unreachable (a partition: connections hang, nothing answers) with
    /// many decisions queued. The batch that meets it fails after the timeout; what queued behind
    /// it is refused at once, with nothing changed, instead of each batch spending a timeout of
    /// its own on a connection attempt. Reads likewise.
    @Test func anUnreachableDatabaseRefusesWhatQueuedAtOnce() async throws {
        let database = try TestDatabase()
        _ = try await seededFleet(database, policy: testPolicy(maxConcurrent: 1000, dailyDeploy: 10_000), count: 1)
        let (proxy, replica) = try Self.behindAProxy(database, .init(maxBatch: 4, readers: 1, timeout: .seconds(2)))
        #expect(try await replica.decide(.deploy(deployIntent(summary: "before")), by: owner, context: context("before"), requestId: nil).allowed)

        proxy.becomeUnreachable()
        let kinds = await Self.failures(of: 40) { n in
            _ = try await replica.decide(.deploy(deployIntent(summary: "d\(n)")), by: owner, context: context("d\(n)"), requestId: nil)
        }
        #expect(kinds.allSatisfy { $0 == .unavailable || $0 == .unconfirmed }, "\(kinds)")
        // Ten batches' worth were queued; one (or two, racing the first failure) tried to connect.
        #expect(proxy.connectionsWhileUnreachable <= 2, "\(proxy.connectionsWhileUnreachable) connection attempts")
        #expect(try database.psql("SELECT count(*) FROM deployments") == "1", "nothing of the refused decisions")

        // Reads queued behind one that waits for the unreachable database are refused once they
        // have waited a timeout, rather than each starting a wait of its own.
        let before = proxy.connectionsWhileUnreachable
        let reads = await Self.failures(of: 10) { _ in _ = try await replica.deployment(id: "none") }
        #expect(reads.allSatisfy { $0 == .unavailable }, "\(reads)")
        #expect(proxy.connectionsWhileUnreachable - before <= 2, "\(proxy.connectionsWhileUnreachable - before) connection attempts for 10 reads")
        await replica.close()
    }

    /// Another session holds the fleet lock past the timeout (a replica that went away mid-batch,
    /// until the server ends it). The batch that waits for it fails at the timeout; what queued
    /// behind it has waited that long too and is refused with nothing changed, instead of each
    /// batch of the queue waiting a timeout of its own.
    @Test func aLockHeldElsewhereCostsACallerOneTimeoutNotOnePerBatch() async throws {
        let database = try TestDatabase()
        _ = try await seededFleet(database, policy: testPolicy(maxConcurrent: 1000, dailyDeploy: 10_000), count: 1)
        let replica = try FleetStore(location: database.location, options: .init(maxBatch: 2, readers: 1, timeout: .seconds(1)))
        #expect(try await replica.decide(.deploy(deployIntent(summary: "before")), by: owner, context: context("before"), requestId: nil).allowed)
        let holder = try await database.holding("SELECT 1 FROM fleet_head FOR UPDATE", on: "fleet_head", mode: "RowShareLock", for: 6)
        let messages = await withTaskGroup(of: String.self) { group in
            for n in 0..<12 {
                group.addTask {
                    do {
                        _ = try await replica.decide(.deploy(deployIntent(summary: "d\(n)")), by: owner, context: context("d\(n)"), requestId: nil)
                        return "decided"
                    } catch let error as StoreError {
                        return "\(error.kind): \(error.message)"
                    } catch {
                        return "\(error)"
                    }
                }
            }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        let overdue = messages.filter { $0.contains("waited longer than") }
        #expect(messages.allSatisfy { $0.hasPrefix("unavailable") || $0.hasPrefix("busy") }, "\(messages)")
        // Six batches' worth were queued: the first (and, racing it, one or two more whose work
        // queued a little later) met the lock; the rest had waited a timeout by their turn.
        #expect(overdue.count >= 6, "\(messages)")
        _ = try await holder.value
        #expect(try database.psql("SELECT count(*) FROM deployments") == "1", "nothing of the refused decisions")
        #expect(try await replica.decide(.deploy(deployIntent(summary: "after")), by: owner, context: context("after"), requestId: nil).allowed)
        await replica.close()
    }

    /// Four clients deploy through two replicas while PostgreSQL crashes and restarts twice; a
    /// client retries a failed request with the same key until it is answered, as a client of
    /// the API does. Every answered deploy is stored, each key has one deployment, and the
    /// chain verifies. A commit whose answer was lost and could not be settled before the
    /// timeout is `unconfirmed`: its retry either decides afresh (it was not applied) or meets
    /// the applied reservation, still in progress (no dispatcher runs here), as 409
    /// `IDEMPOTENCY_CONFLICT`; the key then has its one deployment all the same.
    @Test func aRestartUnderLoadLosesNothingAcknowledged() async throws {
        let server = try TestPostgres()
        let database = try TestDatabase(server: server.url)
        let replicas = try await seededFleet(database, policy: testPolicy(maxConcurrent: 1000, dailyDeploy: 100_000), count: 2, timeout: .seconds(2))
        let perClient = 60
        // Per key: the acknowledged deployment id, or nil when the answer was lost and the retry
        // met the applied attempt.
        let answers = try await withThrowingTaskGroup(of: [String: String?].self) { group in
            for client in 0..<4 {
                group.addTask {
                    var answered: [String: String?] = [:]
                    for n in 0..<perClient {
                        let key = "c\(client)-\(n)"
                        var unconfirmed = false
                        while true {
                            do {
                                let decision = try await replicas[(client + n) % 2].decide(
                                    .deploy(deployIntent(summary: key)), by: owner, context: context(key))
                                if unconfirmed, decision.code == .idempotencyConflict {
                                    answered[key] = .some(nil)
                                    break
                                }
                                #expect(decision.allowed, "\(key): \(decision.code.map(\.rawValue) ?? "")")
                                answered[key] = decision.record?.id
                                break
                            } catch let error as StoreError {
                                #expect(error.kind == .unavailable || error.kind == .unconfirmed, "\(error)")
                                unconfirmed = unconfirmed || error.kind == .unconfirmed
                                try await Task.sleep(for: .milliseconds(50))
                            }
                        }
                    }
                    return answered
                }
            }
            group.addTask {
                for _ in 0..<2 {
                    try await Task.sleep(for: .milliseconds(400))
                    try server.restart()
                }
                return [:]
            }
            return try await group.reduce(into: [:]) { $0.merge($1) { a, _ in a } }
        }
        #expect(answers.count == 4 * perClient, "every key answered")
        let stored = try await replicas[0].deployments()
        #expect(stored.count == 4 * perClient, "one deployment per key")
        let storedByKey = Dictionary(stored.map { ($0.changeSummary, [$0.id]) }, uniquingKeysWith: +)
        #expect(Set(storedByKey.keys) == Set(answers.keys), "each key's deployment is stored, and nothing else")
        for (key, id) in answers {
            #expect(storedByKey[key]?.count == 1, "\(key): one deployment")
            if let id { #expect(storedByKey[key] == [id], "\(key): the acknowledged deployment") }
        }
        #expect(try await replicas[1].verifyAudit().isIntact)
    }

    /// A replica of `database` whose connections go through a proxy that can cut or hold them.
    static func behindAProxy(_ database: TestDatabase, _ options: FleetStore.Options) throws -> (CommitCuttingProxy, FleetStore) {
        var url = try #require(URLComponents(string: database.url))
        let proxy = try CommitCuttingProxy(host: try #require(url.host), port: try #require(url.port))
        url.port = proxy.port
        let proxied = try #require(url.string.flatMap(PostgresLocation.init(url:)))
        return (proxy, try FleetStore(location: proxied, options: options))
    }

    /// Runs `body` `count` times at once; each run's store error kind, nil when it succeeded.
    static func failures(of count: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async -> [StoreError.Kind?] {
        await withTaskGroup(of: StoreError.Kind?.self) { group in
            for n in 0..<count {
                group.addTask {
                    do {
                        try await body(n)
                        return nil
                    } catch let error as StoreError {
                        return error.kind
                    } catch {
                        return .storage
                    }
                }
            }
            return await group.reduce(into: [StoreError.Kind?]()) { $0.append($1) }
        }
    }
}

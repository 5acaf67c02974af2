import Foundation
import GovernanceStore
import PolicyFile
import Rules
import Testing

/// The data file's map (DECISIONS 72): its size is a setting with a bound, its use a gauge, a
/// nearly full map makes the server not ready, a full one refuses mutations with the envelope and
/// nothing half-written, and a larger map on the next start recovers.
@Suite(.serialized) struct StoreMapTests {
    @Test(arguments: [
        ("4GiB", 4 << 30), ("512MiB", 512 << 20), ("512M", 512 << 20), ("1TiB", 1 << 40), ("16777216", 16 << 20), ("64 MiB", 64 << 20),
        ("2G", 2 << 30), ("16TiB", 16 << 40),
    ])
    func mapSizesParse(_ text: String, _ bytes: Int) {
        #expect(GovernanceStore.mapSize(parsing: text) == bytes)
    }

    @Test(arguments: ["", "GiB", "4.5GiB", "-1GiB", "1MiB", "17TiB", "4 gigabytes", "0x100000000", "99999999999999999999", "4GiBs", "١٢MiB"])
    func badMapSizesAreRefused(_ text: String) {
        #expect(GovernanceStore.mapSize(parsing: text) == nil, "\(text)")
    }

    /// Denied deploys are audited, so each one adds to the data file: enough of them fill a small map.
    static func fill(_ store: GovernanceStore, until done: (Int, Int) -> Bool) async throws -> Int {
        let owner = Principal(claims: Claims(subject: "owner-1", email: "owner@example.com", roles: .values(["dxcp-delivery-owners"])))
        var n = 0
        while true {
            let usage = try #require(store.usage())
            if done(usage.used, usage.mapSize) { return n }
            n += 1
            _ = try await store.decide(
                .deploy(DeploymentIntent(service: "demo-service", environment: "sandbox", version: "9.9.\(n)", changeSummary: String(repeating: "x", count: 200))),
                by: owner, context: DecisionContext(now: currentTime(), decisionId: "d\(n)", newId: "n\(n)", idempotencyKey: "k\(n)"))
        }
    }

    @Test func aNearlyFullMapIsNotReadyAndIsMeasured() async throws {
        let server = try await RunningServer(mapSize: 2 << 20)
        #expect(try await server.send("GET", "/readyz").status == 200)
        _ = try await Self.fill(server.store) { used, size in Double(used) >= 0.92 * Double(size) }
        let readyz = try await server.send("GET", "/readyz")
        #expect(readyz.status == 503)
        let status = try #require(readyz.json["status"] as? String)
        #expect(status.contains("--map-size") && status.contains("% of its map"), "\(status)")
        let metrics = String(decoding: try await server.send("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("dxcp_store_map_size_bytes 2097152"), "\(metrics.prefix(2000))")
        #expect(metrics.contains("dxcp_store_used_bytes "))
    }

    @Test func aFullMapRefusesWithTheEnvelopeAndALargerMapRecovers() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-map-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var entries = 0
        do {
            let store = try GovernanceStore(directory: dir, options: .init(mapSize: 1 << 20, create: true))
            try await store.replacePolicy(try PolicyFile.load(path: RunningServer.demoPolicy), actorId: "test", now: currentTime())
            var full: StoreError?
            do {
                _ = try await Self.fill(store) { _, _ in false }
            } catch let error as StoreError {
                full = error
            }
            let error = try #require(full)
            #expect("\(error)".contains("--map-size"), "\(error)")
            entries = try store.auditEntries().count
            await store.close()
        }
        // The next start with a larger map: every committed entry is there, verified, and decisions go on.
        let store = try GovernanceStore(directory: dir, options: .init(mapSize: 8 << 20, create: false))
        #expect(try store.auditEntries().count == entries)
        guard case .intact(let count, _) = try store.verifyAudit() else {
            Issue.record("the audit log does not verify after a full map")
            return
        }
        #expect(count == UInt64(entries))
        let more = try await Self.fill(store) { used, _ in used > (1 << 20) + (64 << 10) }
        #expect(more > 0)
    }

    @Test func aFullWriterQueueAnswers503WithRetryAfter() async throws {
        let server = try await RunningServer(maxQueue: 0)
        let owner = try await server.owner
        let refused = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "k"])
        #expect(refused.status == 503)
        #expect(refused.code == "SERVICE_OVERLOADED")
        #expect(refused.headers["retry-after"] == "1")
        #expect(refused.json["request_id"] as? String == refused.headers["x-request-id"])
        let validate = try await server.send("POST", "/v1/deployments/validate", token: owner, json: deployBody())
        #expect(validate.status != 503, "validate reads; it never waits for the writer")
        let metrics = String(decoding: try await server.send("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("dxcp_store_overloaded_total 1"))
        #expect(try server.store.deployments().isEmpty)
    }
}

import Foundation
@testable import GovernanceStore
@testable import Rules
import Testing

/// The hand-written encodings of hot stored values read back, through `JSONDecoder`, as exactly
/// the values written.
@Suite struct StoredEncodingTests {
    static func record(failures: [Failure], optionalsSet: Bool) -> DeploymentRecord {
        DeploymentRecord(
            id: "dep-\"1\"", service: "demo-service", environment: "sandbox", version: "1.2.3-rc.1",
            sourceEnvironment: optionalsSet ? "staging" : nil, recipeId: "default", recipeRevision: 4,
            effectiveBehaviorSummary: "Rolls \\ forward\nthen waits\t✓", state: .inProgress, kind: optionalsSet ? .rollback : .rollForward,
            changeSummary: "ship it — 日本 😀", createdAt: Timestamp(microseconds: 1_795_608_000_123_456),
            updatedAt: Timestamp(microseconds: 1_795_608_001_000_000), rollbackOf: optionalsSet ? "dep-0" : nil,
            deliveryGroupId: "default", failures: failures, intentCorrelationId: optionalsSet ? "k-1" : nil,
            engineExecutionId: optionalsSet ? "01HX" : nil, engineExecutionURL: optionalsSet ? "https://gate/pipelines/01HX" : nil,
            spinnakerApplication: "demo-app", spinnakerPipeline: "demo-deploy",
            actor: ActorIdentity(
                principal: Principal(claims: Claims(subject: optionalsSet ? "u1" : nil, email: optionalsSet ? "a@b.co" : nil,
                    authorizedParty: optionalsSet ? "cli" : nil, roles: .values(["dxcp-delivery-owners"]))),
                role: .deliveryOwner, engineUser: "a@b.co"),
            policySnapshot: PolicyNumbers(maxConcurrentDeployments: 1, currentConcurrentDeployments: 0, dailyDeployQuota: 25, deploymentsUsed: 30, dailyQuotaBuildRegister: 50))
    }

    @Test(arguments: [false, true])
    func deploymentRecordRoundTrips(optionalsSet: Bool) throws {
        let failures = optionalsSet
            ? [Failure(category: .timeout, summary: "timed out", detail: "stage \"deploy\"", actionHint: "retry", observedAt: Timestamp(seconds: 9)),
               Failure(category: .unknown, summary: "x", actionHint: "y", observedAt: Timestamp(seconds: 10))]
            : []
        let record = Self.record(failures: failures, optionalsSet: optionalsSet)
        let bytes = StoredEncoding.encode(record)
        #expect(try JSONDecoder().decode(DeploymentRecord.self, from: Data(bytes)) == record)
        #expect(try JSONSerialization.jsonObject(with: Data(bytes)) is [String: Any])
    }

    @Test func inFlightIdempotencyRecordRoundTrips() throws {
        let inFlight = IdempotencyRecord(fingerprint: #"{"a":"b \"c\""}"#, expiresAt: Timestamp(seconds: 99), response: nil)
        let bytes = try StoredEncoding.encode(inFlight, RecordCodec())
        #expect(try JSONDecoder().decode(IdempotencyRecord.self, from: Data(bytes)) == inFlight)
        let done = IdempotencyRecord(fingerprint: "f", expiresAt: Timestamp(seconds: 99), response: StoredResponse(status: 201, result: .mutationsDisabled(true)))
        #expect(try JSONDecoder().decode(IdempotencyRecord.self, from: Data(try StoredEncoding.encode(done, RecordCodec()))) == done)
    }

    @Test(arguments: [false, true])
    func completedDeployIdempotencyRecordRoundTrips(optionalsSet: Bool) throws {
        let failures = optionalsSet ? [Failure(category: .timeout, summary: "t", actionHint: "r", observedAt: Timestamp(seconds: 9))] : []
        let done = IdempotencyRecord(
            fingerprint: #"{"a":"b \"c\""}"#, expiresAt: Timestamp(seconds: 99),
            response: StoredResponse(status: 201, result: .deployment(Self.record(failures: failures, optionalsSet: optionalsSet))))
        let bytes = try StoredEncoding.encode(done, RecordCodec())
        #expect(try JSONDecoder().decode(IdempotencyRecord.self, from: Data(bytes)) == done, "written by hand, read by the Codable conformance")
        #expect(bytes == (try StoredEncoding.encode(try JSONDecoder().decode(IdempotencyRecord.self, from: Data(bytes)), RecordCodec())))
    }
}

/// New record ids are UUID-shaped, version 7, unique, and ordered by time.
@Suite struct RecordIDTests {
    /// Composite keys: components read back exactly (0x00 and 0x01 escaped, any UTF-8 kept),
    /// a key starts with the key of its leading components, and byte order follows component order.
    @Test func storeKeysEscapeAndKeepOrder() {
        let texts = ["", "a", "demo-service", "é🚀", "nul\u{0}byte", "one\u{1}", "\u{0}\u{1}\u{0}", String(repeating: "x", count: 200)]
        for text in texts {
            let key = StoreKey().adding(text).adding(Int64(-7)).adding("tail")
            #expect(StoreKey.string(in: key.bytes, at: 0) == text)
            let afterText = StoreKey().adding(text).bytes.count
            #expect(StoreKey.integer(in: key.bytes, at: afterText) == -7)
            #expect(StoreKey.string(in: key.bytes, at: afterText + 8) == "tail")
            #expect(key.bytes.starts(with: StoreKey().adding(text).bytes))
        }
        let ordered = ["a", "a\u{0}", "a\u{1}", "ab", "b"].map { StoreKey().adding($0).adding("z").bytes }
        #expect(ordered == ordered.sorted { $0.lexicographicallyPrecedes($1) })
        let numbers: [Int64] = [.min, -1, 0, 1, 1 << 40, .max]
        let keys = numbers.map { StoreKey().adding("n").adding($0).bytes }
        #expect(keys == keys.sorted { $0.lexicographicallyPrecedes($1) })
    }

    @Test func idsAreVersion7UniqueAndTimeOrdered() {
        let ids = (0..<2000).map { RecordID.make(at: Timestamp(microseconds: 1_795_608_000_000_000 + Int64($0) * 1000)) }
        #expect(Set(ids).count == ids.count)
        #expect(ids == ids.sorted())
        for id in ids.prefix(20) {
            let parts = id.split(separator: "-")
            #expect(parts.map(\.count) == [8, 4, 4, 4, 12])
            #expect(parts[2].first == "7")
            #expect("89ab".contains(parts[3].first ?? "x"))
        }
        let sameMillisecond = (0..<500).map { _ in RecordID.make(at: Timestamp(seconds: 1)) }
        #expect(Set(sameMillisecond).count == 500)
    }
}

import Foundation
import Audit
@testable import GovernanceStore
@testable import Rules
import TestSupport
import Testing

/// The packed encodings of stored values (schema 4) read back as exactly the values written, and
/// the JSON values of earlier schemas are still read.
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
        var record = Self.record(failures: failures, optionalsSet: optionalsSet)
        let bytes = StoredEncoding.encode(record)
        #expect(bytes.first == StoredEncoding.recordFormat)
        #expect(try StoredEncoding.record(bytes, id: record.id, RecordCodec()) == record)
        // The engine user is stored only when it is not the email: every combination reads back.
        for (email, engineUser) in [("a@b.co", ""), ("a@b.co", "other"), (nil, ""), (nil, "svc"), ("K@b.co", "\u{212A}@b.co")] as [(String?, String)] {
            record.actor.email = email
            record.actor.engineUser = engineUser
            let read = try StoredEncoding.record(StoredEncoding.encode(record), id: record.id, RecordCodec())
            #expect(read == record)
            #expect(Array(read.actor.engineUser.utf8) == Array(engineUser.utf8), "the engine user's own bytes")
        }
        // A record written by schema 3 (JSON) is still read.
        #expect(try StoredEncoding.record(try RecordCodec().encode(record), id: record.id, RecordCodec()) == record)
    }

    @Test func damagedPackedValuesAreRefusedNotMisread() throws {
        let record = Self.record(failures: [], optionalsSet: true)
        let bytes = StoredEncoding.encode(record)
        // Every truncation, and a trailing byte, is an error rather than another record.
        for cut in 1..<bytes.count {
            #expect(throws: (any Error).self) { try StoredEncoding.record(Array(bytes.prefix(cut)), id: record.id, RecordCodec()) }
        }
        #expect(throws: (any Error).self) { try StoredEncoding.record(bytes + [0], id: record.id, RecordCodec()) }
        #expect(throws: (any Error).self) { try StoredEncoding.record([0x7F] + bytes.dropFirst(), id: record.id, RecordCodec()) }
    }

    @Test func idempotencyRecordsRoundTrip() throws {
        let inFlight = IdempotencyRecord(fingerprint: #"{"a":"b \"c\""}"#, expiresAt: Timestamp(seconds: 99), response: nil)
        let bytes = try StoredEncoding.encode(inFlight, RecordCodec())
        #expect(bytes.first == StoredEncoding.idempotencyFormat)
        #expect(try StoredEncoding.idempotencyRecord(bytes, RecordCodec()) == inFlight)
        for optionalsSet in [false, true] {
            let failures = optionalsSet ? [Failure(category: .timeout, summary: "t", actionHint: "r", observedAt: Timestamp(seconds: 9))] : []
            let done = IdempotencyRecord(
                fingerprint: String(repeating: "ab", count: 32), expiresAt: Timestamp(seconds: 99),
                response: StoredResponse(status: 201, result: .deployment(Self.record(failures: failures, optionalsSet: optionalsSet))))
            #expect(try StoredEncoding.idempotencyRecord(try StoredEncoding.encode(done, RecordCodec()), RecordCodec()) == done)
        }
        // Other responses are JSON, and JSON written by schema 3 is read.
        let other = IdempotencyRecord(fingerprint: "f", expiresAt: Timestamp(seconds: 99), response: StoredResponse(status: 201, result: .mutationsDisabled(true)))
        #expect(try StoredEncoding.idempotencyRecord(try StoredEncoding.encode(other, RecordCodec()), RecordCodec()) == other)
        #expect(try StoredEncoding.idempotencyRecord(try RecordCodec().encode(inFlight), RecordCodec()) == inFlight)
        // A stored status a replay would answer, but that is no HTTP status (changed by hand), is
        // refused as undecodable rather than sent.
        let json = String(decoding: try StoredEncoding.encode(other, RecordCodec()), as: UTF8.self)
        #expect(json.contains("201"))
        #expect(throws: (any Error).self) {
            try StoredEncoding.idempotencyRecord(Array(json.replacingOccurrences(of: "201", with: "1000").utf8), RecordCodec())
        }
    }

    @Test func auditEntriesReadBackAsTheCanonicalFormTheirHashCovers() throws {
        var chain = AuditChain()
        let notes = [
            AuditNote(eventType: "DEPLOY_SUBMIT", targetType: "Deployment", targetId: "01a213a6-52c8-7fc4-b8e0-86bd7cf16e92", outcome: .success,
                summary: "Deploy submitted", actorId: "owner-1", actorRole: .deliveryOwner, deliveryGroupId: "default", serviceName: "demo-service", environment: "sandbox"),
            AuditNote(eventType: "SOMETHING_NEW", targetType: "Thing", targetId: "", outcome: .denied, summary: "ünïcode \"quoted\"\n😀",
                actorId: "ABCDEF01-0000-4000-8000-000000000000", actorRole: nil),
            // A caller's service named like a word in another Unicode form (a Kelvin sign for K).
            AuditNote(eventType: "DEPLOY_DENIED", targetType: "Deployment", targetId: "UN\u{212A}NOWN", outcome: .denied,
                summary: "Deploy rejected for UN\u{212A}NOWN", actorId: "owner-1", actorRole: .deliveryOwner, serviceName: "ROLLBAC\u{212A}"),
        ]
        let trails: [[CheckResult]] = [
            CheckName.allCases.map { CheckResult($0, .passed) },
            [CheckResult(.roleRecognised, .skipped), CheckResult(.quotaAvailable, .failed(.quotaExceeded))],
            [CheckResult(.intentWellFormed, .failed(.invalidRequest))],
        ]
        for (note, trail) in zip(notes, trails) {
            for requestId in [nil, "req-1", "0b5b8d36-0c7c-4a6c-9d7e-1b4d2c3a4f50"] as [String?] {
                let entry = chain.append(note, origin: AuditOrigin(decisionId: requestId.map { "d-\($0)" }, requestId: requestId, timestamp: Timestamp(seconds: 7), trail: trail), index: 0)
                let packed = StoredEncoding.encode(entry)
                let read = try StoredEncoding.auditEntry(packed, sequence: entry.sequence, RecordCodec())
                #expect(read == entry)
                #expect(read.canonicalBytes(hash: read.hash) == entry.canonicalBytes(hash: entry.hash))
                #expect(AuditChain.hash(of: read) == entry.hash)
                #expect(packed.count < entry.canonicalBytes(hash: entry.hash).count / 2, "packed: \(packed.count) bytes")
                // The JSON form schema 3 stored is still read.
                #expect(try StoredEncoding.auditEntry(entry.canonicalBytes(hash: entry.hash), sequence: entry.sequence, RecordCodec()) == entry)
            }
        }
    }

    /// Strings read back exactly whichever form they are packed in: words, UUIDs, hashes, text;
    /// near misses (upper case, a dash out of place, a non-hex digit) are kept as text.
    @Test func packedStringsReadBackExactly() {
        var generator = SplitMix64(seed: 20261206)
        var samples: [String?] = [nil, "", "DEPLOY_SUBMIT", "deploy_submit", "1.1", "1.10",
            "0b5b8d36-0c7c-4a6c-9d7e-1b4d2c3a4f50", "0B5B8D36-0C7C-4A6C-9D7E-1B4D2C3A4F50", "0b5b8d36-0c7c-4a6c-9d7e1-b4d2c3a4f50",
            String(repeating: "0f", count: 32), String(repeating: "0F", count: 32), String(repeating: "g", count: 64),
            "é🚀\u{0}\u{1}", String(repeating: "x", count: 300),
            // Canonically equivalent to words but other bytes: a Kelvin sign for K, a decomposed é.
            "UN\u{212A}NOWN", "ROLLBAC\u{212A}", "cafe\u{301}", "caf\u{e9}"]
        let alphabet = Array("0123456789abcdefABCDEF-_ é🚀\u{0}")
        for _ in 0..<2_000 {
            let length = [36, 64, Int.random(in: 0...80, using: &generator)].randomElement(using: &generator)!
            samples.append(String((0..<length).map { _ in alphabet.randomElement(using: &generator)! }))
        }
        samples += PackedWords.all
        var w = PackedWriter(format: 9)
        for sample in samples { w.string(sample) }
        w.integer(Int64.min)
        w.integer(Int64.max)
        w.integer(-1)
        guard var r = PackedReader(w.bytes, format: 9) else { Issue.record("the format byte is not read"); return }
        for sample in samples {
            let read = r.optionalString()
            // Byte for byte: Swift's `==` on strings would accept a canonically equivalent one.
            #expect(read.map { $0.map { Array($0.utf8) } } == .some(sample.map { Array($0.utf8) }), "\(String(describing: sample))")
        }
        #expect(r.integer() == .min)
        #expect(r.integer() == .max)
        #expect(r.integer() == -1)
        #expect(r.atEnd)
    }

    /// Every check name, event type the rules write, role, state, kind and failure category is a
    /// word: listing new ones in `PackedWords` keeps records and entries small.
    @Test func everyNameTheRulesWriteIsAWord() {
        let names = CheckName.allCases.map(\.rawValue) + Role.allCases.map(\.rawValue) + DeploymentRecord.State.allCases.map(\.rawValue)
            + Failure.Category.allCases.map(\.rawValue) + ["ROLL_FORWARD", "ROLLBACK", "PROMOTE", "SUCCESS", "DENIED", "FAILED"]
            + DeploymentRecord.State.allCases.filter(\.isTerminal).map { "DEPLOYMENT_\($0.rawValue)" }
        #expect(names.filter { PackedWords.index[$0] == nil } == [])
        #expect(Set(PackedWords.all).count == PackedWords.all.count, "each word once")
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

import Testing
@testable import Rules

/// Contract §3 build publishing (REFERENCE §2.6, §4.4, §6; DECISIONS D2, D5): upload
/// capabilities, the two registration endpoints, idempotency, the existing-build rule,
/// artifact/URL/`built_at` validation, and when the daily quota is spent.
@Suite("§3 Build publishing")
struct Section3BuildPublishingTests {
    static let ciWindow = RateWindow(actorId: "ci-bot", bucket: .mutate, minute: Fixtures.now.minute)
    static let buildQuota = QuotaScope(kind: .buildRegister, key: "ci-bot")
    static let uploadQuota = QuotaScope(kind: .uploadCapability, key: "ci-bot")

    static func publish(_ request: Request, state: InMemoryState = .registered, policy: PolicySnapshot = Fixtures.policy, key: String? = "k1") -> Decision {
        decide(request, by: Fixtures.ci, state: state, policy: policy, key: key)
    }

    static let withCapability = InMemoryState.registered.with { $0.add(Fixtures.capability()) }

    // MARK: Upload capability

    @Test("upload-capability issues a token valid for the configured TTL and spends the upload quota")
    func uploadCapabilityIssued() {
        let d = Self.publish(.uploadCapability(Fixtures.upload(sha256: Fixtures.sha256.uppercased())))
        let expected = UploadCapability(
            token: Fixtures.newId, service: "demo-service", version: "2.0.0", expectedSizeBytes: 1024,
            expectedSha256: Fixtures.sha256, expectedContentType: "application/zip",
            expiresAt: Fixtures.now.adding(seconds: 900), actorId: "ci-bot")
        #expect(d.status == 201)
        #expect(d.result == .uploadCapability(expected))
        let scope = IdempotencyScope(actorId: "ci-bot", endpoint: "POST /v1/builds/upload-capability", key: "k1")
        #expect(Array(d.effects.prefix(4)) == [
            .countRate(Self.ciWindow), .spendQuota(Self.uploadQuota, day: Fixtures.now.day), .putUploadCapability(expected),
            .putIdempotency(scope, IdempotencyRecord(
                fingerprint: Fixtures.upload(sha256: Fixtures.sha256.uppercased()).fingerprint,
                expiresAt: Fixtures.now.adding(seconds: 86_400),
                response: StoredResponse(status: 201, result: .uploadCapability(expected)))),
        ])
        #expect(d.auditNotes.map(\.outcome) == [.success])
    }

    // MARK: POST /v1/builds

    @Test("POST /v1/builds with a matching capability registers the build and consumes the capability")
    func registerWithCapability() throws {
        let d = Self.publish(.registerBuild(Fixtures.registration(sha256: Fixtures.sha256.uppercased())), state: Self.withCapability)
        #expect(d.status == 201)
        let build = try #require(d.build)
        #expect(build.id == Fixtures.newId)
        #expect(build.service == "demo-service")
        #expect(build.version == "2.0.0")
        #expect(build.sha256 == Fixtures.sha256)
        #expect(build.ciPublisher == "ci-main")
        #expect(build.builtAt == Timestamp(iso8601: "2025-12-31T23:00:00Z"))
        #expect(build.registeredAt == Fixtures.now)
        #expect(d.effects.contains(Effect.consumeUploadCapability(Fixtures.capability())))
        #expect(d.effects.contains(Effect.putBuild(build)))
        #expect(d.spentQuotas == [Self.buildQuota])
        #expect(d.trail.last == CheckResult(.uploadCapabilityMatched, .passed))
    }

    struct CapabilityMismatch: Sendable, CustomTestStringConvertible {
        let name: String
        let capability: UploadCapability
        var testDescription: String { name }
    }

    static let capabilityMismatches: [CapabilityMismatch] = [
        .init(name: "expired", capability: Fixtures.capability(expiresAt: Fixtures.now)),
        .init(name: "other size", capability: Fixtures.capability(size: 2048)),
        .init(name: "other sha256", capability: Fixtures.capability(sha256: String(repeating: "cd", count: 32))),
        .init(name: "other content type", capability: Fixtures.capability(contentType: "application/gzip")),
        .init(name: "other version", capability: Fixtures.capability(version: "2.0.1")),
        .init(name: "other service", capability: Fixtures.capability(service: "payments-api")),
    ]

    @Test("POST /v1/builds without a matching unexpired capability → 400 INVALID_ARTIFACT", arguments: capabilityMismatches)
    func capabilityMismatch(_ c: CapabilityMismatch) {
        let state = InMemoryState.registered.with { $0.add(c.capability) }
        let d = Self.publish(.registerBuild(Fixtures.registration()), state: state)
        #expect(d.status == 400)
        #expect(d.code == .invalidArtifact)
        #expect(d.failedCheck == .uploadCapabilityMatched)
        #expect(d.spentQuotas.isEmpty)
        #expect(!d.changesState)
    }

    // MARK: POST /v1/builds/register

    @Test("POST /v1/builds/register needs no capability (D2)")
    func registerExisting() {
        let d = Self.publish(.registerExistingBuild(Fixtures.registration()))
        #expect(d.status == 201)
        #expect(d.build?.artifactRef == "s3://artifacts/demo-service/demo-service-2.0.0.zip")
        #expect(d.trail.last == CheckResult(.uploadCapabilityMatched, .skipped))
        #expect(d.spentQuotas == [Self.buildQuota])
        #expect(!d.effects.contains { if case .consumeUploadCapability = $0 { true } else { false } })
    }

    // MARK: Idempotency

    static let allBuildRequests: [Request] = [
        .uploadCapability(Fixtures.upload()), .registerBuild(Fixtures.registration()),
        .registerExistingBuild(Fixtures.registration()),
    ]

    @Test("a missing or empty Idempotency-Key → 400 IDMP_KEY_REQUIRED", arguments: allBuildRequests, [nil, ""] as [String?])
    func keyRequired(_ request: Request, _ key: String?) {
        let d = Self.publish(request, state: Self.withCapability, key: key)
        #expect(d.status == 400)
        #expect(d.code == .idempotencyKeyRequired)
        #expect(d.failedCheck == .idempotencyKeyPresent)
    }

    static func fingerprint(_ request: Request) -> String {
        switch request {
        case .uploadCapability(let body): body.fingerprint
        case .registerBuild(let body), .registerExistingBuild(let body): body.fingerprint
        default: ""
        }
    }

    @Test("the same key and body replays the stored response", arguments: allBuildRequests)
    func replay(_ request: Request) {
        let stored = StoredResponse(status: 201, result: .build(Fixtures.build(version: "2.0.0")))
        let state = InMemoryState.registered.with {
            $0.remember(
                IdempotencyScope(actorId: "ci-bot", endpoint: request.endpoint, key: "k1"),
                IdempotencyRecord(fingerprint: Self.fingerprint(request), expiresAt: Fixtures.now.adding(seconds: 10), response: stored))
        }
        let d = Self.publish(request, state: state)
        #expect(d.allowed)
        #expect(d.replayed)
        #expect(d.status == 201)
        #expect(d.result == stored.result)
        #expect(d.spentQuotas.isEmpty)
        #expect(d.checkNames.last == .idempotencyReplay)
    }

    @Test("a first request is not a replay", arguments: allBuildRequests)
    func firstIsNotReplay(_ request: Request) {
        let d = Self.publish(request, state: Self.withCapability)
        #expect(d.status == 201)
        #expect(!d.replayed)
    }

    /// DECISIONS D5: every keyed endpoint fingerprints its request; on the build endpoints
    /// (REFERENCE §4.4 lists upload-capability, builds and builds/register) a different request
    /// under the same key is `409 BUILD_REGISTRATION_CONFLICT`.
    @Test("the same key with a different body → 409 BUILD_REGISTRATION_CONFLICT on build endpoints", arguments: allBuildRequests)
    func sameKeyDifferentBody(_ request: Request) {
        let state = InMemoryState.registered.with {
            $0.remember(
                IdempotencyScope(actorId: "ci-bot", endpoint: request.endpoint, key: "k1"),
                IdempotencyRecord(
                    fingerprint: "{\"other\":\"body\"}", expiresAt: Fixtures.now.adding(seconds: 10),
                    response: StoredResponse(status: 201, result: .build(Fixtures.build(version: "2.0.0")))))
        }
        let d = Self.publish(request, state: state)
        #expect(d.status == 409)
        #expect(d.code == .buildRegistrationConflict)
        #expect(d.failedCheck == .idempotencyReplay)
    }

    @Test("git_sha differing under the same key → BUILD_REGISTRATION_CONFLICT (harness step D)")
    func conflictingRegistrationUnderSameKey() {
        let first = Fixtures.registration(gitSha: String(repeating: "c", count: 40))
        let second = Fixtures.registration(gitSha: String(repeating: "d", count: 40))
        let state = InMemoryState.registered.with {
            $0.remember(
                IdempotencyScope(actorId: "ci-bot", endpoint: "POST /v1/builds/register", key: "k1"),
                IdempotencyRecord(
                    fingerprint: first.fingerprint, expiresAt: Fixtures.now.adding(seconds: 10),
                    response: StoredResponse(status: 201, result: .build(Fixtures.build(version: "2.0.0")))))
        }
        let d = Self.publish(.registerExistingBuild(second), state: state)
        #expect(d.code == .buildRegistrationConflict)
        #expect(d.message == "Conflicting build registration for idempotency key")
    }

    @Test("build idempotency records are scoped per actor (D4)")
    func buildKeysPerActor() {
        let otherCI = Principal(claims: Claims(
            subject: "ci-bot-2", issuer: "https://ci.example", roles: .values(["dxcp-ci-publishers"])))
        let state = InMemoryState.registered.with {
            $0.remember(
                IdempotencyScope(actorId: "ci-bot-2", endpoint: "POST /v1/builds/register", key: "k1"),
                IdempotencyRecord(
                    fingerprint: "{\"other\":\"body\"}", expiresAt: Fixtures.now.adding(seconds: 10),
                    response: StoredResponse(status: 201, result: .build(Fixtures.build(version: "2.0.0")))))
        }
        let d = Self.publish(.registerExistingBuild(Fixtures.registration()), state: state)
        #expect(d.status == 201)
        #expect(!d.replayed)
        let policy = Fixtures.policy { $0.settings.ciPublishers = [CIPublisher(name: "by-issuer", issuers: ["https://ci.example"])] }
        let other = decide(.registerExistingBuild(Fixtures.registration()), by: otherCI, state: state, policy: policy, key: "k1")
        #expect(other.code == .buildRegistrationConflict)
    }

    // MARK: Existing builds

    static let registerEndpoints: [Bool] = [true, false]

    static func register(_ body: BuildRegistration, withCapability: Bool) -> Request {
        withCapability ? .registerBuild(body) : .registerExistingBuild(body)
    }

    @Test("an identical build already registered → 200 with the existing build, nothing spent", arguments: registerEndpoints)
    func identicalExistingBuild(_ withCapability: Bool) {
        let existing = Fixtures.build(version: "1.0.0")
        let request = Self.register(Fixtures.registration(version: "1.0.0"), withCapability: withCapability)
        let d = Self.publish(request)
        #expect(d.allowed)
        #expect(d.status == 200)
        #expect(d.result == .build(existing))
        #expect(d.spentQuotas.isEmpty)
        #expect(!d.effects.contains { if case .putBuild = $0 { true } else { false } })
        let scope = IdempotencyScope(actorId: "ci-bot", endpoint: request.endpoint, key: "k1")
        #expect(d.effects.contains(Effect.putIdempotency(scope, IdempotencyRecord(
            fingerprint: Self.fingerprint(request), expiresAt: Fixtures.now.adding(seconds: 86_400),
            response: StoredResponse(status: 200, result: .build(existing))))))
    }

    @Test("a different artifactRef or git_sha for a registered version → 409 BUILD_REGISTRATION_CONFLICT with details",
        arguments: registerEndpoints, [
            Fixtures.registration(version: "1.0.0", artifactRef: "s3://artifacts/demo-service/rebuilt-1.0.0.zip"),
            Fixtures.registration(version: "1.0.0", gitSha: String(repeating: "f", count: 40)),
        ])
    func conflictingExistingBuild(_ withCapability: Bool, _ body: BuildRegistration) {
        let d = Self.publish(Self.register(body, withCapability: withCapability))
        #expect(d.status == 409)
        #expect(d.code == .buildRegistrationConflict)
        #expect(d.failedCheck == .existingBuildConsistent)
        #expect(d.details == [
            "service": .string("demo-service"), "version": .string("1.0.0"),
            "existing_artifactRef": .string("s3://artifacts/demo-service/demo-service-1.0.0.zip"),
            "existing_git_sha": .string(Fixtures.gitSha),
        ])
    }

    // MARK: Validation

    struct Invalid: Sendable, CustomTestStringConvertible {
        let name: String
        let body: BuildRegistration
        let code: ContractCode
        var details: [String: JSONValue]? = nil
        var testDescription: String { name }
    }

    static let maxSize: Int64 = 200 * 1024 * 1024

    static let invalidRegistrations: [Invalid] = [
        .init(name: "size 0", body: Fixtures.registration(sizeBytes: 0), code: .invalidArtifact),
        .init(name: "size over max", body: Fixtures.registration(sizeBytes: maxSize + 1), code: .invalidArtifact),
        .init(name: "sha256 too short", body: Fixtures.registration(sha256: String(Fixtures.sha256.dropLast())), code: .invalidArtifact),
        .init(name: "sha256 not hex", body: Fixtures.registration(sha256: String(repeating: "zz", count: 32)), code: .invalidArtifact),
        .init(name: "content type not allowed", body: Fixtures.registration(contentType: "text/plain"), code: .invalidArtifact),
        .init(name: "artifactRef not s3", body: Fixtures.registration(artifactRef: "https://artifacts/demo-service/x.zip"), code: .invalidArtifact),
        .init(name: "artifactRef bare scheme", body: Fixtures.registration(artifactRef: "s3://"), code: .invalidArtifact),
        .init(
            name: "artifactRef outside allowed sources",
            body: Fixtures.registration(artifactRef: "s3://elsewhere/demo-service/demo-service-2.0.0.zip"), code: .invalidArtifact),
        .init(
            name: "commit_url not http", body: Fixtures.registration(commitURL: "ftp://example.com/commit"), code: .invalidURL,
            details: ["field": .string("commit_url")]),
        .init(name: "run_url without host", body: Fixtures.registration(runURL: "http://"), code: .invalidURL, details: ["field": .string("run_url")]),
        .init(name: "run_url not a URL", body: Fixtures.registration(runURL: "not a url"), code: .invalidURL, details: ["field": .string("run_url")]),
        .init(
            name: "built_at not a date", body: Fixtures.registration(builtAt: "yesterday"), code: .invalidBuildRegistration,
            details: ["missing_fields": .array([]), "invalid_fields": .strings(["built_at"])]),
        .init(
            name: "built_at month 13", body: Fixtures.registration(builtAt: "2025-13-01T00:00:00Z"), code: .invalidBuildRegistration,
            details: ["missing_fields": .array([]), "invalid_fields": .strings(["built_at"])]),
        .init(
            name: "built_at date only", body: Fixtures.registration(builtAt: "2025-12-31"), code: .invalidBuildRegistration,
            details: ["missing_fields": .array([]), "invalid_fields": .strings(["built_at"])]),
        .init(
            name: "built_at 30 February", body: Fixtures.registration(builtAt: "2025-02-30T00:00:00Z"), code: .invalidBuildRegistration,
            details: ["missing_fields": .array([]), "invalid_fields": .strings(["built_at"])]),
        .init(name: "version without patch", body: Fixtures.registration(version: "1.0"), code: .invalidVersion),
        .init(name: "version with v prefix", body: Fixtures.registration(version: "v1.0.0"), code: .invalidVersion),
        .init(name: "version with empty suffix", body: Fixtures.registration(version: "1.0.0-"), code: .invalidVersion),
        .init(name: "version with build metadata", body: Fixtures.registration(version: "1.0.0+b1"), code: .invalidVersion),
        .init(name: "service not in registry", body: Fixtures.registration(service: "unknown-service"), code: .serviceNotAllowlisted),
    ]

    @Test("a service named like an allowlisted one, but not byte for byte, is not allowlisted", arguments: registerEndpoints)
    func aServiceNamedOnlyAlikeIsNotAllowlisted(_ withCapability: Bool) {
        // "svc-K" is in the registry; "svc-" with the Kelvin sign equals it as a Swift string.
        let (letter, kelvin) = ("svc-K", "svc-\u{212A}")
        #expect(letter == kelvin && Array(letter.utf8) != Array(kelvin.utf8))
        let policy = Fixtures.policy { $0.services[letter] = ServiceEntry(name: letter, allowedRecipes: ["default"]) }
        func register(_ service: String) -> Decision {
            let body = Fixtures.registration(service: service)
            let state = Self.withCapability.with { $0.add(Fixtures.capability(service: service, version: body.version)) }
            return Self.publish(Self.register(body, withCapability: withCapability), state: state, policy: policy)
        }
        #expect(register(letter).allowed)
        let alike = register(kelvin)
        #expect(alike.code == .serviceNotAllowlisted)
        #expect(!alike.changesState)
    }

    @Test("invalid registrations are refused with their code, spending nothing", arguments: registerEndpoints, invalidRegistrations)
    func invalidRegistration(_ withCapability: Bool, _ c: Invalid) {
        let state = Self.withCapability.with { $0.add(Fixtures.capability(service: c.body.service, version: c.body.version)) }
        let d = Self.publish(Self.register(c.body, withCapability: withCapability), state: state)
        #expect(!d.allowed)
        #expect(d.code == c.code)
        #expect(d.status == (c.code == .serviceNotAllowlisted ? 403 : 400))
        if let details = c.details { #expect(d.details == details) }
        #expect(d.spentQuotas.isEmpty)
        #expect(!d.changesState)
        #expect(d.countedWindows == [Self.ciWindow])
        #expect(d.auditNotes.map(\.eventType) == ["BUILD_REGISTER_DENIED"])
    }

    static let invalidUploads: [(String, BuildUploadRequest, ContractCode)] = [
        ("size 0", Fixtures.upload(size: 0), .invalidArtifact),
        ("size over max", Fixtures.upload(size: maxSize + 1), .invalidArtifact),
        ("sha256 not hex", Fixtures.upload(sha256: String(repeating: "g", count: 64)), .invalidArtifact),
        ("content type not allowed", Fixtures.upload(contentType: "application/x-tar"), .invalidArtifact),
        ("version", Fixtures.upload(version: "latest"), .invalidVersion),
        ("service", Fixtures.upload(service: "unknown-service"), .serviceNotAllowlisted),
    ]

    @Test("invalid upload-capability requests are refused with their code", arguments: invalidUploads)
    func invalidUpload(_ name: String, _ body: BuildUploadRequest, _ code: ContractCode) {
        let d = Self.publish(.uploadCapability(body))
        #expect(d.code == code, "\(name)")
        #expect(d.status == (code == .serviceNotAllowlisted ? 403 : 400))
        #expect(!d.changesState)
    }

    static let validVariants: [BuildRegistration] = [
        Fixtures.registration(sizeBytes: maxSize),
        Fixtures.registration(contentType: "application/gzip"),
        Fixtures.registration(version: "2.0.0-rc.1"),
        Fixtures.registration(builtAt: "2025-12-31T23:00:00+02:00"),
        Fixtures.registration(builtAt: "2025-12-31T23:00:00.5Z"),
        Fixtures.registration(commitURL: "https://github.com/acme/demo/commit/abc", runURL: "HTTP://ci.example/run/1"),
        Fixtures.registration(service: "payments-api", artifactRef: "s3://any-bucket/payments.zip"),
    ]

    @Test("boundary-valid registrations are accepted", arguments: validVariants)
    func validVariant(_ body: BuildRegistration) {
        let d = Self.publish(.registerExistingBuild(body))
        #expect(d.status == 201)
        #expect(d.build?.version == body.version)
    }

    @Test("built_at is normalised to UTC")
    func builtAtNormalised() {
        let d = Self.publish(.registerExistingBuild(Fixtures.registration(builtAt: "2025-12-31T23:00:00+02:00")))
        #expect(d.build?.builtAt.iso8601 == "2025-12-31T21:00:00.000000Z")
    }

    /// REFERENCE §2.6: `built_at` is an ISO-8601 date-time. CI systems commonly send nanosecond
    /// fractions (e.g. Go's RFC3339Nano); the reference parser accepts and truncates them. The
    /// rules must answer with a decision (accept, or 400 INVALID_BUILD_REGISTRATION), never trap.
    /// Runs in a child process because the current parser traps.
    @Test("a built_at with more than six fractional digits is decided, not a crash")
    func nanosecondBuiltAt() async {
        await #expect(processExitsWith: .success) {
            let d = decide(
                .registerExistingBuild(Fixtures.registration(builtAt: "2025-12-31T23:00:00.123456789Z")), by: Fixtures.ci,
                key: "k1")
            precondition(d.status == 201 || d.code == .invalidBuildRegistration)
        }
    }

    // MARK: Gate order and quota

    @Test("the CI gate runs before body validation: a non-CI caller with a bad version gets CI_ONLY")
    func ciGateBeforeBody() {
        for request in [
            Request.registerExistingBuild(Fixtures.registration(version: "bad")), .registerBuild(Fixtures.registration(version: "bad")),
            .uploadCapability(Fixtures.upload(version: "bad")),
        ] {
            let d = decide(request, by: Fixtures.owner, key: "k1")
            #expect(d.code == .ciOnly)
            #expect(!d.checkNames.contains(.versionFormat))
        }
    }

    @Test("build registrations stop at the daily build_register quota → 429 QUOTA_EXCEEDED", arguments: registerEndpoints)
    func buildQuotaExhausted(_ withCapability: Bool) {
        let state = Self.withCapability.with { $0.setQuota(.buildRegister, "ci-bot", 50) }
        let d = Self.publish(Self.register(Fixtures.registration(), withCapability: withCapability), state: state)
        #expect(d.status == 429)
        #expect(d.code == .quotaExceeded)
        #expect(d.failedCheck == .quotaAvailable)
        // The upload-capability quota is separate.
        #expect(Self.publish(.uploadCapability(Fixtures.upload()), state: state).status == 201)
    }

    @Test("a daily_quota_build_register of 0 blocks every registration")
    func zeroBuildQuota() {
        let policy = Fixtures.policy { $0.settings.dailyQuotaBuildRegister = 0 }
        #expect(Self.publish(.registerExistingBuild(Fixtures.registration()), policy: policy).code == .quotaExceeded)
    }

    @Test("the upload-capability quota is enforced per actor")
    func uploadQuotaExhausted() {
        let state = InMemoryState.registered.with { $0.setQuota(.uploadCapability, "ci-bot", 50) }
        let d = Self.publish(.uploadCapability(Fixtures.upload()), state: state)
        #expect(d.code == .quotaExceeded)
        let other = Principal(claims: Claims(subject: "ci-bot-2", issuer: "https://ci.example", roles: .values(["dxcp-ci-publishers"])))
        let policy = Fixtures.policy { $0.settings.ciPublishers = [CIPublisher(name: "any")] }
        #expect(decide(.uploadCapability(Fixtures.upload()), by: other, state: state, policy: policy, key: "k1").status == 201)
    }

    @Test("quota is spent only on 201")
    func quotaSpentOnlyOn201() {
        let created = Self.publish(.registerExistingBuild(Fixtures.registration()))
        #expect(created.status == 201)
        #expect(created.spentQuotas == [Self.buildQuota])
        let existing = Self.publish(.registerExistingBuild(Fixtures.registration(version: "1.0.0")))
        #expect(existing.status == 200)
        #expect(existing.spentQuotas.isEmpty)
        let refused = Self.publish(.registerExistingBuild(Fixtures.registration(sizeBytes: 0)))
        #expect(refused.status == 400)
        #expect(refused.spentQuotas.isEmpty)
        #expect(refused.countedWindows == [Self.ciWindow])
    }
}

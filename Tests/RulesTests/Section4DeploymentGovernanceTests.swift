import Testing
@testable import Rules

/// Contract §4 deployment governance (REFERENCE §2.2–§2.4, §4.1, §4.2, §5, §6, §7, §8;
/// DECISIONS D3, D4, D6, D8, D11): every deploy-path code, rate limits, limits precedence,
/// stale locks, idempotency and the effects of allowed and denied deploys.
@Suite("§4 Deployment governance")
struct Section4DeploymentGovernanceTests {
    static let ownerRead = RateWindow(actorId: "owner-sub", bucket: .read, minute: Fixtures.now.minute)
    static let ownerMutate = RateWindow(actorId: "owner-sub", bucket: .mutate, minute: Fixtures.now.minute)
    static let deployQuota = QuotaScope(kind: .deploy, key: "default:sandbox")
    static let deployScope = IdempotencyScope(actorId: "owner-sub", endpoint: "POST /v1/deployments", key: "k1")

    static func run(
        _ intent: DeploymentIntent, deploy: Bool, by principal: Principal = Fixtures.owner, state: InMemoryState = .registered,
        policy: PolicySnapshot = Fixtures.policy, readiness: EngineReadiness = .notChecked
    ) -> Decision {
        decide(deploy ? .deploy(intent) : .validate(intent), by: principal, state: state, policy: policy, key: "k1", readiness: readiness)
    }

    // MARK: Every deploy-path code

    struct CodeCase: Sendable, CustomTestStringConvertible {
        let name: String
        var intent: DeploymentIntent = Fixtures.intent()
        var policy: PolicySnapshot = Fixtures.policy
        var state: InMemoryState = .registered
        let code: ContractCode
        let status: Int
        let check: CheckName
        var testDescription: String { name }
    }

    /// The refusals the corpus cannot state (governance-tests/corpus/s04-deploy.json holds the
    /// others, run here in-process by `CorpusTests` and over HTTP): routing and registry shapes a
    /// policy file refuses to load, and malformed intents the HTTP decoder refuses before the rules.
    static let codeCases: [CodeCase] = [
        .init(name: "routing names no recipe", policy: Fixtures.routing(""), code: .recipeIdRequired, status: 400, check: .recipeRouted),
        .init(name: "routed recipe missing", policy: Fixtures.routing("ghost-recipe"), code: .recipeNotFound, status: 404, check: .recipeRouted),
        .init(
            name: "service not in registry", intent: Fixtures.intent(service: "ghost-service"), code: .serviceNotAllowlisted,
            status: 400, check: .serviceAllowlisted),
        .init(
            name: "registry allows no recipe", policy: Fixtures.policy { $0.services["demo-service"]?.allowedRecipes = [] },
            code: .recipeIncompatible, status: 400, check: .recipeCompatible),
        .init(
            name: "changeSummary over 240 characters", intent: Fixtures.intent(changeSummary: String(repeating: "x", count: 241)),
            code: .invalidRequest, status: 400, check: .intentWellFormed),
        .init(name: "empty service", intent: Fixtures.intent(service: ""), code: .invalidRequest, status: 400, check: .intentWellFormed),
        .init(name: "empty version", intent: Fixtures.intent(version: ""), code: .invalidRequest, status: 400, check: .intentWellFormed),
    ]

    @Test("validate and deploy refuse with the contract code, status and check", arguments: [false, true], codeCases)
    func deployPathCode(_ deploy: Bool, _ c: CodeCase) {
        let d = Self.run(c.intent, deploy: deploy, state: c.state, policy: c.policy)
        #expect(!d.allowed)
        #expect(d.code == c.code)
        #expect(d.status == c.status)
        #expect(d.failedCheck == c.check)
        #expect(d.result == nil)
        #expect(d.insertedDeployments.isEmpty)
        #expect(d.spentQuotas.isEmpty)
    }

    @Test("policy denials use the generic message and keep the reason for operators (REFERENCE §3.1)")
    func policyMessages() {
        let d = Self.run(Fixtures.intent(), deploy: true, policy: Fixtures.routing("bluegreen"))
        #expect(d.message == "Action not permitted by DeliveryGroup policy")
        #expect(d.operatorHint?.contains("bluegreen") == true)
        let c = Self.run(Fixtures.intent(), deploy: true, policy: Fixtures.routing("canary"))
        #expect(c.message == "Service or recipe is incompatible with this request")
        for message in [d.message, c.message, d.operatorHint ?? "", c.operatorHint ?? ""] {
            #expect(!message.lowercased().contains("spinnaker"))
        }
    }

    @Test("a matching recipeId, a blank and a 240-character changeSummary are accepted", arguments: [false, true])
    func acceptedIntents(_ deploy: Bool) {
        for intent in [
            Fixtures.intent(recipeId: "default"), Fixtures.intent(recipeId: ""), Fixtures.intent(changeSummary: ""),
            Fixtures.intent(changeSummary: String(repeating: "y", count: 240)), Fixtures.intent(version: "1.0.2"),
        ] {
            #expect(Self.run(intent, deploy: deploy).allowed, "\(intent)")
        }
    }

    // MARK: Rate limits (REFERENCE §5)

    @Test("validate spends the read bucket, deploy the mutate bucket, counted separately")
    func rateBuckets() {
        let readFull = InMemoryState.registered.with { $0.setRate("owner-sub", .read, 60) }
        let v = Self.run(Fixtures.intent(), deploy: false, state: readFull)
        #expect(v.status == 429)
        #expect(v.code == .rateLimited)
        #expect(v.failedCheck == .readRateLimit)
        #expect(v.message == "Rate limit exceeded. Try again shortly or contact a platform admin.")
        let dep = Self.run(Fixtures.intent(), deploy: true, state: readFull)
        #expect(dep.status == 201)
        #expect(dep.countedWindows == [Self.ownerMutate])

        let mutateFull = InMemoryState.registered.with { $0.setRate("owner-sub", .mutate, 10) }
        let blocked = Self.run(Fixtures.intent(), deploy: true, state: mutateFull)
        #expect(blocked.status == 429)
        #expect(blocked.code == .rateLimited)
        #expect(blocked.failedCheck == .mutateRateLimit)
        // Counted in its minute, audited once per actor and minute by the store (DECISIONS 75).
        #expect(blocked.effects.contains { if case .auditRefusal(let note, .rateLimited, Fixtures.now.minute) = $0 { note.eventType == "DEPLOY_DENIED" } else { false } })
        #expect(!blocked.effects.contains { if case .audit = $0 { true } else { false } })
        let ok = Self.run(Fixtures.intent(), deploy: false, state: mutateFull)
        #expect(ok.status == 200)
        #expect(ok.countedWindows == [Self.ownerRead])
    }

    @Test("rate windows are per actor and per minute")
    func rateWindowsPerActorAndMinute() {
        let state = InMemoryState.registered.with {
            $0.setRate("owner-sub", .read, 60, at: Fixtures.now.adding(seconds: -60))
            $0.setRate("admin-sub", .read, 60)
        }
        #expect(Self.run(Fixtures.intent(), deploy: false, state: state).status == 200)
        #expect(Self.run(Fixtures.intent(), deploy: false, by: Fixtures.admin, state: state).code == .rateLimited)
        let lowered = Fixtures.policy { $0.settings.readRPM = 5 }
        let five = InMemoryState.registered.with { $0.setRate("owner-sub", .read, 5) }
        #expect(Self.run(Fixtures.intent(), deploy: false, state: five, policy: lowered).code == .rateLimited)
        let four = InMemoryState.registered.with { $0.setRate("owner-sub", .read, 4) }
        #expect(Self.run(Fixtures.intent(), deploy: false, state: four, policy: lowered).status == 200)
    }

    @Test("the daily quota is counted per UTC day and per group+environment")
    func quotaPerDay() {
        let yesterday = InMemoryState.registered.with { $0.setQuota(.deploy, "default:sandbox", 25, at: Fixtures.now.adding(seconds: -1)) }
        #expect(Self.run(Fixtures.intent(), deploy: true, state: yesterday).status == 201)
        let lastSecond = Fixtures.now.adding(seconds: 86_399)
        let today = InMemoryState.registered.with { $0.setQuota(.deploy, "default:sandbox", 25) }
        #expect(decide(.deploy(Fixtures.intent()), by: Fixtures.owner, state: today, key: "k1", now: lastSecond).code == .quotaExceeded)
        let otherScope = InMemoryState.registered.with { $0.setQuota(.deploy, "payments:sandbox", 25) }
        #expect(Self.run(Fixtures.intent(), deploy: true, state: otherScope).status == 201)
        let d = Self.run(Fixtures.intent(), deploy: true)
        #expect(d.effects.contains(Effect.spendQuota(Self.deployQuota, day: Fixtures.now.day)))
    }

    // MARK: Engine application and readiness

    @Test("a deploy whose recipe names no engine application and no default is configured → 400 INVALID_REQUEST")
    func noEngineApplication() {
        let noApp = Fixtures.policy { $0.recipes["default"]?.spinnakerApplication = nil }
        let d = Self.run(Fixtures.intent(), deploy: true, policy: noApp)
        #expect(d.status == 400)
        #expect(d.code == .invalidRequest)
        #expect(d.failedCheck == .engineTargetResolved)
        #expect(d.insertedDeployments.isEmpty)
        #expect(d.spentQuotas.isEmpty)
        #expect(Self.run(Fixtures.intent(), deploy: false, policy: noApp).status == 200)

        var fallback = noApp
        fallback.settings.defaultSpinnakerApplication = "fallback-app"
        let ok = Self.run(Fixtures.intent(), deploy: true, policy: fallback)
        #expect(ok.status == 201)
        #expect(ok.deployment?.spinnakerApplication == "fallback-app")
        #expect(ok.deployment?.spinnakerPipeline == "demo-deploy")
    }

    static let engineCodes: [ContractCode] = [
        .engineUnavailable, .engineTimeout, .engineMisconfigured, .engineUnauthorized, .engineCallFailed,
    ]

    @Test("validate reports the engine readiness preflight's code (REFERENCE §4.1 step 15)", arguments: engineCodes)
    func engineReadiness(_ code: ContractCode) {
        let d = Self.run(Fixtures.intent(), deploy: false, readiness: .unavailable(code, detail: "gate health failed"))
        #expect(d.code == code)
        #expect(d.status == code.httpStatus)
        #expect(d.failedCheck == .engineReady)
        #expect(d.message == "Unable to validate deployment")
        #expect(d.operatorHint == "gate health failed")
        #expect(d.details == ["engine_unavailable": .bool(true)])
        #expect(d.countedWindows == [Self.ownerRead])
        // Earlier checks still win.
        let earlier = Self.run(
            Fixtures.intent(version: "9.9.9"), deploy: false, readiness: .unavailable(code, detail: "gate health failed"))
        #expect(earlier.code == .versionNotFound)
    }

    @Test("a ready engine passes the preflight; no probe skips it")
    func engineReadyOrNotChecked() {
        let ready = Self.run(Fixtures.intent(), deploy: false, readiness: .ready)
        #expect(ready.trail.contains(CheckResult(.engineReady, .passed)))
        let skipped = Self.run(Fixtures.intent(), deploy: false)
        #expect(skipped.trail.contains(CheckResult(.engineReady, .skipped)))
    }

    // MARK: The allowed deploy

    static let expectedRecord = DeploymentRecord(
        id: Fixtures.newId, service: "demo-service", environment: "sandbox", version: "1.0.0", sourceEnvironment: nil,
        recipeId: "default", recipeRevision: 3, effectiveBehaviorSummary: "Rolling deploy.", state: .inProgress,
        kind: .rollForward, changeSummary: "local deploy", createdAt: Fixtures.now, updatedAt: Fixtures.now, rollbackOf: nil,
        deliveryGroupId: "default", failures: [], intentCorrelationId: "k1", engineExecutionId: nil, engineExecutionURL: nil,
        spinnakerApplication: "demo-app", spinnakerPipeline: "demo-deploy",
        actor: ActorIdentity(principal: Fixtures.owner, role: .deliveryOwner, engineUser: "owner@example.com"),
        policySnapshot: PolicyNumbers(
            maxConcurrentDeployments: 1, currentConcurrentDeployments: 0, dailyDeployQuota: 25, deploymentsUsed: 0,
            dailyQuotaBuildRegister: 50))

    @Test("an allowed deploy reserves quota and slot, records IN_PROGRESS, keys the request in flight, audits DEPLOY_SUBMIT")
    func allowedDeployEffects() throws {
        let d = Self.run(Fixtures.intent(), deploy: true)
        #expect(d.allowed)
        #expect(d.status == 201)
        #expect(!d.replayed)
        #expect(d.code == nil)
        #expect(d.decisionId == Fixtures.decisionId)
        #expect(d.contractVersion == "1.1")
        #expect(d.action == .deploy)
        #expect(d.result == .deployment(Self.expectedRecord))
        #expect(d.deployment?.outcome == nil)
        #expect(d.effects.count == 5)
        #expect(Array(d.effects.prefix(4)) == [
            .countRate(Self.ownerMutate),
            .spendQuota(Self.deployQuota, day: Fixtures.now.day),
            .insertDeployment(Self.expectedRecord, idempotency: Self.deployScope),
            .putIdempotency(Self.deployScope, IdempotencyRecord(
                fingerprint: Fixtures.intent().fingerprint, expiresAt: Fixtures.now.adding(seconds: 86_400), response: nil)),
        ])
        let audit = try #require(d.auditNotes.first)
        #expect(audit.eventType == "DEPLOY_SUBMIT")
        #expect(audit.outcome == .success)
        #expect(audit.targetType == "Deployment")
        #expect(audit.targetId == Fixtures.newId)
        #expect(audit.actorId == "owner-sub")
        #expect(audit.actorRole == .deliveryOwner)
        #expect(audit.deliveryGroupId == "default")
        #expect(audit.serviceName == "demo-service")
        #expect(audit.environment == "sandbox")
    }

    @Test("the record's policy snapshot is frozen before this request spends anything")
    func policySnapshotBeforeSpend() {
        let policy = Fixtures.policy { p in
            var g = Fixtures.defaultGroup
            g.guardrails = Guardrails(maxConcurrentDeployments: 3)
            p.upsertGroup(g)
        }
        let state = InMemoryState.registered.with {
            $0.hold("running")
            $0.setQuota(.deploy, "default:sandbox", 3)
            $0.setQuota(.deploy, "default:sandbox", 9, at: Fixtures.now.adding(seconds: -86_400))
        }
        let d = Self.run(Fixtures.intent(), deploy: true, state: state, policy: policy)
        #expect(d.status == 201)
        #expect(d.deployment?.policySnapshot == PolicyNumbers(
            maxConcurrentDeployments: 3, currentConcurrentDeployments: 1, dailyDeployQuota: 25, deploymentsUsed: 3,
            dailyQuotaBuildRegister: 50))
        #expect(d.deployment?.policySnapshot.deploymentsRemaining == 22)
    }

    @Test("validate reports the routed recipe, group and policy figures and changes nothing but the read window")
    func validateReport() {
        let state = InMemoryState.registered.with { $0.setQuota(.deploy, "default:sandbox", 4) }
        let d = Self.run(Fixtures.intent(version: "1.0.1"), deploy: false, state: state)
        #expect(d.status == 200)
        #expect(d.result == .validation(ValidationReport(
            service: "demo-service", environment: "sandbox", version: "1.0.1", recipeId: "default", deliveryGroupId: "default",
            versionRegistered: true,
            policy: PolicyNumbers(
                maxConcurrentDeployments: 1, currentConcurrentDeployments: 0, dailyDeployQuota: 25, deploymentsUsed: 4,
                dailyQuotaBuildRegister: 50),
            validatedAt: Fixtures.now)))
        #expect(d.effects == [.countRate(Self.ownerRead)])
    }

    @Test("validate has no effects but the read window, allowed or denied")
    func validateEffects() {
        #expect(Self.run(Fixtures.intent(version: "9.9.9"), deploy: false).effects == [.countRate(Self.ownerRead)])
        #expect(Self.run(Fixtures.intent(), deploy: false, policy: Fixtures.killSwitchOn).effects == [.countRate(Self.ownerRead)])
        let exhausted = InMemoryState.registered.with { $0.setQuota(.deploy, "default:sandbox", 25) }
        #expect(Self.run(Fixtures.intent(), deploy: false, state: exhausted).effects == [.countRate(Self.ownerRead)])
        #expect(Self.run(Fixtures.intent(), deploy: false, by: Fixtures.observer).effects.isEmpty)
    }

    // MARK: Limits precedence (REFERENCE §5.1, §7; D11)

    struct LimitsCase: Sendable, CustomTestStringConvertible {
        let name: String
        let env: Guardrails
        let group: Guardrails
        var defaultQuota = 25
        let max: Int
        let quota: Int
        var testDescription: String { name }
    }

    static let limitsCases: [LimitsCase] = [
        .init(name: "defaults", env: Guardrails(), group: Guardrails(), max: 1, quota: 25),
        .init(name: "group guardrail", env: Guardrails(), group: Guardrails(maxConcurrentDeployments: 2, dailyDeployQuota: 5), max: 2, quota: 5),
        .init(
            name: "environment over group", env: Guardrails(maxConcurrentDeployments: 4, dailyDeployQuota: 7),
            group: Guardrails(maxConcurrentDeployments: 2, dailyDeployQuota: 5), max: 4, quota: 7),
        .init(
            name: "non-positive environment values defer", env: Guardrails(maxConcurrentDeployments: 0, dailyDeployQuota: -3),
            group: Guardrails(maxConcurrentDeployments: 2, dailyDeployQuota: 5), max: 2, quota: 5),
        .init(
            name: "mixed levels", env: Guardrails(dailyDeployQuota: 7), group: Guardrails(maxConcurrentDeployments: 2), max: 2,
            quota: 7),
        .init(name: "configured default quota", env: Guardrails(), group: Guardrails(maxConcurrentDeployments: -1), defaultQuota: 30, max: 1, quota: 30),
    ]

    static func limitsPolicy(_ c: LimitsCase) -> PolicySnapshot {
        Fixtures.policy { p in
            p.environments["sandbox"]?.guardrails = c.env
            var g = Fixtures.defaultGroup
            g.guardrails = c.group
            p.upsertGroup(g)
            p.settings.dailyQuotaDeploy = c.defaultQuota
        }
    }

    @Test("limits: environment guardrail > group guardrail > default", arguments: limitsCases)
    func limitsPrecedence(_ c: LimitsCase) {
        let policy = Self.limitsPolicy(c)
        let v = Self.run(Fixtures.intent(), deploy: false, policy: policy)
        #expect(v.report?.policy.maxConcurrentDeployments == c.max)
        #expect(v.report?.policy.dailyDeployQuota == c.quota)

        // Enforced at exactly those numbers, for validate and deploy.
        for deploy in [false, true] {
            let atQuota = InMemoryState.registered.with { $0.setQuota(.deploy, "default:sandbox", c.quota) }
            #expect(Self.run(Fixtures.intent(), deploy: deploy, state: atQuota, policy: policy).code == .quotaExceeded)
            let belowQuota = InMemoryState.registered.with { $0.setQuota(.deploy, "default:sandbox", c.quota - 1) }
            #expect(Self.run(Fixtures.intent(), deploy: deploy, state: belowQuota, policy: policy).allowed)
            let full = InMemoryState.registered.with { s in (0..<c.max).forEach { s.hold("slot-\($0)") } }
            #expect(Self.run(Fixtures.intent(), deploy: deploy, state: full, policy: policy).code == .concurrencyLimitReached)
            let room = InMemoryState.registered.with { s in (0..<(c.max - 1)).forEach { s.hold("slot-\($0)") } }
            #expect(Self.run(Fixtures.intent(), deploy: deploy, state: room, policy: policy).allowed)
        }
    }

    @Test("concurrency is counted per group and environment")
    func concurrencyScope() {
        let elsewhere = InMemoryState.registered.with {
            $0.hold("payments-busy", group: "payments")
            $0.hold("staging-busy", environment: "staging")
        }
        #expect(Self.run(Fixtures.intent(), deploy: true, state: elsewhere).status == 201)
    }

    // MARK: Stale locks (REFERENCE §7, D11)

    @Test("an IN_PROGRESS lock at least deploymentLockStaleSeconds old holds no slot and is expired", arguments: [900, 901, 86_400] as [Int64])
    func staleLock(_ age: Int64) throws {
        let state = InMemoryState.registered.with { $0.hold("stale", updatedAt: Fixtures.now.adding(seconds: -age)) }
        let d = Self.run(Fixtures.intent(), deploy: true, state: state)
        #expect(d.status == 201)
        #expect(d.deployment?.policySnapshot.currentConcurrentDeployments == 0)
        let expired = d.effects.compactMap { if case .expireDeployment(let id, let failure) = $0 { (id, failure) } else { nil } }
        try #require(expired.count == 1)
        #expect(expired[0].0 == "stale")
        #expect(expired[0].1.category == .infrastructure)
        #expect(expired[0].1.summary == "Deployment lock expired due to stale in-progress state.")
        #expect(expired[0].1.observedAt == Fixtures.now)

        let v = Self.run(Fixtures.intent(), deploy: false, state: state)
        #expect(v.status == 200)
        #expect(v.report?.policy.currentConcurrentDeployments == 0)
        #expect(v.effects == [.countRate(Self.ownerRead)])
    }

    @Test("a younger IN_PROGRESS lock still holds its slot")
    func freshLock() {
        let state = InMemoryState.registered.with { $0.hold("fresh", updatedAt: Fixtures.now.adding(seconds: -899)) }
        let d = Self.run(Fixtures.intent(), deploy: true, state: state)
        #expect(d.code == .concurrencyLimitReached)
        #expect(!d.effects.contains { if case .expireDeployment = $0 { true } else { false } })
    }

    @Test("the stale threshold comes from settings")
    func staleThresholdFromSettings() {
        let policy = Fixtures.policy { $0.settings.deploymentLockStaleSeconds = 60 }
        let state = InMemoryState.registered.with { $0.hold("stale", updatedAt: Fixtures.now.adding(seconds: -61)) }
        #expect(Self.run(Fixtures.intent(), deploy: true, state: state, policy: policy).status == 201)
        #expect(Self.run(Fixtures.intent(), deploy: true, state: state).code == .concurrencyLimitReached)
    }

    @Test("an ACTIVE deployment is never stale")
    func activeNeverStale() {
        let state = InMemoryState.registered.with { $0.hold("live", state: .active, updatedAt: Fixtures.now.adding(seconds: -864_000)) }
        let d = Self.run(Fixtures.intent(), deploy: true, state: state)
        #expect(d.code == .concurrencyLimitReached)
        #expect(!d.effects.contains { if case .expireDeployment = $0 { true } else { false } })
    }

    // MARK: Idempotency (REFERENCE §6, D4, D6)

    static func remembering(
        _ fingerprint: String, response: StoredResponse?, expiresAt: Timestamp = Fixtures.now.adding(seconds: 60),
        scope: IdempotencyScope = deployScope
    ) -> InMemoryState {
        InMemoryState.registered.with {
            $0.remember(scope, IdempotencyRecord(fingerprint: fingerprint, expiresAt: expiresAt, response: response))
        }
    }

    static let firstResponse = StoredResponse(status: 201, result: .deployment(Fixtures.record(id: "first", state: .inProgress)))

    @Test("the same key and intent replay the stored response with replayed == true")
    func replayCompleted() {
        let d = Self.run(Fixtures.intent(), deploy: true, state: Self.remembering(Fixtures.intent().fingerprint, response: Self.firstResponse))
        #expect(d.allowed)
        #expect(d.replayed)
        #expect(d.status == 201)
        #expect(d.result == Self.firstResponse.result)
        #expect(d.effects.isEmpty)
    }

    @Test("the fingerprint normalises whitespace (REFERENCE §6)")
    func replayWhitespaceNormalised() {
        let state = Self.remembering(Fixtures.intent().fingerprint, response: Self.firstResponse)
        let d = Self.run(Fixtures.intent(changeSummary: "  local \t  deploy "), deploy: true, state: state)
        #expect(d.replayed)
    }

    @Test("a key whose first request is still in flight → 409 IDEMPOTENCY_CONFLICT (D6)")
    func inFlight() {
        let d = Self.run(Fixtures.intent(), deploy: true, state: Self.remembering(Fixtures.intent().fingerprint, response: nil))
        #expect(d.status == 409)
        #expect(d.code == .idempotencyConflict)
        #expect(d.message.contains("in progress"))
        #expect(d.insertedDeployments.isEmpty)
    }

    @Test("the same key with a different intent → 409 IDEMPOTENCY_CONFLICT")
    func differentFingerprint() {
        for response in [Self.firstResponse, nil] {
            let state = Self.remembering(Fixtures.intent(version: "1.0.1").fingerprint, response: response)
            let d = Self.run(Fixtures.intent(), deploy: true, state: state)
            #expect(d.status == 409)
            #expect(d.code == .idempotencyConflict)
            #expect(d.failedCheck == .idempotencyReplay)
        }
    }

    @Test("an expired record is treated as fresh", arguments: [0, 1, 3600] as [Int64])
    func expiredRecord(_ ago: Int64) {
        let state = Self.remembering(
            Fixtures.intent(version: "1.0.1").fingerprint, response: Self.firstResponse, expiresAt: Fixtures.now.adding(seconds: -ago))
        let d = Self.run(Fixtures.intent(), deploy: true, state: state)
        #expect(d.status == 201)
        #expect(!d.replayed)
        #expect(d.insertedDeployments.count == 1)
    }

    @Test("a key still in flight never expires (D6): its reservation awaits the engine", arguments: [0, 1, 3600] as [Int64])
    func expiredInFlightRecord(_ ago: Int64) {
        let state = Self.remembering(Fixtures.intent().fingerprint, response: nil, expiresAt: Fixtures.now.adding(seconds: -ago))
        let d = Self.run(Fixtures.intent(), deploy: true, state: state)
        #expect(d.status == 409)
        #expect(d.code == .idempotencyConflict)
        #expect(d.message.contains("in progress"))
        #expect(d.insertedDeployments.isEmpty)
    }

    @Test("idempotency records are scoped per actor (D4)")
    func scopedPerActor() {
        let adminScope = IdempotencyScope(actorId: "admin-sub", endpoint: "POST /v1/deployments", key: "k1")
        let inFlight = Self.remembering(Fixtures.intent(version: "1.0.1").fingerprint, response: nil, scope: adminScope)
        let d = Self.run(Fixtures.intent(), deploy: true, state: inFlight)
        #expect(d.status == 201)
        #expect(d.insertedDeployments.count == 1)
        #expect(d.effects.contains { if case .putIdempotency(let s, _) = $0 { s == Self.deployScope } else { false } })

        let completed = Self.remembering(Fixtures.intent().fingerprint, response: Self.firstResponse, scope: adminScope)
        let other = Self.run(Fixtures.intent(), deploy: true, state: completed)
        #expect(!other.replayed)
        #expect(other.deployment?.id == Fixtures.newId)
        #expect(Self.run(Fixtures.intent(), deploy: true, by: Fixtures.admin, state: completed).replayed)
    }

    @Test("records are scoped per endpoint")
    func scopedPerEndpoint() {
        let rollbackScope = IdempotencyScope(actorId: "owner-sub", endpoint: "POST /v1/deployments/r1/rollback", key: "k1")
        let state = Self.remembering("r1", response: nil, scope: rollbackScope)
        #expect(Self.run(Fixtures.intent(), deploy: true, state: state).status == 201)
    }

    @Test("a replay is still refused when the kill switch is on (REFERENCE §6)")
    func replayAfterKillSwitch() {
        let state = Self.remembering(Fixtures.intent().fingerprint, response: Self.firstResponse)
        let d = Self.run(Fixtures.intent(), deploy: true, state: state, policy: Fixtures.killSwitchOn)
        #expect(d.code == .mutationsDisabled)
        #expect(!d.replayed)
    }

    // MARK: Denied deploys are audited

    struct DenialCase: Sendable, CustomTestStringConvertible {
        let name: String
        var principal: Principal = Fixtures.owner
        var policy: PolicySnapshot = Fixtures.policy
        var state: InMemoryState = .registered
        var intent: DeploymentIntent = Fixtures.intent()
        let code: ContractCode
        let groupResolved: Bool
        var testDescription: String { name }
    }

    static let denials: [DenialCase] = [
        .init(name: "role", principal: Fixtures.observer, code: .roleForbidden, groupResolved: false),
        .init(name: "kill switch", policy: Fixtures.killSwitchOn, code: .mutationsDisabled, groupResolved: false),
        .init(name: "no group", intent: Fixtures.intent(service: "unknown-service"), code: .serviceNotInDeliveryGroup, groupResolved: false),
        .init(name: "membership", principal: Fixtures.nonMemberOwner, code: .deliveryGroupScopeRequired, groupResolved: true),
        .init(name: "recipe policy", policy: Fixtures.routing("bluegreen"), code: .recipeNotAllowed, groupResolved: true),
        .init(name: "version", intent: Fixtures.intent(version: "9.9.9"), code: .versionNotFound, groupResolved: true),
        .init(
            name: "quota", state: InMemoryState.registered.with { $0.setQuota(.deploy, "default:sandbox", 25) }, code: .quotaExceeded,
            groupResolved: true),
        .init(name: "concurrency", state: InMemoryState.registered.with { $0.hold("busy") }, code: .concurrencyLimitReached, groupResolved: true),
    ]

    @Test("every denied deploy carries one DEPLOY_DENIED audit effect", arguments: denials)
    func deniedDeployAudited(_ c: DenialCase) throws {
        let d = Self.run(c.intent, deploy: true, by: c.principal, state: c.state, policy: c.policy)
        #expect(d.code == c.code)
        try #require(d.auditNotes.count == 1)
        let note = d.auditNotes[0]
        #expect(note.eventType == "DEPLOY_DENIED")
        #expect(note.outcome == .denied)
        #expect(note.targetType == "Deployment")
        #expect(note.targetId == c.intent.service)
        #expect(note.summary == "Deploy rejected (\(c.code.rawValue)) for \(c.intent.service)")
        #expect(note.actorId == c.principal.actorId)
        #expect(note.serviceName == c.intent.service)
        #expect(note.environment == "sandbox")
        #expect(note.deliveryGroupId == (c.groupResolved ? "default" : nil))
        #expect(d.effects.last == .audit(note))
    }
}

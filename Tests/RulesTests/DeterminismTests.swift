import Foundation
import TestSupport
import Testing
@testable import Rules

/// DECISIONS D12 determinism: the same inputs give the same Decision byte for byte. A seeded
/// generator makes thousands of varied requests, principals, keys, state fills and times; each
/// is decided twice against one state and once against a freshly rebuilt equal state, and the
/// sorted-keys JSON encodings must be identical.
@Suite("D12 Determinism")
struct DeterminismTests {
    @Test("SplitMix64 reproduces its reference sequence")
    func generatorReference() {
        // First outputs for seed 1234567 from the published reference implementation.
        var g = SplitMix64(seed: 1_234_567)
        #expect([g.next(), g.next(), g.next()] == [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423])
    }

    // MARK: Generation

    struct Case {
        let request: Request
        let principal: Principal
        let policy: PolicySnapshot
        let state: InMemoryState
        let context: DecisionContext
    }

    static let services = ["demo-service", "payments-api", "ghost-service", "unknown-service", ""]
    static let environments = ["sandbox", "staging", "retired-env", "disabled-env", "prod", "nowhere", ""]
    static let versions = ["1.0.0", "1.0.1", "1.0.2", "9.9.9", "1.0", "", "2.0.0-rc.1", "2.0.0"]
    static let summaries = ["local deploy", "  local   deploy ", "", String(repeating: "z", count: 241), "fix ✓ ünïcode \u{1F680}"]
    static let recipeIds: [String?] = [nil, "default", "canary", "bluegreen", ""]
    static let keys: [String?] = [nil, "", "k1", "k2"]
    static let recordIds = ["r0", "r1", "r2", "r3", "r4", "r5", "missing"]
    static let principals: [Principal] = [
        Fixtures.admin, Fixtures.owner, Fixtures.nonMemberOwner, Fixtures.paymentsOwner, Fixtures.observer, Fixtures.ci,
        Fixtures.rogueCI, Fixtures.noRole, Fixtures.rolesNotArray, Fixtures.rolesAbsent, Fixtures.anonymousOwner,
    ]
    static let roleValues = [
        "dxcp-platform-admins", "dxcp-delivery-owners", "dxcp-observers", "dxcp-ci-publishers", "dxcp-ci-publisher", "other",
    ]
    static let maxSize: Int64 = 200 * 1024 * 1024

    static func principal(_ g: inout SplitMix64) -> Principal {
        if g.chance(80) { return g.pick(principals) }
        let roles = (0..<g.below(3)).map { _ in g.pick(roleValues) }
        return Principal(claims: Claims(
            subject: g.chance(70) ? "user-\(g.below(4))" : nil,
            email: g.chance(60) ? g.pick(["owner@example.com", "Payments-Owner@example.com", "x@y.io", " "]) : nil,
            customEmail: g.chance(30) ? "custom-\(g.below(3))@example.com" : nil,
            issuer: g.chance(50) ? "https://ci.example" : nil, audiences: g.chance(50) ? ["https://dxcp-api"] : [],
            authorizedParty: g.chance(30) ? "ci-client" : nil, roles: g.chance(90) ? .values(roles) : .notAnArray))
    }

    static func intent(_ g: inout SplitMix64) -> DeploymentIntent {
        DeploymentIntent(
            service: g.chance(70) ? "demo-service" : g.pick(services), environment: g.chance(60) ? "sandbox" : g.pick(environments),
            version: g.pick(versions), changeSummary: g.pick(summaries), recipeId: g.pick(recipeIds))
    }

    static func promotion(_ g: inout SplitMix64) -> PromotionIntent {
        PromotionIntent(
            service: g.chance(70) ? "demo-service" : g.pick(services), sourceEnvironment: g.chance(70) ? "sandbox" : g.pick(environments),
            targetEnvironment: g.chance(70) ? "staging" : g.pick(environments), version: g.chance(60) ? "1.0.0" : g.pick(versions),
            changeSummary: g.pick(summaries))
    }

    static func registration(_ g: inout SplitMix64) -> BuildRegistration {
        if g.chance(40) { return Fixtures.registration(version: g.pick(["2.0.0", "1.0.0", "2.0.1"])) }
        let service = g.chance(70) ? "demo-service" : g.pick(services)
        let version = g.pick(versions)
        return BuildRegistration(
            service: service, version: version,
            artifactRef: g.pick(["s3://artifacts/\(service)/\(service)-\(version).zip", "https://x/y.zip", "s3://elsewhere/y.zip"]),
            gitSha: g.pick([Fixtures.gitSha, String(repeating: "f", count: 40)]), gitBranch: "main", ciProvider: "github",
            ciRunId: "run-\(g.below(3))",
            builtAt: g.pick(["2025-12-31T23:00:00Z", "2025-12-31T23:00:00+02:00", "yesterday", "2025-12-31T23:00:00.5Z"]),
            sha256: g.pick([Fixtures.sha256, Fixtures.sha256.uppercased(), "bad", nil]), sizeBytes: g.pick([1024, 0, maxSize + 1, nil]),
            contentType: g.pick(["application/zip", "application/gzip", "text/plain", nil]),
            commitURL: g.pick([nil, "https://github.com/acme/demo", "ftp://x"]), runURL: g.pick([nil, "http://ci.example/1"]))
    }

    static func request(_ g: inout SplitMix64) -> Request {
        switch g.below(20) {
        case 0: .validate(intent(&g))
        case 1: .deploy(intent(&g))
        case 2: .rollback(deploymentId: g.pick(recordIds))
        case 3:
            .policySummary(PolicySummaryQuery(
                service: g.chance(60) ? "demo-service" : g.pick(services), environment: g.chance(60) ? "sandbox" : g.pick(environments),
                recipeId: g.pick(recipeIds)))
        case 4:
            .uploadCapability(BuildUploadRequest(
                service: g.chance(70) ? "demo-service" : g.pick(services), version: g.pick(versions),
                expectedSizeBytes: g.pick([1024, 0, maxSize + 1]), expectedSha256: g.pick([Fixtures.sha256, "bad"]),
                contentType: g.pick(["application/zip", "image/png"])))
        case 5: .registerBuild(registration(&g))
        case 6: .registerExistingBuild(registration(&g))
        case 7:
            .setRateLimits(RateLimitsChange(
                readRPM: g.pick([0, 1, 60, 5000, 5001]), mutateRPM: g.pick([1, 10, 5001]), dailyQuotaBuildRegister: g.pick([-1, 0, 50])))
        case 8:
            .setCIPublishers((0..<g.below(4)).map { _ in
                CIPublisher(name: g.pick(["a", "b", "", "a", "ci-main"]), issuers: g.chance(50) ? ["https://ci.example"] : [])
            })
        case 9: .setMutationsDisabled(KillSwitchChange(mutationsDisabled: g.chance(50), reason: g.chance(50) ? "because" : nil))
        case 10: .readDeployment(id: g.pick(recordIds))
        case 12:
            .changePolicy(g.pick([
                .setBinding(group: g.pick(["default", "nope"]), environment: g.pick(environments), isEnabled: g.chance(50), orderIndex: g.pick([0, 3, -1])),
                .setRoute(service: g.pick(services), environment: g.pick(environments), recipeId: g.pick(recipeIds)),
                .createRecipe(RecipeChange(id: g.pick(["new-recipe", "default", ""]), name: "N", deployPipeline: "p", effectiveBehaviorSummary: "b")),
                .deleteRecipe(id: g.pick(["canary", "default", "nope"])),
                .updateDeliveryGroup(id: "default", DeliveryGroupChange(
                    id: "default", name: "Default", owners: ["owner@example.com"], services: g.pick([["demo-service"], ["payments-api"]]),
                    allowedEnvironments: g.chance(50) ? ["sandbox", "staging"] : nil, allowedRecipes: ["default"])),
            ] as [PolicyChange]))
        case 11:
            .read(g.pick([
                .whoami, .services, .serviceVersions(service: g.pick(services)), .deliveryGroups, .deliveryGroup(id: g.pick(["default", "nope"])),
                .recipes, .recipe(id: g.pick(recipeIds.compactMap { $0 })), .build(service: "demo-service", version: g.pick(versions)),
                .publicSettings, .adminSettings, .rateLimits, .ciPublishers, .mutationsDisabled,
                .deliveryStatus(service: g.pick(services), environment: g.pick(environments)),
                .runningState(service: g.pick(services), environment: g.pick(environments)),
                .allowedActions(service: g.pick(services)),
                .failureInsights(InsightsQuery(windowDays: g.pick([0, 1, 7, 30, 31]), groupId: g.pick([nil, "default"]), service: g.pick([nil, "demo-service", "nope"]))),
                .configSanity, .uiExposure, .adminUIExposure,
            ] as [CatalogRead]))
        case 14, 15:
            { (e: SpinnakerExecution) -> Request in g.chance(50) ? .spinnakerCheck(e) : .spinnakerAdmit(e) }(SpinnakerExecution(
                application: "demo-app", pipeline: g.pick(["demo-deploy", "demo-deploy-canary"]), executionId: "exec-\(g.below(3))",
                user: g.pick(["owner@example.com", "stranger@example.com"]), service: g.chance(70) ? "demo-service" : g.pick(services),
                environment: g.chance(70) ? "sandbox" : g.pick(environments), version: g.pick(versions),
                dxcpDeploymentId: g.chance(20) ? g.pick(recordIds) : nil))
        case 17: .validatePromotion(promotion(&g))
        case 18: .promote(promotion(&g))
        case 19:
            .setUIExposure(UIExposurePolicy(artifactRefDisplay: g.chance(50), externalLinksDisplay: g.chance(50)))
        case 16:
            .gateway(GatewayCheck(
                method: g.pick(["GET", "POST", "PUT"]), path: g.pick(["/v1/deployments", "/v1/admin/system/mutations-disabled", "/v1/builds"]),
                access: g.pick([.anyRole, .deployers, .ciPublishers, .platformAdmins]), mutating: g.chance(50), idempotencyKeyRequired: g.chance(50)))
        default:
            .listDeployments(DeploymentQuery(
                service: g.chance(50) ? g.pick(services) : nil, environment: g.chance(50) ? "sandbox" : nil,
                state: g.chance(30) ? g.pick(DeploymentRecord.State.allCases) : nil))
        }
    }

    /// A principal the endpoint admits, so that deeper checks are reached often.
    static func suitable(for request: Request) -> Principal {
        switch request.action {
        case .uploadCapability, .registerBuild, .registerExistingBuild: Fixtures.ci
        case .setRateLimits, .setCIPublishers, .setMutationsDisabled, .setUIExposure: Fixtures.admin
        case .readDeployment, .listDeployments: Fixtures.observer
        case .read, .changePolicy: Fixtures.admin
        default: Fixtures.owner
        }
    }

    static func fingerprint(_ request: Request) -> String {
        switch request {
        case .deploy(let intent): intent.fingerprint
        case .promote(let intent): intent.fingerprint
        case .spinnakerAdmit(let execution): execution.fingerprint
        case .rollback(let id): id
        case .uploadCapability(let body): body.fingerprint
        case .registerBuild(let body), .registerExistingBuild(let body): body.fingerprint
        default: "{}"
        }
    }

    static func policy(_ g: inout SplitMix64) -> PolicySnapshot {
        var p = Fixtures.policy
        if g.chance(10) { p.settings.mutationsDisabled = true }
        if g.chance(40) { p.bindings["default"]?["staging"]?.isEnabled = true }
        if g.chance(20) {
            p.settings.readRPM = 1 + g.below(5)
            p.settings.mutateRPM = 1 + g.below(5)
        }
        if g.chance(20) {
            var group = Fixtures.defaultGroup
            group.guardrails = Guardrails(
                maxConcurrentDeployments: g.pick([nil, 0, 1, 2, 3]), dailyDeployQuota: g.pick([nil, 1, 5]),
                dailyRollbackQuota: g.pick([nil, 1, 2]))
            p.upsertGroup(group)
        }
        if g.chance(10) { p.environments["sandbox"]?.guardrails = Guardrails(maxConcurrentDeployments: g.pick([1, 2]), dailyDeployQuota: 3) }
        if g.chance(10) {
            let recipe = g.pick(["default", "legacy", "canary", "bluegreen", "", "nope"])
            p.routes["demo-service"]?["sandbox"] = Route(service: "demo-service", environment: "sandbox", recipeId: recipe)
        }
        if g.chance(10) { p.settings.ciPublishers = g.pick([[], [CIPublisher(name: "open")], [Fixtures.ciMain, CIPublisher(name: "by-sub", subjects: ["ci-bot"])]]) }
        if g.chance(10) { p.recipes["default"]?.spinnakerApplication = nil }
        return p
    }

    static func state(_ g: inout SplitMix64, now: Timestamp, request: Request, actors: [String], callerActor: String, callerKey: String?) -> InMemoryState {
        var s = InMemoryState.registered
        for actor in actors where g.chance(40) {
            s.setRate(actor, .read, g.below(70), at: now)
            s.setRate(actor, .mutate, g.below(12), at: now)
        }
        for scope in ["default:sandbox", "payments:sandbox", "default:staging"] where g.chance(40) {
            s.setQuota(.deploy, scope, g.below(30), at: now)
            s.setQuota(.rollback, scope, g.below(12), at: now)
        }
        if g.chance(30) { s.setQuota(.buildRegister, "ci-bot", g.pick([0, 49, 50]), at: now) }
        if g.chance(30) { s.setQuota(.uploadCapability, "ci-bot", g.pick([0, 50]), at: now) }
        for i in 0..<g.below(4) {
            s.hold(
                "hold-\(i)", group: g.pick(["default", "payments"]), environment: g.pick(["sandbox", "staging"]),
                state: g.pick([.inProgress, .active, .pending]), updatedAt: now.adding(seconds: -Int64(g.below(2000))))
        }
        for i in 0..<g.below(7) {
            let service = g.pick(["demo-service", "payments-api"])
            let rollback = g.chance(20)
            s.add(Fixtures.record(
                id: "r\(i)", service: service, environment: g.chance(80) ? "sandbox" : "staging", version: g.pick(versions),
                state: g.chance(50) ? .succeeded : g.pick(DeploymentRecord.State.allCases), kind: rollback ? .rollback : .rollForward,
                rollbackOf: rollback ? "r0" : nil, createdAt: now.adding(seconds: -Int64(1 + g.below(10_000))),
                group: service == "payments-api" ? "payments" : g.pick(["default", "default", "dissolved"]),
                recipeId: g.pick(["default", "default", "legacy", ""]), spinnakerApplication: g.pick(["demo-app", ""])))
        }
        // For a rollback, often a well-formed target with an earlier success, so that allowed
        // rollbacks are common too.
        if case .rollback(let id) = request, g.chance(50) {
            s.add(Fixtures.record(
                id: "prior-\(id)", service: "demo-service", environment: "sandbox", version: "1.0.0", state: .succeeded,
                kind: .rollForward, rollbackOf: nil, createdAt: now.adding(seconds: -20_000), group: "default", recipeId: "default",
                spinnakerApplication: "demo-app"))
            s.add(Fixtures.record(
                id: id, service: "demo-service", environment: "sandbox", version: "2.0.0", state: .succeeded, kind: .rollForward,
                rollbackOf: nil, createdAt: now.adding(seconds: -10_000), group: "default", recipeId: "default",
                spinnakerApplication: "demo-app"))
        }
        // For a promotion, often a success of 1.0.0 in sandbox, so that allowed promotions are common.
        switch request {
        case .validatePromotion, .promote:
            if g.chance(50) { s.add(Fixtures.record(id: "source-success", createdAt: now.adding(seconds: -5_000))) }
        default:
            break
        }
        if g.chance(30) { s.add(Fixtures.build(version: "2.0.0", gitSha: g.pick([Fixtures.gitSha, "dead"]))) }
        for i in 0..<g.below(3) {
            s.add(Fixtures.capability(
                version: g.pick(["2.0.0", "1.0.0"]), token: "cap-\(i)", size: g.pick([1024, 2048]),
                expiresAt: now.adding(seconds: Int64(g.below(1200)) - 600)))
        }
        for _ in 0..<g.below(3) {
            // Half the records are aimed at this case's caller and key, so replays are common.
            let scope = IdempotencyScope(
                actorId: g.chance(50) ? callerActor : g.pick(actors), endpoint: g.chance(80) ? request.endpoint : "POST /v1/deployments",
                key: g.chance(50) ? (callerKey ?? "k1") : g.pick(["k1", "k2"]))
            let response: StoredResponse? = g.chance(50) ? StoredResponse(status: g.pick([200, 201]), result: .mutationsDisabled(false)) : nil
            s.remember(scope, IdempotencyRecord(
                fingerprint: g.chance(60) ? fingerprint(request) : "other", expiresAt: now.adding(seconds: Int64(g.below(200)) - 100),
                response: response))
        }
        return s
    }

    static func makeCase(_ index: Int, seed: UInt64) -> Case {
        var g = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9)
        let now = Fixtures.now.adding(seconds: Int64(g.below(259_200)))
        let request = request(&g)
        let principal = g.chance(50) ? suitable(for: request) : principal(&g)
        let actors = Array(Set(principals.map(\.actorId) + [principal.actorId])).sorted()
        let key = g.pick(keys)
        return Case(
            request: request, principal: principal, policy: policy(&g),
            state: state(&g, now: now, request: request, actors: actors, callerActor: principal.actorId, callerKey: key),
            context: DecisionContext(
                now: Timestamp(microseconds: now.microseconds + Int64(g.below(1_000_000))), decisionId: "decision-\(index)",
                newId: "new-\(index)", idempotencyKey: key,
                engineReadiness: g.pick([
                    .notChecked, .ready, .unavailable(.engineUnavailable, detail: "down"), .unavailable(.engineTimeout, detail: "slow"),
                ])))
    }

    static func encode(_ decision: Decision) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(decision)
    }

    static func evaluate(_ c: Case, state: InMemoryState) -> Decision {
        Evaluator.evaluate(c.request, by: c.principal, policy: c.policy, state: state, context: c.context)
    }

    // MARK: The property

    @Test("3,000 random inputs: decided twice, and against a rebuilt equal state, byte-identical")
    func byteIdenticalDecisions() throws {
        let count = 3_000
        var mismatches: [Int] = []
        var codes = Set<ContractCode>()
        var allowedActions = Set<Action>()
        var actions = Set<Action>()
        var replays = 0
        for index in 0..<count {
            let c = Self.makeCase(index, seed: 0xD1CE_5EED)
            let rebuilt = Self.makeCase(index, seed: 0xD1CE_5EED).state.rebuiltInReverse()
            try #require(rebuilt == c.state)
            let first = Self.evaluate(c, state: c.state)
            let second = Self.evaluate(c, state: c.state)
            let third = Self.evaluate(c, state: rebuilt)
            let bytes = try Self.encode(first)
            let secondBytes = try Self.encode(second)
            let thirdBytes = try Self.encode(third)
            if first != second || first != third || bytes != secondBytes || bytes != thirdBytes {
                mismatches.append(index)
            }
            actions.insert(first.action)
            if let code = first.code { codes.insert(code) } else { allowedActions.insert(first.action) }
            if first.replayed { replays += 1 }
        }
        #expect(mismatches.isEmpty, "non-deterministic cases: \(mismatches.prefix(10))")
        // The inputs really vary: every action, most codes, allowed decisions and replays.
        #expect(actions == Set(Action.allCases))
        #expect(codes.count >= 30, "codes seen: \(codes.map(\.rawValue).sorted())")
        #expect(allowedActions == Set(Action.allCases), "allowed actions: \(allowedActions.map(\.rawValue).sorted())")
        #expect(replays > 0)
    }

    @Test("the encoding round-trips to an equal decision")
    func encodingRoundTrips() throws {
        for index in 0..<200 {
            let c = Self.makeCase(index, seed: 42)
            let d = Self.evaluate(c, state: c.state)
            #expect(try JSONDecoder().decode(Decision.self, from: Self.encode(d)) == d)
        }
    }
}

extension InMemoryState {
    /// An equal state whose dictionaries were filled in the opposite order.
    func rebuiltInReverse() -> InMemoryState {
        func reversed<K, V>(_ d: [K: V]) -> [K: V] { Dictionary(uniqueKeysWithValues: Array(d).reversed()) }
        var s = InMemoryState()
        s.rateCounts = reversed(rateCounts)
        s.quotaCounts = reversed(quotaCounts)
        s.active = reversed(active)
        s.records = reversed(records)
        s.builds = reversed(builds)
        s.capabilities = reversed(capabilities)
        s.idempotency = reversed(idempotency)
        return s
    }
}

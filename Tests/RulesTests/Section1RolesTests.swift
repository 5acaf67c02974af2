import Foundation
import Testing
@testable import Rules

/// Contract §1 (REFERENCE §1.2–§1.5, §2.1): role mapping and precedence, identity derivation,
/// the principal claim, the role matrix, and the CI publisher allowlist.
@Suite("§1 Roles and identity")
struct Section1RolesTests {
    // MARK: Role precedence

    struct PrecedenceCase: Sendable, CustomTestStringConvertible {
        let roles: [String]
        let expected: Role
        var testDescription: String { roles.joined(separator: ",") }
    }

    static let precedence: [PrecedenceCase] = [
        .init(roles: ["dxcp-platform-admins"], expected: .platformAdmin),
        .init(roles: ["dxcp-observers", "dxcp-platform-admins"], expected: .platformAdmin),
        .init(roles: ["dxcp-ci-publishers", "dxcp-delivery-owners", "dxcp-observers"], expected: .deliveryOwner),
        .init(roles: ["dxcp-ci-publishers", "dxcp-observers"], expected: .observer),
        .init(roles: ["unrelated", "dxcp-ci-publishers"], expected: .ciPublisher),
        .init(roles: ["dxcp-ci-publisher"], expected: .ciPublisher),
        .init(roles: ["dxcp-ci-publisher", "dxcp-delivery-owners"], expected: .deliveryOwner),
    ]

    @Test("the most powerful recognised role in the claim wins", arguments: precedence)
    func rolePrecedence(_ c: PrecedenceCase) {
        let principal = Fixtures.principal(sub: "s", email: "s@example.com", roles: c.roles)
        #expect(principal.role == c.expected)
    }

    @Test("an admin+observer token acts as admin")
    func adminObserverTokenActsAsAdmin() {
        let p = Fixtures.principal(sub: "s", email: "s@example.com", roles: ["dxcp-observers", "dxcp-platform-admins"])
        let d = decide(.setRateLimits(RateLimitsChange(readRPM: 61, mutateRPM: 10, dailyQuotaBuildRegister: 50)), by: p)
        #expect(d.allowed)
        #expect(d.status == 200)
    }

    // MARK: AUTHZ_ROLE_REQUIRED

    static let roleless: [Principal] = [
        Fixtures.rolesAbsent,
        Fixtures.rolesNotArray,
        Fixtures.principal(sub: "s", email: "s@example.com", roles: []),
        Fixtures.noRole,
        Fixtures.principal(sub: "s", email: "s@example.com", roles: ["DXCP-PLATFORM-ADMINS", "dxcp-admins"]),
    ]

    static let everyKindOfRequest: [Request] = [
        .validate(Fixtures.intent()), .deploy(Fixtures.intent()), .rollback(deploymentId: "r1"),
        .policySummary(PolicySummaryQuery(service: "demo-service", environment: "sandbox")),
        .uploadCapability(Fixtures.upload()), .registerBuild(Fixtures.registration()),
        .registerExistingBuild(Fixtures.registration()),
        .setRateLimits(RateLimitsChange(readRPM: 60, mutateRPM: 10, dailyQuotaBuildRegister: 50)),
        .setCIPublishers([Fixtures.ciMain]), .setMutationsDisabled(KillSwitchChange(mutationsDisabled: true)),
        .readDeployment(id: "r1"), .listDeployments(DeploymentQuery()),
    ]

    @Test("absent, non-array, empty or unknown roles → 403 AUTHZ_ROLE_REQUIRED before anything else",
        arguments: roleless, everyKindOfRequest)
    func roleRequired(_ principal: Principal, _ request: Request) {
        let d = decide(request, by: principal, key: "k1")
        #expect(!d.allowed)
        #expect(d.status == 403)
        #expect(d.code == .authzRoleRequired)
        #expect(d.trail == [CheckResult(.roleRecognised, .failed(.authzRoleRequired))])
        #expect(d.countedWindows.isEmpty)
        #expect(!d.changesState)
    }

    // MARK: Identity derivation (REFERENCE §1.3)

    struct IdentityCase: Sendable, CustomTestStringConvertible {
        let name: String
        let claims: Claims
        let actorId: String
        let email: String?
        let engineUser: String?
        var testDescription: String { name }
    }

    static let identities: [IdentityCase] = [
        .init(
            name: "all claims", claims: Claims(subject: "sub-1", email: "Alice@Example.com", customEmail: "Custom@Example.com"),
            actorId: "sub-1", email: "alice@example.com", engineUser: "custom@example.com"),
        .init(
            name: "email only", claims: Claims(email: "Alice@Example.com"),
            actorId: "Alice@Example.com", email: "alice@example.com", engineUser: "alice@example.com"),
        .init(
            name: "custom email only", claims: Claims(customEmail: "Custom@Example.com"),
            actorId: "Custom@Example.com", email: "custom@example.com", engineUser: "custom@example.com"),
        .init(name: "subject only", claims: Claims(subject: "svc-account"), actorId: "svc-account", email: nil, engineUser: "svc-account"),
        .init(name: "nothing", claims: Claims(), actorId: "unknown", email: nil, engineUser: nil),
        .init(name: "empty strings", claims: Claims(subject: "", email: "", customEmail: ""), actorId: "unknown", email: nil, engineUser: nil),
        .init(
            name: "email trimmed and lower-cased for membership", claims: Claims(subject: "s", email: "  Mixed@Example.COM "),
            actorId: "s", email: "mixed@example.com", engineUser: "  mixed@example.com "),
        .init(
            name: "email preferred over custom for membership", claims: Claims(email: "a@x.io", customEmail: "b@x.io"),
            actorId: "a@x.io", email: "a@x.io", engineUser: "b@x.io"),
    ]

    @Test("actor_id, email and engine user follow REFERENCE §1.3", arguments: identities)
    func identity(_ c: IdentityCase) {
        let p = Principal(claims: c.claims)
        #expect(p.actorId == c.actorId)
        #expect(p.email == c.email)
        #expect(p.engineUser == c.engineUser)
    }

    @Test("a principal encodes its derived fields with its claims and decodes to an equal one", arguments: identities)
    func principalCoding(_ c: IdentityCase) throws {
        let p = Principal(claims: c.claims)
        let encoded = try JSONEncoder().encode(p)
        let object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        #expect(object["actorId"] as? String == c.actorId)
        #expect(object["email"] as? String == c.email)
        #expect(object["engineUser"] as? String == c.engineUser)
        #expect(object["claims"] != nil)
        let decoded = try JSONDecoder().decode(Principal.self, from: encoded)
        #expect(decoded == p)
        #expect(decoded.hashValue == p.hashValue)
        #expect(decoded.actorId == p.actorId && decoded.role == p.role)
        #expect(Principal(claims: Claims(subject: "other")) != p)
    }

    @Test("rate windows and audit entries are keyed by actor_id")
    func actorIdKeysRateAndAudit() {
        let p = Fixtures.principal(email: "Owner@Example.com", roles: ["dxcp-delivery-owners"])
        let d = decide(.deploy(Fixtures.intent()), by: p, key: "k1")
        #expect(d.status == 201)
        #expect(d.countedWindows == [RateWindow(actorId: "Owner@Example.com", bucket: .mutate, minute: Fixtures.now.minute)])
        #expect(d.auditNotes.map(\.actorId) == ["Owner@Example.com"])
        #expect(d.deployment?.actor.engineUser == "owner@example.com")
    }

    // MARK: Principal claim

    static let engineFacing: [Request] = [
        .validate(Fixtures.intent()), .deploy(Fixtures.intent()), .rollback(deploymentId: "r1"), .readDeployment(id: "r1"),
    ]

    @Test("engine-facing endpoints need a principal claim → 401 UNAUTHORIZED", arguments: engineFacing)
    func principalClaimRequired(_ request: Request) {
        let d = decide(request, by: Fixtures.anonymousOwner, key: "k1")
        #expect(d.status == 401)
        #expect(d.code == .unauthorized)
        #expect(d.trail == [CheckResult(.roleRecognised, .passed), CheckResult(.principalClaimPresent, .failed(.unauthorized))])
        #expect(d.insertedDeployments.isEmpty)
    }

    @Test("a subject alone is a principal claim")
    func subjectAloneIsEnough() {
        let p = Fixtures.principal(sub: "admin-robot", roles: ["dxcp-platform-admins"])
        let d = decide(.deploy(Fixtures.intent()), by: p, key: "k1")
        #expect(d.status == 201)
        #expect(d.deployment?.actor.engineUser == "admin-robot")
    }

    // MARK: Role matrix

    static let deployEndpoints: [Request] = [
        .validate(Fixtures.intent()), .deploy(Fixtures.intent()), .rollback(deploymentId: "r1"),
        .policySummary(PolicySummaryQuery(service: "demo-service", environment: "sandbox")),
    ]

    @Test("observers and CI publishers cannot validate, deploy, roll back or read policy summaries → 403 ROLE_FORBIDDEN",
        arguments: [Fixtures.observer, Fixtures.ci], deployEndpoints)
    func observerAndCIForbidden(_ principal: Principal, _ request: Request) {
        let state = InMemoryState.registered.with { $0.add(Fixtures.record(id: "r1")) }
        let d = decide(request, by: principal, state: state, key: "k1")
        #expect(d.status == 403)
        #expect(d.code == .roleForbidden)
        #expect(d.failedCheck == .roleAllowed)
        #expect(d.message.hasPrefix("Role \(principal.role!.rawValue) cannot"))
        #expect(d.insertedDeployments.isEmpty)
        #expect(d.spentQuotas.isEmpty)
    }

    @Test("owners and admins may validate and deploy", arguments: [Fixtures.owner, Fixtures.admin])
    func ownersAndAdminsDeploy(_ principal: Principal) {
        #expect(decide(.validate(Fixtures.intent()), by: principal).status == 200)
        #expect(decide(.deploy(Fixtures.intent()), by: principal, key: "k1").status == 201)
    }

    static let adminSettings: [Request] = [
        .setRateLimits(RateLimitsChange(readRPM: 60, mutateRPM: 10, dailyQuotaBuildRegister: 50)),
        .setCIPublishers([Fixtures.ciMain]), .setMutationsDisabled(KillSwitchChange(mutationsDisabled: true)),
    ]

    @Test("non-admins cannot change system settings → 403 ROLE_FORBIDDEN",
        arguments: [Fixtures.owner, Fixtures.observer, Fixtures.ci], adminSettings)
    func nonAdminsCannotChangeSettings(_ principal: Principal, _ request: Request) {
        let d = decide(request, by: principal, key: "k1")
        #expect(d.status == 403)
        #expect(d.code == .roleForbidden)
        #expect(d.failedCheck == .roleAllowed)
        #expect(!d.effects.contains { if case .putSettings = $0 { true } else { false } })
    }

    // MARK: CI publisher allowlist (REFERENCE §1.5)

    static let ciClaims = Fixtures.ci.claims

    struct SelectionCase: Sendable, CustomTestStringConvertible {
        let name: String
        let publishers: [CIPublisher]
        let expected: String?
        var testDescription: String { name }
    }

    static let selections: [SelectionCase] = [
        .init(
            name: "most constrained wins",
            publishers: [
                CIPublisher(name: "broad"), CIPublisher(name: "by-issuer", issuers: ["https://ci.example"]),
                CIPublisher(name: "by-issuer-sub", issuers: ["https://ci.example"], subjects: ["ci-bot"]),
            ],
            expected: "by-issuer-sub"),
        .init(
            name: "ties go to the smallest name",
            publishers: [
                CIPublisher(name: "zeta", issuers: ["https://ci.example"]), CIPublisher(name: "alpha", subjects: ["ci-bot"]),
                CIPublisher(name: "mid", authorizedParties: ["ci-client"]),
            ],
            expected: "alpha"),
        .init(
            name: "a non-matching specific publisher is passed over",
            publishers: [
                CIPublisher(name: "by-issuer", issuers: ["https://ci.example"]),
                CIPublisher(name: "other-sub", issuers: ["https://ci.example"], subjects: ["someone-else"]),
            ],
            expected: "by-issuer"),
        .init(name: "a publisher with no constraints matches every CI token", publishers: [CIPublisher(name: "open")], expected: "open"),
        .init(name: "an empty allowlist matches nothing", publishers: [], expected: nil),
        .init(
            name: "every constraint must hold",
            publishers: [CIPublisher(name: "strict", issuers: ["https://ci.example"], audiences: ["https://other-api"])],
            expected: nil),
    ]

    @Test("the allowlisted publisher is chosen by specificity, then name", arguments: selections)
    func publisherSelection(_ c: SelectionCase) {
        #expect(CIPublisher.select(from: c.publishers, for: Self.ciClaims)?.name == c.expected)
        let policy = Fixtures.policy { $0.settings.ciPublishers = c.publishers }
        let d = decide(.registerExistingBuild(Fixtures.registration()), by: Fixtures.ci, policy: policy, key: "k1")
        if let expected = c.expected {
            #expect(d.status == 201)
            #expect(d.build?.ciPublisher == expected)
        } else {
            #expect(d.status == 403)
            #expect(d.code == .ciOnly)
        }
    }

    struct ConstraintCase: Sendable, CustomTestStringConvertible {
        let name: String
        let publisher: CIPublisher
        let matches: Bool
        var testDescription: String { name }
    }

    static let constraints: [ConstraintCase] = [
        .init(name: "issuer", publisher: CIPublisher(name: "p", issuers: ["https://ci.example"]), matches: true),
        .init(name: "wrong issuer", publisher: CIPublisher(name: "p", issuers: ["https://ci.example/"]), matches: false),
        .init(name: "any audience", publisher: CIPublisher(name: "p", audiences: ["x", "https://dxcp-api"]), matches: true),
        .init(name: "azp", publisher: CIPublisher(name: "p", authorizedParties: ["ci-client"]), matches: true),
        .init(name: "wrong azp", publisher: CIPublisher(name: "p", authorizedParties: ["other"]), matches: false),
        .init(name: "subject prefix", publisher: CIPublisher(name: "p", subjectPrefixes: ["ci-"]), matches: true),
        .init(name: "wrong subject prefix", publisher: CIPublisher(name: "p", subjectPrefixes: ["bot-"]), matches: false),
        .init(name: "email on a token without email", publisher: CIPublisher(name: "p", emails: ["ci@example.com"]), matches: false),
    ]

    @Test("each non-empty constraint must be satisfied", arguments: constraints)
    func constraint(_ c: ConstraintCase) {
        #expect(c.publisher.matches(Self.ciClaims) == c.matches)
    }

    @Test("email constraints compare case-insensitively, email claim before the custom one")
    func emailConstraint() {
        let publisher = CIPublisher(name: "p", emails: ["CI@Example.com"])
        #expect(publisher.matches(Claims(email: "ci@example.COM", roles: .values(["dxcp-ci-publishers"]))))
        #expect(publisher.matches(Claims(customEmail: "ci@example.com", roles: .values(["dxcp-ci-publishers"]))))
        #expect(!publisher.matches(Claims(email: "other@example.com", customEmail: "ci@example.com")))
    }

    static let buildEndpoints: [Request] = [
        .uploadCapability(Fixtures.upload()), .registerBuild(Fixtures.registration()),
        .registerExistingBuild(Fixtures.registration()),
    ]

    @Test("non-CI roles, including admins, cannot publish builds → 403 CI_ONLY",
        arguments: [Fixtures.admin, Fixtures.owner, Fixtures.observer], buildEndpoints)
    func nonCIRolesAreCIOnly(_ principal: Principal, _ request: Request) {
        let d = decide(request, by: principal, key: "k1")
        #expect(d.status == 403)
        #expect(d.code == .ciOnly)
        #expect(d.failedCheck == .ciPublisherAllowlisted)
        #expect(!d.changesState)
    }

    @Test("a CI token matching no allowlisted publisher → 403 CI_ONLY", arguments: buildEndpoints)
    func unmatchedCIIsCIOnly(_ request: Request) {
        let rogue = decide(request, by: Fixtures.rogueCI, key: "k1")
        #expect(rogue.status == 403)
        #expect(rogue.code == .ciOnly)
        let emptyList = decide(request, by: Fixtures.ci, policy: Fixtures.policy { $0.settings.ciPublishers = [] }, key: "k1")
        #expect(emptyList.status == 403)
        #expect(emptyList.code == .ciOnly)
        #expect(emptyList.failedCheck == .ciPublisherAllowlisted)
    }

    @Test("the legacy dxcp-ci-publisher value is a CI publisher")
    func legacyCIAlias() {
        let legacy = Principal(claims: Claims(
            subject: "ci-bot", issuer: "https://ci.example", roles: .values(["dxcp-ci-publisher"])))
        let d = decide(.registerExistingBuild(Fixtures.registration()), by: legacy, key: "k1")
        #expect(d.status == 201)
        #expect(d.build?.ciPublisher == "ci-main")
    }
}

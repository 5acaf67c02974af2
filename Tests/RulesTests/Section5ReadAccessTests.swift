import Testing
@testable import Rules

/// Contract §5 read access and delivery-group scope (REFERENCE §1.4, §8.5; DECISIONS D7):
/// single-record reads, list scoping, and membership on validate, deploy and rollback.
@Suite("§5 Read access and delivery-group scope")
struct Section5ReadAccessTests {
    static let state = InMemoryState.registered.with {
        $0.add(Fixtures.record(id: "demo-1", createdAt: Fixtures.now.adding(seconds: -300)))
        $0.add(Fixtures.record(id: "demo-2", version: "1.0.1", state: .inProgress, createdAt: Fixtures.now.adding(seconds: -100)))
        $0.add(Fixtures.record(id: "pay-1", service: "payments-api", createdAt: Fixtures.now.adding(seconds: -200), group: "payments"))
    }

    // MARK: GET /v1/deployments/{id}

    @Test("admins, observers and member owners read a record", arguments: [Fixtures.admin, Fixtures.observer, Fixtures.owner])
    func readAllowed(_ principal: Principal) {
        let d = decide(.readDeployment(id: "demo-1"), by: principal, state: Self.state)
        #expect(d.status == 200)
        #expect(d.result == .deploymentRead(Self.state.records["demo-1"]!, superseded: false))
        #expect(d.effects == [.countRate(RateWindow(actorId: principal.actorId, bucket: .read, minute: Fixtures.now.minute))])
    }

    @Test("admins and observers read records of every group", arguments: [Fixtures.admin, Fixtures.observer])
    func readOtherGroup(_ principal: Principal) {
        #expect(decide(.readDeployment(id: "pay-1"), by: principal, state: Self.state).status == 200)
    }

    @Test("non-member owners and CI publishers → 403 DELIVERY_GROUP_SCOPE_REQUIRED",
        arguments: [Fixtures.nonMemberOwner, Fixtures.paymentsOwner, Fixtures.ci])
    func readScopeRequired(_ principal: Principal) {
        let d = decide(.readDeployment(id: "demo-1"), by: principal, state: Self.state)
        #expect(d.status == 403)
        #expect(d.code == .deliveryGroupScopeRequired)
        #expect(d.failedCheck == .recordReadScope)
        #expect(d.result == nil)
        #expect(d.auditNotes.isEmpty)
    }

    @Test("the payments owner reads payments records only")
    func ownerReadsOwnGroup() {
        #expect(decide(.readDeployment(id: "pay-1"), by: Fixtures.paymentsOwner, state: Self.state).status == 200)
        #expect(decide(.readDeployment(id: "pay-1"), by: Fixtures.owner, state: Self.state).code == .deliveryGroupScopeRequired)
    }

    @Test("a record whose group is gone falls back to the group that now owns its service")
    func groupFallback() {
        let state = Self.state.with { $0.add(Fixtures.record(id: "old", group: "dissolved")) }
        #expect(decide(.readDeployment(id: "old"), by: Fixtures.owner, state: state).status == 200)
        #expect(decide(.readDeployment(id: "old"), by: Fixtures.paymentsOwner, state: state).code == .deliveryGroupScopeRequired)
    }

    @Test("an unknown id → 404 NOT_FOUND", arguments: [Fixtures.admin, Fixtures.observer, Fixtures.owner])
    func readUnknown(_ principal: Principal) {
        let d = decide(.readDeployment(id: "nope"), by: principal, state: Self.state)
        #expect(d.status == 404)
        #expect(d.code == .notFound)
        #expect(d.failedCheck == .deploymentExists)
    }

    @Test("reads spend the read bucket → 429 RATE_LIMITED when it is full")
    func readRateLimited() {
        let state = Self.state.with { $0.setRate("observer-sub", .read, 60) }
        let d = decide(.readDeployment(id: "demo-1"), by: Fixtures.observer, state: state)
        #expect(d.code == .rateLimited)
        #expect(decide(.listDeployments(DeploymentQuery()), by: Fixtures.observer, state: state).code == .rateLimited)
    }

    // MARK: GET /v1/deployments

    /// Records the `groups` argument the rules pass to the store.
    final class RecordingState: StateView {
        let base: InMemoryState
        var groupsSeen: [Set<String>?] = []

        init(_ base: InMemoryState) { self.base = base }

        func rateCount(_ window: RateWindow) -> Int { base.rateCount(window) }
        func quotaUsed(_ scope: QuotaScope, day: Int64) -> Int { base.quotaUsed(scope, day: day) }
        func activeDeployments(group: String, environment: String) -> [ActiveDeployment] {
            base.activeDeployments(group: group, environment: environment)
        }
        func deployment(id: String) -> DeploymentRecord? { base.deployment(id: id) }
        func latestSucceeded(service: String, environment: String, before: Timestamp) -> DeploymentRecord? {
            base.latestSucceeded(service: service, environment: environment, before: before)
        }
        func hasSucceeded(service: String, environment: String, version: String) -> Bool {
            base.hasSucceeded(service: service, environment: environment, version: version)
        }
        func latestDeployment(service: String, environment: String) -> DeploymentRecord? {
            base.latestDeployment(service: service, environment: environment)
        }
        func insightCounts(hours: ClosedRange<Int64>) -> [InsightCount] { base.insightCounts(hours: hours) }
        func build(service: String, version: String) -> Build? { base.build(service: service, version: version) }
        func builds(service: String) -> [Build] { base.builds(service: service) }
        func uploadCapabilities(service: String, version: String) -> [UploadCapability] {
            base.uploadCapabilities(service: service, version: version)
        }
        func idempotencyRecord(_ scope: IdempotencyScope) -> IdempotencyRecord? { base.idempotencyRecord(scope) }
        func deployments(matching query: DeploymentQuery, groups: Set<String>?) -> [DeploymentRecord] {
            groupsSeen.append(groups)
            return base.deployments(matching: query, groups: groups)
        }
    }

    static func list(_ principal: Principal, _ query: DeploymentQuery = DeploymentQuery()) -> (Decision, [Set<String>?]) {
        let spy = RecordingState(Self.state)
        let d = Evaluator.evaluate(
            .listDeployments(query), by: principal, policy: Fixtures.policy, state: spy,
            context: DecisionContext(now: Fixtures.now, decisionId: Fixtures.decisionId, newId: Fixtures.newId))
        return (d, spy.groupsSeen)
    }

    static func ids(_ d: Decision) -> [String]? {
        if case .deployments(let records, _) = d.result { records.map(\.id) } else { nil }
    }

    @Test("admins and observers list every group (groups nil), newest first", arguments: [Fixtures.admin, Fixtures.observer])
    func listUnscoped(_ principal: Principal) {
        let (d, seen) = Self.list(principal)
        #expect(d.status == 200)
        #expect(seen == [nil])
        #expect(Self.ids(d) == ["demo-2", "pay-1", "demo-1"])
    }

    @Test("owners list only the groups they own (D7)")
    func listScopedToOwner() {
        let (d, seen) = Self.list(Fixtures.owner)
        #expect(seen == [["default"]])
        #expect(Self.ids(d) == ["demo-2", "demo-1"])
        let (p, paySeen) = Self.list(Fixtures.paymentsOwner)
        #expect(paySeen == [["payments"]])
        #expect(Self.ids(p) == ["pay-1"])
        let both = Fixtures.principal(sub: "x", email: "owner@example.com", roles: ["dxcp-delivery-owners"])
        var policy = Fixtures.policy
        var payments = Fixtures.paymentsGroup
        payments.owners.append("owner@example.com")
        policy.upsertGroup(payments)
        let spy = RecordingState(Self.state)
        _ = Evaluator.evaluate(
            .listDeployments(DeploymentQuery()), by: both, policy: policy, state: spy,
            context: DecisionContext(now: Fixtures.now, decisionId: Fixtures.decisionId, newId: Fixtures.newId))
        #expect(spy.groupsSeen == [["default", "payments"]])
    }

    @Test("an owner of no group and a CI publisher list nothing", arguments: [Fixtures.nonMemberOwner, Fixtures.ci])
    func listNothing(_ principal: Principal) {
        let (d, _) = Self.list(principal)
        #expect(d.status == 200)
        #expect(Self.ids(d) == [])
    }

    @Test("CI publishers list nothing without asking the store")
    func ciListDoesNotQuery() {
        let (_, seen) = Self.list(Fixtures.ci)
        #expect(seen.isEmpty)
    }

    @Test("list filters are passed to the store")
    func listFilters() {
        let (d, _) = Self.list(Fixtures.admin, DeploymentQuery(service: "demo-service", state: .succeeded))
        #expect(Self.ids(d) == ["demo-1"])
    }

    // MARK: POST /v1/policy/summary

    @Test("policy summary reports limits and usage to members and admins", arguments: [Fixtures.owner, Fixtures.admin])
    func policySummary(_ principal: Principal) {
        let state = Self.state.with {
            $0.setQuota(.deploy, "default:sandbox", 7)
            $0.setQuota(.rollback, "default:sandbox", 2)
            $0.hold("busy")
        }
        let d = decide(.policySummary(PolicySummaryQuery(service: "demo-service", environment: "sandbox")), by: principal, state: state)
        #expect(d.status == 200)
        #expect(d.result == .policySummary(PolicySummary(
            service: "demo-service", environment: "sandbox", deliveryGroupId: "default", recipeId: "default",
            policy: PolicyNumbers(
                maxConcurrentDeployments: 1, currentConcurrentDeployments: 1, dailyDeployQuota: 25, deploymentsUsed: 7,
                dailyQuotaBuildRegister: 50),
            dailyRollbackQuota: 10, rollbacksUsed: 2, resolvedRecipe: Fixtures.policy.recipes["default"],
            environmentObject: Fixtures.policy.environments["sandbox"], generatedAt: Fixtures.now)))
        #expect(d.effects == [.countRate(RateWindow(actorId: principal.actorId, bucket: .read, minute: Fixtures.now.minute))])
    }

    @Test("policy summary is scoped to the owner's groups")
    func policySummaryScoped() {
        let query = PolicySummaryQuery(service: "demo-service", environment: "sandbox")
        #expect(decide(.policySummary(query), by: Fixtures.nonMemberOwner).code == .deliveryGroupScopeRequired)
        #expect(decide(.policySummary(query), by: Fixtures.paymentsOwner).code == .deliveryGroupScopeRequired)
        let unknown = PolicySummaryQuery(service: "unknown-service", environment: "sandbox")
        #expect(decide(.policySummary(unknown), by: Fixtures.owner).code == .serviceNotInDeliveryGroup)
    }

    // MARK: D7 membership on validate, deploy, rollback

    static let mutations: [Request] = [.validate(Fixtures.intent()), .deploy(Fixtures.intent()), .rollback(deploymentId: "demo-2")]

    static let rollbackState = Self.state.with {
        $0.add(Fixtures.record(id: "demo-0", version: "0.9.0", createdAt: Fixtures.now.adding(seconds: -900)))
    }

    @Test("a non-member owner cannot validate, deploy or roll back → 403 DELIVERY_GROUP_SCOPE_REQUIRED",
        arguments: [Fixtures.nonMemberOwner, Fixtures.paymentsOwner], mutations)
    func membershipRequired(_ principal: Principal, _ request: Request) {
        let d = decide(request, by: principal, state: Self.rollbackState, key: "k1")
        #expect(d.status == 403)
        #expect(d.code == .deliveryGroupScopeRequired)
        #expect(d.failedCheck == .deliveryGroupMember)
        #expect(d.insertedDeployments.isEmpty)
    }

    @Test("members and admins pass the membership check", arguments: [Fixtures.owner, Fixtures.admin], mutations)
    func membersAllowed(_ principal: Principal, _ request: Request) {
        let d = decide(request, by: principal, state: Self.rollbackState, key: "k1")
        #expect(d.allowed)
        #expect(d.trail.contains(CheckResult(.deliveryGroupMember, .passed)))
    }

    @Test("an admin is a member of every group")
    func adminMemberOfEveryGroup() {
        let d = decide(.deploy(Fixtures.intent(service: "payments-api")), by: Fixtures.admin, key: "k1")
        #expect(d.status == 201)
        #expect(d.deployment?.deliveryGroupId == "payments")
        #expect(decide(.deploy(Fixtures.intent(service: "payments-api")), by: Fixtures.owner, key: "k1").code == .deliveryGroupScopeRequired)
        #expect(decide(.deploy(Fixtures.intent(service: "payments-api")), by: Fixtures.paymentsOwner, key: "k1").status == 201)
    }

    @Test("membership compares emails case- and whitespace-insensitively; the owner list may hold several")
    func membershipNormalised() {
        let shouty = Fixtures.principal(sub: "s", email: " OWNER@Example.COM ", roles: ["dxcp-delivery-owners"])
        #expect(decide(.validate(Fixtures.intent()), by: shouty).status == 200)
        let custom = Fixtures.principal(sub: "s", customEmail: "Owner@example.com", roles: ["dxcp-delivery-owners"])
        #expect(decide(.validate(Fixtures.intent()), by: custom).status == 200)
        let policy = Fixtures.policy { p in
            var g = Fixtures.defaultGroup
            g = DeliveryGroup(
                id: g.id, name: g.name, owners: [" Lead@Example.com", "", "owner@example.com"], services: g.services,
                allowedRecipes: g.allowedRecipes)
            p.upsertGroup(g)
        }
        let lead = Fixtures.principal(sub: "lead", email: "lead@example.com", roles: ["dxcp-delivery-owners"])
        #expect(decide(.validate(Fixtures.intent()), by: lead, policy: policy).status == 200)
        let noEmail = Fixtures.principal(sub: "owner@example.com", roles: ["dxcp-delivery-owners"])
        #expect(decide(.validate(Fixtures.intent()), by: noEmail).code == .deliveryGroupScopeRequired)
    }
}

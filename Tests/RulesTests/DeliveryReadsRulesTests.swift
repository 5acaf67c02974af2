import Testing
@testable import Rules

/// The delivery reads of REFERENCE §2.9 within DECISIONS D7, and the admin stamps of §2.8.
@Suite("§2.9 delivery reads and §2.8 stamps")
struct DeliveryReadsRulesTests {
    static func status(_ principal: Principal, _ state: InMemoryState, policy: PolicySnapshot = Fixtures.policy) -> DeliveryStatus? {
        let d = decide(.read(.deliveryStatus(service: "demo-service", environment: "sandbox")), by: principal, state: state, policy: policy)
        guard case .deliveryStatus(let status)? = d.result else { return nil }
        return status
    }

    @Test func recordsOfAnotherGroupAreNotShownToOwners() {
        // demo-service moved to the default group after a deployment recorded under payments.
        let state = InMemoryState.registered.with { $0.add(Fixtures.record(id: "old", group: "payments")) }
        #expect(Self.status(Fixtures.owner, state)?.latest == nil, "the owner may not read that record (D7)")
        #expect(Self.status(Fixtures.owner, state)?.currentRunning == nil)
        #expect(Self.status(Fixtures.observer, state)?.latest?.id == "old")
        #expect(Self.status(Fixtures.observer, state)?.currentRunning?.deploymentId == "old")
        let mine = InMemoryState.registered.with { $0.add(Fixtures.record(id: "mine")) }
        #expect(Self.status(Fixtures.owner, mine)?.latest?.id == "mine")
    }

    @Test func allowedActionsFollowTheKillSwitchAndTheGroup() {
        func actions(_ principal: Principal, _ policy: PolicySnapshot, service: String = "demo-service") -> (Bool, Bool, Bool)? {
            guard case .allowedActions(_, _, let view, let deploy, let rollback)? = decide(.read(.allowedActions(service: service)), by: principal, policy: policy).result
            else { return nil }
            return (view, deploy, rollback)
        }
        #expect(actions(Fixtures.owner, Fixtures.policy).map { [$0.0, $0.1, $0.2] } == [true, true, true])
        #expect(actions(Fixtures.owner, Fixtures.killSwitchOn).map { [$0.0, $0.1, $0.2] } == [true, false, false])
        let ungrouped = Fixtures.policy { $0.services["lonely"] = ServiceEntry(name: "lonely", allowedRecipes: ["default"]) }
        #expect(actions(Fixtures.admin, ungrouped, service: "lonely").map { [$0.0, $0.1, $0.2] } == [true, false, false])
        #expect(actions(Fixtures.nonMemberOwner, Fixtures.policy).map { [$0.0, $0.1, $0.2] } == [false, false, false])
    }

    @Test func stampsKnowWhatTheyKnow() {
        let now = Fixtures.now
        var previous = Fixtures.policy
        previous.recipes["default"]?.stamp = nil
        var changed = previous
        changed.recipes["default"]?.name = "Renamed"
        let reloaded = changed.stamped(after: previous, at: now, by: "loader")
        #expect(reloaded.recipes["default"]?.stamp?.createdAt == nil, "created before stamps were kept: unknown")
        #expect(reloaded.recipes["default"]?.stamp?.updatedBy == "loader")
        #expect(reloaded.recipes["canary"]?.stamp == nil, "unchanged and never stamped: still unknown")
        let fresh = Fixtures.policy.stamped(after: PolicySnapshot(), at: now, by: "loader")
        #expect(fresh.recipes["canary"]?.stamp == ChangeStamp(createdAt: now, createdBy: "loader"))
        let again = fresh.stamped(after: fresh, at: now.adding(seconds: 60), by: "other")
        #expect(again.recipes["canary"]?.stamp == fresh.recipes["canary"]?.stamp, "a reload keeps an unchanged object's stamp")
        let update = ChangeStamp(createdAt: now, createdBy: "a").updated(at: now.adding(seconds: 1), by: "b", reason: "  why \n")
        #expect(update.lastChangeReason == "why")
        #expect(update.updated(at: now.adding(seconds: 2), by: "c", reason: "   ").lastChangeReason == "why", "a blank reason keeps the last one")
    }
}

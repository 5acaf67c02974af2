import Testing
@testable import Rules

/// Gateway decisions (docs/DECISIONS.md 42): what a gateway can decide without the body — the
/// role × endpoint matrix of contract §1, the kill switch for mutating endpoints (not the toggle
/// itself, §8), the `Idempotency-Key` where required (§3.2), and the gateway's own rate windows.
@Suite("Gateway decisions")
struct GatewayCheckTests {
    static func check(_ method: String, _ path: String, _ access: GatewayCheck.Access, key: Bool = false) -> Request {
        .gateway(GatewayCheck(method: method, path: path, access: access, mutating: method != "GET", idempotencyKeyRequired: key))
    }

    @Test(arguments: [
        (GatewayCheck.Access.anyRole, [true, true, true, true]),
        (.deployers, [true, true, false, false]),
        (.platformAdmins, [true, false, false, false]),
        (.ciPublishers, [false, false, false, true]),
    ])
    func accessFollowsTheRoleMatrix(access: GatewayCheck.Access, allowed: [Bool]) {
        let who = [Fixtures.admin, Fixtures.owner, Fixtures.observer, Fixtures.ci]
        for (principal, expected) in zip(who, allowed) {
            let d = decide(Self.check("GET", "/v1/x", access), by: principal)
            #expect(d.allowed == expected, "\(principal.actorId) \(access)")
            if !expected { #expect(d.status == 403 && (d.code == .roleForbidden || d.code == .ciOnly)) }
        }
        #expect(decide(Self.check("GET", "/v1/x", access), by: Fixtures.noRole).code == .authzRoleRequired)
    }

    @Test func aCIPublisherMustBeAllowlisted() {
        #expect(decide(Self.check("POST", "/v1/builds/register", .ciPublishers, key: true), by: Fixtures.rogueCI, key: "k").code == .ciOnly)
    }

    @Test func theKillSwitchStopsMutationsButNotTheToggle() {
        let deploy = decide(Self.check("POST", "/v1/deployments", .deployers, key: true), by: Fixtures.owner, policy: Fixtures.killSwitchOn, key: "k")
        #expect(deploy.code == .mutationsDisabled)
        let admin = decide(Self.check("PUT", "/v1/recipes/default", .platformAdmins), by: Fixtures.admin, policy: Fixtures.killSwitchOn)
        #expect(admin.code == .mutationsDisabled)
        for method in ["PUT", "PATCH"] {
            let toggle = decide(Self.check(method, "/v1/admin/system/mutations-disabled", .platformAdmins), by: Fixtures.admin, policy: Fixtures.killSwitchOn)
            #expect(toggle.allowed, "the toggle stays usable")
        }
        #expect(decide(Self.check("GET", "/v1/deployments", .anyRole), by: Fixtures.owner, policy: Fixtures.killSwitchOn).allowed)
    }

    @Test func anIdempotencyKeyIsRequiredWhereTheEndpointNeedsOne() {
        #expect(decide(Self.check("POST", "/v1/deployments", .deployers, key: true), by: Fixtures.owner).code == .idempotencyKeyRequired)
        #expect(decide(Self.check("POST", "/v1/deployments", .deployers, key: true), by: Fixtures.owner, key: "").code == .idempotencyKeyRequired)
        #expect(decide(Self.check("POST", "/v1/deployments", .deployers, key: true), by: Fixtures.owner, key: "k").allowed)
        #expect(decide(Self.check("PUT", "/v1/admin/system/rate-limits", .platformAdmins), by: Fixtures.admin).allowed, "honoured, not required")
    }

    @Test func gatewayWindowsAreTheirOwn() {
        let read = decide(Self.check("GET", "/v1/services", .anyRole), by: Fixtures.owner)
        #expect(read.effects == [.countRate(RateWindow(actorId: "owner-sub", bucket: .gatewayRead, minute: Fixtures.now.minute))])
        let write = decide(Self.check("POST", "/v1/deployments", .deployers, key: true), by: Fixtures.owner, key: "k")
        #expect(write.effects == [.countRate(RateWindow(actorId: "owner-sub", bucket: .gatewayMutate, minute: Fixtures.now.minute))])
        #expect(RateWindow.Bucket.gatewayRead.keptInMemory && RateWindow.Bucket.gatewayMutate.keptInMemory && !RateWindow.Bucket.mutate.keptInMemory)

        let limits = Fixtures.policy { $0.settings.readRPM = 2; $0.settings.mutateRPM = 1 }
        let spentAPIWindows = InMemoryState.registered.with {
            $0.setRate("owner-sub", .read, 2)
            $0.setRate("owner-sub", .mutate, 1)
        }
        #expect(decide(Self.check("GET", "/v1/services", .anyRole), by: Fixtures.owner, state: spentAPIWindows, policy: limits).allowed,
            "the API's windows do not count")
        let spent = InMemoryState.registered.with {
            $0.setRate("owner-sub", .gatewayRead, 2)
            $0.setRate("owner-sub", .gatewayMutate, 1)
        }
        #expect(decide(Self.check("GET", "/v1/services", .anyRole), by: Fixtures.owner, state: spent, policy: limits).code == .rateLimited)
        #expect(decide(Self.check("POST", "/v1/deployments", .deployers, key: true), by: Fixtures.owner, state: spent, policy: limits, key: "k").code == .rateLimited)
    }

    @Test func theOrderIsRoleKillSwitchKeyRate() {
        let d = decide(Self.check("POST", "/v1/deployments", .deployers, key: true), by: Fixtures.owner, key: "k")
        #expect(d.trail.map(\.check) == [.roleRecognised, .principalClaimPresent, .roleAllowed, .killSwitchOff, .idempotencyKeyPresent, .mutateRateLimit])
        #expect(d.result == .principal(Fixtures.owner))
    }
}

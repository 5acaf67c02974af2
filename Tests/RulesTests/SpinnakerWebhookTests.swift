import Testing
@testable import Rules

/// Webhook decisions for Spinnaker pipelines (docs/DECISIONS.md 41, D7, D8): the trigger user
/// stands as a delivery owner of the service's group; the execution must be the routed deploy
/// pipeline; `check` changes nothing; `admit` spends, takes the slot and records the deployment
/// keyed by the execution id, so a retried stage replays.
@Suite("Spinnaker webhook decisions")
struct SpinnakerWebhookTests {
    static func execution(
        user: String = "owner@example.com", pipeline: String = "demo-deploy", version: String = "1.0.0", id: String = "exec-1",
        dxcpDeploymentId: String? = nil
    ) -> SpinnakerExecution {
        SpinnakerExecution(
            application: "demo-app", pipeline: pipeline, executionId: id, user: user, service: "demo-service", environment: "sandbox",
            version: version, changeSummary: "from Spinnaker", dxcpDeploymentId: dxcpDeploymentId)
    }

    /// The principal the server makes of the trigger user.
    static func triggerUser(_ user: String = "owner@example.com") -> Principal {
        Principal(claims: Claims(subject: user, email: user, roles: .values(["dxcp-delivery-owners"])))
    }

    @Test func checkAllowsARoutedPipelineOfAMemberAndChangesNothing() {
        let d = decide(.spinnakerCheck(Self.execution()), by: Self.triggerUser())
        #expect(d.allowed && d.status == 200)
        #expect(d.trail.map(\.check) == [
            .roleRecognised, .principalClaimPresent, .roleAllowed, .intentWellFormed, .readRateLimit, .killSwitchOff,
            .deliveryGroupResolved, .deliveryGroupMember, .environmentAllowed, .recipeRouted, .recipeAllowedByGroup,
            .recipeIdMatchesRoute, .serviceAllowlisted, .environmentConfigured, .versionFormat, .recipeCompatible,
            .versionRegistered, .engineTargetResolved, .pipelineRouted, .concurrencyAvailable, .quotaAvailable,
        ])
        #expect(d.effects.allSatisfy { if case .countRate(let w) = $0 { w.bucket == .read } else { false } }, "only the read window")
    }

    @Test(arguments: [
        ("stranger@example.com", "demo-deploy", "1.0.0", ContractCode.deliveryGroupScopeRequired),
        ("owner@example.com", "demo-deploy-canary", "1.0.0", .pipelineNotRouted),
        ("owner@example.com", "demo-deploy", "9.9.9", .versionNotFound),
        ("owner@example.com", "demo-deploy", "${parameters.version}", .invalidVersion),
    ])
    func denialsName(user: String, pipeline: String, version: String, code: ContractCode) {
        for request in [Request.spinnakerCheck(Self.execution(user: user, pipeline: pipeline, version: version)),
                        .spinnakerAdmit(Self.execution(user: user, pipeline: pipeline, version: version))] {
            let d = decide(request, by: Self.triggerUser(user))
            #expect(d.code == code, "\(request.action)")
            #expect(!d.effects.contains { if case .admitExecution = $0 { true } else { false } })
        }
    }

    @Test func theKillSwitchStopsBothModes() {
        #expect(decide(.spinnakerCheck(Self.execution()), by: Self.triggerUser(), policy: Fixtures.killSwitchOn).code == .mutationsDisabled)
        #expect(decide(.spinnakerAdmit(Self.execution()), by: Self.triggerUser(), policy: Fixtures.killSwitchOn).code == .mutationsDisabled)
    }

    @Test func admitRecordsARunningDeploymentKeyedByTheExecution() throws {
        let d = decide(.spinnakerAdmit(Self.execution()), by: Self.triggerUser(), key: "exec-1")
        #expect(d.allowed && d.status == 200)
        guard case .deployment(let record)? = d.result else { Issue.record("an admission returns the record"); return }
        #expect(record.engineExecutionId == "exec-1")
        #expect(record.state == .inProgress && record.spinnakerPipeline == "demo-deploy")
        #expect(record.actor.actorId == "owner@example.com")
        let scope = IdempotencyScope(actorId: "owner@example.com", endpoint: "POST /v1/spinnaker/webhook/admit", key: "exec-1")
        #expect(d.effects.contains(.admitExecution(record)))
        #expect(d.effects.contains(.spendQuota(QuotaScope(kind: .deploy, key: "default:sandbox"), day: Fixtures.now.day)))
        #expect(!d.effects.contains { if case .insertDeployment = $0 { true } else { false } }, "no engine dispatch")
        let completed = d.effects.contains {
            if case .putIdempotency(scope, let r) = $0 { r.response == StoredResponse(status: 200, result: .deployment(record)) } else { false }
        }
        #expect(completed, "the key completes at once: a retried stage replays")
        #expect(d.effects.contains { if case .audit(let n) = $0 { n.eventType == "SPINNAKER_ADMIT" } else { false } })
    }

    @Test func aRetriedStageReplaysAndAChangedOneConflicts() {
        let first = decide(.spinnakerAdmit(Self.execution()), by: Self.triggerUser(), key: "exec-1")
        guard case .deployment(let record)? = first.result else { Issue.record("admitted"); return }
        let scope = IdempotencyScope(actorId: "owner@example.com", endpoint: "POST /v1/spinnaker/webhook/admit", key: "exec-1")
        let state = InMemoryState.registered.with {
            $0.remember(scope, IdempotencyRecord(
                fingerprint: Self.execution().fingerprint, expiresAt: Fixtures.now.adding(seconds: 3600),
                response: StoredResponse(status: 200, result: .deployment(record))))
            $0.hold(record.id)
        }
        let replay = decide(.spinnakerAdmit(Self.execution()), by: Self.triggerUser(), state: state, key: "exec-1")
        #expect(replay.allowed && replay.replayed)
        #expect(replay.effects.allSatisfy { if case .countRate = $0 { true } else { false } }, "nothing spent twice")
        let changed = decide(.spinnakerAdmit(Self.execution(version: "1.0.1")), by: Self.triggerUser(), state: state, key: "exec-1")
        #expect(changed.code == .idempotencyConflict)
    }

    @Test func quotaAndConcurrencyAreEnforcedOnAdmission() {
        let full = InMemoryState.registered.with { $0.hold("other") }
        #expect(decide(.spinnakerAdmit(Self.execution()), by: Self.triggerUser(), state: full, key: "exec-1").code == .concurrencyLimitReached)
        #expect(decide(.spinnakerCheck(Self.execution()), by: Self.triggerUser(), state: full).code == .concurrencyLimitReached)
        let spent = InMemoryState.registered.with { $0.setQuota(.deploy, "default:sandbox", 25) }
        #expect(decide(.spinnakerAdmit(Self.execution()), by: Self.triggerUser(), state: spent, key: "exec-1").code == .quotaExceeded)
    }

    /// A pipeline dxcp-policy triggered carries its deployment id: that deployment already holds
    /// the slot, so the stage is allowed without spending again — but only for that deployment.
    @Test func aPipelineDXCPTriggeredIsAlreadyAdmitted() {
        var record = Fixtures.record(id: "dep-1", state: .inProgress, createdAt: Fixtures.now.adding(seconds: -30))
        let state = InMemoryState.registered.with {
            $0.add(record)
            $0.hold("dep-1")
        }
        let admitted = decide(.spinnakerAdmit(Self.execution(dxcpDeploymentId: "dep-1")), by: Self.triggerUser(), state: state, key: "exec-1")
        #expect(admitted.allowed)
        #expect(admitted.trail.last?.check == .deploymentAdmitted)
        #expect(admitted.effects.isEmpty, "nothing spent, nothing recorded")
        #expect(decide(.spinnakerCheck(Self.execution(dxcpDeploymentId: "dep-1")), by: Self.triggerUser(), state: state).allowed)

        #expect(decide(.spinnakerAdmit(Self.execution(dxcpDeploymentId: "nope")), by: Self.triggerUser(), state: state).code == .notFound)
        #expect(decide(.spinnakerAdmit(Self.execution(version: "1.0.1", dxcpDeploymentId: "dep-1")), by: Self.triggerUser(), state: state).code == .pipelineNotRouted)
        record.engineExecutionId = "exec-other"
        let bound = InMemoryState.registered.with { $0.add(record) }
        #expect(decide(.spinnakerAdmit(Self.execution(dxcpDeploymentId: "dep-1")), by: Self.triggerUser(), state: bound).code == .pipelineNotRouted)
        record.engineExecutionId = "exec-1"
        record.state = .succeeded
        let ended = InMemoryState.registered.with { $0.add(record) }
        #expect(decide(.spinnakerAdmit(Self.execution(dxcpDeploymentId: "dep-1")), by: Self.triggerUser(), state: ended).code == .pipelineNotRouted)
    }

    @Test func deniedAdmissionsAreAuditedChecksAreNot() {
        let denied = decide(.spinnakerAdmit(Self.execution(user: "stranger@example.com")), by: Self.triggerUser("stranger@example.com"), key: "exec-1")
        #expect(denied.effects.contains { if case .audit(let n) = $0 { n.eventType == "SPINNAKER_ADMIT_DENIED" && n.targetId == "exec-1" } else { false } })
        let check = decide(.spinnakerCheck(Self.execution(user: "stranger@example.com")), by: Self.triggerUser("stranger@example.com"))
        #expect(!check.effects.contains { if case .audit = $0 { true } else { false } })
    }
}

import Foundation
import Testing
import TestSupport

/// The conformance suite against real processes: a fresh dxcp-policy with the Gate emulator
/// passes in strict + active; servers broken on purpose fail exactly the checks that prove the
/// broken guarantee.
@Suite struct ConformanceTests {
    /// Every check a strict + active run makes (the suite's catalogue).
    static let allChecks: Set<String> = [
        "setup.health", "setup.identities", "setup.owner_group", "setup.run_context",
        "roles.claims_sanity", "roles.unauthenticated_refused", "roles.admin_reads_ci_publishers", "roles.non_admin_cannot_change_ci_publishers",
        "roles.observer_cannot_validate_or_deploy", "roles.owner_unregistered_version", "roles.observer_reads",
        "ci_gate.owner_cannot_register", "ci_gate.unlisted_publisher_refused", "cleanup.ci_publishers_after_step_a",
        "allowlist.key_required", "allowlist.ci_publisher_added", "idempotency.ci_publishers_replay_and_conflict",
        "builds.register_key_required", "builds.register_created", "idempotency.register_replay", "idempotency.register_conflict",
        "builds.version_conflict", "idempotency.upload_capability", "idempotency.builds_post", "prep.restore_point",
        "deploy.validate_unregistered", "deploy.key_required", "deploy.unregistered_refused", "deploy.routed_recipe_incompatible",
        "deploy.routed_recipe_not_allowed", "deploy.recipe_id_mismatch", "cleanup.routing", "cleanup.group_allowed_recipes",
        "cleanup.temporary_recipe", "deploy.validate_ok", "deploy.created", "idempotency.deploy_replay", "idempotency.deploy_conflict",
        "reads.member_reads_record", "reads.non_member_scope", "reads.owner_list_scoped", "deploy.succeeded", "ci_denial.role_forbidden",
        "rollback.validate_route", "rollback.key_required", "rollback.created", "idempotency.rollback_replay", "rollback.succeeded",
        "rollback.of_rollback_refused", "rollback.unknown_target", "records.immutable", "records.protected_fields_after_terminal",
        "quota.safe.policy_summary_available", "concurrency.safe.policy_summary_available", "quota.safe.policy_quota_shape",
        "quota.safe.policy_daily_build_register_shape", "concurrency.safe.policy_shape", "quota.safe.validate_quota_shape",
        "concurrency.safe.validate_shape", "concurrency.active.second_deploy_blocked", "concurrency.active.cleanup",
        "quota.active.n_plus_one", "quota.active.validate_reports_exhaustion", "quota.active.rollback_exhausted", "concurrency.active.rollback_blocked",
        "rate.active.read_limit", "rate.active.validate_limit", "rate.active.mutate_limit", "cleanup.rate_limits",
        "cleanup.group_guardrails", "killswitch.toggle", "killswitch.blocks_deployments", "killswitch.blocks_builds",
        "killswitch.blocks_admin_mutations", "killswitch.toggle_usable_while_on", "killswitch.released", "cleanup.kill_switch",
        "cleanup.ci_publishers", "cleanup.delivery_group_membership", "cleanup.state_restored", "audit.admin_config_changes", "audit.every_admin_change",
        "audit.deployments_recorded", "promotion.same_environment", "promotion.key_required", "delivery.status",
        "delivery.allowed_actions", "insights.window", "admin.object_shapes",
    ]

    /// A fresh server with the emulator passes strict + active: exit 0, every check passed, the
    /// JUnit and snapshot say so; then a second, diagnostic run with tokens from the environment
    /// and no non-member identity passes again, skipping exactly the non-member checks.
    @Test func aConformantServerPassesStrictAndActive() async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "3"])
        let server = try await ServerProcess(key: key, gate: gate.baseURL)
        let run = try await SuiteRun.run(server, key: key, profile: "strict", guardrails: "active")
        #expect(run.status == 0, "\(run.output)")
        #expect(run.snapshot["contract_version"] as? String == "1.1")
        #expect(run.snapshot["conformance_profile"] as? String == "strict")
        #expect(run.snapshot["status"] as? String == "PASS")
        #expect(Set(run.checks.keys) == Self.allChecks, "checks made: \(Set(run.checks.keys).symmetricDifference(Self.allChecks))")
        #expect(run.ids("PASSED") == Self.allChecks, "not passed: \(Self.allChecks.subtracting(run.ids("PASSED")).sorted())")
        #expect(run.summary("total") == Self.allChecks.count)
        #expect(run.summary("failed") == 0)
        #expect(run.summary("skipped") == 0)
        for check in run.checks.values {
            #expect(["CONTRACT", "DIAGNOSTIC"].contains(check["classification"] as? String ?? ""))
            #expect((check["required"] as? Bool) == (check["classification"] as? String == "CONTRACT"))
            #expect(!(check["section"] as? String ?? "").isEmpty)
        }
        #expect(run.junit.contains(#"<testsuites name="governance-tests" tests="\#(Self.allChecks.count)" failures="0" skipped="0""#))
        #expect(Self.allChecks.allSatisfy { run.junit.contains(#"name="\#($0)""#) })
        #expect(run.output.contains("RESULT: CONFORMANT"))
        #expect(run.output.contains("runVersion=0.1.1"))

        // Restored: the allowlist, group and kill switch are the demo policy's again.
        let admin = try await TestTokens.mint(key, subject: "test-admin", email: "test-admin@example.com", role: "dxcp-platform-admins")
        let publishers = try await server.get("/v1/admin/system/ci-publishers", token: admin) as? [String: Any]
        #expect(((publishers?["publishers"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String } == ["demo-ci"])
        let group = try await server.get("/v1/delivery-groups/default", token: admin) as? [String: Any]
        #expect(group?["owner"] as? String == "owner@example.com")
        #expect(group?["allowed_recipes"] as? [String] == ["default", "canary", "bluegreen"])
        let killSwitch = try await server.get("/v1/admin/system/mutations-disabled", token: admin) as? [String: Any]
        #expect(killSwitch?["mutations_disabled"] as? Bool == false)

        // Again, diagnostic, with tokens from the environment and no non-member identity.
        var tokens: [String: String] = [:]
        for (name, subject, email, role) in [
            ("GOV_ADMIN_TOKEN", "env-admin", "env-admin@example.com", "dxcp-platform-admins"),
            ("GOV_OWNER_TOKEN", "env-owner", "env-owner@example.com", "dxcp-delivery-owners"),
            ("GOV_OBSERVER_TOKEN", "env-observer", "env-observer@example.com", "dxcp-observers"),
            ("GOV_CI_TOKEN", "env-ci", nil, "dxcp-ci-publishers"),
        ] {
            tokens[name] = try await TestTokens.mint(key, subject: subject, email: email, role: role)
        }
        let second = try await SuiteRun.run(server, key: key, profile: "diagnostic", guardrails: "safe", mint: false, environment: tokens)
        #expect(second.status == 0, "\(second.output)")
        #expect(second.ids("SKIPPED") == ["reads.non_member_scope", "reads.owner_list_scoped"])
        #expect(second.ids("FAILED").isEmpty)
        #expect(second.detail("reads.non_member_scope").contains("GOV_NON_MEMBER_OWNER_TOKEN"))
        #expect(second.output.contains("runVersion=0.1.5"), "the second run picks versions after the first run's (0.1.1 to 0.1.4)")
    }

    /// Gate refusing every pipeline trigger (a 4xx: nothing started, so each reservation is
    /// released at once — a 5xx would hold it until confirmed, DECISIONS 47): strict fails the
    /// deploy checks saying the engine is unavailable; diagnostic skips them with that reason and
    /// still passes.
    @Test func anEngineOutageFailsStrictAndSkipsInDiagnostic() async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess()
        try gate.control("/_emulator/faults", #"{"path":"/pipelines/demo-app/","status":400}"#)
        let server = try await ServerProcess(key: key, gate: gate.baseURL)

        let strict = try await SuiteRun.run(server, key: key, profile: "strict", guardrails: "active")
        #expect(strict.status == 1)
        #expect(strict.snapshot["status"] as? String == "FAIL")
        #expect(strict.ids("SKIPPED").isEmpty, "strict never skips")
        let failed = strict.ids("FAILED")
        #expect(failed.isSuperset(of: ["prep.restore_point", "deploy.created", "deploy.succeeded", "rollback.created", "concurrency.active.second_deploy_blocked"]))
        #expect(failed.allSatisfy { ["prep.", "deploy.", "idempotency.deploy", "idempotency.rollback", "reads.", "rollback.", "records.", "concurrency.active", "quota.active", "rate.active.mutate_limit", "audit.deployments", "ci_denial."].contains(where: $0.hasPrefix) }, "\(failed.sorted())")
        #expect(strict.detail("deploy.created").hasPrefix("cannot run (strict): the engine is unavailable"))
        #expect(strict.ids("PASSED").isSuperset(of: ["killswitch.blocks_deployments", "idempotency.register_replay", "audit.every_admin_change", "cleanup.state_restored"]))

        let diagnostic = try await SuiteRun.run(server, key: key, profile: "diagnostic", guardrails: "safe")
        #expect(diagnostic.status == 0, "\(diagnostic.output)")
        #expect(diagnostic.ids("FAILED").isEmpty, "\(diagnostic.ids("FAILED"))")
        #expect(diagnostic.ids("SKIPPED").contains("deploy.created"))
        #expect(diagnostic.detail("deploy.created").hasPrefix("skipped: the engine is unavailable"))
        #expect(diagnostic.summary("required_skipped") ?? 0 > 0)
    }

    /// Gate running every execution into TERMINAL: the deployment checks fail naming the final
    /// state, and rollback, which needs a success to restore, cannot run.
    @Test func failingExecutionsFailTheDeploymentChecks() async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--outcome", "TERMINAL", "--run-seconds", "1"])
        let server = try await ServerProcess(key: key, gate: gate.baseURL)
        let run = try await SuiteRun.run(server, key: key, profile: "strict", guardrails: "safe")
        #expect(run.status == 1)
        let failed = run.ids("FAILED")
        #expect(failed.isSuperset(of: ["prep.restore_point", "deploy.succeeded", "rollback.created"]), "\(run.output)")
        #expect(failed.allSatisfy { ["prep.", "deploy.succeeded", "rollback.", "idempotency.rollback_replay", "records.protected_fields"].contains(where: $0.hasPrefix) },
            "\(failed.sorted())")
        #expect(run.detail("deploy.succeeded").contains("ended FAILED"))
        #expect(run.ids("PASSED").isSuperset(of: ["deploy.created", "idempotency.deploy_replay", "reads.non_member_scope", "cleanup.state_restored"]))
    }

    /// SIGINT mid-run: the remaining checks report the interruption, and what the run changed is
    /// still restored before it exits.
    @Test func anInterruptedRunStillRestores() async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "3"])
        let server = try await ServerProcess(key: key, gate: gate.baseURL)
        let run = try await SuiteRun.run(server, key: key, profile: "strict", guardrails: "safe", interruptAfter: "PASS  allowlist.ci_publisher_added")
        #expect(run.status == 1)
        // Where exactly the signal lands depends on timing; from there on, every check that is not a restore says so.
        let order = ((run.snapshot["checks"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
        let interrupted = "cannot run (strict): the run was interrupted"
        let first = try #require(order.firstIndex { run.detail($0) == interrupted })
        #expect(order[..<first].contains("allowlist.ci_publisher_added"))
        for id in order[first...] where !id.hasPrefix("cleanup.") {
            #expect(run.detail(id) == interrupted, "\(id)")
        }
        #expect(run.ids("PASSED").isSuperset(of: ["allowlist.ci_publisher_added", "cleanup.ci_publishers", "cleanup.delivery_group_membership", "cleanup.state_restored"]))
        let admin = try await TestTokens.mint(key, subject: "test-admin", email: "test-admin@example.com", role: "dxcp-platform-admins")
        let publishers = try await server.get("/v1/admin/system/ci-publishers", token: admin) as? [String: Any]
        #expect(((publishers?["publishers"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String } == ["demo-ci"])
    }

    /// The suite is a client of the API only: it imports none of dxcp-policy's modules.
    @Test func theSuiteImportsNoServerModule() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("governance-tests")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".swift") }
        #expect(files.count > 10)
        let allowed: Set<String> = ["ArgumentParser", "Foundation", "FoundationNetworking", "JWTKit", "Synchronization"]
        for file in files {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("import ") || line.hasPrefix("public import ") {
                let module = String(line.split(separator: " ").last ?? "")
                #expect(allowed.contains(module), "\(file) imports \(module)")
            }
        }
    }

    /// A server that breaks one contract rule: the run is not conformant, and the checks that
    /// fail are exactly those that prove the rule (the proxy makes the server look broken; the
    /// shipped server has no switch that could).
    struct Breakage: Sendable, CustomTestStringConvertible {
        let name: String
        let fault: ProxyFault
        var guardrails = "safe"
        /// The checks that must fail, and no other.
        let failing: Set<String>
        /// Those of them that fail because a prerequisite is missing (`cannot run (strict)`); the
        /// others must fail on what they saw.
        var unprovable: Set<String> = []
        var testDescription: String { name }
    }

    static let breakages: [Breakage] = [
        Breakage(name: "kill switch ignored", fault: .killSwitchIgnored,
            failing: ["killswitch.blocks_deployments", "killswitch.blocks_builds", "killswitch.blocks_admin_mutations"]),
        // idempotency.register_conflict still passes: a second commit of a registered version is
        // refused as a version conflict (§4.4) whatever the key.
        Breakage(name: "Idempotency-Key ignored", fault: .idempotencyIgnored, failing: [
            "idempotency.ci_publishers_replay_and_conflict", "idempotency.register_replay", "idempotency.upload_capability",
            "idempotency.builds_post", "idempotency.deploy_replay", "idempotency.deploy_conflict", "idempotency.rollback_replay",
        ]),
        Breakage(name: "rate limits ignored", fault: .rateLimitsIgnored, guardrails: "active",
            failing: ["rate.active.read_limit", "rate.active.validate_limit", "rate.active.mutate_limit"]),
        Breakage(name: "observer acts as owner", fault: .observerActsAsOwner, failing: ["roles.observer_cannot_validate_or_deploy"]),
        Breakage(name: "unauthenticated requests accepted", fault: .unauthenticatedAccepted, failing: ["roles.unauthenticated_refused"]),
        Breakage(name: "group scope ignored", fault: .groupScopeIgnored, failing: ["reads.non_member_scope", "reads.owner_list_scoped"]),
        Breakage(name: "builds replay another body", fault: .buildsReplayOtherBodies, failing: ["idempotency.upload_capability", "idempotency.builds_post"]),
        Breakage(name: "ci-publishers rewritten under a used key", fault: .publishersRewriteOnConflict, failing: ["idempotency.ci_publishers_replay_and_conflict"]),
        Breakage(name: "routing changes unaudited", fault: .routingUnaudited, failing: ["audit.every_admin_change"]),
        Breakage(name: "engine details shown to non-admins", fault: .engineDetailsLeaked, failing: ["reads.member_reads_record"]),
        Breakage(name: "deployment records accept changes", fault: .recordsAcceptChanges, failing: ["records.immutable"]),
        // A run that could not change routing has not proved routing changes are audited: the
        // audit check says so instead of passing on the other kinds.
        Breakage(name: "routing cannot be changed", fault: .routingRefused,
            failing: ["deploy.routed_recipe_incompatible", "deploy.routed_recipe_not_allowed", "deploy.recipe_id_mismatch", "audit.every_admin_change"],
            unprovable: ["deploy.routed_recipe_not_allowed", "deploy.recipe_id_mismatch", "audit.every_admin_change"]),
    ]

    @Test(arguments: breakages)
    func aBrokenRuleFailsItsChecksOnly(_ breakage: Breakage) async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "2"])
        let server = try await ServerProcess(key: key, gate: gate.baseURL)
        let proxy = try await FaultProxy(upstream: server.baseURL, faults: [breakage.fault])
        let run = try await SuiteRun.run(server, through: proxy, key: key, profile: "strict", guardrails: breakage.guardrails)
        #expect(run.status == 1)
        #expect(run.output.contains("RESULT: NOT CONFORMANT"))
        #expect(run.ids("FAILED") == breakage.failing, "\(run.ids("FAILED").symmetricDifference(breakage.failing).sorted())\n\(run.output)")
        for id in breakage.failing {
            #expect(run.detail(id).hasPrefix("cannot run (strict)") == breakage.unprovable.contains(id), "\(id): \(run.detail(id))")
        }
        if breakage.unprovable.contains("audit.every_admin_change") {
            #expect(run.detail("audit.every_admin_change").contains("no routing change"))
        }
    }

    /// What the contract leaves open is not held against a server: a recipe refused without an
    /// engine application (the reference's MISSING_ENGINE_APP), groups carrying fields the server
    /// stamps on every write, and an unscoped deployment list (our tightening D7: a DIAGNOSTIC
    /// failure, reported and never decisive). Strict + active stays conformant.
    @Test func whatTheContractAllowsStaysConformant() async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "2"])
        let server = try await ServerProcess(key: key, gate: gate.baseURL)
        let proxy = try await FaultProxy(upstream: server.baseURL, faults: [.recipeNeedsEngineApplication, .groupsStamped, .ownerListUnscoped])
        let run = try await SuiteRun.run(server, through: proxy, key: key, profile: "strict", guardrails: "active")
        #expect(run.status == 0, "\(run.output)")
        #expect(run.snapshot["status"] as? String == "PASS")
        #expect(run.ids("FAILED") == ["reads.owner_list_scoped"], "\(run.output)")
        #expect(run.checks["reads.owner_list_scoped"]?["classification"] as? String == "DIAGNOSTIC")
        #expect(run.summary("required_failed") == 0)
        #expect(run.ids("PASSED").isSuperset(of: [
            "deploy.routed_recipe_incompatible", "deploy.routed_recipe_not_allowed", "deploy.recipe_id_mismatch", "cleanup.state_restored",
            "killswitch.blocks_admin_mutations", "audit.every_admin_change",
        ]))
        #expect(run.detail("audit.every_admin_change").contains("routing×"), "routing changes are among the audited ones: \(run.detail("audit.every_admin_change"))")
        #expect(run.output.contains("RESULT: CONFORMANT"))
    }

    /// The server has no fault switch: started with the variable that once named test faults,
    /// it still passes strict + active (its kill switch, idempotency and rate limits hold).
    @Test func theFormerFaultVariableChangesNothing() async throws {
        let key = try SigningKey()
        let gate = try EmulatorProcess(["--run-seconds", "2"])
        let server = try await ServerProcess(
            key: key, gate: gate.baseURL, environment: ["DXCP_TEST_FAULTS": "kill-switch-ignored,idempotency-ignored,rate-limits-ignored"])
        let run = try await SuiteRun.run(server, key: key, profile: "strict", guardrails: "active")
        #expect(run.status == 0, "\(run.output)")
        #expect(run.ids("PASSED") == Self.allChecks, "not passed: \(Self.allChecks.subtracting(run.ids("PASSED")).sorted())")
    }
}

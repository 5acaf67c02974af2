import Foundation

extension Suite {
    /// Step H: guardrail figures (SAFE) and, with `--guardrails active`, bounded probes of the
    /// concurrency limit, the daily quota and the read rate limit under temporary limits
    /// (REFERENCE §5, §7, §12.3 H).
    func stepH() async {
        await inStep("H") {
            await safeGuardrailChecks()
            guard settings.guardrails == .active else { return }
            await concurrencyProbe()
            await quotaProbe()
            await rateProbe()
        }
    }

    /// The reference harness's SAFE checks, under its names.
    func safeGuardrailChecks() async {
        var summary: JSON?
        var summaryError: (any Error)?
        do {
            let reply = try await api.post("/v1/policy/summary", as: .owner, ["service": .string(settings.service), "environment": .string(settings.environment)])
            if [404, 405].contains(reply.status) { throw CannotRun("POST /v1/policy/summary is not supported (\(reply.outcome))") }
            summary = try reply.expect(200, nil, "policy summary").object("policy summary")
        } catch {
            summaryError = error
        }
        for id in ["quota.safe.policy_summary_available", "concurrency.safe.policy_summary_available"] {
            await recorder.check(id, .contract, "§2.1 §5", "POST /v1/policy/summary answers 200") {
                if let summaryError { throw summaryError }
                return "200"
            }
        }
        let shapes: [(String, [String], String)] = [
            ("quota.safe.policy_quota_shape", ["daily_deploy_quota", "deployments_used", "deployments_remaining"], "§5"),
            ("quota.safe.policy_daily_build_register_shape", ["daily_quota_build_register"], "§5"),
            ("concurrency.safe.policy_shape", ["max_concurrent_deployments", "current_concurrent_deployments"], "§7"),
        ]
        for (id, names, section) in shapes {
            await recorder.check(id, .contract, section, "the policy summary reports \(names.joined(separator: ", ")) as \(names.count == 1 ? "a number" : "numbers")") {
                guard let summary else { throw CannotRun("the policy summary is not available") }
                let missing = Self.nonNumeric(summary, names)
                try require(missing.isEmpty, "not numeric: \(missing) in \(summary.text.prefix(300))")
                return names.map { "\($0)=\(Self.figure(summary, $0)?.text ?? "-")" }.joined(separator: " ")
            }
        }
        var validation: Reply?
        var validationError: (any Error)?
        do {
            guard runVersionRegistered else { throw CannotRun("builds.register_created did not pass") }
            validation = try await api.post("/v1/deployments/validate", as: .owner, intent(try runVersions().run))
        } catch {
            validationError = error
        }
        let validateShapes: [(String, [String], String)] = [
            ("quota.safe.validate_quota_shape", ["daily_deploy_quota", "deployments_used", "deployments_remaining"], "§2.3 §5"),
            ("concurrency.safe.validate_shape", ["max_concurrent_deployments", "current_concurrent_deployments"], "§2.3 §7"),
        ]
        for (id, names, section) in validateShapes {
            await recorder.check(id, .contract, section, "validate reports \(names.joined(separator: ", ")) as numbers") {
                if let validationError { throw validationError }
                guard let validation else { throw CannotRun("no validation") }
                if [409, 429].contains(validation.status) { throw CannotRun("validate is refused by a limit right now (\(validation.outcome))") }
                let json = try validation.expect(200, nil, "validate").object("validation")
                let missing = Self.nonNumeric(json["policy"], names)
                try require(missing.isEmpty, "not numeric: \(missing) in \(json["policy"]?.text ?? "no policy")")
                return "numeric"
            }
        }
    }

    /// The group with guardrails replaced (the run's membership kept).
    func groupWith(guardrails: [String: JSON]) throws -> JSON {
        guard let group = runGroup else { throw CannotRun("setup.owner_group did not read the delivery group") }
        var current = group["guardrails"]?.object ?? [:]
        current.merge(guardrails) { _, new in new }
        return group.setting("guardrails", .object(current))
    }

    /// Sets temporary group guardrails, restored when step H ends.
    func setTemporaryGuardrails(_ guardrails: [String: JSON]) async throws {
        guard let group = runGroup else { throw CannotRun("setup.owner_group did not read the delivery group") }
        let path = "/v1/delivery-groups/\(settings.deliveryGroup.urlEncoded)"
        try await adminChange("PUT", path, try groupWith(guardrails: guardrails), target: settings.deliveryGroup).expect(200, nil, "set temporary guardrails")
        restores.push("group_guardrails") { [self] in
            try await adminChange("PUT", path, group, target: settings.deliveryGroup).expect(200, nil, "restore the group's guardrails")
        }
        // An environment guardrail outranks the group's (REFERENCE §5.1): then the probe cannot set
        // its limits. (The summary reports the deploy figures, not daily_rollback_quota.)
        let summary = try await policySummary()
        for (name, value) in guardrails.sorted(by: { $0.key < $1.key }) where Self.figure(summary, name).map({ $0.int != value.int }) ?? false {
            throw CannotRun("the group guardrail \(name) = \(value.text) does not apply in \(settings.environment) (it reports \(Self.figure(summary, name)?.text ?? "nothing")); an environment guardrail outranks it")
        }
    }

    /// The policy summary of the run's service and environment.
    func policySummary() async throws -> JSON {
        try await api.post("/v1/policy/summary", as: .owner, ["service": .string(settings.service), "environment": .string(settings.environment)])
            .expect(200, nil, "policy summary").object("policy summary")
    }

    /// The deploy quota already used today in the service's group and environment.
    func deploymentsUsed() async throws -> Int64 {
        let summary = try await policySummary()
        guard let used = Self.figure(summary, "deployments_used")?.int else { throw CannotRun("the policy summary has no deployments_used") }
        return used
    }

    /// A second deploy while one is in progress is refused (limit 1), and validate says so.
    func concurrencyProbe() async {
        var first: String?
        var second: String?
        await recorder.check("concurrency.active.second_deploy_blocked", .contract, "§7 §4.1 §4.2",
            "with max_concurrent_deployments 1 and one deployment in progress, validate and a second deploy → 409 CONCURRENCY_LIMIT_REACHED") {
            let version = try runVersions().run
            guard runVersionRegistered else { throw CannotRun("builds.register_created did not pass") }
            let used = try await deploymentsUsed()
            try await setTemporaryGuardrails(["max_concurrent_deployments": 1, "daily_deploy_quota": .int(used + 10)])
            let reply = try await api.post("/v1/deployments", as: .owner, intent(version, summary: "concurrency probe 1"), key: key("h-concurrency-1"))
            try requireEngine(reply)
            let record = try reply.expect(201, nil, "first deploy of the probe").object("deployment")
            first = record["id"]?.string
            let validate = try await api.post("/v1/deployments/validate", as: .owner, intent(version))
            let blocked = try await api.post("/v1/deployments", as: .owner, intent(version, summary: "concurrency probe 2"), key: key("h-concurrency-2"))
            if blocked.status == 201 { second = blocked.json?["id"]?.string }
            let stillActive = try await readDeployment(first ?? "")
            if Self.terminalStates.contains(stillActive["state"]?.string ?? ""), blocked.status != 409 {
                throw CannotRun("the first deployment ended before the probe finished (engine faster than the probe)")
            }
            try blocked.expect(409, "CONCURRENCY_LIMIT_REACHED", "second deploy while one is in progress")
            try validate.expect(409, "CONCURRENCY_LIMIT_REACHED", "validate while one is in progress")
            return "409 CONCURRENCY_LIMIT_REACHED on validate and deploy"
        }
        await recorder.check("concurrency.active.rollback_blocked", .contract, "§7 §4.3",
            "with max_concurrent_deployments 1 and one deployment in progress, a rollback → 409 CONCURRENCY_LIMIT_REACHED") {
            guard let first, recorder.result("concurrency.active.second_deploy_blocked")?.status == .passed else {
                throw CannotRun("concurrency.active.second_deploy_blocked did not pass")
            }
            guard let target = deployment?["id"]?.string, rollback != nil else { throw CannotRun("rollback.created did not pass: no deployment with a restore point") }
            let reply = try await api.post("/v1/deployments/\(target.urlEncoded)/rollback", as: .owner, nil, key: key("h-concurrency-rollback"))
            let firstState = try await readDeployment(first)["state"]?.string ?? ""
            if reply.status == 409 || !Self.terminalStates.contains(firstState) {
                try reply.expect(409, "CONCURRENCY_LIMIT_REACHED", "rollback while a deployment is in progress")
                return "409 CONCURRENCY_LIMIT_REACHED"
            }
            throw CannotRun("the probe's deployment ended before the rollback was decided (engine faster than the probe): \(reply.outcome)")
        }
        await recorder.check("concurrency.active.cleanup", .contract, "§7 §12.4", "the probe's deployments reach a terminal state") {
            guard let first else { throw CannotRun("the concurrency probe made no deployment") }
            var states: [String] = []
            for id in [first] + (second.map { [$0] } ?? []) {
                states.append(try await waitTerminal(id)["state"]?.string ?? "?")
            }
            return "terminal: \(states.joined(separator: ", "))"
        }
    }

    /// With the day's quota set to what is used plus one, one deploy passes and the next is refused.
    func quotaProbe() async {
        await recorder.check("quota.active.n_plus_one", .contract, "§5 §4.2",
            "with daily_deploy_quota = used + 1, one deploy passes and the next → 429 QUOTA_EXCEEDED") {
            let version = try runVersions().run
            guard runVersionRegistered else { throw CannotRun("builds.register_created did not pass") }
            let used = try await deploymentsUsed()
            try await setTemporaryGuardrails(["max_concurrent_deployments": 1, "daily_deploy_quota": .int(used + 1)])
            let reply = try await api.post("/v1/deployments", as: .owner, intent(version, summary: "quota probe N"), key: key("h-quota-n"))
            try requireEngine(reply)
            let record = try reply.expect(201, nil, "deploy number N (the last unit of quota)").object("deployment")
            let final = try await waitTerminal(record["id"]?.string ?? "")
            try await api.post("/v1/deployments", as: .owner, intent(version, summary: "quota probe N+1"), key: key("h-quota-n1"))
                .expect(429, "QUOTA_EXCEEDED", "deploy number N+1")
            return "N=\(used + 1): deploy \(final["state"]?.string ?? "?"); N+1 429 QUOTA_EXCEEDED"
        }
        await recorder.check("quota.active.validate_reports_exhaustion", .contract, "§4.1 §5",
            "with the quota spent, validate → 429 QUOTA_EXCEEDED and the summary shows 0 remaining") {
            guard recorder.result("quota.active.n_plus_one")?.status == .passed else { throw CannotRun("quota.active.n_plus_one did not pass") }
            try await api.post("/v1/deployments/validate", as: .owner, intent(try runVersions().run)).expect(429, "QUOTA_EXCEEDED", "validate with no quota left")
            let summary = try await policySummary()
            try require(Self.figure(summary, "deployments_remaining")?.int == 0, "deployments_remaining is \(Self.figure(summary, "deployments_remaining")?.text ?? "-")")
            return "429 QUOTA_EXCEEDED; 0 remaining"
        }
        await recorder.check("quota.active.rollback_exhausted", .contract, "§5 §4.3",
            "with daily_rollback_quota 1 and the run's rollback spent, a rollback → 429 QUOTA_EXCEEDED") {
            guard let target = deployment?["id"]?.string, rollback != nil else { throw CannotRun("rollback.created did not pass: the run spent no rollback") }
            guard recorder.result("quota.active.n_plus_one")?.status == .passed else { throw CannotRun("quota.active.n_plus_one did not pass") }
            // The deploy quota stays spent, the rollback quota is the one unit step G used.
            let used = try await deploymentsUsed()
            try await setTemporaryGuardrails(["max_concurrent_deployments": 1, "daily_deploy_quota": .int(used), "daily_rollback_quota": 1])
            try await api.post("/v1/deployments/\(target.urlEncoded)/rollback", as: .owner, nil, key: key("h-quota-rollback"))
                .expect(429, "QUOTA_EXCEEDED", "rollback with the rollback quota spent")
            return "429 QUOTA_EXCEEDED"
        }
    }

    /// The per-actor minute limits (REFERENCE §5.3): with a tiny `read_rpm`, an observer's reads and
    /// an owner's validate are refused; then with `mutate_rpm` 1 (while the deploy and rollback
    /// quotas are spent, so nothing a probe sends can start a deployment), an owner's deploy and
    /// rollback are. The admin's own restore counts against `mutate_rpm` 1 too: it waits for the
    /// next window when refused.
    func rateProbe() async {
        var limits: (read: Int64, mutate: Int64, builds: Int64)?
        let path = "/v1/admin/system/rate-limits"
        func setLimits(read: Int64, mutate: Int64) async throws {
            guard let limits else { return }
            try await adminChange("PUT", path, ["read_rpm": .int(read), "mutate_rpm": .int(mutate), "daily_quota_build_register": .int(limits.builds)],
                target: "rate_limits").expect(200, nil, "set read_rpm \(read), mutate_rpm \(mutate)")
        }
        let readLimit: Int64 = 3
        var lowered = false
        await recorder.check("rate.active.read_limit", .contract, "§5",
            "with a temporary read_rpm of 3, an observer's reads → 429 RATE_LIMITED within two windows' worth of calls; the limits are restored") {
            _ = try api.token(.observer)
            let original = try await api.get(path, as: .admin).expect(200, nil, "read rate limits").object("rate limits")
            guard let read = original["read_rpm"]?.int, let mutate = original["mutate_rpm"]?.int, let builds = original["daily_quota_build_register"]?.int else {
                throw CheckFailure("rate limits lack read_rpm, mutate_rpm or daily_quota_build_register: \(original.text)")
            }
            limits = (read, mutate, builds)
            try await setLimits(read: readLimit, mutate: mutate)
            restores.push("rate_limits") { [self] in
                try await restoreRateLimits(read: read, mutate: mutate, builds: builds)
            }
            lowered = true
            return try await exceed("read", limit: readLimit) { try await api.get("/v1/whoami", as: .observer) }
        }
        await recorder.check("rate.active.validate_limit", .contract, "§5 §4.1",
            "with read_rpm 3, an owner's validate → 429 RATE_LIMITED (validate counts as a read)") {
            guard lowered else { throw CannotRun("rate.active.read_limit could not lower read_rpm") }
            let body = intent(try runVersions().run)
            return try await exceed("validate", limit: readLimit) { try await api.post("/v1/deployments/validate", as: .owner, body) }
        }
        await recorder.check("rate.active.mutate_limit", .contract, "§5 §4.2 §4.3",
            "with mutate_rpm 1 (and the quotas spent), an owner's deploy and rollback → 429 RATE_LIMITED") {
            guard let limits else { throw CannotRun("rate.active.read_limit could not read the rate limits") }
            guard recorder.result("quota.active.rollback_exhausted")?.status == .passed else {
                throw CannotRun("quota.active.rollback_exhausted did not pass: a probe could start a deployment")
            }
            guard let target = deployment?["id"]?.string else { throw CannotRun("deploy.created did not pass") }
            try await setLimits(read: limits.read, mutate: 1)
            let body = intent(try runVersions().run, summary: "rate probe")
            var attempt = 0
            let deploy = try await exceed("deploy", limit: 1) {
                attempt += 1
                return try await api.post("/v1/deployments", as: .owner, body, key: key("h-rate-deploy-\(attempt)"))
            }
            let rollback = try await exceed("rollback", limit: 1) {
                attempt += 1
                return try await api.post("/v1/deployments/\(target.urlEncoded)/rollback", as: .owner, nil, key: key("h-rate-rollback-\(attempt)"))
            }
            return "deploy: \(deploy); rollback: \(rollback)"
        }
    }

    /// Sends `limit + 1` requests twice over (one minute window sees more than the limit even if
    /// a window turns over among them) until one is refused 429 RATE_LIMITED; any other refusal
    /// but the spent quota's fails.
    func exceed(_ what: String, limit: Int64, _ send: () async throws -> Reply) async throws -> String {
        var outcomes: [String] = []
        for _ in 0..<(2 * (limit + 1)) {
            let reply = try await send()
            outcomes.append(reply.code ?? String(reply.status))
            if reply.status == 429, reply.code != "QUOTA_EXCEEDED" {
                try require(reply.code == "RATE_LIMITED", "\(what): 429 with code \(reply.code ?? "-"), expected RATE_LIMITED")
                return "429 RATE_LIMITED after \(outcomes.count) calls"
            }
            try require(reply.status < 300 || reply.code == "QUOTA_EXCEEDED", "\(what): \(reply.outcome) before any 429 RATE_LIMITED [\(reply.request)]")
        }
        throw CheckFailure("\(outcomes.count) \(what) calls under a limit of \(limit) were never refused: \(outcomes)")
    }

    /// Puts the rate limits back; refused by the admin's own (lowered) mutate limit, it waits for
    /// the window the answer's `Retry-After` names and tries again.
    func restoreRateLimits(read: Int64, mutate: Int64, builds: Int64) async throws {
        let body: JSON = ["read_rpm": .int(read), "mutate_rpm": .int(mutate), "daily_quota_build_register": .int(builds)]
        for _ in 0..<3 {
            let reply = try await adminChange("PUT", "/v1/admin/system/rate-limits", body, target: "rate_limits")
            guard reply.status == 429, reply.code == "RATE_LIMITED" else {
                try reply.expect(200, nil, "restore the rate limits")
                return
            }
            let wait = min(max(Double(reply.header("Retry-After") ?? "") ?? 60, 1), 61)
            try await Task.sleep(for: .seconds(wait))
        }
        throw CheckFailure("the rate limits could not be restored: the admin's mutations stayed rate limited")
    }
}

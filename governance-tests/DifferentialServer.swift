import Foundation

/// The live API as a differential run uses it: prepares it (identities, the owner's membership,
/// an allowlist entry for the CI identity, raised rate limits, registered builds), starts each
/// attempt from the state it observes, sends the model's requests, ends executions through the
/// Gate emulator, and puts back everything the run changed.
final class DifferentialServer {
    /// The API under test.
    let api: APIClient
    /// The Gate emulator's control API, when engine ends are on.
    let emulator: APIClient?
    let settings: SuiteSettings
    /// The run's registered versions, and one without a build.
    let versions: [String]
    let unregistered: String

    /// The delivery group as the run uses it (the owner a member); its guardrails change.
    private var runGroup: JSON = [:]
    /// How to put back what the run changed, newest last.
    private var restores: [(name: String, action: () async throws -> Void)] = []
    /// Engine execution ids by deployment id, as admin views showed them.
    private var executions: [String: String] = [:]
    /// Deployments the run made, and those whose execution it ended.
    private var created: [String] = []
    private var ended: Set<String> = []
    /// Requests refused with 429 RATE_LIMITED and sent again in the next minute.
    private(set) var rateLimitedRetries = 0

    /// The rate limits a run sets: the highest the contract allows (REFERENCE §2.7).
    static let raisedRate: Int64 = 5000
    /// An id no deployment has.
    static let unknownDeployment = "00000000-0000-4000-8000-00000000d1ff"

    init(api: APIClient, emulator: APIClient?, settings: SuiteSettings) {
        self.api = api
        self.emulator = emulator
        self.settings = settings
        versions = (1...3).map { "0.0.\($0)-differential" }
        unregistered = "0.0.999-differential-unregistered"
    }

    // MARK: Preparing and restoring

    /// Makes the API ready for a run; every change is undone by `restore()`.
    func prepare() async throws {
        try await call("GET", "/v1/health", as: nil).expect(200, nil, "GET /v1/health")
        var whoami: [Identity: JSON] = [:]
        for identity in Identity.allCases {
            guard api.tokens[identity] != nil else { throw CannotRun("the differential test acts as all five identities; \(identity.label) has no token") }
            whoami[identity] = try await call("GET", "/v1/whoami", as: identity).expect(200, nil, "whoami as \(identity.label)").object("whoami")
        }
        // The kill switch goes off first (its toggle is never refused by itself) and is restored
        // last; the rate limits are raised next and restored before it, so that the run's own
        // admin changes and restores are not refused by the limits it found.
        let killSwitchPath = "/v1/admin/system/mutations-disabled"
        let wasDisabled = try await call("GET", killSwitchPath, as: .admin).expect(200, nil, "read the kill switch").object("kill switch")["mutations_disabled"]?.bool
        guard let wasDisabled else { throw CannotRun("GET \(killSwitchPath) has no boolean mutations_disabled") }
        restores.append(("kill switch", { [self] in if wasDisabled { try await setKillSwitch(true) } }))
        try await setKillSwitch(false)

        let limits = try await call("GET", "/v1/admin/system/rate-limits", as: .admin).expect(200, nil, "read the rate limits").object("rate limits")
        guard let read = limits["read_rpm"]?.int, let mutate = limits["mutate_rpm"]?.int, let builds = limits["daily_quota_build_register"]?.int else {
            throw CannotRun("the rate limits lack read_rpm, mutate_rpm or daily_quota_build_register: \(limits.text)")
        }
        restores.append(("rate limits", { [self] in try await putRateLimits(read: read, mutate: mutate, builds: builds) }))
        try await putRateLimits(read: Self.raisedRate, mutate: Self.raisedRate, builds: builds)

        try await prepareGroup(whoami)

        let publishersPath = "/v1/admin/system/ci-publishers"
        let publishers = try await call("GET", publishersPath, as: .admin).expect(200, nil, "read the CI allowlist").object("ci-publishers")["publishers"] ?? []
        restores.append(("CI allowlist", { [self] in
            try await call("PUT", publishersPath, as: .admin, body: ["publishers": publishers], key: "\(settings.runId)-allowlist-restore")
                .expect(200, nil, "restore the CI allowlist")
        }))
        try await call("PUT", publishersPath, as: .admin, body: ["publishers": .array((publishers.array ?? []) + [try publisher(whoami[.ci])])],
            key: "\(settings.runId)-allowlist").expect(200, nil, "add the CI identity to the allowlist")

        try await registerBuilds()
    }

    /// Makes the owner identity a member of the group and checks the non-member is not one.
    private func prepareGroup(_ whoami: [Identity: JSON]) async throws {
        let group = try await call("GET", groupPath, as: .admin).expect(200, nil, "read delivery group \(settings.deliveryGroup)").object("group")
        guard (group["services"]?.array ?? []).contains(.string(settings.service)),
            (group["allowed_environments"]?.array ?? []).contains(.string(settings.environment))
        else { throw CannotRun("delivery group \(settings.deliveryGroup) does not hold \(settings.service) in \(settings.environment)") }
        restores.append(("delivery group", { [self] in
            try await call("PUT", groupPath, as: .admin, body: group).expect(200, nil, "restore delivery group \(settings.deliveryGroup)")
        }))
        let owners = (group["owner"]?.string ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        if let stranger = whoami[.nonMemberOwner]?["email"]?.string?.lowercased(), owners.contains(stranger) {
            throw CannotRun("the non-member owner \(stranger) is an owner of group \(settings.deliveryGroup)")
        }
        guard let owner = whoami[.owner]?["email"]?.string?.lowercased(), !owner.isEmpty else {
            throw CannotRun("the owner identity has no email claim, so it cannot be a member of the group")
        }
        runGroup = owners.contains(owner) ? group : group.setting("owner", .string((owners + [owner]).joined(separator: ", ")))
    }

    /// An allowlist entry matching exactly the CI identity (REFERENCE §1.5).
    private func publisher(_ whoami: JSON?) throws -> JSON {
        guard let subject = whoami?["sub"]?.string ?? whoami?["actor_id"]?.string else { throw CannotRun("the CI identity's whoami has no sub") }
        var entry: JSON = [
            "name": .string("governance-tests-differential-\(settings.runId)"), "provider": "custom", "subjects": [.string(subject)],
            "description": .string("governance-tests differential run \(settings.runId)"),
        ]
        if let issuer = whoami?["iss"]?.string { entry = entry.setting("issuers", [.string(issuer)]) }
        return entry
    }

    /// Registers the run's versions as the CI identity and checks each has a build (an earlier
    /// run's is as good: 200 for the identical build, 409 for another commit, REFERENCE §4.4),
    /// and that the unregistered one has none.
    private func registerBuilds() async throws {
        for (n, version) in versions.enumerated() {
            let body: JSON = [
                "service": .string(settings.service), "version": .string(version), "artifactRef": .string(settings.artifactRef(version)),
                "git_sha": .string("d1ff0\(n + 1)"), "git_branch": "main", "ci_provider": "governance-tests", "ci_run_id": "differential",
                "built_at": "2026-01-01T00:00:00Z",
            ]
            let reply = try await call("POST", "/v1/builds/register", as: .ci, body: body, key: "\(settings.runId)-register-\(n + 1)")
            guard [200, 201].contains(reply.status) || reply.code == "BUILD_REGISTRATION_CONFLICT" else {
                throw CannotRun("registering \(version): \(reply.outcome)")
            }
            try await call("GET", "/v1/builds?service=\(settings.service.urlEncoded)&version=\(version.urlEncoded)", as: .admin)
                .expect(200, nil, "the build of \(version)")
        }
        let lookup = try await call("GET", "/v1/builds?service=\(settings.service.urlEncoded)&version=\(unregistered.urlEncoded)", as: .admin)
        guard lookup.status == 404 else { throw CannotRun("\(unregistered) must have no build; GET /v1/builds answered \(lookup.outcome)") }
    }

    /// Whether the run changed anything yet (the kill switch's restore is recorded first).
    var changedAnything: Bool { !restores.isEmpty }

    /// Puts back what the run changed: ends the executions it left running, then the allowlist,
    /// group, rate limits and kill switch as they were (the kill switch goes off first, as it
    /// refuses the other changes). Returns a line per failed undo.
    func restore() async -> [String] {
        guard changedAnything else { return [] }
        var failures: [String] = []
        do {
            try await setKillSwitch(false)
        } catch {
            failures.append("kill switch off: \(error)")
        }
        if emulator != nil {
            let running = created.filter { !ended.contains($0) }
            for id in running {
                do { try await endExecution(of: id, succeeded: false) } catch { failures.append("end the execution of \(id): \(error)") }
            }
            // Until the server has seen them end they hold slots, and would free them in the
            // middle of whatever runs next.
            do { try await awaitEnded(running) } catch { failures.append("the ends of the run's executions: \(error)") }
        }
        while let entry = restores.popLast() {
            do { try await entry.action() } catch { failures.append("\(entry.name): \(error)") }
        }
        return failures
    }

    private var groupPath: String { "/v1/delivery-groups/\(settings.deliveryGroup.urlEncoded)" }

    private func setKillSwitch(_ on: Bool) async throws {
        try await call("PUT", "/v1/admin/system/mutations-disabled", as: .admin,
            body: ["mutations_disabled": .bool(on), "reason": .string("governance-tests differential \(settings.runId)")])
            .expect(200, nil, "set the kill switch \(on ? "on" : "off")")
    }

    private func putRateLimits(read: Int64, mutate: Int64, builds: Int64) async throws {
        try await call("PUT", "/v1/admin/system/rate-limits", as: .admin,
            body: ["read_rpm": .int(read), "mutate_rpm": .int(mutate), "daily_quota_build_register": .int(builds)])
            .expect(200, nil, "set the rate limits")
    }

    /// The group with `limits` as its guardrails.
    private func group(with limits: GroupLimits) -> JSON {
        var guardrails = runGroup["guardrails"]?.object ?? [:]
        guardrails["max_concurrent_deployments"] = .int(Int64(limits.maxConcurrentDeployments))
        guardrails["daily_deploy_quota"] = .int(Int64(limits.dailyDeployQuota))
        guardrails["daily_rollback_quota"] = .int(Int64(limits.dailyRollbackQuota))
        return runGroup.setting("guardrails", .object(guardrails))
    }

    // MARK: Attempts

    /// The model of a fresh attempt: the kill switch off, the quota used and the slots held as
    /// the policy summary reports them, the newest SUCCEEDED deployment as the restore point
    /// before it, and the group's guardrails set to `extraSlots` free slots and the headrooms.
    /// On the first attempt it also checks the guardrails apply (no environment guardrail
    /// outranks them, REFERENCE §5.1).
    func startAttempt(first: Bool, extraSlots: Int, deployHeadroom: Int, rollbackHeadroom: Int) async throws -> DifferentialModel {
        try await setKillSwitch(false)
        let summary = try await policySummary()
        let used = try Self.figure(summary, "deployments_used")
        let rollbacksUsed = try Self.figure(summary, "rollbacks_used")
        let holders = try Self.figure(summary, "current_concurrent_deployments")
        let listed = try await call("GET",
            "/v1/deployments?service=\(settings.service.urlEncoded)&environment=\(settings.environment.urlEncoded)&state=SUCCEEDED", as: .admin)
            .expect(200, nil, "list SUCCEEDED deployments").array("deployments")
        let newest = listed.filter { $0["state"]?.string == "SUCCEEDED" }.max { ($0["createdAt"]?.string ?? "") < ($1["createdAt"]?.string ?? "") }
        let limits = GroupLimits(
            maxConcurrentDeployments: holders + extraSlots, dailyDeployQuota: used + deployHeadroom, dailyRollbackQuota: rollbacksUsed + rollbackHeadroom)
        try await call("PUT", groupPath, as: .admin, body: group(with: limits)).expect(200, nil, "set the attempt's guardrails")
        if first {
            let applied = try await policySummary()
            let figures = [
                try Self.figure(applied, "max_concurrent_deployments"), try Self.figure(applied, "daily_deploy_quota"),
                try Self.figure(applied, "daily_rollback_quota"),
            ]
            guard figures == [limits.maxConcurrentDeployments, limits.dailyDeployQuota, limits.dailyRollbackQuota] else {
                throw CannotRun("the group's guardrails do not apply in \(settings.environment) (an environment guardrail outranks them): \(applied.text)")
            }
        }
        return DifferentialModel(
            registeredVersions: Set(versions), mutationsDisabled: false, limits: limits, deploymentsUsed: used, rollbacksUsed: rollbacksUsed,
            otherSlotHolders: holders, restorePointBefore: newest?["version"]?.string)
    }

    private func policySummary() async throws -> JSON {
        try await call("POST", "/v1/policy/summary", as: .admin, body: ["service": .string(settings.service), "environment": .string(settings.environment)])
            .expect(200, nil, "policy summary").object("policy summary")
    }

    /// A whole-number figure of the policy summary, at its top level or under `policy`
    /// (docs/DECISIONS.md 26).
    private static func figure(_ summary: JSON, _ name: String) throws -> Int {
        guard let value = (summary[name] ?? summary["policy"]?[name])?.int else {
            throw CannotRun("the policy summary has no number \(name): \(summary.text)")
        }
        return Int(value)
    }

    // MARK: Requests

    /// Sends one request to the API. Rate is not in the model, so a request refused by a
    /// per-minute window (429 RATE_LIMITED: nothing was done) is sent again once the window has
    /// turned — at most twice.
    private func call(_ method: String, _ path: String, as identity: Identity?, body: JSON? = nil, key: String? = nil) async throws -> Reply {
        var reply = try await api.send(method, path, as: identity, body: body, key: key)
        for _ in 0..<2 where reply.status == 429 && reply.code == "RATE_LIMITED" {
            rateLimitedRetries += 1
            try await Task.sleep(for: .seconds(61 - Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 60)))
            reply = try await api.send(method, path, as: identity, body: body, key: key)
        }
        return reply
    }

    /// Sends `request`; `namespace` makes its idempotency key the attempt's own, `ids` are the
    /// server ids of the attempt's records.
    func send(_ request: ModelRequest, namespace: String, ids: [String]) async throws -> Reply {
        let reply = try await sendOnce(request, namespace: namespace, ids: ids)
        if [200, 201].contains(reply.status), let json = reply.json, let id = json["id"]?.string {
            if let execution = json["engineExecutionId"]?.string { executions[id] = execution }
            if reply.status == 201, !created.contains(id) { created.append(id) }
        }
        return reply
    }

    private func sendOnce(_ request: ModelRequest, namespace: String, ids: [String]) async throws -> Reply {
        func path(_ target: Target) -> String {
            guard case .record(let index) = target, index < ids.count else { return "/v1/deployments/\(Self.unknownDeployment)" }
            return "/v1/deployments/\(ids[index].urlEncoded)"
        }
        func key(_ header: KeyHeader) -> String? {
            switch header {
            case .absent: nil
            case .empty: ""
            case .key(let key): "\(namespace)-\(key)"
            }
        }
        switch request {
        case .validate(let identity, let intent):
            return try await call("POST", "/v1/deployments/validate", as: identity, body: body(intent))
        case .deploy(let identity, let intent, let header):
            return try await call("POST", "/v1/deployments", as: identity, body: body(intent), key: key(header))
        case .rollback(let identity, let target, let header):
            return try await call("POST", path(target) + "/rollback", as: identity, key: key(header))
        case .read(let identity, let target):
            return try await call("GET", path(target), as: identity)
        case .setKillSwitch(let identity, let on):
            return try await call("PUT", "/v1/admin/system/mutations-disabled", as: identity,
                body: ["mutations_disabled": .bool(on), "reason": .string("governance-tests differential \(settings.runId)")])
        case .setGuardrails(let identity, let limits):
            return try await call("PUT", groupPath, as: identity, body: group(with: limits))
        case .endExecution:
            throw CheckFailure("an execution is ended through the emulator, not the API")
        }
    }

    private func body(_ intent: DeployIntent) -> JSON {
        [
            "service": .string(settings.service), "environment": .string(settings.environment), "version": .string(intent.version),
            "changeSummary": .string(intent.changeSummary),
        ]
    }

    // MARK: The engine

    /// Ends deployment `id`'s execution through the Gate emulator (`POST /_emulator/executions/{id}`).
    func endExecution(of id: String, succeeded: Bool) async throws {
        guard let emulator else { throw CheckFailure("engine ends need --emulator-url") }
        let execution = try await executionId(of: id)
        try await emulator.post("/_emulator/executions/\(execution.urlEncoded)", as: nil, ["status": succeeded ? "SUCCEEDED" : "TERMINAL"])
            .expect(200, nil, "end execution \(execution) in the emulator")
        ended.insert(id)
    }

    /// The engine execution of deployment `id`, from the admin view (REFERENCE §8.1). It can lag
    /// the deploy's answer by a commit (docs/DECISIONS.md 52), so a missing one is asked again.
    private func executionId(of id: String) async throws -> String {
        if let known = executions[id] { return known }
        for _ in 0..<100 {
            if let execution = try await state(of: id).execution {
                executions[id] = execution
                return execution
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CheckFailure("deployment \(id) shows no engineExecutionId to the admin")
    }

    /// Waits until the server shows every deployment of `ids` in a terminal state.
    private func awaitEnded(_ ids: [String]) async throws {
        let deadline = ContinuousClock.now + DifferentialRun.engineTimeout
        for id in ids {
            while try await state(of: id).state == ModelRecord.State.inProgress.rawValue {
                guard ContinuousClock.now < deadline else { throw CheckFailure("deployment \(id) still IN_PROGRESS") }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Slots held in the group and environment, as the policy summary reports them.
    func slotsHeld() async throws -> Int {
        try Self.figure(try await policySummary(), "current_concurrent_deployments")
    }

    /// Deployment `id`'s state and engine execution, as the admin reads it.
    func state(of id: String) async throws -> (state: String, execution: String?) {
        let record = try await call("GET", "/v1/deployments/\(id.urlEncoded)", as: .admin).expect(200, nil, "read deployment \(id)").object("deployment")
        return (record["state"]?.string ?? "absent", record["engineExecutionId"]?.string)
    }
}

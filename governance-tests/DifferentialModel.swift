/// An executable model of the core of the DXCP governance contract, for the one service,
/// environment and delivery group a differential run uses. Written from the contract text alone
/// (REFERENCE.md, and the shared DECISIONS.md where the product is stricter), never from
/// dxcp-policy's code: for each request it predicts the HTTP status, the error code or the facts of
/// the success, and how the request changes what later requests see.
///
/// What it covers: roles (§2.1) and delivery-group membership (§1.4, D7), the kill switch (§13.8),
/// `Idempotency-Key` (§6, D4, D5), the daily deploy and rollback quotas (§5, D8), the concurrency
/// limit per group and environment (§7, D11), rollback (§4.3, §9) and read scoping (§1.4), in the
/// order REFERENCE §4 gives. A success is judged by its record (new, or which one), kind, state,
/// version, rollback link and `Idempotency-Replayed`, and validate's policy figures. What it
/// leaves out: per-minute rate limits (timing-dependent; a run raises them), stale locks (900 s),
/// the UTC day turning over, a record's `outcome` (§8.3), and everything the policy data decides
/// (routing, recipes, environments), which the run does not change.
struct DifferentialModel {
    /// Versions with a registered build (§4.1 step 13, §4.2 step 12).
    let registeredVersions: Set<String>
    /// The kill switch (§13.8).
    var mutationsDisabled: Bool
    /// The limits in force: the group's guardrails (§5.1, §7).
    var limits: GroupLimits
    /// Deploy and rollback quota units spent today in the group and environment (§5.1).
    var deploymentsUsed: Int
    var rollbacksUsed: Int
    /// Slots held by deployments the model did not make (another run's, still running) (§7).
    let otherSlotHolders: Int
    /// The version of the newest SUCCEEDED deployment made before the attempt: the restore point
    /// of any rollback when no deployment of the attempt qualifies (§9).
    let restorePointBefore: String?
    /// The deployment records the attempt created, in creation order; `#n` in messages is
    /// `records[n - 1]`.
    private(set) var records: [ModelRecord] = []
    /// Stored successful outcomes by idempotency scope (§6: only successes are stored).
    private var stored: [IdempotencyScope: StoredOutcome] = [:]

    /// Keyed deploy and rollback requests made so far, which later steps may send again.
    private(set) var deployKeys: [(identity: Identity, key: String, intent: DeployIntent)] = []
    private(set) var rollbackKeys: [(identity: Identity, key: String, target: Target)] = []
    private var keysIssued = 0
    private var deployRequests = 0

    /// A model of a group and environment as the server reported them at the start of an attempt.
    init(
        registeredVersions: Set<String>, mutationsDisabled: Bool, limits: GroupLimits, deploymentsUsed: Int, rollbacksUsed: Int,
        otherSlotHolders: Int, restorePointBefore: String?
    ) {
        self.registeredVersions = registeredVersions
        self.mutationsDisabled = mutationsDisabled
        self.limits = limits
        self.deploymentsUsed = deploymentsUsed
        self.rollbacksUsed = rollbacksUsed
        self.otherSlotHolders = otherSlotHolders
        self.restorePointBefore = restorePointBefore
    }

    /// Deployments holding a concurrency slot: every ACTIVE or IN_PROGRESS record of the group
    /// and environment (§7).
    var slotsHeld: Int { otherSlotHolders + records.count { $0.state == .inProgress } }

    /// Indexes of the attempt's records still IN_PROGRESS.
    var running: [Int] { records.indices.filter { records[$0].state == .inProgress } }

    /// Whether the `n`-th keyed deploy, or rollback, stored its outcome (a resend replays it).
    func storedDeploy(_ n: Int) -> Bool {
        let (identity, key, _) = deployKeys[n]
        return stored[IdempotencyScope(actor: identity, endpoint: .deploy, key: key)] != nil
    }

    func storedRollback(_ n: Int) -> Bool {
        let (identity, key, target) = rollbackKeys[n]
        guard case .record(let index) = target else { return false }
        return stored[IdempotencyScope(actor: identity, endpoint: .rollback(of: index), key: key)] != nil
    }

    // MARK: Roles (§1.2, §1.4, §2.1)

    /// Validate, deploy and rollback are for DELIVERY_OWNER and PLATFORM_ADMIN (§2.1).
    static func mayDeploy(_ identity: Identity) -> Bool { [.admin, .owner, .nonMemberOwner].contains(identity) }

    /// A PLATFORM_ADMIN is a member of every group; the owner identity is made a member of the
    /// run's group, the non-member is not one (§1.4).
    static func isMember(_ identity: Identity) -> Bool { [.admin, .owner].contains(identity) }

    /// Admin settings and delivery groups are changed by PLATFORM_ADMIN only (§2.7, §2.8).
    static func isAdmin(_ identity: Identity) -> Bool { identity == .admin }

    // MARK: Predictions

    /// What the server must answer to `request`, with the model changed as the request changes
    /// the server.
    mutating func apply(_ request: ModelRequest) -> Expectation {
        switch request {
        case .validate(let identity, let intent): validate(identity, intent)
        case .deploy(let identity, let intent, let key): deploy(identity, intent, key)
        case .rollback(let identity, let target, let key): rollback(identity, target, key)
        case .read(let identity, let target): read(identity, target)
        case .setKillSwitch(let identity, let on): setKillSwitch(identity, on)
        case .setGuardrails(let identity, let limits): setGuardrails(identity, limits)
        case .endExecution(let record, let succeeded): endExecution(record, succeeded)
        }
    }

    /// POST /v1/deployments/validate (§4.1; D7 membership right after the group is resolved).
    private func validate(_ identity: Identity, _ intent: DeployIntent) -> Expectation {
        guard Self.mayDeploy(identity) else { return .refused(403, "ROLE_FORBIDDEN") }  // step 3
        if mutationsDisabled { return .refused(503, "MUTATIONS_DISABLED") }  // step 5
        guard Self.isMember(identity) else { return .refused(403, "DELIVERY_GROUP_SCOPE_REQUIRED") }  // D7
        guard registeredVersions.contains(intent.version) else { return .refused(400, "VERSION_NOT_FOUND") }  // step 13
        // Steps 17 and 18: concurrency before quota; both read the deployments' states.
        if slotsHeld >= limits.maxConcurrentDeployments { return .refused(409, "CONCURRENCY_LIMIT_REACHED", readsEngineState: true) }
        if deploymentsUsed >= limits.dailyDeployQuota { return .refused(429, "QUOTA_EXCEEDED", readsEngineState: true) }
        return Expectation(status: 200, facts: [
            Fact("versionRegistered", "true"),
            Fact("policy.max_concurrent_deployments", String(limits.maxConcurrentDeployments)),
            Fact("policy.current_concurrent_deployments", String(slotsHeld)),
            Fact("policy.daily_deploy_quota", String(limits.dailyDeployQuota)),
            Fact("policy.deployments_used", String(deploymentsUsed)),
            Fact("policy.deployments_remaining", String(limits.dailyDeployQuota - deploymentsUsed)),
        ], readsEngineState: true)
    }

    /// POST /v1/deployments (§4.2; D4 keys per actor, D5 fingerprints, D7 membership, D8 quota
    /// spent only by an accepted deployment).
    private mutating func deploy(_ identity: Identity, _ intent: DeployIntent, _ key: KeyHeader) -> Expectation {
        guard Self.mayDeploy(identity) else { return .refused(403, "ROLE_FORBIDDEN") }  // step 3
        if mutationsDisabled { return .refused(503, "MUTATIONS_DISABLED") }  // step 4
        guard case .key(let key) = key else { return .refused(400, "IDMP_KEY_REQUIRED") }  // step 5
        guard Self.isMember(identity) else { return .refused(403, "DELIVERY_GROUP_SCOPE_REQUIRED") }  // D7
        guard registeredVersions.contains(intent.version) else { return .refused(400, "VERSION_NOT_FOUND") }  // step 12
        let scope = IdempotencyScope(actor: identity, endpoint: .deploy, key: key)
        if let previous = stored[scope] {  // step 14
            guard previous.fingerprint == intent.fingerprint else { return .refused(409, "IDEMPOTENCY_CONFLICT") }
            return .replay(of: previous, header: .exactly("true"))
        }
        if deploymentsUsed >= limits.dailyDeployQuota { return .refused(429, "QUOTA_EXCEEDED") }  // step 16
        if slotsHeld >= limits.maxConcurrentDeployments {  // step 18
            return .refused(409, "CONCURRENCY_LIMIT_REACHED", readsEngineState: true)
        }
        deploymentsUsed += 1
        return create(ModelRecord(kind: .rollForward, version: intent.version, state: .inProgress, rollbackOf: nil), scope: scope,
            fingerprint: intent.fingerprint, header: .exactly("false"))
    }

    /// POST /v1/deployments/{id}/rollback (§4.3, §9; the fingerprint is the path id, D5).
    private mutating func rollback(_ identity: Identity, _ target: Target, _ key: KeyHeader) -> Expectation {
        guard Self.mayDeploy(identity) else { return .refused(403, "ROLE_FORBIDDEN") }  // step 1
        if mutationsDisabled { return .refused(503, "MUTATIONS_DISABLED") }  // step 2
        guard case .key(let key) = key else { return .refused(400, "IDMP_KEY_REQUIRED") }  // step 3
        guard case .record(let index) = target else { return .refused(404, "NOT_FOUND") }  // step 4
        guard records[index].kind != .rollback else { return .refused(400, "ROLLBACK_OF_ROLLBACK") }  // step 5
        guard Self.isMember(identity) else { return .refused(403, "DELIVERY_GROUP_SCOPE_REQUIRED") }  // D7, after the group (step 6)
        let scope = IdempotencyScope(actor: identity, endpoint: .rollback(of: index), key: key)
        // Step 12. §2.5 describes no Idempotency-Replayed header on this path; the model only
        // requires that one, when sent, tells the truth.
        if let previous = stored[scope] { return .replay(of: previous, header: .truthful(replayed: true)) }
        if rollbacksUsed >= limits.dailyRollbackQuota { return .refused(429, "QUOTA_EXCEEDED") }  // step 13
        if slotsHeld >= limits.maxConcurrentDeployments {  // step 15
            return .refused(409, "CONCURRENCY_LIMIT_REACHED", readsEngineState: true)
        }
        // Step 16: the newest SUCCEEDED record created strictly before the target.
        let earlier = records[..<index].lastIndex { $0.state == .succeeded }
        guard let restore = earlier.map({ records[$0].version }) ?? restorePointBefore else {
            return .refused(400, "NO_PRIOR_SUCCESSFUL_VERSION", readsEngineState: true)
        }
        rollbacksUsed += 1
        return create(ModelRecord(kind: .rollback, version: restore, state: .inProgress, rollbackOf: index), scope: scope,
            fingerprint: nil, header: .truthful(replayed: false))
    }

    /// GET /v1/deployments/{id} (§1.4: admins and observers read everything, an owner reads its
    /// groups' deployments, a non-member owner and a CI identity are refused).
    private func read(_ identity: Identity, _ target: Target) -> Expectation {
        guard case .record(let index) = target else { return .refused(404, "NOT_FOUND") }
        guard identity == .observer || Self.isMember(identity) else { return .refused(403, "DELIVERY_GROUP_SCOPE_REQUIRED") }
        return Expectation(status: 200, record: .existing(index), facts: view(of: index), readsEngineState: true)
    }

    /// PUT /v1/admin/system/mutations-disabled: admin only, never blocked by itself (§2.7, §4.5).
    private mutating func setKillSwitch(_ identity: Identity, _ on: Bool) -> Expectation {
        guard Self.isAdmin(identity) else { return .refused(403, "ROLE_FORBIDDEN") }
        mutationsDisabled = on
        return Expectation(status: 200, facts: [Fact("mutations_disabled", String(on))])
    }

    /// PUT /v1/delivery-groups/{id} with new guardrails: admin only, then the kill switch (§4.5).
    private mutating func setGuardrails(_ identity: Identity, _ limits: GroupLimits) -> Expectation {
        guard Self.isAdmin(identity) else { return .refused(403, "ROLE_FORBIDDEN") }
        if mutationsDisabled { return .refused(503, "MUTATIONS_DISABLED") }
        self.limits = limits
        return Expectation(status: 200, facts: [
            Fact("guardrails.max_concurrent_deployments", String(limits.maxConcurrentDeployments)),
            Fact("guardrails.daily_deploy_quota", String(limits.dailyDeployQuota)),
            Fact("guardrails.daily_rollback_quota", String(limits.dailyRollbackQuota)),
        ])
    }

    /// The engine ends a deployment's execution: SUCCEEDED stays SUCCEEDED, TERMINAL becomes
    /// FAILED, and the slot is free (§7, §10.3).
    private mutating func endExecution(_ index: Int, _ succeeded: Bool) -> Expectation {
        records[index].state = succeeded ? .succeeded : .failed
        return Expectation(status: 200, record: .existing(index), facts: [Fact("state", records[index].state.rawValue)])
    }

    /// A new record made by a request under `scope` (which passed the concurrency check, so its
    /// answer depends on the deployments' states), stored for replays (§6).
    private mutating func create(_ record: ModelRecord, scope: IdempotencyScope, fingerprint: String?, header: ReplayHeader) -> Expectation {
        records.append(record)
        let index = records.count - 1
        let outcome = StoredOutcome(record: index, fingerprint: fingerprint, facts: view(of: index))
        stored[scope] = outcome
        return Expectation(status: 201, record: .new(index), facts: outcome.facts, replayed: header, readsEngineState: true)
    }

    /// The facts of record `index` in its public view (§8.1).
    private func view(of index: Int) -> [Fact] {
        let record = records[index]
        return [
            Fact("state", record.state.rawValue), Fact("deploymentKind", record.kind.rawValue), Fact("version", record.version),
            Fact("rollbackOf", record.rollbackOf.map(Self.name) ?? "null"),
        ]
    }

    /// `#n`: how messages name record `index`.
    static func name(_ index: Int) -> String { "#\(index + 1)" }

    // MARK: Resolving steps

    /// The request `step` makes in this state, or nil when it has nothing to act on (an engine
    /// end with nothing running). Steps name records and earlier keys by position, so the same
    /// step means something in any sequence a shrinker leaves.
    mutating func resolve(_ step: DifferentialStep, versions: [String], unregistered: String) -> ModelRequest? {
        switch step {
        case .validate(let identity, let version):
            return .validate(identity, DeployIntent(version: version.resolve(versions, unregistered), changeSummary: "differential validate"))
        case .deploy(let identity, let version, let key):
            deployRequests += 1
            let own = DeployIntent(version: version.resolve(versions, unregistered), changeSummary: "differential deploy \(deployRequests)")
            switch key {
            case .absent: return .deploy(identity, own, .absent)
            case .empty: return .deploy(identity, own, .empty)
            case .reuse(let pick, let body) where !deployKeys.isEmpty:
                let earlier = deployKeys[pick % deployKeys.count]
                return .deploy(identity, earlier.intent.changed(body), .key(earlier.key))
            case .fresh, .reuse:
                let key = issueKey()
                deployKeys.append((identity, key, own))
                return .deploy(identity, own, .key(key))
            }
        case .rollback(let identity, let target, let key):
            let own = resolve(target)
            switch key {
            case .absent: return .rollback(identity, own, .absent)
            case .empty: return .rollback(identity, own, .empty)
            case .reuse(let pick, let sameTarget) where !rollbackKeys.isEmpty:
                let earlier = rollbackKeys[pick % rollbackKeys.count]
                return .rollback(identity, sameTarget ? earlier.target : own, .key(earlier.key))
            case .fresh, .reuse:
                let key = issueKey()
                rollbackKeys.append((identity, key, own))
                return .rollback(identity, own, .key(key))
            }
        case .read(let identity, let target):
            return .read(identity, resolve(target))
        case .killSwitch(let identity, let on):
            return .setKillSwitch(identity, on: on)
        case .guardrails(let identity, let extraSlots, let deployHeadroom, let rollbackHeadroom):
            return .setGuardrails(identity, GroupLimits(
                maxConcurrentDeployments: otherSlotHolders + extraSlots, dailyDeployQuota: max(1, deploymentsUsed + deployHeadroom),
                dailyRollbackQuota: max(1, rollbacksUsed + rollbackHeadroom)))
        case .engineEnd(let pick, let succeeded):
            let running = running
            return running.isEmpty ? nil : .endExecution(record: running[pick % running.count], succeeded: succeeded)
        }
    }

    /// The record a step's target names: the `pick`-th record (cyclically), or an id no record has.
    private func resolve(_ target: TargetChoice) -> Target {
        guard case .record(let pick) = target, !records.isEmpty else { return .unknown }
        return .record(pick % records.count)
    }

    /// A new key of this attempt (the runner adds the attempt's namespace).
    private mutating func issueKey() -> String {
        keysIssued += 1
        return "k\(keysIssued)"
    }
}

/// The limits of the group and environment (§5.1, §7): its guardrails.
struct GroupLimits: Sendable, Equatable {
    var maxConcurrentDeployments: Int
    var dailyDeployQuota: Int
    var dailyRollbackQuota: Int
}

/// A deployment record as the model knows it (§8).
struct ModelRecord: Sendable {
    /// `deploymentKind` (§8.3).
    enum Kind: String, Sendable { case rollForward = "ROLL_FORWARD", rollback = "ROLLBACK" }
    /// `state` (§8.3): new records start IN_PROGRESS; the engine ends them.
    enum State: String, Sendable { case inProgress = "IN_PROGRESS", succeeded = "SUCCEEDED", failed = "FAILED" }

    var kind: Kind
    var version: String
    var state: State
    /// The record a rollback rolls back.
    var rollbackOf: Int?
}

/// The body of validate and deploy (§2.2), for the run's service and environment.
struct DeployIntent: Sendable, Equatable {
    var version: String
    var changeSummary: String

    /// What makes two requests the same (§6): strings trimmed, inner whitespace collapsed.
    var fingerprint: String {
        let summary = changeSummary.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return "\(version)|\(summary)"
    }

    /// This intent sent again: unchanged, with only its whitespace changed (the same request,
    /// §6), or with another change summary (another request).
    func changed(_ body: BodyChoice) -> DeployIntent {
        switch body {
        case .same: self
        case .whitespace: DeployIntent(version: version, changeSummary: "  " + changeSummary.replacingOccurrences(of: " ", with: "   ") + " ")
        case .other: DeployIntent(version: version, changeSummary: changeSummary + " (changed)")
        }
    }
}

/// The `Idempotency-Key` header of a request.
enum KeyHeader: Sendable, Equatable {
    case absent
    case empty
    /// A key, before the runner adds the attempt's namespace.
    case key(String)
}

/// A deployment a request names: one of the attempt's records, or an id no record has.
enum Target: Sendable, Equatable {
    case record(Int)
    case unknown
}

/// A request with everything resolved: what the model judges and the runner sends.
enum ModelRequest: Sendable {
    case validate(Identity, DeployIntent)
    case deploy(Identity, DeployIntent, KeyHeader)
    case rollback(Identity, Target, KeyHeader)
    case read(Identity, Target)
    case setKillSwitch(Identity, on: Bool)
    case setGuardrails(Identity, GroupLimits)
    /// The engine ends record `record`'s execution (through the Gate emulator).
    case endExecution(record: Int, succeeded: Bool)

    /// The idempotency key the request sends, if any.
    var key: String? {
        switch self {
        case .deploy(_, _, .key(let key)), .rollback(_, _, .key(let key)): key
        default: nil
        }
    }
}

/// Where an idempotency record is kept: per actor (D4), method and path, and key (§6).
private struct IdempotencyScope: Hashable {
    enum Endpoint: Hashable {
        case deploy
        case rollback(of: Int)
    }

    var actor: Identity
    var endpoint: Endpoint
    var key: String
}

/// A stored successful answer (§6), replayed to the same key.
private struct StoredOutcome {
    var record: Int
    /// nil for rollback: its path is its fingerprint (D5), already part of the scope.
    var fingerprint: String?
    /// The record's view as first answered.
    var facts: [Fact]
}

/// One fact of a successful answer: a JSON field (dotted for nested ones) and its value as text.
struct Fact: Sendable, Equatable {
    var name: String
    var value: String

    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// What `Idempotency-Replayed` must say.
enum ReplayHeader: Sendable, Equatable {
    /// Not judged.
    case any
    /// Exactly this value (§2.4, §6: `false` first, `true` on a replay).
    case exactly(String)
    /// Absent, or the truth (§2.5: the rollback path need not send it).
    case truthful(replayed: Bool)
}

/// What a record id in an answer must be.
enum RecordExpectation: Sendable, Equatable {
    case none
    /// A record no earlier answer named, which becomes record `n`.
    case new(Int)
    /// Record `n`, already known.
    case existing(Int)
}

/// The model's prediction for one request.
struct Expectation: Sendable {
    var status: Int
    /// The error envelope's code, nil for a success.
    var code: String?
    var record: RecordExpectation = .none
    var facts: [Fact] = []
    var replayed: ReplayHeader = .any
    /// True when the answer depends on the states of deployments (which the engine changes):
    /// the runner then first waits until the server has seen every execution end sent so far.
    var readsEngineState = false

    init(status: Int, code: String? = nil, record: RecordExpectation = .none, facts: [Fact] = [], replayed: ReplayHeader = .any,
        readsEngineState: Bool = false)
    {
        self.status = status
        self.code = code
        self.record = record
        self.facts = facts
        self.replayed = replayed
        self.readsEngineState = readsEngineState
    }

    /// A refusal with `status` and `code`.
    static func refused(_ status: Int, _ code: String, readsEngineState: Bool = false) -> Expectation {
        Expectation(status: status, code: code, readsEngineState: readsEngineState)
    }

    /// The stored answer, replayed (§6).
    fileprivate static func replay(of stored: StoredOutcome, header: ReplayHeader) -> Expectation {
        Expectation(status: 201, record: .existing(stored.record), facts: stored.facts, replayed: header)
    }

    /// `201 #3 (new) state=IN_PROGRESS …` or `409 IDEMPOTENCY_CONFLICT`.
    var summary: String {
        var parts = [String(status)]
        if let code { parts.append(code) }
        switch record {
        case .none: break
        case .new(let index): parts.append("\(DifferentialModel.name(index)) (new)")
        case .existing(let index): parts.append(DifferentialModel.name(index))
        }
        switch replayed {
        case .any: break
        case .exactly(let value): parts.append("Idempotency-Replayed: \(value)")
        case .truthful(let replayed): parts.append("Idempotency-Replayed: \(replayed) or absent")
        }
        parts += facts.map { "\($0.name)=\($0.value)" }
        return parts.joined(separator: " ")
    }
}

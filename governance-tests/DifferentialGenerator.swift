/// Makes a seeded sequence of steps over the run's group and environment. It runs the model
/// alongside, so each step is likely to mean something in the state the steps before it leave:
/// replays of keys that were stored, rollbacks of rollbacks, the kill switch turned off again
/// soon after it went on, engine ends while deployments run.
struct DifferentialGenerator {
    private var random: SplitMix64
    /// Whether engine-end steps may be made (only with a Gate emulator to end executions).
    let engineEnds: Bool
    /// The run's registered versions.
    let versions: [String]
    /// A version without a build.
    let unregistered: String
    /// Engine ends still to make in the current burst: ends come in bursts so that one wait for
    /// the server to see them serves several.
    private var burst = 0

    /// A generator seeded with `seed`.
    init(seed: UInt64, engineEnds: Bool, versions: [String], unregistered: String) {
        random = SplitMix64(seed: seed)
        self.engineEnds = engineEnds
        self.versions = versions
        self.unregistered = unregistered
    }

    /// `count` steps, starting from `model`'s state.
    mutating func steps(_ count: Int, from model: DifferentialModel) -> [DifferentialStep] {
        var model = model
        var steps: [DifferentialStep] = []
        steps.reserveCapacity(count)
        while steps.count < count {
            let step = next(model)
            if let request = model.resolve(step, versions: versions, unregistered: unregistered) { _ = model.apply(request) }
            steps.append(step)
        }
        return steps
    }

    /// One step for `model`'s state.
    private mutating func next(_ model: DifferentialModel) -> DifferentialStep {
        let running = model.running.count
        if burst > 0, running > 0 {
            burst -= 1
            return .engineEnd(pick: int(running), succeeded: chance(0.65))
        }
        if model.mutationsDisabled, chance(0.35) { return .killSwitch(admin(0.9), on: false) }
        // Ends are rare, likelier while every slot is taken, and mostly end everything running:
        // each burst costs a wait of about one engine poll on the server.
        let full = model.slotsHeld >= model.limits.maxConcurrentDeployments
        if engineEnds, running > 0, chance(full ? 1.0 / 120 : 1.0 / 400) {
            burst = chance(0.5) ? running - 1 : int(running)
            return .engineEnd(pick: int(running), succeeded: chance(0.65))
        }
        switch int(100) {
        case ..<12: return .validate(deployer(), version())
        case ..<50: return .deploy(deployer(), version(), deployKey(model))
        case ..<62: return rollback(model)
        case ..<88: return read(model)
        case ..<92: return .killSwitch(admin(0.9), on: chance(0.85) ? !model.mutationsDisabled : model.mutationsDisabled)
        default:
            return .guardrails(admin(0.92), extraSlots: 1 + int(5), deployHeadroom: pick([0, 1, 2, 3, 5, 8, 20]),
                rollbackHeadroom: pick([0, 1, 2, 4, 10]))
        }
    }

    /// Who validates, deploys or rolls back: mostly those allowed to, sometimes those who are not.
    private mutating func deployer() -> Identity {
        switch int(100) {
        case ..<50: .owner
        case ..<70: .admin
        case ..<82: .nonMemberOwner
        case ..<91: .observer
        default: .ci
        }
    }

    /// The admin with probability `p`, another identity otherwise.
    private mutating func admin(_ p: Double) -> Identity {
        chance(p) ? .admin : pick([.owner, .nonMemberOwner, .observer, .ci])
    }

    private mutating func version() -> VersionChoice {
        chance(0.05) ? .unregistered : .registered(int(versions.count))
    }

    private mutating func deployKey(_ model: DifferentialModel) -> DeployKeyChoice {
        let earlier = model.deployKeys.count
        switch int(100) {
        case ..<7: return .absent
        case ..<15: return .empty
        case ..<48 where earlier > 0:
            // Mostly a key whose outcome was stored, so that the resend replays or conflicts.
            let stored = (0..<earlier).filter(model.storedDeploy)
            let resent = stored.isEmpty || chance(0.3) ? recent(earlier) : stored[recent(stored.count)]
            return .reuse(pick: resent, body: pick([.same, .same, .same, .whitespace, .other, .other]))
        default: return .fresh
        }
    }

    private mutating func rollback(_ model: DifferentialModel) -> DifferentialStep {
        let identity = deployer()
        let forwards = model.records.indices.filter { model.records[$0].kind == .rollForward }
        let rollbacks = model.records.indices.filter { model.records[$0].kind == .rollback }
        let target: TargetChoice
        switch int(100) {
        case ..<12: target = .unknown
        case ..<24 where !rollbacks.isEmpty: target = .record(rollbacks[recent(rollbacks.count)])
        default: target = forwards.isEmpty ? .unknown : .record(forwards[recent(forwards.count)])
        }
        let earlier = model.rollbackKeys.count
        let key: RollbackKeyChoice
        switch int(100) {
        case ..<7: key = .absent
        case ..<15: key = .empty
        case ..<35 where earlier > 0:
            let stored = (0..<earlier).filter(model.storedRollback)
            key = .reuse(pick: stored.isEmpty || chance(0.3) ? recent(earlier) : stored[recent(stored.count)], sameTarget: chance(0.75))
        default: key = .fresh
        }
        return .rollback(identity, target, key)
    }

    private mutating func read(_ model: DifferentialModel) -> DifferentialStep {
        let identity: Identity = pick([.owner, .owner, .admin, .observer, .observer, .nonMemberOwner, .nonMemberOwner, .ci])
        // An unknown id is read by those the contract answers 404 (a CI identity's answer is not specified).
        if model.records.isEmpty || chance(0.07) { return .read(identity == .ci ? .owner : identity, .unknown) }
        return .read(identity, .record(int(model.records.count)))
    }

    /// An index among the last ten of `count`: recent records and keys are the interesting ones.
    private mutating func recent(_ count: Int) -> Int { count - 1 - int(min(count, 10)) }

    private mutating func int(_ bound: Int) -> Int { Int(random.next() % UInt64(max(bound, 1))) }

    private mutating func chance(_ p: Double) -> Bool { Double(random.next() >> 11) / Double(1 << 53) < p }

    private mutating func pick<T>(_ choices: [T]) -> T { choices[int(choices.count)] }
}

/// SplitMix64: a small, fast, seedable generator, so a seed names one sequence on every platform.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E509
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One step of a differential sequence, as the generator makes it and the shrinker removes it.
/// Records and earlier keys are named by position (`pick`) and resolved against the model's state
/// when the step runs (`DifferentialModel.resolve`), so every subsequence is still runnable.
enum DifferentialStep: Sendable, Equatable {
    case validate(Identity, VersionChoice)
    case deploy(Identity, VersionChoice, DeployKeyChoice)
    case rollback(Identity, TargetChoice, RollbackKeyChoice)
    /// GET /v1/deployments/{id}.
    case read(Identity, TargetChoice)
    /// Turns the kill switch on or off.
    case killSwitch(Identity, on: Bool)
    /// Sets the group's guardrails: `extraSlots` slots beyond those other deployments hold, and
    /// daily quotas `deployHeadroom` / `rollbackHeadroom` units above what is used (at least 1).
    case guardrails(Identity, extraSlots: Int, deployHeadroom: Int, rollbackHeadroom: Int)
    /// The engine ends the `pick`-th running deployment (cyclically), SUCCEEDED or TERMINAL.
    case engineEnd(pick: Int, succeeded: Bool)

    /// The kinds counted in a run's summary.
    enum Kind: String, CaseIterable, Sendable {
        case validate, deploy, rollback, read
        case killSwitch = "kill_switch"
        case guardrails
        case engineEnd = "engine_end"
    }

    /// This step's kind.
    var kind: Kind {
        switch self {
        case .validate: .validate
        case .deploy: .deploy
        case .rollback: .rollback
        case .read: .read
        case .killSwitch: .killSwitch
        case .guardrails: .guardrails
        case .engineEnd: .engineEnd
        }
    }
}

/// The version a validate or deploy names.
enum VersionChoice: Sendable, Equatable {
    /// The `n`-th registered version of the run (cyclically).
    case registered(Int)
    /// A version no build was registered for.
    case unregistered

    /// The version itself.
    func resolve(_ registered: [String], _ unregistered: String) -> String {
        guard case .registered(let n) = self, !registered.isEmpty else { return unregistered }
        return registered[n % registered.count]
    }
}

/// The `Idempotency-Key` of a deploy.
enum DeployKeyChoice: Sendable, Equatable {
    /// A key never sent before.
    case fresh
    /// The key of the `pick`-th keyed deploy so far (cyclically; a fresh key when there is none),
    /// with that request's body changed as `body` says.
    case reuse(pick: Int, body: BodyChoice)
    case absent
    case empty
}

/// How a deploy sent again under an earlier key changes the earlier body.
enum BodyChoice: Sendable, Equatable {
    case same
    /// Only whitespace in the change summary: the same request (REFERENCE §6).
    case whitespace
    /// Another change summary: another request.
    case other
}

/// The `Idempotency-Key` of a rollback.
enum RollbackKeyChoice: Sendable, Equatable {
    case fresh
    /// The key of the `pick`-th keyed rollback so far, on that rollback's target or on this step's.
    case reuse(pick: Int, sameTarget: Bool)
    case absent
    case empty
}

/// The deployment a rollback or read names.
enum TargetChoice: Sendable, Equatable {
    /// The `pick`-th record of the attempt (cyclically; an unknown id when there is none).
    case record(Int)
    /// An id no deployment has.
    case unknown
}

/// The single entry point of the rules: request + principal + policy + state + context → Decision.
///
/// Pure: no I/O, no clock, no randomness, no globals. The same inputs give an equal decision.
/// A denial is a decision, never a thrown error.
public enum Evaluator {
    /// Decides `request` made by `principal`.
    ///
    /// - Parameters:
    ///   - request: what is asked.
    ///   - principal: the verified caller.
    ///   - policy: policy data and settings at this moment.
    ///   - state: counters and records, as the transaction this decision commits in sees them.
    ///   - context: time, fresh ids, the idempotency key and facts gathered outside.
    public static func evaluate(
        _ request: Request, by principal: Principal, policy: PolicySnapshot, state: some StateView,
        context: DecisionContext
    ) -> Decision {
        let inputs = Inputs(principal: principal, policy: policy, context: context, endpoint: request.endpoint)
        var trail = Trail()
        do throws(Denial) {
            let allowed: Allowed = switch request {
            case .validate(let intent): try validate(intent, inputs, state, &trail)
            case .deploy(let intent): try deploy(intent, inputs, state, &trail)
            case .rollback(let id): try rollback(id, inputs, state, &trail)
            case .validatePromotion(let intent): try validatePromotion(intent, inputs, state, &trail)
            case .promote(let intent): try promote(intent, inputs, state, &trail)
            case .policySummary(let query): try policySummary(query, inputs, state, &trail)
            case .readDeployment(let id, let view): try readDeployment(id, view: view, inputs, state, &trail)
            case .listDeployments(let query): try listDeployments(query, inputs, state, &trail)
            case .read(let read): try catalog(read, inputs, state, &trail)
            case .changePolicy(let change): try changePolicy(change, inputs, state, &trail)
            case .uploadCapability(let body): try uploadCapability(body, inputs, state, &trail)
            case .registerBuild(let body): try registerBuild(body, withCapability: true, inputs, state, &trail)
            case .registerExistingBuild(let body): try registerBuild(body, withCapability: false, inputs, state, &trail)
            case .setRateLimits(let change): try setRateLimits(change, inputs, state, &trail)
            case .setCIPublishers(let publishers): try setCIPublishers(publishers, inputs, state, &trail)
            case .setMutationsDisabled(let change): try setMutationsDisabled(change, inputs, state, &trail)
            case .setUIExposure(let policy): try setUIExposure(policy, inputs, state, &trail)
            case .spinnakerCheck(let execution): try spinnaker(execution, admit: false, inputs, state, &trail)
            case .spinnakerAdmit(let execution): try spinnaker(execution, admit: true, inputs, state, &trail)
            case .gateway(let check): try gateway(check, inputs, state, &trail)
            }
            return Decision(
                decisionId: context.decisionId, contractVersion: governanceContractVersion, action: request.action,
                allowed: true, status: allowed.status, code: nil, message: "allowed", operatorHint: nil, details: nil,
                trail: trail.checks, effects: trail.effects, result: allowed.result, replayed: allowed.replayed)
        } catch {
            if let note = deniedAuditNote(request, error, inputs, trail.subject) {
                // A flood of rate-limit refusals costs one audit entry per actor and minute.
                trail.effects.append(error.code == .rateLimited ? .auditRefusal(note, code: error.code, minute: context.now.minute) : .audit(note))
            }
            return Decision(
                decisionId: context.decisionId, contractVersion: governanceContractVersion, action: request.action,
                allowed: false, status: error.status, code: error.code, message: error.message,
                operatorHint: error.hint, details: error.details, trail: trail.checks, effects: trail.effects,
                result: nil, replayed: false)
        }
    }

    /// Roles that may validate, deploy and roll back (contract §1).
    static let deployers: Set<Role> = [.deliveryOwner, .platformAdmin]
}

/// The fixed inputs of one evaluation.
struct Inputs {
    let principal: Principal
    let policy: PolicySnapshot
    let context: DecisionContext
    let endpoint: String

    var settings: Settings { policy.settings }
    /// The caller's role, for checks after `role_recognised` passed (which refuses a principal
    /// without one); observer otherwise, the least a read can be.
    var role: Role { principal.role ?? .observer }
    var now: Timestamp { context.now }
}

/// What an allowed pipeline returns.
struct Allowed {
    var status: Int
    var result: DecisionResult
    var replayed = false
}

/// The service, group and environment a decision concerns, as far as its checks got; used to
/// fill in the audit entry of a denial.
struct Subject {
    var service: String?
    var groupId: String?
    var environment: String?
    var targetId: String?
}

/// The trail of a decision under construction: checks in order, and effects collected so far.
struct Trail {
    var checks: [CheckResult] = []
    var effects: [Effect] = []
    var subject = Subject()

    init() {
        checks.reserveCapacity(24)
        effects.reserveCapacity(8)
    }

    /// Runs one named check, records its outcome, and returns its value or rethrows its denial.
    @inline(__always)
    mutating func check<T>(_ name: CheckName, _ body: () throws(Denial) -> T) throws(Denial) -> T {
        do {
            let value = try body()
            checks.append(CheckResult(name, .passed))
            return value
        } catch {
            checks.append(CheckResult(name, .failed(error.code)))
            throw error
        }
    }

    /// Records a check that does not apply to this request.
    mutating func skip(_ name: CheckName) {
        checks.append(CheckResult(name, .skipped))
    }
}

/// Guarantees a server can be told to break on purpose, so the conformance suite's own tests can
/// show that the suite notices (docs/DECISIONS.md 43). Off unless `serve` is started with
/// `DXCP_TEST_FAULTS`; never for production use.
public struct TestFaults: OptionSet, Sendable, Hashable, Codable {
    public let rawValue: Int

    /// A fault set from its bits.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Mutations and validate are decided as if the kill switch were off (its own GET and PUT still work).
    public static let killSwitchIgnored = TestFaults(rawValue: 1 << 0)
    /// Every `Idempotency-Key` is treated as new: no replay, no conflict.
    public static let idempotencyIgnored = TestFaults(rawValue: 1 << 1)
    /// Per-actor minute limits never refuse (the rate-limit settings still read and change).
    public static let rateLimitsIgnored = TestFaults(rawValue: 1 << 2)

    /// The names `DXCP_TEST_FAULTS` accepts, comma-separated.
    public static let names: [String: TestFaults] = [
        "kill-switch-ignored": .killSwitchIgnored, "idempotency-ignored": .idempotencyIgnored, "rate-limits-ignored": .rateLimitsIgnored,
    ]

    /// Parses `kill-switch-ignored,idempotency-ignored`; nil when a name is unknown.
    public init?(names text: String) {
        var faults: TestFaults = []
        for name in text.split(separator: ",") {
            guard let fault = Self.names[String(name).trimmingSpaces] else { return nil }
            faults.insert(fault)
        }
        self = faults
    }
}

extension Evaluator {
    /// Evaluates with `faults` applied: the evaluation sees the faulty inputs, and settings it
    /// writes back keep their real values, so a fault never changes what is stored.
    static func evaluate(
        _ request: Request, by principal: Principal, policy: PolicySnapshot, state: some StateView,
        context: DecisionContext, faults: TestFaults
    ) -> Decision {
        var context = context
        context.testFaults = nil
        var faulty = policy
        var ignoreKillSwitch = false
        var ignoreRates = false
        if faults.contains(.killSwitchIgnored), request.isMutating || request.action == .validate {
            if case .setMutationsDisabled = request {} else {
                faulty.settings.mutationsDisabled = false
                ignoreKillSwitch = true
            }
        }
        if faults.contains(.rateLimitsIgnored) {
            switch request {
            case .setRateLimits, .read(.rateLimits): break
            default:
                faulty.settings.readRPM = Int(Int32.max)
                faulty.settings.mutateRPM = Int(Int32.max)
                ignoreRates = true
            }
        }
        if faults.contains(.idempotencyIgnored), let key = context.idempotencyKey, !key.isEmpty {
            context.idempotencyKey = key + "#" + context.decisionId
        }
        var decision = evaluate(request, by: principal, policy: faulty, state: state, context: context)
        func real(_ settings: inout Settings) {
            if ignoreKillSwitch { settings.mutationsDisabled = policy.settings.mutationsDisabled }
            if ignoreRates {
                settings.readRPM = policy.settings.readRPM
                settings.mutateRPM = policy.settings.mutateRPM
            }
        }
        decision.effects = decision.effects.map { effect in
            switch effect {
            case .putSettings(var settings):
                real(&settings)
                return .putSettings(settings)
            case .putPolicy(var snapshot):
                real(&snapshot.settings)
                return .putPolicy(snapshot)
            default:
                return effect
            }
        }
        return decision
    }
}

extension String {
    /// Without leading and trailing spaces.
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

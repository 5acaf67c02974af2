public import Rules

/// Validate's engine readiness preflight, shared: one probe at a time, its result reused for a
/// short time, so a validate under load does not cost a call to Gate each, and a Gate that is down
/// does not make every validate wait through the retries.
public actor ReadinessProbe {
    private let gate: GateClient
    private let lifetime: Duration
    private var cached: (result: EngineReadiness, at: ContinuousClock.Instant)?
    private var inFlight: Task<EngineReadiness, Never>?

    /// A probe of `gate` whose results are reused for `lifetime` (2 s by default).
    public init(gate: GateClient, lifetime: Duration = .seconds(2)) {
        self.gate = gate
        self.lifetime = lifetime
    }

    /// The engine's readiness: cached when fresh, else from the probe in flight or a new one.
    public func readiness(requestId: String) async -> EngineReadiness {
        if let cached, ContinuousClock.now - cached.at < lifetime { return cached.result }
        if let inFlight { return await inFlight.value }
        let gate = self.gate
        let task = Task { await gate.readiness(requestId: requestId) }
        inFlight = task
        let result = await task.value
        cached = (result, ContinuousClock.now)
        inFlight = nil
        return result
    }
}

public import Rules
import Synchronization

/// Validate's engine readiness preflight, shared: one probe at a time, its result reused for a
/// short time, so a validate under load does not cost a call to Gate each, and a Gate that is down
/// does not make every validate wait through the retries. A fresh result is read under a lock,
/// without suspending: this runs on every validate.
public final class ReadinessProbe: Sendable {
    private struct State {
        var cached: (result: EngineReadiness, at: ContinuousClock.Instant)?
        var inFlight: Task<EngineReadiness, Never>?
    }

    private enum Next {
        case fresh(EngineReadiness)
        case wait(Task<EngineReadiness, Never>)
    }

    private let gate: GateClient
    private let lifetime: Duration
    private let state = Mutex(State())

    /// A probe of `gate` whose results are reused for `lifetime` (2 s by default).
    public init(gate: GateClient, lifetime: Duration = .seconds(2)) {
        self.gate = gate
        self.lifetime = lifetime
    }

    /// The engine's readiness: cached when fresh, else from the probe in flight or a new one.
    public func readiness(requestId: String) async -> EngineReadiness {
        let now = ContinuousClock.now
        let next = state.withLock { state -> Next in
            if let cached = state.cached, now - cached.at < lifetime { return .fresh(cached.result) }
            if let inFlight = state.inFlight { return .wait(inFlight) }
            let task = Task { [gate, self] in
                let result = await gate.readiness(requestId: requestId)
                self.state.withLock { $0 = State(cached: (result, ContinuousClock.now), inFlight: nil) }
                return result
            }
            state.inFlight = task
            return .wait(task)
        }
        switch next {
        case .fresh(let result): return result
        case .wait(let task): return await task.value
        }
    }
}

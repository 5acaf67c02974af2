import Synchronization

/// Work under way, by id, and a way to wait until none is left: a dispatcher's live dispatches
/// (which the reconciler leaves alone), a poller pass's queued writes.
final class InFlight: Sendable {
    private struct State {
        var ids: Set<String> = []
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func begin(_ id: String) { state.withLock { _ = $0.ids.insert(id) } }

    func contains(_ id: String) -> Bool { state.withLock { $0.ids.contains(id) } }

    func end(_ id: String) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.ids.remove(id)
            guard state.ids.isEmpty else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    /// Returns once nothing is under way.
    func settled() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state in
                if state.ids.isEmpty { return true }
                state.waiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}

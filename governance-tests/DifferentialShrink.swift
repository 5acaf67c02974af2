extension DifferentialRun {
    /// At most this many re-runs, and about this much time, are spent on shrinking one divergence.
    static let shrinkBudget = 300
    static let shrinkTime: Duration = .seconds(120)

    /// The shortest sequence found that still diverges, with its attempt's result; nil when
    /// `diverging` itself does not diverge again from a fresh start.
    ///
    /// Delta debugging (ddmin, complements only): remove chunks of the sequence, halving the
    /// chunk size down to single steps; keep any candidate that still shows a divergence (cut
    /// after its first one). Every candidate runs as a new attempt from a fresh start, so what it
    /// shows does not depend on the candidates before it.
    func shrink(_ diverging: [DifferentialStep]) async throws -> (steps: [DifferentialStep], result: AttemptResult)? {
        let budgetEnd = attempts + Self.shrinkBudget
        let deadline = ContinuousClock.now + Self.shrinkTime
        var withinBudget: Bool { attempts < budgetEnd && ContinuousClock.now < deadline }
        let first = try await attempt(diverging)
        guard let divergence = first.divergence else { return nil }
        var best = (steps: Array(diverging[...divergence]), result: first)
        var parts = 2
        while best.steps.count > 1, withinBudget {
            let chunk = (best.steps.count + parts - 1) / parts
            var reduced = false
            for start in stride(from: 0, to: best.steps.count, by: chunk) where withinBudget {
                var candidate = best.steps
                candidate.removeSubrange(start..<min(start + chunk, candidate.count))
                guard !candidate.isEmpty else { continue }
                let result = try await attempt(candidate)
                if let divergence = result.divergence {
                    best = (Array(candidate[...divergence]), result)
                    parts = max(parts - 1, 2)
                    reduced = true
                    break
                }
            }
            if !reduced {
                guard parts < best.steps.count else { break }
                parts = min(parts * 2, best.steps.count)
            }
        }
        return best
    }
}

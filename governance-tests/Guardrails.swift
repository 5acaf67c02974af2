import ArgumentParser

/// Whether the suite pushes limits (REFERENCE §12.4).
enum Guardrails: String, Sendable, ExpressibleByArgument, CaseIterable {
    /// Shape checks only: nothing is pushed to its limit.
    case safe
    /// Also the bounded quota, concurrency and rate probes, with temporary limits restored after.
    case active
}

import ArgumentParser

/// How strictly a run is judged (REFERENCE §12.4).
enum Profile: String, Sendable, ExpressibleByArgument, CaseIterable {
    /// Every check must run and pass; a check that cannot run fails.
    case strict
    /// Missing prerequisites and engine outages skip with a reason; only CONTRACT failures fail the run.
    case diagnostic
}

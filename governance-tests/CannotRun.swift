/// A check could not run (a prerequisite is missing): a failure in `strict`, a skip in `diagnostic`.
struct CannotRun: Error, CustomStringConvertible {
    /// Why it could not run.
    let reason: String

    /// A check that cannot run because of `reason`.
    init(_ reason: String) { self.reason = reason }

    var description: String { reason }
}

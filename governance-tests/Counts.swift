/// How many checks ended how.
struct Counts: Sendable {
    var total: Int
    var passed: Int
    var failed: Int
    var skipped: Int
    /// CONTRACT checks that failed.
    var requiredFailed: Int
    /// CONTRACT checks skipped (diagnostic profile only).
    var requiredSkipped: Int
}

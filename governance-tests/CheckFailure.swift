/// A check found the API wrong: the check fails with this message.
struct CheckFailure: Error, CustomStringConvertible {
    /// What was wrong, with the request that showed it.
    let message: String

    /// A failure saying `message`.
    init(_ message: String) { self.message = message }

    var description: String { message }
}

/// Fails with `message` unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(CheckFailure) {
    if !condition { throw CheckFailure(message()) }
}

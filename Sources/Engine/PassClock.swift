import Rules

/// A background pass's clock: the time the pass was given, advanced by the time since it began,
/// so that what a long pass writes is stamped when it is written.
struct PassClock: Sendable {
    let start: Timestamp
    let began = ContinuousClock.now

    init(_ start: Timestamp) { self.start = start }

    func current() -> Timestamp {
        Timestamp(microseconds: start.microseconds + Int64((ContinuousClock.now - began) / .microseconds(1)))
    }
}

import Testing
@testable import Rules

/// The record time format (REFERENCE §13.9): `YYYY-MM-DDTHH:MM:SS.ffffffZ`, written and read back.
@Suite struct TimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000Z"),
        (951_782_400_000_001, "2000-02-29T00:00:00.000001Z"),
        (1_795_651_199_999_999, "2026-11-25T23:59:59.999999Z"),
        (253_402_300_799_000_000, "9999-12-31T23:59:59.000000Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
    ])
    func formatsAndParsesBack(microseconds: Int64, text: String) {
        let time = Timestamp(microseconds: microseconds)
        #expect(time.iso8601 == text)
        #expect(Timestamp(iso8601: text) == time)
    }

    /// No input traps the time arithmetic: past what microseconds hold, it saturates (DECISIONS 59).
    @Test func arithmeticSaturatesInsteadOfTrapping() {
        let now = Timestamp(seconds: 1_796_083_200)
        #expect(Timestamp(seconds: .max) == Timestamp(microseconds: .max))
        #expect(Timestamp(seconds: .min) == Timestamp(microseconds: .min))
        #expect(now.adding(seconds: 9_300_000_000_000) == Timestamp(microseconds: .max))
        #expect(now.adding(seconds: -9_300_000_000_000) < Timestamp(seconds: -9_000_000_000_000))
        #expect(Timestamp(microseconds: .max).adding(seconds: 1) == Timestamp(microseconds: .max))
        #expect(Timestamp(microseconds: .min).adding(seconds: -1) == Timestamp(microseconds: .min))
        #expect(now.adding(seconds: -60).adding(seconds: 60) == now)
        #expect(now.subtracting(seconds: 60) == now.adding(seconds: -60))
        #expect(now.subtracting(seconds: .min) == Timestamp(microseconds: .max), "Int64.min has no negation; it saturates")
        #expect(now.subtracting(seconds: .max) < Timestamp(seconds: -9_000_000_000_000))
        for extreme in [Timestamp(microseconds: .max), Timestamp(microseconds: .min)] {
            #expect(!extreme.iso8601.isEmpty)
            _ = (extreme.day, extreme.minute, extreme.seconds)
        }
    }
}

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
}

/// A point in time: microseconds since 1970-01-01T00:00:00Z.
///
/// Time is an input to the rules, never read by them. Keeping it an integer makes decisions
/// reproducible byte for byte and day and minute windows plain arithmetic.
public struct Timestamp: Sendable, Hashable, Comparable, Codable {
    /// Microseconds since the Unix epoch, UTC.
    public var microseconds: Int64

    /// A timestamp from microseconds since the epoch.
    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// A timestamp from whole seconds since the epoch. Beyond what microseconds can hold (about
    /// ±292,000 years) it saturates: no input, however large, can trap the arithmetic.
    public init(seconds: Int64) { self.microseconds = Self.saturating(seconds, times: 1_000_000) }

    /// Whole seconds since the epoch.
    public var seconds: Int64 { microseconds.floorDiv(1_000_000) }

    /// The UTC day number (days since the epoch): the window of the daily quotas.
    public var day: Int64 { microseconds.floorDiv(86_400_000_000) }

    /// The minute number since the epoch: the window of the per-actor rate limits.
    public var minute: Int64 { microseconds.floorDiv(60_000_000) }

    /// Hours since the epoch (UTC), floored.
    public var hour: Int64 { microseconds.floorDiv(3_600_000_000) }

    /// This time moved by `seconds`, saturating at the ends of the representable range.
    public func adding(seconds: Int64) -> Timestamp {
        let delta = Self.saturating(seconds, times: 1_000_000)
        let (sum, overflow) = microseconds.addingReportingOverflow(delta)
        return Timestamp(microseconds: overflow ? (delta > 0 ? .max : .min) : sum)
    }

    /// This instant less `seconds`, saturating like ``adding(seconds:)`` (`Int64.min` seconds
    /// included, which has no negation).
    public func subtracting(seconds: Int64) -> Timestamp {
        adding(seconds: seconds == .min ? .max : -seconds)
    }

    /// `value × factor`, or the nearest end of Int64 when that overflows.
    static func saturating(_ value: Int64, times factor: Int64) -> Int64 {
        let (product, overflow) = value.multipliedReportingOverflow(by: factor)
        guard overflow else { return product }
        return (value < 0) == (factor < 0) ? .max : .min
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the record format of the contract (REFERENCE §13.9).
    public var iso8601: String {
        let (y, m, d) = Self.civil(fromDays: day)
        let secondsOfDay = seconds - day * 86_400
        // The fraction, as a remainder: `seconds * 1_000_000` overflows at the ends of the range.
        let micros = (microseconds % 1_000_000 + 1_000_000) % 1_000_000
        guard (0...9999).contains(y) else {
            return "\(Self.pad(y, 4))-\(Self.pad(m, 2))-\(Self.pad(d, 2))T"
                + "\(Self.pad(secondsOfDay / 3600, 2)):\(Self.pad(secondsOfDay / 60 % 60, 2)):"
                + "\(Self.pad(secondsOfDay % 60, 2)).\(Self.pad(micros, 6))Z"
        }
        // Written digit by digit: every record and report carries one, on the hot path.
        return String(unsafeUninitializedCapacity: 27) { buffer in
            func put(_ value: Int64, _ width: Int, at offset: Int) {
                var v = value
                for i in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[i] = UInt8(truncatingIfNeeded: 48 + v % 10)
                    v /= 10
                }
            }
            put(y, 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(m, 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(d, 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(secondsOfDay / 3600, 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(secondsOfDay / 60 % 60, 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(secondsOfDay % 60, 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(micros, 6, at: 20)
            buffer[26] = UInt8(ascii: "Z")
            return 27
        }
    }

    /// `YYYY-MM-DD` of the UTC day.
    public var dayString: String {
        let (y, m, d) = Self.civil(fromDays: day)
        return "\(Self.pad(y, 4))-\(Self.pad(m, 2))-\(Self.pad(d, 2))"
    }

    /// Parses an ISO-8601 date-time with a `Z` or `±HH:MM` offset and optional fraction
    /// (up to microseconds), as CI systems send `built_at`. Returns nil for anything else.
    public init?(iso8601 text: String) {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard b.count >= 19, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116 || b[10] == 32,
            b[13] == 58, b[16] == 58,
            let year = num(0, 4), let month = num(5, 2), let dayOfMonth = num(8, 2),
            let hour = num(11, 2), let minute = num(14, 2), let second = num(17, 2),
            (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(dayOfMonth),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var i = 19
        var micros: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            // Digits past the sixth were dropped above (microsecond precision).
            if digits < 6 {
                for _ in digits..<6 { micros *= 10 }
            }
        }
        var offsetSeconds: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), b.count > i + 3, b[i + 3] == 58,
            let om = num(i + 4, 2), oh < 24, om < 60
        {
            offsetSeconds = (oh * 3600 + om * 60) * (b[i] == 45 ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = Self.days(fromCivil: year, month, dayOfMonth)
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        self.microseconds = secs * 1_000_000 + micros
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days algorithms.
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

extension Int64 {
    fileprivate func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}

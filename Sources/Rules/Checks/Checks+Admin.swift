extension Checks {
    /// REFERENCE §2.7: rate limits are integers in 1...5000 (read, mutate) and 0...5000 (daily
    /// build registrations), as ``PolicyBounds`` says → else 400 `INVALID_REQUEST` naming the field.
    static func rateLimitsValid(_ change: RateLimitsChange) throws(Denial) {
        for (field, value, bounds) in [
            ("read_rpm", change.readRPM, PolicyBounds.rate), ("mutate_rpm", change.mutateRPM, PolicyBounds.rate),
            ("daily_quota_build_register", change.dailyQuotaBuildRegister, PolicyBounds.actorDailyQuota),
        ] where !bounds.contains(value) {
            throw Denial(
                .invalidRequest, "Invalid request", hint: "\(field) must be in \(bounds.lowerBound)...\(bounds.upperBound)",
                details: ["field": .string(field)])
        }
    }

    /// REFERENCE §1.5: publishers have unique, non-empty names → else 400 `INVALID_REQUEST`.
    static func ciPublishersValid(_ publishers: [CIPublisher]) throws(Denial) {
        var seen = Set<String>()
        for publisher in publishers {
            let name = trimmed(publisher.name)
            guard !name.isEmpty else {
                throw Denial(.invalidRequest, "Invalid request", hint: "publisher name is empty", details: ["field": .string("publishers.name")])
            }
            guard seen.insert(name).inserted else {
                throw Denial(.invalidRequest, "Invalid request", hint: "duplicate publisher name \(name)", details: ["field": .string("publishers.name")])
            }
        }
    }
}

extension Checks {
    /// §2.2: the deployment intent respects the contract's field limits → else 400
    /// `INVALID_REQUEST` naming the field. (Types and presence are enforced by the decoder.)
    static func intentWellFormed(service: String, environment: String, version: String, changeSummary: String?) throws(Denial) {
        let invalid = "Invalid request"
        if service.isEmpty { throw Denial(.invalidRequest, invalid, details: ["field": .string("service")]) }
        if version.isEmpty { throw Denial(.invalidRequest, invalid, details: ["field": .string("version")]) }
        if let changeSummary, changeSummary.utf8.count > 240, changeSummary.count > 240 {
            throw Denial(.invalidRequest, invalid, hint: "changeSummary exceeds 240 characters", details: ["field": .string("changeSummary")])
        }
    }

    /// §4.3 / REFERENCE §5: per-actor requests per minute (read and mutate counted apart)
    /// → else 429 `RATE_LIMITED`. Returns the window to count the request in.
    static func rateLimit(_ state: some StateView, actor: String, bucket: RateWindow.Bucket, limit: Int, now: Timestamp) throws(Denial) -> RateWindow {
        let window = RateWindow(actorId: actor, bucket: bucket, minute: now.minute)
        guard state.rateCount(window) < limit else {
            throw Denial(
                .rateLimited, "Rate limit exceeded. Try again shortly or contact a platform admin.",
                hint: "\(bucket.rawValue)_rpm=\(limit)")
        }
        return window
    }

    /// §8: the kill switch is off → else 503 `MUTATIONS_DISABLED`.
    static func killSwitchOff(_ settings: Settings) throws(Denial) {
        guard !settings.mutationsDisabled else {
            throw Denial(.mutationsDisabled, "Mutations are disabled by the platform kill switch")
        }
    }

    /// §3.2: a non-empty `Idempotency-Key` is sent → else 400 `IDMP_KEY_REQUIRED`.
    static func idempotencyKeyPresent(_ key: String?) throws(Denial) -> String {
        guard let key, !key.isEmpty else {
            throw Denial(.idempotencyKeyRequired, "Idempotency-Key header is required")
        }
        return key
    }

    /// What an idempotency lookup found.
    enum IdempotencyLookup {
        /// First use of the key (or its record expired).
        case fresh
        /// The key completed earlier with this response.
        case replay(StoredResponse)
    }

    /// §3.2 + DECISIONS D4–D6: a key reused with a different request → 409 (`conflictCode`); a key
    /// whose first request is still in flight → 409 `IDEMPOTENCY_CONFLICT`; a completed key
    /// replays its response.
    static func idempotencyReplay(
        _ state: some StateView, _ scope: IdempotencyScope, fingerprint: String, now: Timestamp,
        conflictCode: ContractCode = .idempotencyConflict
    ) throws(Denial) -> IdempotencyLookup {
        // A key still in flight never expires: its reservation awaits the engine, and the key must
        // not start a second execution meanwhile (DECISIONS D6).
        guard let record = state.idempotencyRecord(scope), record.expiresAt > now || record.response == nil else { return .fresh }
        guard record.fingerprint == fingerprint else {
            let message = conflictCode == .buildRegistrationConflict
                ? "Conflicting build registration for idempotency key"
                : "Idempotency-Key was already used with a different request"
            throw Denial(conflictCode, message)
        }
        guard let response = record.response else {
            throw Denial(.idempotencyConflict, "A request with this Idempotency-Key is still in progress; retry shortly")
        }
        return .replay(response)
    }
}

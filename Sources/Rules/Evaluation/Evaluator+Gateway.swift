extension Evaluator {
    /// An API gateway's question about a request it is about to forward (`/v1/gateway/...`):
    /// what is decidable without the body, in this order: the role may call the endpoint
    /// (contract §1; CI publishers must be allowlisted), the kill switch for mutating endpoints
    /// (§8; the toggle itself stays usable), the `Idempotency-Key` where the endpoint requires one
    /// (§3.2), then the caller's gateway rate window (§4.3; read or mutate, counted in memory,
    /// apart from the API's own windows). Changes nothing else.
    static func gateway(_ check: GatewayCheck, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let principal = i.principal, settings = i.settings, now = i.now, context = i.context
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        switch check.access {
        case .anyRole:
            try t.check(.roleAllowed) { () throws(Denial) in try Checks.roleAllowed(role, Set(Role.allCases), doing: "call \(check.path)") }
        case .deployers:
            _ = try t.check(.principalClaimPresent) { () throws(Denial) in try Checks.principalClaimPresent(principal) }
            try t.check(.roleAllowed) { () throws(Denial) in try Checks.roleAllowed(role, deployers, doing: "call \(check.path)") }
        case .ciPublishers:
            _ = try t.check(.ciPublisherAllowlisted) { () throws(Denial) in try Checks.ciPublisherAllowlisted(principal, role, settings) }
        case .platformAdmins:
            try t.check(.roleAllowed) { () throws(Denial) in try Checks.roleAllowed(role, [.platformAdmin], doing: "call \(check.path)") }
        }
        if check.killSwitchApplies {
            try t.check(.killSwitchOff) { () throws(Denial) in try Checks.killSwitchOff(settings) }
        }
        if check.idempotencyKeyRequired {
            _ = try t.check(.idempotencyKeyPresent) { () throws(Denial) in try Checks.idempotencyKeyPresent(context.idempotencyKey) }
        }
        let (name, bucket, limit): (CheckName, RateWindow.Bucket, Int) =
            check.mutating ? (.mutateRateLimit, .gatewayMutate, settings.mutateRPM) : (.readRateLimit, .gatewayRead, settings.readRPM)
        let window = try t.check(name) { () throws(Denial) in
            try Checks.rateLimit(state, actor: principal.actorId, bucket: bucket, limit: limit, now: now)
        }
        t.effects.append(.countRate(window))
        return Allowed(status: 200, result: .principal(principal))
    }
}

extension Evaluator {
    /// `GET /v1/services/{service}/delivery-status` (REFERENCE §2.9): the newest deployment of
    /// the service in the environment, what runs there, and whether it could be promoted. An
    /// unknown service is 403 `SERVICE_NOT_ALLOWLISTED`; a service its group cannot deploy to the
    /// environment answers with no deployments and no candidate, as the reference does. Records
    /// are read within DECISIONS D7: owners for their groups' services, CI identities never.
    static func deliveryStatus(service: String, environment: String, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> DecisionResult {
        let policy = i.policy
        let group = try serviceScope(service, i, &t)
        var status = DeliveryStatus(service: service, environment: environment)
        guard let group, (try? Checks.environmentAllowed(environment, group, policy)) != nil else { return .deliveryStatus(status) }
        status.latest = state.latestDeployment(service: service, environment: environment).flatMap { readable($0, i) }
        status.currentRunning = running(service: service, environment: environment, i, state)
        status.promotionCandidate = promotionCandidate(service: service, source: environment, group, i, state)
        return .deliveryStatus(status)
    }

    /// `GET /v1/services/{service}/running`: the newest SUCCEEDED deployment, or null.
    static func runningState(service: String, environment: String, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> DecisionResult {
        let policy = i.policy
        _ = try serviceScope(service, i, &t)
        let group = try t.check(.deliveryGroupResolved) { () throws(Denial) in try Checks.deliveryGroupResolved(service, policy) }
        _ = try t.check(.environmentAllowed) { () throws(Denial) in try Checks.environmentAllowed(environment, group, policy) }
        return .runningState(running(service: service, environment: environment, i, state))
    }

    /// `GET /v1/services/{service}/allowed-actions`: what the caller may do with the service —
    /// the truth of the rules rather than the role alone: owners deploy and roll back only their
    /// groups' services (DECISIONS D7), nobody while the kill switch is on or for a service in no
    /// group, CI identities neither and read no records.
    static func allowedActions(service: String, _ i: Inputs, _ t: inout Trail) throws(Denial) -> DecisionResult {
        let policy = i.policy, principal = i.principal, role = i.role
        _ = try t.check(.serviceAllowlisted) { () throws(Denial) in try Checks.buildServiceAllowlisted(service, policy) }
        let group = policy.deliveryGroup(forService: service)
        let member = group.map { principal.isMember(of: $0) } ?? false
        let view = role == .platformAdmin || role == .observer || (role == .deliveryOwner && member)
        // Deploying needs a delivery group (else SERVICE_NOT_IN_DELIVERY_GROUP) and the kill switch off.
        let deploy = group != nil && !policy.settings.mutationsDisabled && (role == .platformAdmin || (role == .deliveryOwner && member))
        return .allowedActions(service: service, role: role, view: view, deploy: deploy, rollback: deploy)
    }

    /// The service is registered (403 `SERVICE_NOT_ALLOWLISTED`) and the caller may read its
    /// records (D7); returns its delivery group, if it has one.
    static func serviceScope(_ service: String, _ i: Inputs, _ t: inout Trail) throws(Denial) -> DeliveryGroup? {
        let policy = i.policy, principal = i.principal
        _ = try t.check(.serviceAllowlisted) { () throws(Denial) in try Checks.buildServiceAllowlisted(service, policy) }
        let group = policy.deliveryGroup(forService: service)
        try t.check(.recordReadScope) { () throws(Denial) in
            switch i.role {
            case .platformAdmin, .observer: return
            case .ciPublisher: throw Denial(.deliveryGroupScopeRequired, "Deployment records are not readable by CI identities")
            case .deliveryOwner:
                guard let group, principal.isMember(of: group) else {
                    throw Denial(.deliveryGroupScopeRequired, "Service belongs to a delivery group you do not own", hint: "service \(service)")
                }
            }
        }
        return group
    }

    /// `record` when the caller may read it as `GET /v1/deployments/{id}` would (D7: by the
    /// record's own group, which may differ from the service's group today).
    static func readable(_ record: DeploymentRecord, _ i: Inputs) -> DeploymentRecord? {
        do throws(Denial) {
            try Checks.recordReadScope(i.principal, i.role, record, i.policy)
            return record
        } catch {
            return nil
        }
    }

    /// The newest SUCCEEDED deployment of a service in an environment, as running state.
    static func running(service: String, environment: String, _ i: Inputs, _ state: some StateView) -> RunningState? {
        guard let r = state.latestSucceeded(service: service, environment: environment, before: Timestamp(microseconds: .max)).flatMap({ readable($0, i) })
        else { return nil }
        return RunningState(
            service: service, environment: environment, version: r.version, deploymentId: r.id, deploymentKind: r.kind, derivedAt: i.now)
    }

    /// Whether what succeeded last in `source` could be promoted to the next environment of the
    /// group's order (REFERENCE §2.9): the reasons are the reference's.
    static func promotionCandidate(
        service: String, source: String, _ group: DeliveryGroup, _ i: Inputs, _ state: some StateView
    ) -> PromotionCandidate {
        let policy = i.policy
        func no(_ reason: String, target: String? = nil) -> PromotionCandidate {
            PromotionCandidate(eligible: false, reason: reason, targetEnvironment: target)
        }
        let order = policy.promotionOrder(group: group.id)
        guard let index = order.firstIndex(of: source) else { return no("PROMOTION_SOURCE_NOT_CONFIGURED") }
        guard index + 1 < order.count else { return no("PROMOTION_AT_HIGHEST_ENVIRONMENT") }
        let target = order[index + 1]
        do throws(Denial) {
            _ = try Checks.environmentAllowed(target, group, policy)
        } catch {
            return no(error.code.rawValue)
        }
        guard let promotable = state.latestSucceeded(service: service, environment: source, before: Timestamp(microseconds: .max)) else {
            return no("PROMOTION_NO_SUCCESSFUL_SOURCE_VERSION", target: target)
        }
        do throws(Denial) {
            let recipe = try Checks.recipeRouted(service: service, environment: target, policy)
            return PromotionCandidate(
                eligible: true, sourceEnvironment: source, targetEnvironment: target, version: promotable.version, recipeId: recipe.id)
        } catch {
            return no(error.code.rawValue, target: target)
        }
    }

    /// `GET /v1/insights/failures` (REFERENCE §2.9): deployments, rollbacks and failures of the
    /// deployments created in the last `windowDays` days, counted by the hour of their creation
    /// (the window starts at an hour boundary) from the write path's counters — the cost grows
    /// with the window, never with the store. Owners see their groups, CI identities nothing
    /// (D7).
    static func failureInsights(_ query: InsightsQuery, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> DecisionResult {
        let policy = i.policy, now = i.now
        try t.check(.settingsValid) { () throws(Denial) in
            guard (1...30).contains(query.windowDays) else {
                throw Denial(.invalidRequest, "windowDays must be between 1 and 30", details: ["field": .string("windowDays")])
            }
        }
        if let service = query.service {
            _ = try t.check(.serviceAllowlisted) { () throws(Denial) in try Checks.buildServiceAllowlisted(service, policy) }
        }
        let readable = Checks.readableGroups(i.principal, i.role, policy)
        let first = now.adding(seconds: -Int64(query.windowDays) * 86_400).hour
        var deployments = 0, rollbacks = 0
        var categories: [String: Int] = [:], recipes: [String: Int] = [:], groups: [String: Int] = [:]
        for c in state.insightCounts(hours: first...now.hour) {
            if let service = query.service, c.service != service { continue }
            if let group = query.groupId, c.group != group { continue }
            if let readable, !readable.contains(c.group) { continue }
            // An hour's count is far below 2^31; a stored one outside 0...2^31 (changed by hand)
            // is read within it, so the sums and the rate below cannot overflow.
            let count = min(max(0, c.count), 1 << 31)
            switch c.measure {
            case .failure:
                categories[c.label, default: 0] += count
            case .deploy, .rollback:
                if c.measure == .deploy { deployments += count } else { rollbacks += count }
                recipes[c.label.isEmpty ? "unknown" : c.label, default: 0] += count
                groups[c.group.isEmpty ? "unknown" : c.group, default: 0] += count
            }
        }
        func rows(_ counts: [String: Int]) -> [KeyCount] {
            counts.map { KeyCount(key: $0.key, count: $0.value) }.sorted { ($1.count, $0.key) < ($0.count, $1.key) }
        }
        // round(rollbacks / deployments, 4), half away from zero.
        let rate = deployments > 0 ? (rollbacks * 20_000 + deployments) / (2 * deployments) : 0
        return .failureInsights(FailureInsights(
            windowDays: query.windowDays, windowStart: Timestamp(microseconds: first.multipliedReportingOverflow(by: 3_600_000_000).overflow ? .min : first * 3_600_000_000), windowEnd: now,
            totalDeployments: deployments, totalRollbacks: rollbacks, rollbackRateTenThousandths: rate,
            failuresByCategory: rows(categories), deploymentsByRecipe: rows(recipes), deploymentsByGroup: rows(groups)))
    }
}

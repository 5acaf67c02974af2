extension Evaluator {
    /// The read window check every read starts with after identity.
    static func readWindow(_ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) {
        let limit = i.settings.readRPM, now = i.now, actor = i.principal.actorId
        let window = try t.check(.readRateLimit) { () throws(Denial) in
            try Checks.rateLimit(state, actor: actor, bucket: .read, limit: limit, now: now)
        }
        t.effects.append(.countRate(window))
    }

    /// `GET /v1/deployments/{id}`: any role, owners within their groups, CI never (contract §5).
    static func readDeployment(
        _ id: String, view: DeploymentView, _ i: Inputs, _ state: some StateView, _ t: inout Trail
    ) throws(Denial) -> Allowed {
        let principal = i.principal, policy = i.policy
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        _ = try t.check(.principalClaimPresent) { () throws(Denial) in try Checks.principalClaimPresent(principal) }
        try readWindow(i, state, &t)
        let record = try t.check(.deploymentExists) { () throws(Denial) in
            guard let record = state.deployment(id: id) else { throw Denial(.notFound, "Deployment not found") }
            return record
        }
        try t.check(.recordReadScope) { () throws(Denial) in try Checks.recordReadScope(principal, role, record, policy) }
        return switch view {
        case .record: Allowed(status: 200, result: .deploymentRead(record, superseded: !superseded(of: [record], state).isEmpty))
        case .failures: Allowed(status: 200, result: .failures(record))
        case .timeline: Allowed(status: 200, result: .timeline(record))
        }
    }

    /// `GET /v1/deployments`: newest first, limited to the groups the caller may read (D7).
    static func listDeployments(_ query: DeploymentQuery, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let principal = i.principal
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        try readWindow(i, state, &t)
        try t.check(.settingsValid) { () throws(Denial) in
            if let limit = query.limit, !(1...500).contains(limit) {
                throw Denial(.invalidRequest, "limit must be between 1 and 500", details: ["field": .string("limit")])
            }
        }
        let groups = Checks.readableGroups(principal, role, i.policy)
        let records = groups?.isEmpty == true ? [] : state.deployments(matching: query, groups: groups)
        return Allowed(status: 200, result: .deployments(records, superseded: superseded(of: records, state)))
    }

    /// The SUCCEEDED records among `records` that are not the newest success of their service
    /// and environment (REFERENCE §8.3 `SUPERSEDED`): one index lookup per service and
    /// environment.
    static func superseded(of records: [DeploymentRecord], _ state: some StateView) -> [String] {
        var newest: [String: String?] = [:]
        var out: Set<String> = []
        for r in records where r.state == .succeeded {
            let scope = "\(r.service)\u{0}\(r.environment)"
            if newest[scope] == nil {
                newest[scope] = .some(state.latestSuccessId(service: r.service, environment: r.environment))
            }
            if let latest = newest[scope] ?? nil, latest != r.id { out.insert(r.id) }
        }
        return out.sorted()
    }

    /// `POST /v1/policy/summary`: the limits and usage of a service in an environment, for
    /// owners (of the group) and admins.
    static func policySummary(_ query: PolicySummaryQuery, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let principal = i.principal, policy = i.policy, settings = i.settings, now = i.now
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        try t.check(.roleAllowed) { () throws(Denial) in try Checks.roleAllowed(role, deployers, doing: "read policy summaries") }
        try readWindow(i, state, &t)
        let group = try t.check(.deliveryGroupResolved) { () throws(Denial) in try Checks.deliveryGroupResolved(query.service, policy) }
        try t.check(.deliveryGroupMember) { () throws(Denial) in try Checks.deliveryGroupMember(principal, group) }
        _ = try t.check(.environmentAllowed) { () throws(Denial) in try Checks.environmentAllowed(query.environment, group, policy) }
        let limits = policy.limits(group: group, environment: query.environment)
        let slots = Checks.slots(group.id, query.environment, state, settings, now: now)
        let key = "\(group.id):\(query.environment)"
        let numbers = PolicyNumbers(
            maxConcurrentDeployments: limits.maxConcurrentDeployments, currentConcurrentDeployments: slots.holding,
            dailyDeployQuota: limits.dailyDeployQuota,
            deploymentsUsed: state.quotaUsed(QuotaScope(kind: .deploy, key: key), day: now.day),
            dailyQuotaBuildRegister: settings.dailyQuotaBuildRegister)
        let routed = policy.route(service: query.service, environment: query.environment)?.recipeId
        return Allowed(status: 200, result: .policySummary(PolicySummary(
            service: query.service, environment: query.environment, deliveryGroupId: group.id,
            recipeId: routed, policy: numbers,
            dailyRollbackQuota: limits.dailyRollbackQuota,
            rollbacksUsed: state.quotaUsed(QuotaScope(kind: .rollback, key: key), day: now.day),
            resolvedRecipe: routed.flatMap { policy.recipes[$0] }, environmentObject: policy.environments[query.environment],
            generatedAt: now)))
    }
}

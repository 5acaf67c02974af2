extension Evaluator {
    /// The catalogue and settings reads: any role, within the read window; admin-only reads check
    /// the role after the window, as the reference does (REFERENCE §4.5); a missing object is 404,
    /// an unknown service 403 `SERVICE_NOT_ALLOWLISTED` (REFERENCE §2.9).
    static func catalog(_ read: CatalogRead, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let principal = i.principal, policy = i.policy
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        try readWindow(i, state, &t)
        if read.adminOnly {
            try t.check(.roleAllowed) { () throws(Denial) in try Checks.roleAllowed(role, [.platformAdmin], doing: "read system settings") }
        }
        let admin = role == .platformAdmin
        let result: DecisionResult
        switch read {
        case .whoami:
            result = .principal(principal)
        case .services:
            result = .services(policy.services.values.sorted { $0.name < $1.name })
        case .serviceVersions(let service):
            _ = try t.check(.serviceAllowlisted) { () throws(Denial) in try Checks.buildServiceAllowlisted(service, policy) }
            // Newest first, fully ordered: a decision never depends on how a store orders its rows.
            let builds = state.builds(service: service).sorted { ($1.registeredAt, $1.version, $1.id) < ($0.registeredAt, $0.version, $0.id) }
            result = .versions(service: service, builds: builds)
        case .deliveryGroups:
            result = .deliveryGroups(policy.deliveryGroups.values.sorted { $0.id < $1.id }.map { DeliveryGroupView($0, in: policy) })
        case .deliveryGroup(let id):
            let group = try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(policy.deliveryGroups[id], "Delivery group") }
            result = .deliveryGroup(DeliveryGroupView(group, in: policy))
        case .recipes:
            result = .recipes(policy.recipes.values.sorted { $0.id < $1.id }, engineMapping: admin)
        case .recipe(let id):
            result = .recipe(try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(policy.recipes[id], "Recipe") }, engineMapping: admin)
        case .build(let service, let version):
            var build = try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(state.build(service: service, version: version), "Build") }
            // The UI exposure policy hides external links (commit and CI run URLs) unless shown.
            if policy.settings.uiExposure?.externalLinksDisplay != true {
                build.commitURL = nil
                build.runURL = nil
            }
            result = .build(build)
        case .publicSettings:
            result = .settings(policy.settings, admin: false)
        case .adminSettings:
            result = .settings(policy.settings, admin: true)
        case .rateLimits:
            let s = policy.settings
            result = .rateLimits(RateLimitsChange(readRPM: s.readRPM, mutateRPM: s.mutateRPM, dailyQuotaBuildRegister: s.dailyQuotaBuildRegister))
        case .ciPublishers:
            result = .ciPublishers(policy.settings.ciPublishers)
        case .mutationsDisabled:
            result = .mutationsDisabled(policy.settings.mutationsDisabled)
        case .environments:
            result = .environments(environmentViews(principal, role, policy))
        case .environment(let id):
            let views = environmentViews(principal, role, policy).filter { $0.environment.id == id }
            result = .environment(try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(views.first, "Environment") })
        case .serviceRoutes(let service):
            _ = try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(policy.services[service], "Service") }
            // One row per environment, routed or not, as the reference lists them.
            result = .routes(policy.environments.values.sorted { $0.id < $1.id }.map {
                RouteRow(service: service, environment: $0, recipeId: policy.route(service: service, environment: $0.id)?.recipeId)
            })
        case .groupBindings(let group):
            _ = try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(policy.deliveryGroups[group], "Delivery group") }
            result = .bindings((policy.bindings[group] ?? [:]).values.sorted { ($0.orderIndex, $0.environmentId) < ($1.orderIndex, $1.environmentId) }
                .map { BindingRow(binding: $0, environment: policy.environments[$0.environmentId]) })
        case .auditEvents(let query):
            try t.check(.settingsValid) { () throws(Denial) in
                guard (1...500).contains(query.limit) else {
                    throw Denial(.invalidRequest, "limit must be between 1 and 500", details: ["field": .string("limit")])
                }
            }
            result = .auditQuery(query)
        case .deliveryStatus(let service, let environment):
            result = try deliveryStatus(service: service, environment: environment, i, state, &t)
        case .runningState(let service, let environment):
            result = try runningState(service: service, environment: environment, i, state, &t)
        case .allowedActions(let service):
            result = try allowedActions(service: service, i, &t)
        case .failureInsights(let query):
            result = try failureInsights(query, i, state, &t)
        case .configSanity:
            result = .configSanity
        case .uiExposure, .adminUIExposure:
            result = .uiExposure(policy.settings.uiExposure ?? UIExposurePolicy())
        }
        return Allowed(status: 200, result: result)
    }
}

/// The environments `principal` may see (REFERENCE §1.4): all for admins; for anyone else those
/// bound to a group they own, with only those bindings.
func environmentViews(_ principal: Principal, _ role: Role, _ policy: PolicySnapshot) -> [EnvironmentView] {
    let groups = role == .platformAdmin ? Set(policy.deliveryGroups.keys) : Set(policy.deliveryGroups.values.filter { principal.isMember(of: $0) && role != .ciPublisher }.map(\.id))
    return policy.environments.values.sorted { $0.id < $1.id }.compactMap { environment in
        let bindings = groups.sorted().compactMap { policy.binding(group: $0, environment: environment.id) }
        guard role == .platformAdmin || !bindings.isEmpty else { return nil }
        return EnvironmentView(environment: environment, bindings: bindings)
    }
}

extension Checks {
    /// §5: the object read exists → else 404 `NOT_FOUND`.
    static func objectExists<T>(_ object: T?, _ what: String) throws(Denial) -> T {
        guard let object else { throw Denial(.notFound, "\(what) not found") }
        return object
    }
}

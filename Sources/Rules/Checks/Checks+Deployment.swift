extension Checks {
    /// §4.1 step 6: some delivery group lists the service → else 403 `SERVICE_NOT_IN_DELIVERY_GROUP`.
    static func deliveryGroupResolved(_ service: String, _ policy: PolicySnapshot) throws(Denial) -> DeliveryGroup {
        guard let group = policy.deliveryGroup(forService: service) else {
            throw .policy(.serviceNotInDeliveryGroup, "service \(service) is in no delivery group")
        }
        return group
    }

    /// §4.1 step 7: the environment is named (400 `ENVIRONMENT_REQUIRED`), exists and is bound to
    /// the group (403 `ENVIRONMENT_NOT_ALLOWED`), is not retired (403 `ENVIRONMENT_RETIRED`) and
    /// neither it nor the binding is disabled (403 `ENVIRONMENT_DISABLED`).
    static func environmentAllowed(_ environment: String, _ group: DeliveryGroup, _ policy: PolicySnapshot) throws(Denial) -> Environment {
        guard !environment.isEmpty else {
            throw Denial(.environmentRequired, "Environment is required")
        }
        guard let env = policy.environments[environment], let binding = policy.binding(group: group.id, environment: environment) else {
            throw .policy(.environmentNotAllowed, "environment \(environment) is not allowed for delivery group \(group.id)")
        }
        guard env.lifecycle != .retired else {
            throw .policy(.environmentRetired, "environment \(environment) is retired")
        }
        guard env.lifecycle == .active, binding.isEnabled else {
            throw .policy(.environmentDisabled, "environment \(environment) is disabled for delivery group \(group.id)")
        }
        return env
    }

    /// §4.1 step 8: a route names the recipe for service + environment (400
    /// `SERVICE_ENVIRONMENT_NOT_ROUTED`, 400 `RECIPE_ID_REQUIRED`), the recipe exists (404
    /// `RECIPE_NOT_FOUND`) and is not deprecated (403 `RECIPE_DEPRECATED`).
    static func recipeRouted(service: String, environment: String, _ policy: PolicySnapshot) throws(Denial) -> Recipe {
        guard let route = policy.route(service: service, environment: environment) else {
            throw Denial(
                .serviceEnvironmentNotRouted, "No recipe is routed for this service and environment",
                hint: "no routing for \(service) in \(environment)")
        }
        guard !route.recipeId.isEmpty else {
            throw Denial(.recipeIdRequired, "Routing names no recipe", hint: "routing for \(service) in \(environment) is empty")
        }
        return try recipeUsable(route.recipeId, policy)
    }

    /// The recipe exists (404 `RECIPE_NOT_FOUND`) and is active (403 `RECIPE_DEPRECATED`).
    static func recipeUsable(_ id: String, _ policy: PolicySnapshot) throws(Denial) -> Recipe {
        guard let recipe = policy.recipes[id] else {
            throw Denial(.recipeNotFound, "Recipe not found", hint: "recipe \(id) does not exist")
        }
        guard recipe.status == .active else {
            throw .policy(.recipeDeprecated, "recipe \(id) is deprecated")
        }
        return recipe
    }

    /// §4.1 step 9 (policy): the group allows the recipe → else 403 `RECIPE_NOT_ALLOWED`.
    static func recipeAllowedByGroup(_ recipe: Recipe, _ group: DeliveryGroup) throws(Denial) {
        guard group.allowedRecipes.contains(recipe.id) else {
            throw .policy(.recipeNotAllowed, "recipe \(recipe.id) is not allowed for delivery group \(group.id)")
        }
    }

    /// §4.1 step 10 + DECISIONS D3: a request `recipeId`, when given, equals the routed recipe
    /// → else 400 `RECIPE_ID_MISMATCH`.
    static func recipeIdMatchesRoute(_ requested: String?, _ routed: Recipe) throws(Denial) {
        if let requested, !requested.isEmpty, requested != routed.id {
            throw Denial(
                .recipeIdMismatch, "recipeId does not match the recipe routed for this service and environment",
                hint: "requested \(requested), routed \(routed.id)")
        }
    }

    /// §4.1 step 11 (capability): the service is in the registry → else 400
    /// `SERVICE_NOT_ALLOWLISTED`.
    static func serviceAllowlisted(_ service: String, _ policy: PolicySnapshot) throws(Denial) -> ServiceEntry {
        guard let entry = policy.service(exactly: service) else {
            throw .compatibility(.serviceNotAllowlisted, "service \(service) is not in the service registry")
        }
        return entry
    }

    /// §4.1 step 11 (capability): the service may run in the environment → else 400
    /// `INVALID_ENVIRONMENT`.
    static func environmentConfigured(_ environment: String, _ entry: ServiceEntry) throws(Denial) {
        guard entry.allowedEnvironments.isEmpty || entry.allowedEnvironments.contains(environment) else {
            throw .compatibility(.invalidEnvironment, "service \(entry.name) is not configured for environment \(environment)")
        }
    }

    /// §4.1 step 11: the version matches `^[0-9]+\.[0-9]+\.[0-9]+(-[A-Za-z0-9.-]+)?$` → else
    /// 400 `INVALID_VERSION`.
    static func versionFormat(_ version: String) throws(Denial) {
        guard isValidVersion(version) else {
            throw Denial(.invalidVersion, "Version must look like 1.2.3 or 1.2.3-suffix", hint: "version \(version)")
        }
    }

    /// §4.1 step 12 (compatibility): the service's registry entry allows the recipe → else 400
    /// `RECIPE_INCOMPATIBLE`.
    static func recipeCompatible(_ recipe: Recipe, _ entry: ServiceEntry) throws(Denial) {
        guard entry.allowedRecipes.contains(recipe.id) else {
            throw .compatibility(.recipeIncompatible, "recipe \(recipe.id) is not compatible with service \(entry.name)")
        }
    }

    /// §4.1 step 13: a build is registered for service + version → else 400 `VERSION_NOT_FOUND`.
    static func versionRegistered(_ service: String, _ version: String, _ state: some StateView) throws(Denial) {
        guard state.isRegistered(service: service, version: version) else {
            throw Denial(.versionNotFound, "Version is not registered", hint: "no build of \(service) \(version)")
        }
    }

    /// §2.6 / REFERENCE §4.1 step 15: validate's engine preflight found the engine ready
    /// → else its `ENGINE_*` code.
    static func engineReady(_ readiness: EngineReadiness) throws(Denial) {
        if case .unavailable(let code, let detail) = readiness {
            throw Denial(code, "Unable to validate deployment", hint: detail, details: ["engine_unavailable": .bool(true)])
        }
    }

    /// §4.3: a daily quota has room → else 429 `QUOTA_EXCEEDED`. Returns the units used.
    static func quotaAvailable(_ scope: QuotaScope, limit: Int, _ state: some StateView, now: Timestamp) throws(Denial) -> Int {
        let used = state.quotaUsed(scope, day: now.day)
        guard used < limit else {
            throw Denial(.quotaExceeded, "Daily quota exceeded", hint: "\(scope.kind.rawValue) quota \(limit) for \(scope.key) used up")
        }
        return used
    }

    /// The deployments of a group + environment that hold a slot, split into those that still
    /// hold it and stale IN_PROGRESS locks past `deploymentLockStaleSeconds` (REFERENCE §7).
    static func slots(_ group: String, _ environment: String, _ state: some StateView, _ settings: Settings, now: Timestamp)
        -> (holding: Int, stale: [ActiveDeployment])
    {
        let usage = state.slotUsage(group: group, environment: environment, staleBefore: now.subtracting(seconds: settings.deploymentLockStaleSeconds))
        return (usage.holding - usage.stale.count, usage.stale)
    }

    /// §4.2: fewer deployments hold a slot in the group + environment than its limit → else 409
    /// `CONCURRENCY_LIMIT_REACHED`.
    static func concurrencyAvailable(holding: Int, limit: Int, group: String, environment: String) throws(Denial) {
        guard holding < limit else {
            throw Denial(
                .concurrencyLimitReached, "Another deployment is already in progress for this delivery group",
                hint: "\(holding) of \(limit) slots in use for \(group) in \(environment)")
        }
    }
}

/// Whether `version` matches `^[0-9]+\.[0-9]+\.[0-9]+(-[A-Za-z0-9.-]+)?$`.
func isValidVersion(_ version: String) -> Bool {
    let bytes = Array(version.utf8)
    var i = 0
    for part in 0..<3 {
        let start = i
        while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        guard i > start else { return false }
        if part < 2 {
            guard i < bytes.count, bytes[i] == UInt8(ascii: ".") else { return false }
            i += 1
        }
    }
    if i == bytes.count { return true }
    guard bytes[i] == UInt8(ascii: "-"), i + 1 < bytes.count else { return false }
    for b in bytes[(i + 1)...] {
        let ok = (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 46 || b == 45
        guard ok else { return false }
    }
    return true
}

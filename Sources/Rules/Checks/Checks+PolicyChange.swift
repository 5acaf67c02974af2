extension Checks {
    /// REFERENCE §2.8: a recipe still routed or allowed by a group cannot be deleted → 409
    /// `RECIPE_IN_USE`.
    static func recipeNotInUse(_ id: String, _ policy: PolicySnapshot) throws(Denial) {
        let routed = policy.routes.values.contains { $0.values.contains { $0.recipeId == id } }
        let allowed = policy.deliveryGroups.values.contains { $0.allowedRecipes.contains(id) }
        guard !routed, !allowed else {
            throw Denial(.recipeInUse, "Recipe is in use", hint: routed ? "recipe \(id) is routed" : "recipe \(id) is allowed by a delivery group")
        }
    }

    /// REFERENCE §2.8: routing and binding writes need an existing environment (404 `NOT_FOUND`)
    /// that is not retired (409 `ENVIRONMENT_RETIRED`).
    static func environmentWritable(_ id: String, _ policy: PolicySnapshot) throws(Denial) {
        guard let environment = policy.environments[id] else { throw Denial(.notFound, "Environment not found") }
        guard environment.lifecycle != .retired else { throw Denial(.environmentRetired, "Environment is retired", status: 409) }
    }

    /// REFERENCE §2.8: an environment a delivery group binds or a service routes is referenced:
    /// its type is locked (409 `ENVIRONMENT_TYPE_LOCKED`) and it cannot be deleted (409
    /// `ENVIRONMENT_DELETE_BLOCKED_REFERENCED`).
    static func environmentUnreferenced(_ id: String, _ policy: PolicySnapshot, _ code: ContractCode, _ message: String) throws(Denial) {
        let bound = policy.bindings.values.contains { $0[id] != nil }
        let routed = policy.routes.values.contains { $0[id] != nil }
        if bound || routed { throw Denial(code, message) }
    }
}

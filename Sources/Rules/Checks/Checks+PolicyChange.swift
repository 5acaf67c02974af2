extension Checks {
    /// REFERENCE §2.8: a recipe change names an id (400 `RECIPE_ID_REQUIRED`), a name (400
    /// `RECIPE_NAME_REQUIRED`), a deploy pipeline (400 `RECIPE_DEPLOY_PIPELINE_REQUIRED`), a behaviour
    /// summary of at most 240 characters (400 `RECIPE_BEHAVIOR_REQUIRED`) and a valid status (400
    /// `INVALID_STATUS`); on update the body's id equals the path's (400 `ID_MISMATCH`).
    static func recipeChangeValid(_ change: RecipeChange, pathId: String?, revision: Int) throws(Denial) -> Recipe {
        let id = trimmed(change.id ?? pathId ?? "")
        guard !id.isEmpty else { throw Denial(.recipeIdRequired, "Recipe id is required") }
        if let pathId, let bodyId = change.id, bodyId != pathId { throw Denial(.idMismatch, "Body id does not match the path") }
        guard PolicyBounds.isValidId(id) else { throw Denial(.invalidRequest, "Recipe id must be \(PolicyBounds.idRule)", details: ["field": .string("id")]) }
        guard let name = change.name.map(trimmed), !name.isEmpty else { throw Denial(.recipeNameRequired, "Recipe name is required") }
        try textValid(
            [("name", name, PolicyBounds.nameLength), ("description", change.description ?? "", PolicyBounds.textLength),
             ("spinnaker_application", change.spinnakerApplication ?? "", PolicyBounds.nameLength),
             ("deploy_pipeline", change.deployPipeline ?? "", PolicyBounds.nameLength),
             ("rollback_pipeline", change.rollbackPipeline ?? "", PolicyBounds.nameLength)])
        guard let pipeline = change.deployPipeline.map(trimmed), !pipeline.isEmpty else {
            throw Denial(.recipeDeployPipelineRequired, "deploy_pipeline is required")
        }
        guard let behaviour = change.effectiveBehaviorSummary.map(trimmed), !behaviour.isEmpty, behaviour.count <= 240 else {
            throw Denial(.recipeBehaviorRequired, "effective_behavior_summary is required (at most 240 characters)")
        }
        guard let status = Recipe.Status(rawValue: change.status ?? "active") else {
            throw Denial(.invalidStatus, "status must be active or deprecated")
        }
        return Recipe(
            id: id, name: name, description: change.description, spinnakerApplication: change.spinnakerApplication.map(trimmed),
            deployPipeline: pipeline, rollbackPipeline: change.rollbackPipeline.map(trimmed), effectiveBehaviorSummary: behaviour,
            status: status, revision: revision)
    }

    /// Free text within its bound and without control characters → else 400 `INVALID_REQUEST`
    /// naming the field (the same bounds as the policy file's, ``PolicyBounds``).
    static func textValid(_ fields: [(name: String, value: String, limit: Int)]) throws(Denial) {
        for field in fields where !PolicyBounds.isValidText(field.value, limit: field.limit) {
            throw Denial(
                .invalidRequest, "\(field.name) must be at most \(field.limit) characters, without control characters",
                details: ["field": .string(field.name)])
        }
    }

    /// REFERENCE §2.8: a recipe still routed or allowed by a group cannot be deleted → 409
    /// `RECIPE_IN_USE`.
    static func recipeNotInUse(_ id: String, _ policy: PolicySnapshot) throws(Denial) {
        let routed = policy.routes.values.contains { $0.values.contains { $0.recipeId == id } }
        let allowed = policy.deliveryGroups.values.contains { $0.allowedRecipes.contains(id) }
        guard !routed, !allowed else {
            throw Denial(.recipeInUse, "Recipe is in use", hint: routed ? "recipe \(id) is routed" : "recipe \(id) is allowed by a delivery group")
        }
    }

    /// REFERENCE §2.8: a delivery group change has an id and a name (400 `MISSING_ID`,
    /// `MISSING_NAME`; `ID_MISMATCH` on update), owners that look like emails (400 `INVALID_OWNER`),
    /// registered services (400 `SERVICE_NOT_ALLOWLISTED`) listed once (400 `INVALID_SERVICES`) and
    /// in no other group (409 `SERVICE_ALREADY_ASSIGNED`), valid unique environment ids (400
    /// `INVALID_ENVIRONMENTS`), existing recipes listed once (400 `RECIPE_NOT_FOUND`,
    /// `INVALID_RECIPES`), and guardrails within ``PolicyBounds/guardrail`` (400 `INVALID_GUARDRAIL`).
    static func deliveryGroupChangeValid(_ change: DeliveryGroupChange, pathId: String?, _ policy: PolicySnapshot) throws(Denial) -> DeliveryGroup {
        let id = trimmed(change.id ?? pathId ?? "")
        guard !id.isEmpty else { throw Denial(.missingId, "Delivery group id is required") }
        if let pathId, let bodyId = change.id, bodyId != pathId { throw Denial(.idMismatch, "Body id does not match the path") }
        guard PolicyBounds.isValidId(id) else {
            throw Denial(.invalidRequest, "Delivery group id must be \(PolicyBounds.idRule)", details: ["field": .string("id")])
        }
        guard let name = change.name.map(trimmed), !name.isEmpty else { throw Denial(.missingName, "Delivery group name is required") }
        try textValid([("name", name, PolicyBounds.nameLength), ("description", change.description ?? "", PolicyBounds.textLength)])
        for owner in change.owners where !DeliveryGroup.isValidOwner(owner) || owner.count > PolicyBounds.nameLength {
            throw Denial(.invalidOwner, "Owners must be email addresses", hint: "invalid owner \(owner)")
        }
        // Owners are compared trimmed and case-insensitively (REFERENCE §1.4): the same one twice is a mistake.
        guard Set(change.owners.map { trimmed($0).lowercased() }).count == change.owners.count else {
            throw Denial(.invalidOwner, "Owners must be listed once")
        }
        guard Set(change.services).count == change.services.count else { throw Denial(.invalidServices, "Services must be listed once") }
        for service in change.services {
            guard policy.services[service] != nil else {
                throw Denial(.serviceNotAllowlisted, "Service is not allowlisted", hint: "service \(service)", status: 400)
            }
            if let other = policy.deliveryGroup(forService: service), other.id != id {
                throw Denial(.serviceAlreadyAssigned, "Service already belongs to another delivery group", hint: "\(service) is in \(other.id)")
            }
        }
        if let environments = change.allowedEnvironments {
            guard Set(environments).count == environments.count, environments.allSatisfy(Environment.isValidId) else {
                throw Denial(.invalidEnvironments, "allowed_environments must be unique, valid environment ids")
            }
        }
        guard Set(change.allowedRecipes).count == change.allowedRecipes.count else { throw Denial(.invalidRecipes, "Recipes must be listed once") }
        for recipe in change.allowedRecipes where policy.recipes[recipe] == nil {
            throw Denial(.recipeNotFound, "Recipe not found", hint: "recipe \(recipe)", status: 400)
        }
        for value in [change.maxConcurrentDeployments, change.dailyDeployQuota, change.dailyRollbackQuota] {
            if let value, !PolicyBounds.guardrail.contains(value) {
                throw Denial(.invalidGuardrail, "Guardrails must be integers in \(PolicyBounds.guardrail.lowerBound)...\(PolicyBounds.guardrail.upperBound)")
            }
        }
        return DeliveryGroup(
            id: id, name: name, description: change.description, owners: change.owners, services: change.services,
            allowedRecipes: change.allowedRecipes,
            guardrails: Guardrails(
                maxConcurrentDeployments: change.maxConcurrentDeployments, dailyDeployQuota: change.dailyDeployQuota,
                dailyRollbackQuota: change.dailyRollbackQuota))
    }

    /// REFERENCE §2.8: routing and binding writes need an existing environment (404 `NOT_FOUND`)
    /// that is not retired (409 `ENVIRONMENT_RETIRED`).
    static func environmentWritable(_ id: String, _ policy: PolicySnapshot) throws(Denial) {
        guard let environment = policy.environments[id] else { throw Denial(.notFound, "Environment not found") }
        guard environment.lifecycle != .retired else { throw Denial(.environmentRetired, "Environment is retired", status: 409) }
    }

    /// REFERENCE §2.8: an environment change names a valid id (400 `MISSING_ID` /
    /// `INVALID_ENVIRONMENT_ID`; on update the body's id equals the path's, 400 `ID_MISMATCH`), a
    /// type `non_prod` or `prod` (400 `INVALID_ENVIRONMENT_TYPE`) and a lifecycle state `active`,
    /// `disabled` or `retired` (400 `INVALID_ENVIRONMENT_LIFECYCLE_STATE`). Absent fields keep
    /// `current`'s values (or the defaults on create).
    static func environmentChangeValid(_ change: EnvironmentChange, pathId: String?, current: Environment?) throws(Denial) -> Environment {
        let id = trimmed(change.id ?? pathId ?? "")
        guard !id.isEmpty else { throw Denial(.missingId, "Environment id is required") }
        if let pathId, let bodyId = change.id, trimmed(bodyId) != pathId { throw Denial(.idMismatch, "Body id does not match the path") }
        guard Environment.isValidId(id), id.utf8.count <= 64 else {
            throw Denial(.invalidEnvironmentId, "Environment id must be lower-case letters and digits in dash-separated runs (at most 64)")
        }
        var environment = current ?? Environment(id: id)
        if let type = change.type {
            guard let kind = Environment.Kind(rawValue: type) else { throw Denial(.invalidEnvironmentType, "type must be non_prod or prod") }
            environment.kind = kind
        }
        if let state = change.lifecycleState {
            guard let lifecycle = Environment.Lifecycle(rawValue: state) else {
                throw Denial(.invalidEnvironmentLifecycleState, "lifecycle_state must be active, disabled or retired")
            }
            environment.lifecycle = lifecycle
        }
        if let name = change.displayName.map(trimmed) {
            guard !name.isEmpty, name.count <= 128 else { throw Denial(.missingName, "display_name must be 1 to 128 characters") }
            environment.displayName = name
        }
        return environment
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

/// The one validator of policy data: every recipe, delivery group and environment that enters the
/// policy — from the policy file (`serve --policy`, `seed`, `eval`) or through an admin change —
/// is checked here, so what one door accepts the other accepts, with the same codes and messages
/// (docs/DECISIONS.md 59). A refusal names the field at fault in `details.field` (as the admin
/// API spells it) and, for an item of a list, its position in `details.index`; the policy file
/// loader turns those into the file, line and key of the value.
public enum PolicyValidator {
    /// REFERENCE §2.8: a recipe names an id (400 `RECIPE_ID_REQUIRED`) of ``PolicyBounds/isValidId(_:)``,
    /// a name (400 `RECIPE_NAME_REQUIRED`), a deploy pipeline (400 `RECIPE_DEPLOY_PIPELINE_REQUIRED`),
    /// a behaviour summary of at most 240 characters (400 `RECIPE_BEHAVIOR_REQUIRED`) and a valid
    /// status (400 `INVALID_STATUS`); free text within ``PolicyBounds``; on update the body's id
    /// equals the path's (400 `ID_MISMATCH`).
    public static func recipe(_ change: RecipeChange, pathId: String?, revision: Int) throws(Denial) -> Recipe {
        let id = trimmed(change.id ?? pathId ?? "")
        guard !id.isEmpty else { throw Denial(.recipeIdRequired, "Recipe id is required", details: field("id")) }
        if let pathId, let bodyId = change.id, bodyId != pathId { throw Denial(.idMismatch, "Body id does not match the path", details: field("id")) }
        guard PolicyBounds.isValidId(id) else { throw Denial(.invalidRequest, "Recipe id must be \(PolicyBounds.idRule)", details: field("id")) }
        guard let name = change.name.map(trimmed), !name.isEmpty else {
            throw Denial(.recipeNameRequired, "Recipe name is required", details: field("name"))
        }
        try text(
            [("name", name, PolicyBounds.nameLength, false), ("description", change.description ?? "", PolicyBounds.textLength, true),
             ("spinnaker_application", change.spinnakerApplication ?? "", PolicyBounds.nameLength, false),
             ("deploy_pipeline", change.deployPipeline ?? "", PolicyBounds.nameLength, false),
             ("rollback_pipeline", change.rollbackPipeline ?? "", PolicyBounds.nameLength, false)])
        guard let pipeline = change.deployPipeline.map(trimmed), !pipeline.isEmpty else {
            throw Denial(.recipeDeployPipelineRequired, "deploy_pipeline is required", details: field("deploy_pipeline"))
        }
        guard let behaviour = change.effectiveBehaviorSummary.map(trimmed), !behaviour.isEmpty, behaviour.count <= summaryLength else {
            throw Denial(
                .recipeBehaviorRequired, "effective_behavior_summary is required (at most \(summaryLength) characters)",
                details: field("effective_behavior_summary"))
        }
        guard let status = Recipe.Status(rawValue: change.status ?? "active") else {
            throw Denial(.invalidStatus, "status must be active or deprecated", details: field("status"))
        }
        guard PolicyBounds.recipeRevision.contains(revision) else {
            throw Denial(
                .invalidRequest, "revision must be between 1 and \(PolicyBounds.recipeRevision.upperBound); this recipe has reached its last",
                details: field("revision"))
        }
        return Recipe(
            id: id, name: name, description: change.description, spinnakerApplication: change.spinnakerApplication.map(trimmed),
            deployPipeline: pipeline, rollbackPipeline: change.rollbackPipeline.map(trimmed), effectiveBehaviorSummary: behaviour,
            status: status, revision: revision)
    }

    /// The longest `effective_behavior_summary`, in characters (REFERENCE §2.8).
    public static let summaryLength = 240

    /// REFERENCE §2.8: a delivery group has an id (400 `MISSING_ID`; `ID_MISMATCH` on update) of
    /// ``PolicyBounds/isValidId(_:)``, a name (400 `MISSING_NAME`), owners that look like emails,
    /// each once (400 `INVALID_OWNER`), registered services (400 `SERVICE_NOT_ALLOWLISTED`) listed
    /// once (400 `INVALID_SERVICES`) and in no other group of `policy` (409
    /// `SERVICE_ALREADY_ASSIGNED`), valid unique environment ids (400 `INVALID_ENVIRONMENTS`),
    /// recipes of `policy` listed once (400 `RECIPE_NOT_FOUND`, `INVALID_RECIPES`), and guardrails
    /// within ``PolicyBounds/guardrail`` and ``PolicyBounds/dailyQuota`` (400 `INVALID_GUARDRAIL`).
    public static func deliveryGroup(_ change: DeliveryGroupChange, pathId: String?, in policy: PolicySnapshot) throws(Denial) -> DeliveryGroup {
        let id = trimmed(change.id ?? pathId ?? "")
        guard !id.isEmpty else { throw Denial(.missingId, "Delivery group id is required", details: field("id")) }
        if let pathId, let bodyId = change.id, bodyId != pathId { throw Denial(.idMismatch, "Body id does not match the path", details: field("id")) }
        guard PolicyBounds.isValidId(id) else {
            throw Denial(.invalidRequest, "Delivery group id must be \(PolicyBounds.idRule)", details: field("id"))
        }
        guard let name = change.name.map(trimmed), !name.isEmpty else {
            throw Denial(.missingName, "Delivery group name is required", details: field("name"))
        }
        try text([("name", name, PolicyBounds.nameLength, false), ("description", change.description ?? "", PolicyBounds.textLength, true)])
        for (index, owner) in change.owners.enumerated() where !DeliveryGroup.isValidOwner(owner) || owner.count > PolicyBounds.nameLength {
            throw Denial(.invalidOwner, "Owners must be email addresses", hint: "invalid owner \(owner)", details: field("owners", index))
        }
        // Owners are compared trimmed and case-insensitively (REFERENCE §1.4): the same one twice is a mistake.
        if let index = firstRepeat(change.owners.map { trimmed($0).lowercased() }) {
            throw Denial(.invalidOwner, "Owners must be listed once", hint: "owner \(change.owners[index]) is listed twice", details: field("owners", index))
        }
        if let index = firstRepeat(change.services) {
            throw Denial(.invalidServices, "Services must be listed once", hint: "service \(change.services[index]) is listed twice", details: field("services", index))
        }
        for (index, service) in change.services.enumerated() {
            guard policy.services[service] != nil else {
                throw Denial(.serviceNotAllowlisted, "Service is not allowlisted", hint: "service \(service)", status: 400, details: field("services", index))
            }
            if let other = policy.deliveryGroup(forService: service), other.id != id {
                throw Denial(
                    .serviceAlreadyAssigned, "Service already belongs to another delivery group", hint: "\(service) is in \(other.id)",
                    details: field("services", index))
            }
        }
        if let environments = change.allowedEnvironments,
            let index = firstRepeat(environments) ?? environments.firstIndex(where: { !Environment.isValidId($0) })
        {
            throw Denial(
                .invalidEnvironments, "allowed_environments must be unique, valid environment ids", hint: "environment \(environments[index])",
                details: field("allowed_environments", index))
        }
        if let index = firstRepeat(change.allowedRecipes) {
            throw Denial(.invalidRecipes, "Recipes must be listed once", hint: "recipe \(change.allowedRecipes[index]) is listed twice", details: field("allowed_recipes", index))
        }
        for (index, recipe) in change.allowedRecipes.enumerated() where policy.recipes[recipe] == nil {
            throw Denial(.recipeNotFound, "Recipe not found", hint: "recipe \(recipe)", status: 400, details: field("allowed_recipes", index))
        }
        for (name, value, bounds) in [
            ("max_concurrent_deployments", change.maxConcurrentDeployments, PolicyBounds.guardrail),
            ("daily_deploy_quota", change.dailyDeployQuota, PolicyBounds.dailyQuota),
            ("daily_rollback_quota", change.dailyRollbackQuota, PolicyBounds.dailyQuota),
        ] {
            if let value, !bounds.contains(value) {
                throw Denial(
                    .invalidGuardrail, "\(name) must be an integer in \(bounds.lowerBound)...\(bounds.upperBound)",
                    hint: "\(name) is \(value)", details: field(name))
            }
        }
        return DeliveryGroup(
            id: id, name: name, description: change.description, owners: change.owners, services: change.services,
            allowedRecipes: change.allowedRecipes,
            guardrails: Guardrails(
                maxConcurrentDeployments: change.maxConcurrentDeployments, dailyDeployQuota: change.dailyDeployQuota,
                dailyRollbackQuota: change.dailyRollbackQuota))
    }

    /// REFERENCE §2.8: an environment names a valid id of at most 64 characters (400 `MISSING_ID` /
    /// `INVALID_ENVIRONMENT_ID`; on update the body's id equals the path's, 400 `ID_MISMATCH`), a
    /// type `non_prod` or `prod` (400 `INVALID_ENVIRONMENT_TYPE`), a lifecycle state `active`,
    /// `disabled` or `retired` (400 `INVALID_ENVIRONMENT_LIFECYCLE_STATE`) and a display name of
    /// 1 to 128 characters. Absent fields keep `current`'s values (or the defaults on create).
    public static func environment(_ change: EnvironmentChange, pathId: String?, current: Environment?) throws(Denial) -> Environment {
        let id = trimmed(change.id ?? pathId ?? "")
        guard !id.isEmpty else { throw Denial(.missingId, "Environment id is required", details: field("id")) }
        if let pathId, let bodyId = change.id, trimmed(bodyId) != pathId {
            throw Denial(.idMismatch, "Body id does not match the path", details: field("id"))
        }
        guard Environment.isValidId(id), id.utf8.count <= 64 else {
            throw Denial(
                .invalidEnvironmentId, "Environment id must be lower-case letters and digits in dash-separated runs (at most 64)",
                hint: "environment \(id)", details: field("id"))
        }
        var environment = current ?? Environment(id: id)
        if let type = change.type {
            guard let kind = Environment.Kind(rawValue: type) else {
                throw Denial(.invalidEnvironmentType, "type must be non_prod or prod", details: field("type"))
            }
            environment.kind = kind
        }
        if let state = change.lifecycleState {
            guard let lifecycle = Environment.Lifecycle(rawValue: state) else {
                throw Denial(
                    .invalidEnvironmentLifecycleState, "lifecycle_state must be active, disabled or retired", details: field("lifecycle_state"))
            }
            environment.lifecycle = lifecycle
        }
        if let name = change.displayName.map(trimmed) {
            guard !name.isEmpty, PolicyBounds.isValidText(name, limit: PolicyBounds.nameLength) else {
                throw Denial(.missingName, "display_name must be 1 to \(PolicyBounds.nameLength) characters, without control characters", details: field("display_name"))
            }
            environment.displayName = name
        }
        return environment
    }

    /// Free text within its bound and without control characters (a description may hold tabs
    /// and line breaks) → else 400 `INVALID_REQUEST` naming the field.
    static func text(_ fields: [(name: String, value: String, limit: Int, lines: Bool)]) throws(Denial) {
        for text in fields where !PolicyBounds.isValidText(text.value, limit: text.limit, lines: text.lines) {
            let allowed = text.lines ? "control characters other than tabs and line breaks" : "control characters"
            throw Denial(.invalidRequest, "\(text.name) must be at most \(text.limit) characters, without \(allowed)", details: field(text.name))
        }
    }

    /// `details` naming the field at fault, and the item of a list.
    static func field(_ name: String, _ index: Int? = nil) -> [String: JSONValue] {
        var details: [String: JSONValue] = ["field": .string(name)]
        if let index { details["index"] = .int(Int64(index)) }
        return details
    }

    /// The position of the first value that repeats an earlier one.
    static func firstRepeat(_ values: [String]) -> Int? {
        var seen = Set<String>()
        return values.indices.first { !seen.insert(values[$0]).inserted }
    }
}

extension Checks {
    /// §6: the deployment to roll back exists → else 404 `NOT_FOUND`.
    static func rollbackTargetExists(_ id: String, _ state: some StateView) throws(Denial) -> DeploymentRecord {
        guard let record = state.deployment(id: id) else {
            throw Denial(.notFound, "Deployment not found")
        }
        return record
    }

    /// §6: a rollback cannot itself be rolled back → else 400 `ROLLBACK_OF_ROLLBACK`.
    static func rollbackTargetNotRollback(_ target: DeploymentRecord) throws(Denial) {
        guard target.kind != .rollback, target.rollbackOf == nil else {
            throw Denial(.rollbackOfRollback, "A rollback cannot be rolled back")
        }
    }

    /// §6: a rollback uses the recipe the target deployed with (not current routing); it must
    /// exist (404 `RECIPE_NOT_FOUND`) and be active (403 `RECIPE_DEPRECATED`).
    static func rollbackRecipeResolved(_ target: DeploymentRecord, _ policy: PolicySnapshot) throws(Denial) -> Recipe {
        try recipeUsable(target.recipeId.isEmpty ? "default" : target.recipeId, policy)
    }

    /// §6: some deployment of the same service and environment SUCCEEDED before the target was
    /// created → else 400 `NO_PRIOR_SUCCESSFUL_VERSION`. Returns that deployment.
    static func priorSuccessfulVersion(_ target: DeploymentRecord, _ state: some StateView) throws(Denial) -> DeploymentRecord {
        guard let prior = state.latestSucceeded(service: target.service, environment: target.environment, before: target.createdAt) else {
            throw Denial(.noPriorSuccessfulVersion, "No earlier successful version to roll back to")
        }
        return prior
    }

    /// The engine application and pipeline a deployment targets.
    struct EngineTarget {
        var application: String
        var pipeline: String
    }

    /// §2.6: the recipe (or the configured default) names the engine application and pipeline
    /// → else 400 `INVALID_REQUEST` for a deploy, 400 `MISSING_SPINNAKER_TARGET` for a rollback.
    static func engineTargetResolved(_ recipe: Recipe, rollbackOf target: DeploymentRecord?, _ settings: Settings) throws(Denial) -> EngineTarget {
        if let target {
            let application = recipe.spinnakerApplication ?? target.spinnakerApplication.nonEmptyOrNil ?? settings.defaultSpinnakerApplication
            let pipeline = recipe.rollbackPipeline ?? target.spinnakerPipeline.nonEmptyOrNil
            guard let application, let pipeline else {
                throw Denial(.missingSpinnakerTarget, "Rollback target could not be resolved", hint: "recipe \(recipe.id) has no rollback mapping")
            }
            return EngineTarget(application: application, pipeline: pipeline)
        }
        guard let application = recipe.spinnakerApplication ?? settings.defaultSpinnakerApplication else {
            throw Denial(.invalidRequest, "Invalid request", hint: "recipe \(recipe.id) names no engine application and no default is configured")
        }
        return EngineTarget(application: application, pipeline: recipe.deployPipeline)
    }
}

extension String {
    var nonEmptyOrNil: String? { isEmpty ? nil : self }
}

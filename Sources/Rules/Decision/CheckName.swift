/// Every check the rules run, by the name that appears in decision trails. Each has a function of
/// the same name in ``Checks`` and tests beside the contract section it proves.
public enum CheckName: String, Sendable, Hashable, Codable, CaseIterable {
    // §1 roles and identity
    case roleRecognised = "role_recognised"
    case principalClaimPresent = "principal_claim_present"
    case roleAllowed = "role_allowed"
    case ciPublisherAllowlisted = "ci_publisher_allowlisted"
    case deliveryGroupMember = "delivery_group_member"
    case recordReadScope = "record_read_scope"
    // §2 request shape
    case intentWellFormed = "intent_well_formed"
    // §5 rate limits, §8 kill switch, §3 idempotency
    case readRateLimit = "read_rate_limit"
    case mutateRateLimit = "mutate_rate_limit"
    case killSwitchOff = "kill_switch_off"
    case idempotencyKeyPresent = "idempotency_key_present"
    case idempotencyReplay = "idempotency_replay"
    // §4 deployment governance: group policy, compatibility, limits
    case deliveryGroupResolved = "delivery_group_resolved"
    case environmentAllowed = "environment_allowed"
    case recipeRouted = "recipe_routed"
    case recipeAllowedByGroup = "recipe_allowed_by_group"
    case recipeIdMatchesRoute = "recipe_id_matches_route"
    case serviceAllowlisted = "service_allowlisted"
    case environmentConfigured = "environment_configured"
    case versionFormat = "version_format"
    case recipeCompatible = "recipe_compatible"
    case versionRegistered = "version_registered"
    case engineReady = "engine_ready"
    case quotaAvailable = "quota_available"
    case concurrencyAvailable = "concurrency_available"
    case engineTargetResolved = "engine_target_resolved"
    // §6 rollback
    case rollbackTargetExists = "rollback_target_exists"
    case rollbackTargetNotRollback = "rollback_target_not_rollback"
    case rollbackRecipeResolved = "rollback_recipe_resolved"
    case priorSuccessfulVersion = "prior_successful_version"
    // promotions (REFERENCE §2.10)
    case promotionTargetDiffers = "promotion_target_differs"
    case promotionPathAllowed = "promotion_path_allowed"
    case promotionVersionEligible = "promotion_version_eligible"
    // §3 build publishing
    case artifactValid = "artifact_valid"
    case builtAtValid = "built_at_valid"
    case artifactSourceAllowed = "artifact_source_allowed"
    case linksValid = "links_valid"
    case existingBuildConsistent = "existing_build_consistent"
    case uploadCapabilityMatched = "upload_capability_matched"
    // §5 reads
    case deploymentExists = "deployment_exists"
    case objectExists = "object_exists"
    // admin settings and policy data
    case settingsValid = "settings_valid"
    case policyChangeValid = "policy_change_valid"
    case objectAbsent = "object_absent"
    case recipeNotInUse = "recipe_not_in_use"
    case environmentWritable = "environment_writable"
    case environmentUnreferenced = "environment_unreferenced"
    // Spinnaker webhook decisions
    case pipelineRouted = "pipeline_routed"
    case deploymentAdmitted = "deployment_admitted"

    /// The contract section the check enforces.
    public var contractSection: String {
        switch self {
        case .roleRecognised, .principalClaimPresent, .roleAllowed, .ciPublisherAllowlisted: "§1"
        case .deliveryGroupMember, .recordReadScope, .deploymentExists, .objectExists: "§5"
        case .intentWellFormed: "§2"
        case .readRateLimit, .mutateRateLimit, .quotaAvailable: "§4.3"
        case .killSwitchOff: "§8"
        case .idempotencyKeyPresent, .idempotencyReplay: "§3.2"
        case .deliveryGroupResolved, .environmentAllowed, .recipeRouted, .recipeAllowedByGroup, .recipeIdMatchesRoute:
            "§4.1"
        case .serviceAllowlisted, .environmentConfigured, .versionFormat, .recipeCompatible, .versionRegistered:
            "§4.1"
        case .concurrencyAvailable: "§4.2"
        case .engineReady, .engineTargetResolved, .pipelineRouted, .deploymentAdmitted: "§2.6"
        case .rollbackTargetExists, .rollbackTargetNotRollback, .rollbackRecipeResolved, .priorSuccessfulVersion: "§6"
        case .promotionTargetDiffers, .promotionPathAllowed, .promotionVersionEligible: "§2.10"
        case .artifactValid, .builtAtValid, .artifactSourceAllowed, .linksValid, .existingBuildConsistent,
            .uploadCapabilityMatched:
            "§3.1"
        case .settingsValid, .policyChangeValid, .objectAbsent, .recipeNotInUse, .environmentWritable, .environmentUnreferenced: "§1.1"
        }
    }
}

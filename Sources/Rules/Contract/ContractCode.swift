/// The version of the DXCP governance contract these rules implement.
public let governanceContractVersion = "1.1"

/// Every error code of the contract (REFERENCE §3.2) that dxcp-policy produces, with its HTTP
/// status and failure cause.
///
/// This is the one place where a contract code is mapped to an HTTP status.
public enum ContractCode: String, Sendable, Codable, CaseIterable {
    case invalidRequest = "INVALID_REQUEST"
    case invalidBuildRegistration = "INVALID_BUILD_REGISTRATION"
    case unauthorized = "UNAUTHORIZED"
    case authzRoleRequired = "AUTHZ_ROLE_REQUIRED"
    case roleForbidden = "ROLE_FORBIDDEN"
    case ciOnly = "CI_ONLY"
    case deliveryGroupScopeRequired = "DELIVERY_GROUP_SCOPE_REQUIRED"
    case mutationsDisabled = "MUTATIONS_DISABLED"
    case idempotencyKeyRequired = "IDMP_KEY_REQUIRED"
    case idempotencyConflict = "IDEMPOTENCY_CONFLICT"
    case buildRegistrationConflict = "BUILD_REGISTRATION_CONFLICT"
    case serviceNotInDeliveryGroup = "SERVICE_NOT_IN_DELIVERY_GROUP"
    case environmentRequired = "ENVIRONMENT_REQUIRED"
    case environmentNotAllowed = "ENVIRONMENT_NOT_ALLOWED"
    case environmentRetired = "ENVIRONMENT_RETIRED"
    case environmentDisabled = "ENVIRONMENT_DISABLED"
    case serviceEnvironmentNotRouted = "SERVICE_ENVIRONMENT_NOT_ROUTED"
    case recipeIdRequired = "RECIPE_ID_REQUIRED"
    case recipeNotFound = "RECIPE_NOT_FOUND"
    case recipeDeprecated = "RECIPE_DEPRECATED"
    case recipeNotAllowed = "RECIPE_NOT_ALLOWED"
    case recipeIdMismatch = "RECIPE_ID_MISMATCH"
    case serviceNotAllowlisted = "SERVICE_NOT_ALLOWLISTED"
    case invalidEnvironment = "INVALID_ENVIRONMENT"
    case invalidVersion = "INVALID_VERSION"
    case recipeIncompatible = "RECIPE_INCOMPATIBLE"
    case versionNotFound = "VERSION_NOT_FOUND"
    case quotaExceeded = "QUOTA_EXCEEDED"
    case rateLimited = "RATE_LIMITED"
    case concurrencyLimitReached = "CONCURRENCY_LIMIT_REACHED"
    case notFound = "NOT_FOUND"
    case promotionTargetRequired = "PROMOTION_TARGET_REQUIRED"
    case promotionPathNotAllowed = "PROMOTION_PATH_NOT_ALLOWED"
    case promotionVersionIneligible = "PROMOTION_VERSION_INELIGIBLE"
    case rollbackOfRollback = "ROLLBACK_OF_ROLLBACK"
    case noPriorSuccessfulVersion = "NO_PRIOR_SUCCESSFUL_VERSION"
    case missingSpinnakerTarget = "MISSING_SPINNAKER_TARGET"
    case invalidArtifact = "INVALID_ARTIFACT"
    case invalidURL = "INVALID_URL"
    case engineUnavailable = "ENGINE_UNAVAILABLE"
    case engineTimeout = "ENGINE_TIMEOUT"
    case engineMisconfigured = "ENGINE_MISCONFIGURED"
    case engineUnauthorized = "ENGINE_UNAUTHORIZED"
    case engineCallFailed = "ENGINE_CALL_FAILED"
    /// A Spinnaker execution that is not the pipeline routed for its service and environment.
    case pipelineNotRouted = "PIPELINE_NOT_ROUTED"
    case internalError = "INTERNAL_ERROR"
    /// Too many decisions wait for the store's writer: refused before anything was done, to be
    /// retried after `Retry-After` (DECISIONS 74); answered by the edge, before any rule.
    case serviceOverloaded = "SERVICE_OVERLOADED"
    /// An endpoint of the reference this service deliberately does not serve (DECISIONS 65),
    /// answered by routing, before any rule.
    case notServed = "NOT_SERVED"
    /// No endpoint at this path (answered by routing, before any rule).
    case routeNotFound = "ROUTE_NOT_FOUND"
    /// The path exists, not with this method (answered by routing, before any rule).
    case methodNotAllowed = "METHOD_NOT_ALLOWED"
    // Admin object codes (REFERENCE §3.2, last row).
    case missingId = "MISSING_ID"
    case missingName = "MISSING_NAME"
    case invalidServices = "INVALID_SERVICES"
    case invalidEnvironments = "INVALID_ENVIRONMENTS"
    case invalidRecipes = "INVALID_RECIPES"
    case invalidGuardrail = "INVALID_GUARDRAIL"
    case invalidOwner = "INVALID_OWNER"
    case deliveryGroupExists = "DELIVERY_GROUP_EXISTS"
    case serviceAlreadyAssigned = "SERVICE_ALREADY_ASSIGNED"
    case idMismatch = "ID_MISMATCH"
    case recipeNameRequired = "RECIPE_NAME_REQUIRED"
    case recipeDeployPipelineRequired = "RECIPE_DEPLOY_PIPELINE_REQUIRED"
    case recipeBehaviorRequired = "RECIPE_BEHAVIOR_REQUIRED"
    case invalidStatus = "INVALID_STATUS"
    case recipeExists = "RECIPE_EXISTS"
    case recipeInUse = "RECIPE_IN_USE"
    case invalidEnvironmentId = "INVALID_ENVIRONMENT_ID"
    case invalidEnvironmentType = "INVALID_ENVIRONMENT_TYPE"
    case invalidEnvironmentLifecycleState = "INVALID_ENVIRONMENT_LIFECYCLE_STATE"
    case environmentExists = "ENVIRONMENT_EXISTS"
    case environmentTypeLocked = "ENVIRONMENT_TYPE_LOCKED"
    case environmentDeleteBlockedReferenced = "ENVIRONMENT_DELETE_BLOCKED_REFERENCED"

    /// The HTTP status the contract gives this code.
    public var httpStatus: Int {
        switch self {
        case .invalidRequest, .invalidBuildRegistration, .idempotencyKeyRequired, .environmentRequired,
            .serviceEnvironmentNotRouted, .recipeIdRequired, .recipeIdMismatch, .serviceNotAllowlisted,
            .invalidEnvironment, .invalidVersion, .recipeIncompatible, .versionNotFound,
            .rollbackOfRollback, .noPriorSuccessfulVersion, .missingSpinnakerTarget, .invalidArtifact,
            .invalidURL, .missingId, .missingName, .invalidServices, .invalidEnvironments, .invalidRecipes, .invalidGuardrail,
            .invalidOwner, .idMismatch, .recipeNameRequired, .recipeDeployPipelineRequired, .recipeBehaviorRequired,
            .invalidStatus, .invalidEnvironmentId, .invalidEnvironmentType, .invalidEnvironmentLifecycleState,
            .promotionTargetRequired, .promotionPathNotAllowed, .promotionVersionIneligible:
            400
        case .unauthorized: 401
        case .authzRoleRequired, .roleForbidden, .ciOnly, .deliveryGroupScopeRequired, .pipelineNotRouted,
            .serviceNotInDeliveryGroup, .environmentNotAllowed, .environmentRetired, .environmentDisabled,
            .recipeDeprecated, .recipeNotAllowed:
            403
        case .recipeNotFound, .notFound, .routeNotFound: 404
        case .methodNotAllowed: 405
        case .idempotencyConflict, .buildRegistrationConflict, .concurrencyLimitReached, .deliveryGroupExists,
            .serviceAlreadyAssigned, .recipeExists, .recipeInUse, .environmentExists, .environmentTypeLocked,
            .environmentDeleteBlockedReferenced:
            409
        case .quotaExceeded, .rateLimited: 429
        case .internalError: 500
        case .notServed: 501
        case .engineMisconfigured, .engineUnauthorized, .engineCallFailed: 502
        case .mutationsDisabled, .engineUnavailable, .serviceOverloaded: 503
        case .engineTimeout: 504
        }
    }

    /// The `failure_cause` the envelope reports for this code (REFERENCE §3.1).
    public var failureCause: FailureCause {
        switch self {
        case .invalidRequest, .recipeIdRequired, .recipeIdMismatch, .invalidEnvironment, .environmentRequired,
            .invalidVersion, .invalidArtifact, .invalidBuildRegistration, .buildRegistrationConflict,
            .idempotencyKeyRequired, .versionNotFound, .recipeNotFound, .recipeNameRequired, .recipeBehaviorRequired,
            .idMismatch, .invalidStatus, .environmentTypeLocked, .environmentDeleteBlockedReferenced,
            .promotionTargetRequired, .promotionPathNotAllowed, .promotionVersionIneligible:
            .userError
        case .serviceNotAllowlisted, .serviceNotInDeliveryGroup, .environmentNotAllowed, .environmentDisabled,
            .environmentRetired, .recipeNotAllowed, .recipeIncompatible, .recipeDeprecated,
            .concurrencyLimitReached, .quotaExceeded, .rateLimited, .mutationsDisabled, .roleForbidden,
            .authzRoleRequired, .unauthorized, .engineMisconfigured, .recipeInUse, .pipelineNotRouted:
            .policyChange
        default:
            .unknown
        }
    }
}

/// How the envelope classifies a failure for the person reading it.
public enum FailureCause: String, Sendable, Codable {
    /// The request itself was wrong.
    case userError = "USER_ERROR"
    /// Policy (or its configuration) forbids the request as made.
    case policyChange = "POLICY_CHANGE"
    /// Anything else.
    case unknown = "UNKNOWN"
}

/// A change to policy data made through the admin API (REFERENCE §2.8). Fields are as sent:
/// the rules validate them and answer with the reference's codes.
public enum PolicyChange: Sendable, Hashable, Codable {
    /// `POST /v1/recipes` (answers 200).
    case createRecipe(RecipeChange)
    /// `PUT /v1/recipes/{id}` (bumps the revision).
    case updateRecipe(id: String, RecipeChange)
    /// `DELETE /v1/admin/recipes/{id}` (answers 204).
    case deleteRecipe(id: String)
    /// `POST /v1/delivery-groups` (answers 201).
    case createDeliveryGroup(DeliveryGroupChange)
    /// `PUT /v1/delivery-groups/{id}`.
    case updateDeliveryGroup(id: String, DeliveryGroupChange)
    /// `PUT`/`PATCH /v1/admin/services/{service}/environments/{environment}`: the routed recipe.
    case setRoute(service: String, environment: String, recipeId: String?)
    /// `PUT`/`PATCH /v1/admin/delivery-groups/{group}/environments/{environment}`.
    case setBinding(group: String, environment: String, isEnabled: Bool, orderIndex: Int)
    /// `POST /v1/environments` (answers 201).
    case createEnvironment(EnvironmentChange)
    /// `PATCH /v1/environments/{id}`: fields sent replace the current ones.
    case updateEnvironment(id: String, EnvironmentChange)
    /// `DELETE /v1/environments/{id}` (answers 204).
    case deleteEnvironment(id: String)

    /// Method and path.
    public var endpoint: String {
        switch self {
        case .createRecipe: "POST /v1/recipes"
        case .updateRecipe(let id, _): "PUT /v1/recipes/\(id)"
        case .deleteRecipe(let id): "DELETE /v1/admin/recipes/\(id)"
        case .createDeliveryGroup: "POST /v1/delivery-groups"
        case .updateDeliveryGroup(let id, _): "PUT /v1/delivery-groups/\(id)"
        case .setRoute(let service, let environment, _): "PUT /v1/admin/services/\(service)/environments/\(environment)"
        case .setBinding(let group, let environment, _, _): "PUT /v1/admin/delivery-groups/\(group)/environments/\(environment)"
        case .createEnvironment: "POST /v1/environments"
        case .updateEnvironment(let id, _): "PATCH /v1/environments/\(id)"
        case .deleteEnvironment(let id): "DELETE /v1/environments/\(id)"
        }
    }
}

/// The body of a recipe create or update.
public struct RecipeChange: Sendable, Hashable, Codable {
    public var id: String?
    public var name: String?
    public var description: String?
    public var spinnakerApplication: String?
    public var deployPipeline: String?
    public var rollbackPipeline: String?
    public var effectiveBehaviorSummary: String?
    public var status: String?
    public var changeReason: String?

    /// A change from its parts.
    public init(
        id: String? = nil, name: String? = nil, description: String? = nil, spinnakerApplication: String? = nil,
        deployPipeline: String? = nil, rollbackPipeline: String? = nil, effectiveBehaviorSummary: String? = nil,
        status: String? = nil, changeReason: String? = nil
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.spinnakerApplication = spinnakerApplication
        self.deployPipeline = deployPipeline
        self.rollbackPipeline = rollbackPipeline
        self.effectiveBehaviorSummary = effectiveBehaviorSummary
        self.status = status
        self.changeReason = changeReason
    }
}

/// The body of a delivery group create or update.
public struct DeliveryGroupChange: Sendable, Hashable, Codable {
    public var id: String?
    public var name: String?
    public var description: String?
    /// Owner emails (from a comma-separated string or a list).
    public var owners: [String]
    public var services: [String]
    /// Environments the group deploys to, in order; nil keeps the current bindings on update.
    public var allowedEnvironments: [String]?
    public var allowedRecipes: [String]
    /// Guardrail values as sent (validated: positive integers).
    public var maxConcurrentDeployments: Int?
    public var dailyDeployQuota: Int?
    public var dailyRollbackQuota: Int?
    public var changeReason: String?

    /// A change from its parts.
    public init(
        id: String? = nil, name: String? = nil, description: String? = nil, owners: [String] = [], services: [String] = [],
        allowedEnvironments: [String]? = nil, allowedRecipes: [String] = [], maxConcurrentDeployments: Int? = nil,
        dailyDeployQuota: Int? = nil, dailyRollbackQuota: Int? = nil, changeReason: String? = nil
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.owners = owners
        self.services = services
        self.allowedEnvironments = allowedEnvironments
        self.allowedRecipes = allowedRecipes
        self.maxConcurrentDeployments = maxConcurrentDeployments
        self.dailyDeployQuota = dailyDeployQuota
        self.dailyRollbackQuota = dailyRollbackQuota
        self.changeReason = changeReason
    }
}

/// The body of an environment create or update; absent fields keep their current value on update
/// (on create: `non_prod`, `active`, display name = id).
public struct EnvironmentChange: Sendable, Hashable, Codable {
    public var id: String?
    public var displayName: String?
    /// `non_prod` or `prod`, as sent.
    public var type: String?
    /// `active`, `disabled` or `retired`, as sent.
    public var lifecycleState: String?
    public var changeReason: String?

    /// A change from its parts.
    public init(id: String? = nil, displayName: String? = nil, type: String? = nil, lifecycleState: String? = nil, changeReason: String? = nil) {
        self.id = id
        self.displayName = displayName
        self.type = type
        self.lifecycleState = lifecycleState
        self.changeReason = changeReason
    }
}

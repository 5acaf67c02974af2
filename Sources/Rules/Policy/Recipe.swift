/// A recipe: how a service is deployed, and the engine pipelines that do it (REFERENCE §2.8).
public struct Recipe: Sendable, Hashable, Codable {
    /// Whether a recipe may still be used for new deployments.
    public enum Status: String, Sendable, Codable {
        case active
        case deprecated
    }

    /// Stable id, e.g. `default`.
    public var id: String
    /// Display name.
    public var name: String
    /// Free text.
    public var description: String?
    /// Spinnaker application; the configured default application when nil.
    public var spinnakerApplication: String?
    /// Pipeline that deploys.
    public var deployPipeline: String
    /// Pipeline that rolls back.
    public var rollbackPipeline: String?
    /// One sentence (at most 240 characters) telling a user what deploying with it does.
    public var effectiveBehaviorSummary: String
    /// Active or deprecated.
    public var status: Status
    /// Bumped on every update; frozen into each deployment record.
    public var revision: Int
    /// Who created and last changed the recipe, when and why; nil until the write path stamps it.
    public var stamp: ChangeStamp?

    /// A recipe from its parts.
    public init(
        id: String, name: String, description: String? = nil, spinnakerApplication: String? = nil,
        deployPipeline: String, rollbackPipeline: String? = nil, effectiveBehaviorSummary: String,
        status: Status = .active, revision: Int = 1
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.spinnakerApplication = spinnakerApplication
        self.deployPipeline = deployPipeline
        self.rollbackPipeline = rollbackPipeline
        self.effectiveBehaviorSummary = effectiveBehaviorSummary
        self.status = status
        self.revision = revision
    }
}

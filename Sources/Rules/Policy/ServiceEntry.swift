/// A service registry entry: the allowlist of deployable services and what each supports
/// (REFERENCE §2.9).
public struct ServiceEntry: Sendable, Hashable, Codable {
    /// Service name, e.g. `demo-service`.
    public var name: String
    /// Environments the service may run in; empty means any environment of its group.
    public var allowedEnvironments: [String]
    /// Recipes the service is compatible with; empty means none.
    public var allowedRecipes: [String]
    /// Prefixes an artifact reference must start with, e.g. `s3://artifacts/demo-service/`;
    /// empty means any `s3://` reference.
    public var allowedArtifactSources: [String]
    /// URL template of the running service, for display.
    public var stableServiceURLTemplate: String?

    /// A registry entry from its parts.
    public init(
        name: String, allowedEnvironments: [String] = [], allowedRecipes: [String] = [],
        allowedArtifactSources: [String] = [], stableServiceURLTemplate: String? = nil
    ) {
        self.name = name
        self.allowedEnvironments = allowedEnvironments
        self.allowedRecipes = allowedRecipes
        self.allowedArtifactSources = allowedArtifactSources
        self.stableServiceURLTemplate = stableServiceURLTemplate
    }
}

/// What a Spinnaker pipeline's first stage (a Webhook stage) tells about its own execution when
/// it asks whether it may go on: what SpEL can supply (docs/integrations/spinnaker.md).
public struct SpinnakerExecution: Sendable, Hashable, Codable {
    /// `${execution.application}`.
    public var application: String
    /// `${execution.name}`: the pipeline's name.
    public var pipeline: String
    /// `${execution.id}`: the key of an admission (a retried stage is a replay).
    public var executionId: String
    /// `${trigger.user}`: who started it; must own the service's delivery group (D7).
    public var user: String
    /// The service, environment and version being deployed (pipeline parameters).
    public var service: String
    public var environment: String
    public var version: String
    /// Why (at most 240 characters; blank allowed).
    public var changeSummary: String
    /// Set when dxcp-policy itself triggered the pipeline (its `dxcpDeploymentId` parameter):
    /// that deployment is already admitted and holds its slot.
    public var dxcpDeploymentId: String?

    /// An execution from its parts.
    public init(
        application: String, pipeline: String, executionId: String, user: String, service: String, environment: String,
        version: String, changeSummary: String = "", dxcpDeploymentId: String? = nil
    ) {
        self.application = application
        self.pipeline = pipeline
        self.executionId = executionId
        self.user = user
        self.service = service
        self.environment = environment
        self.version = version
        self.changeSummary = changeSummary
        self.dxcpDeploymentId = dxcpDeploymentId
    }

    /// The intent this execution carries out.
    public var intent: DeploymentIntent {
        DeploymentIntent(service: service, environment: environment, version: version, changeSummary: changeSummary)
    }

    /// Canonical JSON of every field: a retry of the same execution must send the same.
    public var fingerprint: String {
        CanonicalJSON.object([
            ("application", .string(application)), ("changeSummary", .string(changeSummary)),
            ("dxcpDeploymentId", dxcpDeploymentId.map { .string($0) } ?? .null), ("environment", .string(environment)),
            ("executionId", .string(executionId)), ("pipeline", .string(pipeline)), ("service", .string(service)),
            ("user", .string(user)), ("version", .string(version)),
        ])
    }
}

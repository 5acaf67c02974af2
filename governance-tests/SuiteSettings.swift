import Foundation

/// What a run targets and how long it may wait.
struct SuiteSettings: Sendable {
    /// The service deployed by the run.
    var service: String
    /// Its environment.
    var environment: String
    /// The delivery group holding the service, which the owner identity is made a member of.
    var deliveryGroup: String
    /// The artifact reference of a build, with `{service}` and `{version}` placeholders.
    var artifactRefTemplate: String
    /// Name of the roles claim (claims sanity).
    var rolesClaim: String
    /// Seconds a deployment may take to reach a terminal state.
    var deployTimeout: TimeInterval
    /// Seconds between two polls of a deployment.
    var pollInterval: TimeInterval
    /// Whether limits are probed.
    var guardrails: Guardrails
    /// Unique id of the run: prefix of request ids, idempotency keys and the names it creates.
    var runId: String

    /// The artifact reference of `version`.
    func artifactRef(_ version: String) -> String {
        artifactRefTemplate.replacingOccurrences(of: "{service}", with: service).replacingOccurrences(of: "{version}", with: version)
    }
}

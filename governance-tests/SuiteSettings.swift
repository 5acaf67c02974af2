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

/// The versions a run registers and deploys, picked from the ones the deployment lists.
struct RunVersions: Sendable {
    /// Registered in step C and deployed in step F.
    var run: String
    /// Registered twice with different commits in step D.
    var conflict: String
    /// Registered through an upload capability (POST /v1/builds).
    var capability: String
    /// Deployed before step F when the deployment has no restore point yet.
    var baseline: String
    /// Never registered.
    var unregistered: String

    /// Picks unused `0.1.N` versions above every listed one, and the first unlisted `0.1.999+`.
    init(existing: Set<String>) {
        let used = existing.compactMap { version -> Int? in
            let parts = version.split(separator: ".")
            guard parts.count == 3, parts[0] == "0", parts[1] == "1", let n = Int(parts[2]), n < 900 else { return nil }
            return n
        }
        let next = (used.max() ?? 0) + 1
        run = "0.1.\(next)"
        conflict = "0.1.\(next + 1)"
        capability = "0.1.\(next + 2)"
        baseline = "0.1.\(next + 3)"
        var unregistered = 999
        while existing.contains("0.1.\(unregistered)") { unregistered += 1 }
        self.unregistered = "0.1.\(unregistered)"
    }
}

/// An admin change the suite made, which the audit log must show (REFERENCE §11, DECISIONS D10).
struct AdminChange: Sendable {
    /// `METHOD /path`.
    var request: String
    /// The `X-Request-Id` it was sent with.
    var requestId: String
    /// The object or setting it changed (e.g. `ci_publishers`, a group id).
    var target: String
}

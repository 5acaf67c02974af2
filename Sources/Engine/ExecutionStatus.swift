public import Rules
import Foundation

/// An execution as Gate reports it, reduced to what the contract records: the mapped state, the
/// normalised failure, and the deployment id it was triggered for.
public struct ExecutionStatus: Sendable, Hashable {
    /// Gate's execution id.
    public var id: String
    /// Gate's status text, upper-cased.
    public var engineStatus: String
    /// The contract state it maps to (REFERENCE §7).
    public var state: DeploymentRecord.State
    /// The `dxcpDeploymentId` trigger parameter, when present.
    public var deploymentId: String?
    /// Failure signals found in the execution (messages and error codes), for normalisation.
    public var failureSignals: [String]
    /// Why Gate's answer for the execution could not be read, when it could not (its state is
    /// then `PENDING`, no contract state).
    public var unreadable: Unreadable?

    /// Why an answer Gate gave for an execution cannot be read.
    public enum Unreadable: String, Sendable, Hashable {
        /// Longer than the transport reads (stages carrying large outputs).
        case tooLarge = "ANSWER_TOO_LARGE"
        /// An object naming the execution, without a status.
        case withoutStatus = "ANSWER_WITHOUT_STATUS"
    }

    /// Gate status → contract state (REFERENCE §7).
    public static func state(for status: String) -> DeploymentRecord.State {
        switch status.uppercased() {
        case "RUNNING", "NOT_STARTED", "STARTED", "BUFFERED", "PAUSED", "SUSPENDED": .inProgress
        case "SUCCEEDED": .succeeded
        case "ROLLED_BACK": .rolledBack
        case "TERMINAL", "FAILED", "FAILED_CONTINUE": .failed
        case "CANCELED", "STOPPED": .canceled
        default: .pending
        }
    }

    /// An execution Gate answered for with something that cannot be read: no contract state
    /// (`PENDING`), with `reason` as its status text and ``unreadable``.
    static func unreadable(_ id: String, _ reason: Unreadable) -> ExecutionStatus {
        ExecutionStatus(id: id, engineStatus: reason.rawValue, state: .pending, deploymentId: nil, failureSignals: [], unreadable: reason)
    }

    private init(id: String, engineStatus: String, state: DeploymentRecord.State, deploymentId: String?, failureSignals: [String], unreadable: Unreadable?) {
        self.id = id
        self.engineStatus = engineStatus
        self.state = state
        self.deploymentId = deploymentId
        self.failureSignals = failureSignals
        self.unreadable = unreadable
    }

    init?(object: [String: Any]) {
        guard let id = object["id"] as? String, let status = (object["status"] as? String) ?? (object["state"] as? String) else {
            return nil
        }
        self.id = id
        self.engineStatus = status.uppercased()
        self.state = Self.state(for: status)
        let trigger = object["trigger"] as? [String: Any]
        let parameters = (trigger?["parameters"] as? [String: Any]) ?? (object["parameters"] as? [String: Any])
        self.deploymentId = parameters?[GateClient.deploymentIdParameter] as? String
        var signals: [String] = []
        for key in ["statusMessage", "message", "error", "exception"] {
            if let text = object[key] as? String { signals.append(text) }
        }
        for stage in (object["stages"] as? [[String: Any]]) ?? [] {
            let context = stage["context"] as? [String: Any]
            for text in [stage["statusMessage"], context?["error"], context?["exception"], context?["errorCode"]] {
                if let text = text as? String { signals.append(text) }
            }
        }
        self.failureSignals = signals
    }

    /// The normalised failure of a FAILED execution (REFERENCE §10.3): the first signal that
    /// matches a rule decides the category; none matching gives UNKNOWN (ROLLBACK for rollbacks).
    public func failure(isRollback: Bool, at now: Timestamp) -> Failure? {
        guard state == .failed else { return nil }
        for signal in failureSignals {
            let text = signal.lowercased()
            let category: Failure.Category? =
                if text.contains("timeout") || text.contains("timed out") { .timeout }
                else if ["missing_service", "unknown_service", "unauthorized", "method_not_allowed", "not_found"].contains(text) { .config }
                else if ["artifact_bucket_mismatch", "no_previous_artifact", "invalid_previous_artifact"].contains(text) { .artifact }
                else if text.contains("connection") || text.contains("unavailable") || text.contains("http 5") || text.contains("internal error") { .infrastructure }
                else if text.contains("artifact") || text.contains("checksum") { .artifact }
                else if text.contains("forbidden") || text.contains("not allowed") { .policy }
                else if text.contains("config") || text.contains("pipeline") { .config }
                else if text.contains("validation") { .validation }
                else { nil }
            if let category {
                return Failure(category: category, summary: Self.summary(category), detail: String(signal.prefix(500)),
                    actionHint: "Retry the deployment or contact the platform team.", observedAt: now)
            }
        }
        return Failure(category: isRollback ? .rollback : .unknown, summary: "Deployment failed.",
            detail: failureSignals.first.map { String($0.prefix(500)) }, actionHint: "Retry the deployment or contact the platform team.",
            observedAt: now)
    }

    static func summary(_ category: Failure.Category) -> String {
        switch category {
        case .timeout: "The deployment timed out."
        case .infrastructure: "The deployment engine or its infrastructure failed."
        case .artifact: "The artifact could not be deployed."
        case .policy: "The deployment was refused by policy."
        case .config: "The deployment pipeline is misconfigured."
        case .validation: "The deployment failed validation."
        default: "Deployment failed."
        }
    }
}

public import Rules

/// What dxcp-policy asks Gate to run for a deployment record (REFERENCE §10.2 with DECISIONS D16):
/// the recorded application and pipeline, and the record's service, version and artifact.
public struct TriggerRequest: Sendable, Hashable {
    /// Spinnaker application.
    public var application: String
    /// Pipeline name.
    public var pipeline: String
    /// The engine user (the principal's email or subject).
    public var user: String
    /// The JSON body.
    public var payload: [UInt8]

    /// The deployment it is for: a trigger parameter, and the trigger's `correlationId` (Orca
    /// starts no second execution for a correlation id whose execution still runs).
    public var deploymentId: String

    /// The trigger for `record`. `artifactRef` comes from the registered build when known; the
    /// idempotency key is the record's. No secret is ever put into the parameters.
    public init(record: DeploymentRecord, artifactRef: String?) {
        application = record.spinnakerApplication
        pipeline = record.spinnakerPipeline
        user = record.actor.engineUser
        deploymentId = record.id
        var parameters: [(String, String)] = [
            ("service", record.service), ("environment", record.environment), ("version", record.version),
            (GateClient.deploymentIdParameter, record.id),
        ]
        if record.kind == .rollback { parameters.append(("targetVersion", record.version)) }
        if let artifactRef {
            parameters.append(("artifactRef", artifactRef))
            if artifactRef.hasPrefix("s3://") {
                let rest = artifactRef.dropFirst(5).split(separator: "/", maxSplits: 1)
                if rest.count == 2 {
                    parameters.append(("s3Bucket", String(rest[0])))
                    parameters.append(("s3Key", String(rest[1])))
                }
            }
        }
        // Written directly (this is on every deploy's path): keys sorted, strings escaped.
        var json = #"{"correlationId":"# + jsonString(GateClient.correlationPrefix + record.id)
        if let key = record.intentCorrelationId { json += #","idempotencyKey":"# + jsonString(key) }
        json += #","parameters":{"#
        for (n, (name, value)) in parameters.sorted(by: { $0.0 < $1.0 }).enumerated() {
            json += (n == 0 ? "" : ",") + jsonString(name) + ":" + jsonString(value)
        }
        json += #"},"type":"manual","user":"# + jsonString(record.actor.engineUser) + "}"
        payload = Array(json.utf8)
    }
}

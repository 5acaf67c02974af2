public import Rules
import JSONWriter

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
        var s3: (bucket: String, key: String)?
        if let artifactRef, artifactRef.hasPrefix("s3://") {
            let rest = artifactRef.dropFirst(5).split(separator: "/", maxSplits: 1)
            if rest.count == 2 { s3 = (String(rest[0]), String(rest[1])) }
        }
        // Written directly (this is on every deploy's path), keys in sorted order; the parameter
        // carrying the deployment id is ``GateClient/deploymentIdParameter``.
        var w = CompactJSONWriter()
        w.open()
        w.field("correlationId", GateClient.correlationPrefix + record.id)
        w.field("idempotencyKey", record.intentCorrelationId)
        w.key("parameters")
        w.open()
        w.field("artifactRef", artifactRef)
        w.field("dxcpDeploymentId", record.id)
        w.field("environment", record.environment)
        w.field("s3Bucket", s3?.bucket)
        w.field("s3Key", s3?.key)
        w.field("service", record.service)
        w.field("targetVersion", record.kind == .rollback ? record.version : nil)
        w.field("version", record.version)
        w.close()
        w.field("type", "manual")
        w.field("user", record.actor.engineUser)
        w.close()
        payload = w.bytes
    }
}

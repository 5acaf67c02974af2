import JSONWriter
import Rules

/// Hand-written JSON for the values every reservation writes: the deployment record and the
/// in-flight idempotency record. The output has exactly the keys and shapes their `Codable`
/// conformances read, so stored values are still read back with `JSONDecoder`; only the hot
/// write skips Foundation's encoder.
enum StoredEncoding {
    static func encode(_ r: DeploymentRecord) -> [UInt8] {
        var w = CompactJSONWriter()
        write(r, into: &w)
        return w.bytes
    }

    /// Writes the record as a JSON object.
    static func write(_ r: DeploymentRecord, into w: inout CompactJSONWriter) {
        w.open()
        w.key("actor")
        w.open()
        w.field("actorId", r.actor.actorId)
        w.field("authorizedParty", r.actor.authorizedParty)
        w.field("email", r.actor.email)
        w.field("engineUser", r.actor.engineUser)
        w.field("role", r.actor.role.rawValue)
        w.field("subject", r.actor.subject)
        w.close()
        w.field("changeSummary", r.changeSummary)
        w.field("createdAt", r.createdAt)
        w.field("deliveryGroupId", r.deliveryGroupId)
        w.field("effectiveBehaviorSummary", r.effectiveBehaviorSummary)
        w.field("engineExecutionId", r.engineExecutionId)
        w.field("engineExecutionURL", r.engineExecutionURL)
        w.field("environment", r.environment)
        w.key("failures")
        w.raw("[")
        for (i, f) in r.failures.enumerated() {
            if i > 0 { w.raw(",") }
            w.open()
            w.field("actionHint", f.actionHint)
            w.field("category", f.category.rawValue)
            w.field("detail", f.detail)
            w.field("observedAt", f.observedAt)
            w.field("summary", f.summary)
            w.close()
        }
        w.raw("]")
        w.field("id", r.id)
        w.field("intentCorrelationId", r.intentCorrelationId)
        w.field("kind", r.kind.rawValue)
        w.key("policySnapshot")
        w.open()
        let p = r.policySnapshot
        w.field("currentConcurrentDeployments", Int64(p.currentConcurrentDeployments))
        w.field("dailyDeployQuota", Int64(p.dailyDeployQuota))
        w.field("dailyQuotaBuildRegister", Int64(p.dailyQuotaBuildRegister))
        w.field("deploymentsRemaining", Int64(p.deploymentsRemaining))
        w.field("deploymentsUsed", Int64(p.deploymentsUsed))
        w.field("maxConcurrentDeployments", Int64(p.maxConcurrentDeployments))
        w.close()
        w.field("recipeId", r.recipeId)
        w.field("recipeRevision", Int64(r.recipeRevision))
        w.field("rollbackOf", r.rollbackOf)
        w.field("service", r.service)
        w.field("sourceEnvironment", r.sourceEnvironment)
        w.field("spinnakerApplication", r.spinnakerApplication)
        w.field("spinnakerPipeline", r.spinnakerPipeline)
        w.field("state", r.state.rawValue)
        w.field("updatedAt", r.updatedAt)
        w.field("version", r.version)
        w.close()
    }

    /// The in-flight form (no response yet) and the form a deploy or rollback completes with (a
    /// deployment as its response) by hand; any other completed record through `codec`.
    static func encode(_ record: IdempotencyRecord, _ codec: RecordCodec) throws -> [UInt8] {
        var w = CompactJSONWriter()
        switch record.response {
        case nil:
            w.open()
            w.field("expiresAt", record.expiresAt)
            w.field("fingerprint", record.fingerprint)
            w.close()
        case .some(let response):
            guard case .deployment(let deployment) = response.result else { return try codec.encode(record) }
            w = CompactJSONWriter(capacity: 1_536)
            w.open()
            w.field("expiresAt", record.expiresAt)
            w.field("fingerprint", record.fingerprint)
            w.key("response")
            w.open()
            w.key("result")
            w.open()
            w.key("deployment")
            w.open()
            w.key("_0")
            write(deployment, into: &w)
            w.close()
            w.close()
            w.field("status", Int64(response.status))
            w.close()
            w.close()
        }
        return w.bytes
    }
}

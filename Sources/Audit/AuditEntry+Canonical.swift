import Rules
import JSONWriter

extension AuditEntry {
    /// The entry's canonical encoding: compact JSON, keys sorted, absent optionals omitted, with
    /// `hash` set to `hash`. The chain hashes the form with an empty hash; the store keeps the
    /// form with the real one. Written by hand: this runs for every audited decision, inside the
    /// write transaction, and must never change for a given entry.
    public func canonicalBytes(hash: String) -> [UInt8] {
        var w = CompactJSONWriter(capacity: 2048)
        w.open()
        w.field("actor_id", actorId)
        if let actorRole { w.field("actor_role", actorRole.rawValue) }
        w.field("contract_version", contractVersion)
        if let decisionId { w.field("decision_id", decisionId) }
        if let deliveryGroupId { w.field("delivery_group_id", deliveryGroupId) }
        if let environment { w.field("environment", environment) }
        w.field("event_id", eventId)
        w.field("event_type", eventType)
        w.field("hash", hash)
        w.field("outcome", outcome.rawValue)
        w.field("previous_hash", previousHash)
        if let requestId { w.field("request_id", requestId) }
        w.key("sequence")
        w.raw(String(sequence))
        if let serviceName { w.field("service_name", serviceName) }
        w.field("summary", summary)
        w.field("target_id", targetId)
        w.field("target_type", targetType)
        w.key("timestamp")
        w.raw("{\"microseconds\":\(timestamp.microseconds)}")
        w.key("trail")
        w.raw("[")
        for (i, check) in trail.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"check\":")
            w.string(check.check.rawValue)
            switch check.outcome {
            case .passed: w.raw(",\"outcome\":\"passed\"}")
            case .skipped: w.raw(",\"outcome\":\"skipped\"}")
            case .failed(let code): w.raw(",\"code\":\"\(code.rawValue)\",\"outcome\":\"failed\"}")
            }
        }
        w.raw("]")
        w.close()
        return w.bytes
    }
}

import Rules

/// Compact encodings of the two small values written with every reservation: the slot entry and
/// the outbox entry. Both are fixed-shape and hot, so they skip JSON.
enum CompactValues {
    /// A slot entry: one byte of flags (1: ACTIVE, else IN_PROGRESS; 2: awaiting the engine), eight
    /// of `updatedAt`, then the id as UTF-8.
    static func encode(_ active: ActiveDeployment) -> [UInt8] {
        let flags: UInt8 = (active.state == .active ? 1 : 0) | (active.awaitingEngine ? 2 : 0)
        return [flags] + StoreKey().adding(active.updatedAt.microseconds).bytes + Array(active.id.utf8)
    }

    static func decodeActive(_ bytes: [UInt8]) -> ActiveDeployment? {
        guard bytes.count >= 9, let micros = StoreKey.integer(in: bytes, at: 1) else { return nil }
        return ActiveDeployment(
            id: String(decoding: bytes[9...], as: UTF8.self), state: bytes[0] & 1 == 1 ? .active : .inProgress,
            updatedAt: Timestamp(microseconds: micros), awaitingEngine: bytes[0] & 2 == 2)
    }

    /// An outbox entry: the deployment id, actor, endpoint and key as ``StoreKey`` components.
    static func encode(_ order: DispatchOrder) -> [UInt8] {
        StoreKey().adding(order.deploymentId).adding(order.idempotency.actorId).adding(order.idempotency.endpoint)
            .adding(order.idempotency.key).bytes
    }

    static func decodeOrder(_ bytes: [UInt8]) -> DispatchOrder? {
        var parts: [String] = []
        var offset = 0
        while parts.count < 4, let part = StoreKey.string(in: bytes, at: offset) {
            parts.append(part)
            offset += StoreKey().adding(part).bytes.count
        }
        guard parts.count == 4 else { return nil }
        return DispatchOrder(deploymentId: parts[0], idempotency: IdempotencyScope(actorId: parts[1], endpoint: parts[2], key: parts[3]))
    }
}

/// A stored value that cannot be decoded: the data is damaged.
struct UndecodableValue: Error, CustomStringConvertible {
    let what: String
    var description: String { "a stored \(what) cannot be decoded" }
}

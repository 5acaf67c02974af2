import Rules

/// A key as the stores compare it: byte for byte (LMDB keys; `COLLATE "C"` in the fleet's
/// tables). Swift's `String` equality is Unicode canonical equivalence — "é" precomposed equals
/// "e" and a combining accent, the Kelvin sign equals "K" — so two keys that are two rows in a
/// store would be one entry in a Swift dictionary keyed by strings; what is kept in memory for a
/// store (a fleet batch's rows, one node's read windows) is keyed by these bytes instead.
protocol RowKeyed {
    /// The key's fields as stored, each followed by a zero byte (text in PostgreSQL holds none).
    var rowKey: [UInt8] { get }
}

extension [UInt8] {
    /// `fields` as a row key: each one's bytes followed by a zero byte.
    fileprivate init(fields: String...) {
        self = []
        for field in fields {
            append(contentsOf: field.utf8)
            append(0)
        }
    }
}

extension String: RowKeyed {
    var rowKey: [UInt8] { Array(utf8) }
}

extension RateWindow: RowKeyed {
    var rowKey: [UInt8] { [UInt8](fields: actorId, bucket.rawValue, String(minute)) }
}

extension QuotaScope: RowKeyed {
    var rowKey: [UInt8] { [UInt8](fields: kind.rawValue, key) }
}

extension QuotaKey: RowKeyed {
    var rowKey: [UInt8] { [UInt8](fields: scope.kind.rawValue, scope.key, String(day)) }
}

extension IdempotencyScope: RowKeyed {
    var rowKey: [UInt8] { [UInt8](fields: actorId, endpoint, key) }
}

extension BuildKey: RowKeyed {
    var rowKey: [UInt8] { [UInt8](fields: service, version) }
}

extension SlotScope: RowKeyed {
    var rowKey: [UInt8] { [UInt8](fields: group, environment) }
}

extension InsightKey: RowKeyed {
    var rowKey: [UInt8] { [UInt8](fields: String(hour), group, service, measure.rawValue, label) }
}

extension RefusalKey: RowKeyed {
    var rowKey: [UInt8] { [UInt8](fields: String(minute), actor, code) }
}

/// A dictionary whose keys are equal when their ``RowKeyed/rowKey`` bytes are.
struct RowMap<Key: RowKeyed, Value>: Sequence {
    private var entries: [[UInt8]: (key: Key, value: Value)] = [:]

    init() {}

    var isEmpty: Bool { entries.isEmpty }
    var keys: [Key] { entries.values.map(\.key) }

    subscript(key: Key) -> Value? {
        get { entries[key.rowKey]?.value }
        set {
            let bytes = key.rowKey
            if let newValue { entries[bytes] = (key, newValue) } else { entries[bytes] = nil }
        }
    }

    subscript(key: Key, default value: @autoclosure () -> Value) -> Value {
        get { entries[key.rowKey]?.value ?? value() }
        set { entries[key.rowKey] = (key, newValue) }
    }

    /// The entries `isIncluded` keeps.
    func filtered(_ isIncluded: (Key, Value) -> Bool) -> RowMap {
        var kept = RowMap()
        kept.entries = entries.filter { isIncluded($0.value.key, $0.value.value) }
        return kept
    }

    var count: Int { entries.count }

    /// Sets `value` for `key`, a nil value included (for maps whose values are optional).
    mutating func updateValue(_ value: Value, forKey key: Key) {
        entries[key.rowKey] = (key, value)
    }

    func makeIterator() -> some IteratorProtocol<(key: Key, value: Value)> {
        entries.values.makeIterator()
    }
}

/// A set whose members are equal when their ``RowKeyed/rowKey`` bytes are.
struct RowSet<Key: RowKeyed>: Sequence {
    private var members: [[UInt8]: Key] = [:]

    init() {}

    var isEmpty: Bool { members.isEmpty }

    mutating func insert(_ key: Key) { members[key.rowKey] = key }

    func makeIterator() -> some IteratorProtocol<Key> { members.values.makeIterator() }
}

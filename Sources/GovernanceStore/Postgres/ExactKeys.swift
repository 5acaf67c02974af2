import Rules

/// A key as the fleet's tables compare it: byte for byte (`COLLATE "C"`). Swift's `String`
/// equality is Unicode canonical equivalence — "é" precomposed equals "e" and a combining accent
/// — so two keys that are two rows in the database would be one entry in a Swift dictionary keyed
/// by strings; what a batch knows and writes is keyed by these bytes instead.
protocol RowKeyed {
    /// The key's fields as stored, each followed by a zero byte (text in PostgreSQL holds none).
    var rowKey: [UInt8] { get }
}

extension [UInt8] {
    fileprivate mutating func field(_ text: String) {
        append(contentsOf: text.utf8)
        append(0)
    }

    fileprivate mutating func field(_ number: Int64) { field(String(number)) }
}

extension String: RowKeyed {
    var rowKey: [UInt8] { Array(utf8) }
}

extension RateWindow: RowKeyed {
    var rowKey: [UInt8] {
        var key: [UInt8] = []
        key.field(actorId)
        key.field(bucket.rawValue)
        key.field(minute)
        return key
    }
}

extension QuotaScope: RowKeyed {
    var rowKey: [UInt8] {
        var key: [UInt8] = []
        key.field(kind.rawValue)
        key.field(self.key)
        return key
    }
}

extension QuotaKey: RowKeyed {
    var rowKey: [UInt8] { scope.rowKey + String(day).utf8 }
}

extension IdempotencyScope: RowKeyed {
    var rowKey: [UInt8] {
        var bytes: [UInt8] = []
        bytes.field(actorId)
        bytes.field(endpoint)
        bytes.field(key)
        return bytes
    }
}

extension BuildKey: RowKeyed {
    var rowKey: [UInt8] {
        var key: [UInt8] = []
        key.field(service)
        key.field(version)
        return key
    }
}

extension SlotScope: RowKeyed {
    var rowKey: [UInt8] {
        var key: [UInt8] = []
        key.field(group)
        key.field(environment)
        return key
    }
}

extension InsightKey: RowKeyed {
    var rowKey: [UInt8] {
        var key: [UInt8] = []
        key.field(hour)
        key.field(group)
        key.field(service)
        key.field(measure.rawValue)
        key.field(label)
        return key
    }
}

extension RefusalKey: RowKeyed {
    var rowKey: [UInt8] {
        var key: [UInt8] = []
        key.field(minute)
        key.field(actor)
        key.field(code)
        return key
    }
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

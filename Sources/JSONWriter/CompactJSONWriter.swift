public import Rules

/// Appends compact JSON to a byte buffer. Objects are written key by key (the caller orders the
/// keys); strings are escaped as JSON requires. For hot encodings where Foundation's encoder
/// costs too much.
public struct CompactJSONWriter: Sendable {
    /// The JSON written so far.
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    /// An empty writer with room for `capacity` bytes. The default suits a response or a record;
    /// it stays under glibc's large-request size (1,024 bytes), whose first allocation after frees
    /// consolidates the allocator's fast bins.
    public init(capacity: Int = 480) { bytes.reserveCapacity(capacity) }

    /// Opens an object; the next key needs no comma.
    public mutating func open() {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    /// Closes an object; a key written next (in an enclosing object) takes a comma.
    public mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Appends text as is.
    public mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// Writes `"name":`, with a comma before it when needed. Names are literals of the
    /// encodings, which need no escaping, so they are copied as they are.
    public mutating func key(_ name: StaticString) {
        assert(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount).allSatisfy { $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C })
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes `"name":` for a name that is data (an object's own keys), escaped.
    private mutating func key(escaping name: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes a string member.
    public mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    /// Writes a string member when `value` is not nil.
    public mutating func field(_ name: StaticString, _ value: String?) {
        if let value { field(name, value) }
    }

    /// Writes an integer member.
    public mutating func field(_ name: StaticString, _ value: Int64) {
        key(name)
        integer(value)
    }

    /// Appends an integer's decimal digits.
    public mutating func integer(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(truncatingIfNeeded: 48 + magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// Writes a member whose value is `null`.
    public mutating func null(_ name: StaticString) {
        key(name)
        raw("null")
    }

    /// Writes a string member, or `null` when `value` is nil.
    public mutating func nullable(_ name: StaticString, _ value: String?) {
        if let value { field(name, value) } else { null(name) }
    }

    /// Writes a boolean member.
    public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        raw(value ? "true" : "false")
    }

    /// Writes a member holding any JSON value.
    public mutating func field(_ name: StaticString, _ value: JSONValue) {
        key(name)
        self.value(value)
    }

    /// Writes a JSON value (objects with sorted keys).
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let b): raw(b ? "true" : "false")
        case .int(let n): integer(n)
        case .string(let s): string(s)
        case .array(let items):
            raw("[")
            for (i, item) in items.enumerated() {
                if i > 0 { raw(",") }
                self.value(item)
            }
            raw("]")
        case .object(let members):
            open()
            for name in members.keys.sorted() {
                key(escaping: name)
                self.value(members[name] ?? .null)
            }
            close()
        }
    }

    /// Writes a timestamp member in the shape `Timestamp` decodes: `{"microseconds":N}`.
    public mutating func field(_ name: StaticString, _ value: Timestamp) {
        key(name)
        raw("{\"microseconds\":\(value.microseconds)}")
    }

    /// A JSON string: quotes, backslashes and control characters escaped, other UTF-8 as is.
    public mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { buf in
            guard Self.firstEscape(in: buf) != nil else {
                bytes.append(contentsOf: buf)
                return
            }
            var runStart = 0
            for i in 0..<buf.count {
                let byte = buf[i]
                guard Self.needsEscape(byte) else { continue }
                if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<i])) }
                runStart = i + 1
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
                case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
                default:
                    let hex: StaticString = "0123456789abcdef"
                    bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex.utf8Start[Int(byte >> 4)], hex.utf8Start[Int(byte & 0xF)]])
                }
            }
            if runStart < buf.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Whether JSON needs `byte` escaped in a string.
    @inline(__always)
    static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// The offset of the first byte of `buf` that needs escaping, or nil: eight bytes at a time.
    static func firstEscape(in buf: UnsafeBufferPointer<UInt8>) -> Int? {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var i = 0
        if let base = buf.baseAddress {
            while i + 8 <= buf.count {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                // A byte below 0x20 (bytes from 0x80 up have their high bit set in `word` and are
                // left out by `~word`), or equal to '"' or '\\' (a zero byte after the XOR).
                let control = (word &- 0x20 &* ones) & ~word & highs
                let quote = word ^ (0x22 &* ones), backslash = word ^ (0x5C &* ones)
                let equal = ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash) & highs
                if control | equal != 0 { break }
                i += 8
            }
        }
        while i < buf.count {
            if needsEscape(buf[i]) { return i }
            i += 1
        }
        return nil
    }
}

public import Rules

/// A request the edge refuses before the rules see it: not JSON, wrong types, missing fields,
/// unknown route or method. Answered in the contract's envelope (DECISIONS D18).
public struct WireError: Error, Sendable, Equatable {
    /// `INVALID_REQUEST`, `INVALID_BUILD_REGISTRATION` or `NOT_FOUND`.
    public var code: ContractCode
    /// HTTP status (400, 404 or 405).
    public var status: Int
    /// User-safe message.
    public var message: String
    /// The first offending field, if any.
    public var field: String?
    /// Structured details (`field`, or `missing_fields` / `invalid_fields` for build registration).
    public var details: [String: JSONValue]?

    /// An `INVALID_REQUEST` naming `field`.
    static func invalid(_ field: String?, _ message: String) -> WireError {
        WireError(
            code: .invalidRequest, status: 400, message: message, field: field,
            details: field.map { ["field": .string($0)] })
    }
}

/// Typed, strict access to the members of a JSON object: nothing is coerced, and every failure
/// names the field. Missing and invalid fields are collected so build registration can report
/// all of them (REFERENCE §2.6).
struct FieldReader {
    let object: JSON
    var missing: [String] = []
    var invalid: [String] = []
    var firstProblem: (field: String, message: String)?

    init(_ object: JSON) { self.object = object }

    private mutating func problem(_ field: String, missing isMissing: Bool, _ message: String) {
        if isMissing { missing.append(field) } else { invalid.append(field) }
        if firstProblem == nil { firstProblem = (field, message) }
    }

    mutating func string(_ name: String, maxLength: Int? = nil) -> String {
        optionalString(name, maxLength: maxLength, required: true) ?? ""
    }

    mutating func optionalString(_ name: String, maxLength: Int? = nil, required: Bool = false) -> String? {
        switch object[name] {
        case nil, .null?:
            if required { problem(name, missing: true, "\(name) is required") }
            return nil
        case .string(let s)?:
            // A string of at most `maxLength` bytes has at most as many characters.
            if let maxLength, s.utf8.count > maxLength, s.count > maxLength {
                problem(name, missing: false, "\(name) must be at most \(maxLength) characters")
            }
            return s
        case let other?:
            problem(name, missing: false, "\(name) must be a string, not \(other.typeName)")
            return nil
        }
    }

    mutating func int(_ name: String, required: Bool = true) -> Int64? {
        switch object[name] {
        case nil, .null?:
            if required { problem(name, missing: true, "\(name) is required") }
            return nil
        case .int(let n)?:
            return n
        case let other?:
            problem(name, missing: false, "\(name) must be an integer, not \(other.typeName)")
            return nil
        }
    }

    mutating func bool(_ name: String) -> Bool? {
        switch object[name] {
        case nil, .null?:
            problem(name, missing: true, "\(name) is required")
            return nil
        case .bool(let b)?:
            return b
        case let other?:
            problem(name, missing: false, "\(name) must be a boolean, not \(other.typeName)")
            return nil
        }
    }

    mutating func strings(_ name: String) -> [String] {
        switch object[name] {
        case nil, .null?:
            return []
        case .array(let items)?:
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item else {
                    problem(name, missing: false, "\(name) must be a list of strings")
                    return []
                }
                out.append(s)
            }
            return out
        case let other?:
            problem(name, missing: false, "\(name) must be a list of strings, not \(other.typeName)")
            return []
        }
    }

    /// Throws the first problem as `INVALID_REQUEST`.
    func check() throws(WireError) {
        if let firstProblem { throw WireError.invalid(firstProblem.field, firstProblem.message) }
    }

    /// Throws all problems as `INVALID_BUILD_REGISTRATION` with the missing and invalid lists.
    func checkBuildRegistration() throws(WireError) {
        guard let firstProblem else { return }
        throw WireError(
            code: .invalidBuildRegistration, status: 400, message: "Invalid build registration", field: firstProblem.field,
            details: ["missing_fields": .strings(missing), "invalid_fields": .strings(invalid)])
    }
}

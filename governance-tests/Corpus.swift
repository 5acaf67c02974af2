import Foundation

/// The contract as data: decision cases in JSON files, one file per REFERENCE section, each case
/// a policy (the corpus's `policy.yaml`, which the server under test is seeded with), the
/// requests that set up state, the request under test and what it must answer. The same files run
/// over HTTP against any server (`governance-tests --corpus DIR`) and in-process against the
/// rules in dxcp-policy's unit tests, so one case proves both.
struct CorpusFile: Sendable {
    /// The file name, e.g. `s04-deploy.json`.
    var name: String
    /// The REFERENCE sections the file covers.
    var section: String
    var title: String
    var cases: [CorpusCase]

    /// Every `*.json` file of `directory`, by name.
    static func load(directory: String) throws -> [CorpusFile] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        guard !names.isEmpty else { throw CorpusError("no *.json case files in \(directory)") }
        return try names.map { name in
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path), let json = JSON.parse(data) else {
                throw CorpusError("\(name): not a JSON document")
            }
            return try CorpusFile(name: name, json: json)
        }
    }

    init(name: String, json: JSON) throws {
        self.name = name
        section = try json.required("section", in: name)
        title = try json.required("title", in: name)
        guard let cases = json["cases"]?.array, !cases.isEmpty else { throw CorpusError("\(name): no `cases`") }
        self.cases = try cases.enumerated().map { index, item in try CorpusCase(json: item, at: "\(name) case \(index + 1)") }
        var seen: Set<String> = []
        for item in self.cases where !seen.insert(item.id).inserted { throw CorpusError("\(name): case id \(item.id) appears twice") }
    }
}

/// One decision case.
struct CorpusCase: Sendable {
    /// Stable id, e.g. `deploy.version_not_registered`.
    var id: String
    /// The REFERENCE section it proves.
    var section: String
    var title: String
    /// CONTRACT (the default), or DIAGNOSTIC for a product decision beyond the contract's letter
    /// (e.g. D7): reported, never decisive, as in the conformance run.
    var required: Bool
    /// Requests that make the state the case needs, each with the status it must get.
    var setup: [CorpusStep]
    /// The request under test.
    var request: CorpusStep
    /// What it must answer.
    var expect: CorpusExpectation
    /// Requests that undo what setup changed beyond its own records (e.g. the kill switch), run
    /// even when the case fails.
    var teardown: [CorpusStep]

    init(json: JSON, at place: String) throws {
        let id: String = try json.required("id", in: place)
        self.id = id
        section = try json.required("section", in: "\(place) (\(id))")
        title = try json.required("title", in: "\(place) (\(id))")
        switch json["classification"]?.string ?? "CONTRACT" {
        case "CONTRACT": required = true
        case "DIAGNOSTIC": required = false
        case let other: throw CorpusError("\(id): classification \(other) is neither CONTRACT nor DIAGNOSTIC")
        }
        setup = try (json["setup"]?.array ?? []).map { try CorpusStep(json: $0, at: "\(id) setup") }
        guard let request = json["request"] else { throw CorpusError("\(id): no `request`") }
        self.request = try CorpusStep(json: request, at: "\(id) request")
        guard request["await"] == nil else { throw CorpusError("\(id): the request under test cannot be an `await`") }
        guard let expect = json["expect"] else { throw CorpusError("\(id): no `expect`") }
        self.expect = try CorpusExpectation(json: expect, at: id)
        teardown = try (json["teardown"]?.array ?? []).map { try CorpusStep(json: $0, at: "\(id) teardown") }
    }
}

/// A request of a case, or a wait for the engine to end a deployment.
enum CorpusStep: Sendable {
    /// A request as one of the suite's identities.
    case request(CorpusRequest, expect: Set<Int>, save: String?)
    /// Waits until the deployment saved as `label` is in `state` (the engine ends it: the Gate
    /// emulator over HTTP, the test's stand-in engine in-process).
    case await(label: String, state: String)

    init(json: JSON, at place: String) throws {
        if let label = json["await"]?.string {
            self = .await(label: label, state: json["state"]?.string ?? "SUCCEEDED")
            return
        }
        let identity: Identity?
        switch json["as"] {
        case .string(let name)?:
            guard let known = Identity(rawValue: name) else { throw CorpusError("\(place): unknown identity \(name)") }
            identity = known
        case .null?, nil: identity = nil
        default: throw CorpusError("\(place): `as` must be an identity name")
        }
        let method: String = try json.required("method", in: place)
        let path: String = try json.required("path", in: place)
        let expect: Set<Int> = switch json["expect"] {
        case .int(let status)?: [Int(status)]
        case .array(let statuses)?: Set(statuses.compactMap { $0.int.map(Int.init) })
        default: []
        }
        self = .request(
            CorpusRequest(identity: identity, method: method, path: path, key: json["key"]?.string, body: json["body"]),
            expect: expect, save: json["save"]?.string)
    }
}

/// A request before placeholders are filled.
struct CorpusRequest: Sendable {
    var identity: Identity?
    var method: String
    /// May hold `{{label}}` placeholders (ids saved by earlier steps).
    var path: String
    /// A label made run- and case-unique by the runner; `""` sends the header empty; nil sends none.
    var key: String?
    /// May hold `{{label}}` placeholders in its strings.
    var body: JSON?
}

/// What the request under test must answer.
struct CorpusExpectation: Sendable {
    var status: Int
    /// The error envelope's code; nil for a success.
    var code: String?
    /// The names of the checks in the decision's trail, in order: compared where the server
    /// reports its trail (in-process); a server over HTTP reports none.
    var checks: [String]?
    /// `Idempotency-Replayed: true` expected (or its absence/false).
    var replayed: Bool?
    /// The answer's `id` must be the id saved as this label (a replay answers the first record).
    var sameAs: String?

    init(json: JSON, at place: String) throws {
        guard let status = json["status"]?.int else { throw CorpusError("\(place): `expect` needs a `status`") }
        self.status = Int(status)
        code = json["code"]?.string
        checks = json["checks"]?.array.map { $0.compactMap(\.string) }
        replayed = json["replayed"]?.bool
        sameAs = json["same_as"]?.string
    }
}

/// What a server answered, as the corpus runner compares it.
struct CorpusReply: Sendable {
    var status: Int
    /// The error envelope's code, if any.
    var code: String?
    /// Whether the answer is a replay (`Idempotency-Replayed: true`).
    var replayed: Bool
    /// The body.
    var body: Data
    /// The decision's trail by check name, when the server reports it.
    var checks: [String]?
}

/// How the runner reaches a server: over HTTP, or the rules in-process.
protocol CorpusTransport {
    /// Sends one request; `key` and `body` are final.
    func send(_ identity: Identity?, _ method: String, _ path: String, key: String?, body: Data?) async throws -> CorpusReply
    /// Returns once deployment `id` is in `state`.
    func awaitDeployment(_ id: String, state: String) async throws
}

/// A corpus file or case that cannot be read.
struct CorpusError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension JSON {
    /// The string member `key`, or an error naming `place`.
    fileprivate func required(_ key: String, in place: String) throws -> String {
        guard let value = self[key]?.string, !value.isEmpty else { throw CorpusError("\(place): `\(key)` is required") }
        return value
    }

    /// This value with every `{{label}}` in its strings replaced from `values`.
    func filling(_ values: [String: String]) -> JSON {
        switch self {
        case .string(let text): .string(text.filling(values))
        case .array(let elements): .array(elements.map { $0.filling(values) })
        case .object(let members): .object(members.mapValues { $0.filling(values) })
        default: self
        }
    }
}

extension String {
    /// This text with every `{{label}}` replaced from `values` (unknown labels stay).
    func filling(_ values: [String: String]) -> String {
        guard contains("{{") else { return self }
        var text = self
        for (label, value) in values { text = text.replacingOccurrences(of: "{{\(label)}}", with: value) }
        return text
    }
}

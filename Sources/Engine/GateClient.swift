public import Rules
import JSONWriter
import Foundation

/// Spinnaker's Gate, as dxcp-policy uses it: trigger a pipeline, read an execution, check health,
/// and find executions of an application by the deployment id they carry (DECISIONS D16).
///
/// Every call sends `X-Spinnaker-User` and `X-Request-Id`; redirects are never followed; secrets
/// never appear in errors or logs.
public final class GateClient: Sendable {
    /// The configuration (its description redacts secrets).
    public let configuration: GateConfiguration
    private let transport: CurlTransport

    /// The pipeline parameter that carries dxcp-policy's deployment id, so that an execution can
    /// be found again after a crash.
    public static let deploymentIdParameter = "dxcpDeploymentId"

    /// A client for the Gate described by `configuration`.
    public init(configuration: GateConfiguration) {
        self.configuration = configuration
        self.transport = CurlTransport(configuration: configuration)
    }

    /// An accepted trigger: the execution id and its URL.
    public struct Execution: Sendable, Hashable {
        /// Gate's execution id.
        public var id: String
        /// `<gate>/pipelines/<id>`.
        public var url: String
    }

    /// The prefix of the trigger's `correlationId`; the deployment id follows it.
    public static let correlationPrefix = "dxcp-"

    /// `POST /pipelines/{application}/{pipeline}` with the payload of REFERENCE §10.2, on a new
    /// connection (never re-sent by libcurl), with the configured service credentials only: a
    /// caller's own token is never forwarded (DECISIONS 91).
    /// `startBy`: the call is not sent after this instant (it then fails as not sent).
    ///
    /// - Throws: ``EngineError`` whose ``EngineError/delivery`` says whether Gate can have started
    ///   the execution: a 2xx without a readable execution id may follow a start.
    public func trigger(
        _ request: TriggerRequest, requestId: String, startBy: ContinuousClock.Instant? = nil
    ) async throws(EngineError) -> Execution {
        let path = "/pipelines/\(pathSegment(request.application))/\(pathSegment(request.pipeline))"
        let response = try await transport.send(HTTPExchange(
            post: request.payload, url: configuration.baseURL + path,
            headers: headers(user: request.user, requestId: requestId, json: true),
            freshConnection: true, startBy: startBy))
        guard (200..<300).contains(response.status) else { throw EngineError.answered(response.status, location: response.location) }
        guard response.complete else {
            throw EngineError(.engineCallFailed, upstreamStatus: response.status, delivery: .ambiguous, "Gate's answer to the trigger was too large to read")
        }
        guard let id = Self.executionId(in: response.body) else {
            throw EngineError(.engineCallFailed, upstreamStatus: response.status, delivery: .ambiguous,
                "Gate accepted the trigger but returned no execution id")
        }
        return Execution(id: id, url: "\(configuration.baseURL)/pipelines/\(id)")
    }

    /// `GET /pipelines/{id}`: the execution's state, or nil when Gate does not know it (404). A
    /// 2xx answer too long for the transport, or an object that names this execution but no
    /// status, still says that Gate has the execution: its state is then
    /// ``ExecutionStatus/unreadable(_:_:)`` (no contract state). Any other answer that cannot
    /// be read proves nothing (a login page of a proxy in front of Gate, say) and fails the call.
    public func execution(_ id: String, user: String, requestId: String) async throws(EngineError) -> ExecutionStatus? {
        let response = try await transport.send(HTTPExchange(
            url: "\(configuration.baseURL)/pipelines/\(pathSegment(id))", headers: headers(user: user, requestId: requestId)))
        if response.status == 404 { return nil }
        guard (200..<300).contains(response.status) else { throw EngineError.answered(response.status, location: response.location) }
        guard response.complete else { return .unreadable(id, .tooLarge) }
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        if let object, let status = ExecutionStatus(object: object) { return status }
        if object?["id"] as? String == id { return .unreadable(id, .withoutStatus) }
        throw EngineError(.engineCallFailed, upstreamStatus: response.status, delivery: .ambiguous, "Gate returned an execution that cannot be read")
    }

    /// `GET /health`: whether Gate answers 2xx.
    public func health(requestId: String, timeoutMs: Int? = nil) async throws(EngineError) {
        let response = try await transport.send(HTTPExchange(
            url: configuration.baseURL + "/health", headers: headers(user: nil, requestId: requestId), timeoutMs: timeoutMs))
        guard (200..<300).contains(response.status) else { throw EngineError.answered(response.status, location: response.location) }
    }

    /// Validate's readiness preflight (REFERENCE §4.1 step 15): `GET /health` with a 2 s timeout,
    /// tried after 0, 0.5, 1 and 2 seconds; the last failure decides the `ENGINE_*` code.
    public func readiness(requestId: String, waits: [Duration] = [.zero, .milliseconds(500), .seconds(1), .seconds(2)]) async -> EngineReadiness {
        var last = EngineError(.engineUnavailable, delivery: .notSent, "not tried")
        for wait in waits {
            if wait > .zero { try? await Task.sleep(for: wait) }
            do {
                try await health(requestId: requestId, timeoutMs: 2_000)
                return .ready
            } catch {
                last = error
            }
        }
        return .unavailable(last.code, detail: last.detail)
    }

    /// What Gate knows of a deployment's execution.
    public enum Search: Sendable, Hashable {
        /// The execution triggered for it.
        case found(ExecutionStatus)
        /// Gate has no execution carrying the deployment id.
        case none
    }

    /// The execution Gate started for `deploymentId` in `application`, found by the trigger
    /// parameter it carries: Gate's execution search
    /// (`GET /applications/{app}/executions/search?trigger=<base64 JSON>`, a subset match on the
    /// trigger), or, where Gate has no search (404), the application's execution list — which
    /// proves absence only when it is shorter than asked for (Gate returned all it keeps).
    ///
    /// - Throws: ``EngineError`` when Gate cannot be asked or its answer cannot prove either way.
    public func findExecution(application: String, deploymentId: String, createdAt: Timestamp, user: String, requestId: String)
        async throws(EngineError) -> Search
    {
        var trigger = CompactJSONWriter(capacity: 96)
        trigger.open()
        trigger.key("parameters")
        trigger.open()
        trigger.field("dxcpDeploymentId", deploymentId)  // deploymentIdParameter
        trigger.close()
        trigger.close()
        // A day of margin for clocks that disagree between this host and Gate's: the bound only
        // narrows Gate's work, the trigger parameter decides.
        let since = max(0, (createdAt.microseconds / 1000) - 86_400_000)
        let query = "triggerTypes=manual&trigger=\(pathSegment(Data(trigger.bytes).base64EncodedString()))&triggerTimeStartBoundary=\(since)"
            + "&size=\(Self.searchPageSize)&expand=false"
        let searched = try await transport.send(HTTPExchange(
            url: "\(configuration.baseURL)/applications/\(pathSegment(application))/executions/search?\(query)",
            headers: headers(user: user, requestId: requestId)))
        if searched.status != 404 {
            return try executionList(searched, deploymentId: deploymentId, filtered: true).ours.first.map(Search.found) ?? .none
        }
        let listed = try await transport.send(HTTPExchange(
            url: "\(configuration.baseURL)/applications/\(pathSegment(application))/pipelines?limit=\(Self.listLimit)&expand=false",
            headers: headers(user: user, requestId: requestId)))
        let list = try executionList(listed, deploymentId: deploymentId, filtered: false)
        if let execution = list.ours.first { return .found(execution) }
        // Counted as answered, readable or not: a full page may hide the rest.
        guard list.answered < Self.listLimit else {
            throw EngineError(.engineCallFailed, upstreamStatus: listed.status, delivery: .ambiguous,
                "Gate has no execution search and its list of \(application) is full: absence cannot be proved")
        }
        return .none
    }

    static let searchPageSize = 10
    static let listLimit = 100

    /// The executions of a search or list answer that carry `deploymentId`, and how many the
    /// answer held. An answer that cannot be read as one of ours proves nothing either way, so it
    /// fails the look rather than counting as absent: in a search, which answers only executions
    /// whose trigger carries the id, any such answer; in a list, one that names the id anywhere.
    func executionList(_ response: HTTPResponse, deploymentId: String, filtered: Bool) throws(EngineError)
        -> (ours: [ExecutionStatus], answered: Int)
    {
        guard (200..<300).contains(response.status) else { throw EngineError.answered(response.status, location: response.location) }
        guard response.complete else {
            throw EngineError(.engineCallFailed, upstreamStatus: response.status, delivery: .ambiguous, "Gate's list of executions was too large to read")
        }
        guard let list = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [Any] else {
            throw EngineError(.engineCallFailed, upstreamStatus: response.status, delivery: .ambiguous, "Gate returned executions that cannot be read")
        }
        var ours: [ExecutionStatus] = []
        for element in list {
            let execution = (element as? [String: Any]).flatMap(ExecutionStatus.init(object:))
            if let execution, execution.deploymentId == deploymentId {
                ours.append(execution)
            } else if let other = execution?.deploymentId, other.lowercased() == deploymentId.lowercased() {
                // Gate's search matches strings ignoring case; ids are lower-case, so an id that
                // differs only in case is someone else's (triggered by hand), not a doubt.
                continue
            } else if filtered || Self.mentions(element, deploymentId) {
                throw EngineError(.engineCallFailed, upstreamStatus: response.status, delivery: .ambiguous,
                    "Gate answered an execution for \(deploymentId) that cannot be read as one; its outcome is unknown")
            }
            // Otherwise a listed execution that never names the deployment: someone else's.
        }
        return (ours, list.count)
    }

    /// Whether `deploymentId` appears as a string anywhere in `value`.
    static func mentions(_ value: Any, _ deploymentId: String) -> Bool {
        switch value {
        case let text as String: text == deploymentId
        case let object as [String: Any]: object.values.contains { mentions($0, deploymentId) }
        case let array as [Any]: array.contains { mentions($0, deploymentId) }
        default: false
        }
    }

    private func headers(user: String?, requestId: String, json: Bool = false) -> [String] {
        var lines = ["X-Request-Id: \(headerSafe(requestId))", "Accept: application/json"]
        if let user { lines.append("X-Spinnaker-User: \(headerSafe(user))") }
        if json { lines.append("Content-Type: application/json") }
        return lines
    }

    /// The execution id of a trigger response: `executionId` or `id`, else the last path segment
    /// of `ref`, `resource` or `url` (REFERENCE §10.2).
    static func executionId(in body: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        for key in ["executionId", "id"] {
            if let id = object[key] as? String, !id.isEmpty { return id }
        }
        for key in ["ref", "resource", "url"] {
            if let ref = object[key] as? String, let last = ref.split(separator: "/").last, !last.isEmpty { return String(last) }
        }
        return nil
    }
}

/// A path segment with everything but unreserved characters percent-encoded.
func pathSegment(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
        }
    }
    return out
}

/// A header value without line breaks (a value can never inject another header).
func headerSafe(_ text: String) -> String {
    String(text.unicodeScalars.filter { $0 != "\r" && $0 != "\n" })
}

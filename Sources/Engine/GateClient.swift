public import Rules
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

    /// `POST /pipelines/{application}/{pipeline}` with the payload of REFERENCE §10.2.
    /// `callerToken` is sent only when ``GateConfiguration/forwardCallerToken`` is set and no other
    /// authentication is configured.
    public func trigger(_ request: TriggerRequest, requestId: String, callerToken: String? = nil) async throws(EngineError) -> Execution {
        let path = "/pipelines/\(pathSegment(request.application))/\(pathSegment(request.pipeline))"
        let response = try await transport.send(
            post: request.payload, to: configuration.baseURL + path,
            headers: headers(user: request.user, requestId: requestId, json: true, callerToken: callerToken))
        guard (200..<300).contains(response.status) else { throw EngineError.answered(response.status, location: response.location) }
        guard let id = Self.executionId(in: response.body) else {
            throw EngineError(.engineCallFailed, upstreamStatus: response.status, "Gate accepted the trigger but returned no execution id")
        }
        return Execution(id: id, url: "\(configuration.baseURL)/pipelines/\(id)")
    }

    /// `GET /pipelines/{id}`: the execution's state, or nil when Gate does not know it (404).
    public func execution(_ id: String, user: String, requestId: String) async throws(EngineError) -> ExecutionStatus? {
        let response = try await transport.send(
            post: nil, to: "\(configuration.baseURL)/pipelines/\(pathSegment(id))", headers: headers(user: user, requestId: requestId))
        if response.status == 404 { return nil }
        guard (200..<300).contains(response.status) else { throw EngineError.answered(response.status, location: response.location) }
        guard let status = ExecutionStatus(json: response.body) else {
            throw EngineError(.engineCallFailed, upstreamStatus: response.status, "Gate returned an execution that cannot be read")
        }
        return status
    }

    /// `GET /health`: whether Gate answers 2xx.
    public func health(requestId: String, timeoutMs: Int? = nil) async throws(EngineError) {
        let response = try await transport.send(
            post: nil, to: configuration.baseURL + "/health", headers: headers(user: nil, requestId: requestId), timeoutMs: timeoutMs)
        guard (200..<300).contains(response.status) else { throw EngineError.answered(response.status, location: response.location) }
    }

    /// Validate's readiness preflight (REFERENCE §4.1 step 15): `GET /health` with a 2 s timeout,
    /// tried after 0, 0.5, 1 and 2 seconds; the last failure decides the `ENGINE_*` code.
    public func readiness(requestId: String, waits: [Duration] = [.zero, .milliseconds(500), .seconds(1), .seconds(2)]) async -> EngineReadiness {
        var last = EngineError(.engineUnavailable, "not tried")
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

    /// `GET /applications/{application}/pipelines`: the executions whose trigger parameters carry
    /// `deploymentId` (recovery after a crash between trigger and record).
    public func executions(application: String, deploymentId: String, user: String, requestId: String) async throws(EngineError) -> [ExecutionStatus] {
        let response = try await transport.send(
            post: nil, to: "\(configuration.baseURL)/applications/\(pathSegment(application))/pipelines",
            headers: headers(user: user, requestId: requestId))
        guard (200..<300).contains(response.status) else { throw EngineError.answered(response.status, location: response.location) }
        guard let list = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]] else {
            throw EngineError(.engineCallFailed, upstreamStatus: response.status, "Gate returned executions that cannot be read")
        }
        return list.compactMap(ExecutionStatus.init(object:)).filter { $0.deploymentId == deploymentId }
    }

    private func headers(user: String?, requestId: String, json: Bool = false, callerToken: String? = nil) -> [String] {
        var lines = ["X-Request-Id: \(headerSafe(requestId))", "Accept: application/json"]
        if configuration.forwardCallerToken, case .none = configuration.authentication, let callerToken {
            lines.append("Authorization: Bearer \(headerSafe(callerToken))")
        }
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

public import Rules
public import GovernanceStore
public import Engine
public import Hummingbird
public import Logging
import HTTPTypes
import Foundation
import NIOCore
import JSONWriter

/// The governance surface over HTTP: authentication first (DECISIONS D17), then strict request
/// decoding, the decision, the engine dispatch for new reservations, and the response in the
/// contract's shapes with `X-Request-Id`, `X-Decision-Id`, `X-Decision-Reason` and
/// `Idempotency-Replayed` (REFERENCE §2, §3, §13; DECISIONS D14).
public final class GovernanceServer: Sendable {
    /// Server settings.
    public struct Configuration: Sendable {
        /// The largest request body accepted, in bytes (larger: 413).
        public var bodyLimit: Int
        /// Show operator hints to everyone, not only platform admins (development).
        public var exposeOperatorHints: Bool
        /// Browser origins allowed by CORS (REFERENCE §13.5: credentials, any method and header).
        public var corsOrigins: Set<String>
        /// The bearer token Spinnaker's Webhook stages present (`DXCP_SPINNAKER_WEBHOOK_TOKEN`);
        /// without one the webhook decisions refuse every call.
        public var spinnakerWebhookToken: String?

        /// The reference's CORS origins, as `DXCP_CORS_ORIGINS` gives them by default.
        public static let defaultCORSOrigins: Set<String> = ["http://127.0.0.1:5173", "http://localhost:5173"]

        /// 64 KiB bodies; hints for admins only; the reference's default CORS origins.
        public init(
            bodyLimit: Int = WireRequest.defaultBodyLimit, exposeOperatorHints: Bool = false,
            corsOrigins: Set<String> = Configuration.defaultCORSOrigins, spinnakerWebhookToken: String? = nil
        ) {
            self.bodyLimit = bodyLimit
            self.exposeOperatorHints = exposeOperatorHints
            self.corsOrigins = corsOrigins
            self.spinnakerWebhookToken = spinnakerWebhookToken
        }
    }

    let store: any GovernanceBackend
    let authenticator: Authenticator
    let dispatcher: Dispatcher?
    let readiness: ReadinessProbe?
    let configuration: Configuration
    let clock: @Sendable () -> Timestamp
    let makeId: @Sendable () -> String
    let logger: Logger
    /// The metrics served at `/metrics`.
    public let metrics: ServerMetrics

    /// A server over `store` that passes new reservations to `dispatcher`, and asks `readiness`
    /// before a validate. Without a dispatcher, deployments cannot be dispatched and are refused
    /// with `ENGINE_UNAVAILABLE` after their reservation is released.
    public init(
        store: any GovernanceBackend, authenticator: Authenticator, dispatcher: Dispatcher?, readiness: ReadinessProbe?,
        configuration: Configuration = Configuration(),
        clock: @escaping @Sendable () -> Timestamp, makeId: @escaping @Sendable () -> String,
        metrics: ServerMetrics = ServerMetrics(), logger: Logger = Logger(label: "dxcp.server")
    ) {
        self.metrics = metrics
        self.store = store
        self.authenticator = authenticator
        self.dispatcher = dispatcher
        self.readiness = readiness
        self.configuration = configuration
        self.clock = clock
        self.makeId = makeId
        self.logger = logger
    }

    /// The Hummingbird responder serving every path.
    public func responder() -> some HTTPResponder<BasicRequestContext> {
        CallbackResponder { [self] request, _ in
            var request = request
            return await self.respond(to: &request)
        }
    }

    /// An answer: status, headers and JSON body.
    struct Answer {
        var status: Int
        var body: [UInt8]
        var headers: [HTTPField] = []
        var contentType = "application/json"
        /// The metrics label: an action or a fixed name, never a raw path.
        var route = "other"
    }

    func respond(to request: inout Request) async -> Response {
        let started = ContinuousClock.now
        let requestId = Self.requestId(request.headers.value(.requestId)) ?? makeId()
        var answer = await answer(&request, requestId: requestId)
        // A gateway's question carries the client's headers; CORS is the upstream API's business.
        if let origin = request.headers.value(.origin), !answer.route.hasPrefix("gateway") {
            answer = cors(answer, origin: origin, request: request, requestId: requestId)
        }
        metrics.request(route: answer.route, status: answer.status, duration: ContinuousClock.now - started)
        var fields = HTTPFields()
        fields.reserveCapacity(answer.headers.count + 2)
        fields.append(HTTPField(name: .contentType, value: answer.contentType))
        fields.append(HTTPField(name: .requestId, value: requestId))
        fields.append(contentsOf: answer.headers)
        return Response(
            status: HTTPResponse.Status(code: answer.status), headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    /// The OpenAPI document (docs/openapi.yaml), bundled with the module.
    static let openAPIDocument: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"), let data = try? Data(contentsOf: url) else {
            return Array("openapi: 3.0.3\ninfo: {title: dxcp-policy, version: \"1.1\"}\npaths: {}\n".utf8)
        }
        return Array(data)
    }()

    /// CORS (REFERENCE §13.5): an allowed origin gets credentials, and a preflight every method and
    /// the headers it asks for; a preflight from another origin is refused with 400.
    private func cors(_ answer: Answer, origin: String, request: Request, requestId: String) -> Answer {
        let preflight = request.method == .options && request.headers.value(.accessControlRequestMethod) != nil
        guard configuration.corsOrigins.contains(origin) else {
            if preflight { return denial(.invalidRequest, message: "Disallowed CORS origin", requestId: requestId, hint: nil) }
            return answer
        }
        var headers = [
            HTTPField(name: .accessControlAllowOrigin, value: origin), HTTPField(name: .accessControlAllowCredentials, value: "true"),
            HTTPField(name: .vary, value: "Origin"),
        ]
        guard preflight else {
            var allowed = answer
            allowed.headers += headers
            return allowed
        }
        headers.append(HTTPField(name: .accessControlAllowMethods, value: "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"))
        if let requested = request.headers.value(.accessControlRequestHeaders) {
            headers.append(HTTPField(name: .accessControlAllowHeaders, value: requested))
        }
        headers.append(HTTPField(name: .accessControlMaxAge, value: "600"))
        return Answer(status: 200, body: [], headers: headers, route: "preflight")
    }

    /// A client's `X-Request-Id`, when it is 1...128 printable ASCII characters.
    static func requestId(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= 128, value.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else { return nil }
        return value
    }

    /// Paths answered without a token, each with the one method it has.
    static let publicPaths: [String: String] = [
        "/v1/health": "GET", "/livez": "GET", "/readyz": "GET", "/metrics": "GET", "/v1/openapi.yaml": "GET",
    ]

    private func answer(_ request: inout Request, requestId: String) async -> Answer {
        let method = request.method.rawValue
        let path = request.uri.path
        // HTTP/1.1 requires Host (RFC 9112 §3.2); HTTPTypes carries it as the authority.
        guard request.head.authority?.isEmpty == false else {
            return denial(.invalidRequest, message: "Host header required", requestId: requestId, hint: nil)
        }
        if let allowed = Self.publicPaths[path], allowed != method, request.method != .options {
            // The same body as every other routing answer, `detail` included.
            return Answer(status: 405, body: Views.routingError(code: .methodNotAllowed, status: 405, requestId: requestId))
        }
        switch (method, path) {
        case ("GET", "/v1/health"), ("GET", "/livez"):
            return Answer(status: 200, body: Array(#"{"status":"ok"}"#.utf8), route: "health")
        case ("GET", "/v1/openapi.yaml"):
            return Answer(status: 200, body: Self.openAPIDocument, contentType: "application/yaml", route: "openapi")
        case ("GET", "/metrics"):
            if let usage = store.usage() { metrics.store(mapSize: usage.mapSize, used: usage.used) }
            return Answer(status: 200, body: metrics.render(), contentType: "text/plain; version=0.0.4", route: "metrics")
        case ("GET", "/readyz"):
            return await readyz()
        default:
            break
        }
        if path.hasPrefix(Self.gatewayPrefix) {
            return await gatewayAnswer(request, path: path, requestId: requestId)
        }
        if path.hasPrefix(Self.webhookPrefix) {
            return await webhookAnswer(&request, path: path, requestId: requestId)
        }
        if request.method == .options {
            // Preflights carry no credentials; the CORS layer answers them (403 without an origin).
            return Answer(status: 204, body: [], route: "preflight")
        }
        let now = clock()
        let principal: Principal
        do {
            principal = try await authenticator.authenticate(request.headers.value(.authorization), now: now)
        } catch {
            return denial(.unauthorized, message: error.message, requestId: requestId, hint: nil)
        }
        // A token that maps to no DXCP role learns nothing more, not even about bodies (D17).
        guard principal.role != nil else {
            return denial(.authzRoleRequired, message: "A DXCP role is required", requestId: requestId, hint: nil)
        }
        var query: [String: String] = [:]
        if request.uri.query != nil {
            for (key, value) in request.uri.queryParameters { query[String(key)] = String(value).removingPercentEncoding ?? String(value) }
        }
        let contractRequest: Rules.Request
        switch await decode(&request, method: method, path: path, query: query, requestId: requestId) {
        case .success(.spinnakerCheck), .success(.spinnakerAdmit):
            // Only the webhook door (its token, its principal) decides for Spinnaker: a path that
            // reaches the webhook routes without its exact prefix (`/v1/spinnaker//webhook/…`) is
            // no endpoint here.
            return Answer(status: 404, body: Views.routingError(code: .routeNotFound, status: 404, requestId: requestId))
        case .success(let decoded): contractRequest = decoded
        case .failure(let error): return error.answer
        }
        let key: String?
        do {
            key = try WireRequest.idempotencyKey(request.headers.value(.idempotencyKey))
        } catch {
            return Self.invalid(error, requestId: requestId)
        }
        // A read-only decision creates no record: it needs no second id.
        let decisionId = makeId()
        var context = DecisionContext(now: now, decisionId: decisionId, newId: contractRequest.isMutating ? makeId() : decisionId, idempotencyKey: key)
        switch contractRequest {
        case .validate, .read(.configSanity):
            if let readiness { context.engineReadiness = await readiness.readiness(requestId: requestId) }
        default:
            break
        }
        let decision: Decision
        do {
            decision = try await store.decide(contractRequest, by: principal, context: context, requestId: requestId)
        } catch {
            return storeFailure(error, requestId: requestId)
        }
        metrics.decision(action: contractRequest.action.rawValue, allowed: decision.allowed, code: decision.code?.rawValue)
        var answer = await respond(to: decision, of: contractRequest, principal: principal, requestId: requestId, engine: context.engineReadiness)
        if case .deployment(let record)? = decision.result, decision.allowed, !decision.replayed,
            [.deploy, .rollback, .promote].contains(contractRequest.action)
        {
            answer = await dispatched(record, answer: answer, requestId: requestId, admin: principal.role == .platformAdmin)
        }
        answer.route = contractRequest.action.rawValue
        return answer
    }

    /// Collects the body (up to the limit: else 413) and decodes the contract request (else the
    /// routing error or the `INVALID_REQUEST` envelope naming the field).
    func decode(_ request: inout Request, method: String, path: String, query: [String: String] = [:], requestId: String) async -> Result<Rules.Request, AnswerError> {
        let body: [UInt8]
        do {
            var buffer = try await request.collectBody(upTo: configuration.bodyLimit)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch is NIOTooManyBytesError {
            return .failure(AnswerError(denial(.invalidRequest, status: 413, message: "Request body larger than \(configuration.bodyLimit) bytes", requestId: requestId, hint: nil)))
        } catch {
            // A body the HTTP parser cannot frame (a bogus chunk size) or a connection gone mid-body.
            return .failure(AnswerError(denial(.invalidRequest, message: "The request body could not be read: \(RequestParts.describe(error))", requestId: requestId, hint: nil)))
        }
        do {
            return .success(try WireRequest.decode(method: method, path: path, query: query, body: body))
        } catch {
            if error.status == 404 || error.status == 405 {
                return .failure(AnswerError(Answer(status: error.status, body: Views.routingError(code: error.code, status: error.status, requestId: requestId))))
            }
            return .failure(AnswerError(Self.invalid(error, requestId: requestId)))
        }
    }

    /// The contract envelope of a request refused while decoding (400 `INVALID_REQUEST` and the like).
    static func invalid(_ error: WireError, requestId: String) -> Answer {
        Answer(status: error.status, body: Views.envelope(
            code: error.code.rawValue, message: error.message, cause: error.code.failureCause, requestId: requestId, hint: nil,
            details: error.details))
    }

    /// `/readyz`: ready with policy data and room in the map; not ready when the state cannot be
    /// read (a fleet's database unreachable), without policy, or once the data file uses 90% of
    /// its map (mutations would soon answer 503), which is also logged.
    private func readyz() async -> Answer {
        func answer(_ status: String) -> Answer {
            var w = CompactJSONWriter()
            w.open()
            w.field("status", status)
            w.close()
            return Answer(status: status == "ready" ? 200 : 503, body: w.bytes, route: "readyz")
        }
        let policy: PolicySnapshot
        do {
            policy = try await store.policy()
        } catch {
            return answer("not ready: the state store cannot be read (\(error.kind))")
        }
        guard !policy.deliveryGroups.isEmpty else { return answer("not ready: no policy data") }
        guard let usage = store.usage() else { return answer("ready") }
        let share = Double(usage.used) / Double(max(1, usage.mapSize))
        let nearlyFull = share >= GovernanceStore.nearlyFullShare
        let percent = Int(share * 100)
        if metrics.nearlyFull(nearlyFull) {
            if nearlyFull {
                logger.warning("the data file is nearly full", metadata: ["used_bytes": "\(usage.used)", "map_size_bytes": "\(usage.mapSize)", "percent": "\(percent)"])
            } else {
                logger.notice("the data file has room again", metadata: ["used_bytes": "\(usage.used)", "map_size_bytes": "\(usage.mapSize)"])
            }
        }
        guard !nearlyFull else {
            return answer("not ready: the data file uses \(percent)% of its map; restart with a larger --map-size (DXCP_LMDB_MAP_SIZE)")
        }
        return answer("ready")
    }

    /// The answer to a decision (before any engine dispatch).
    private func respond(
        to decision: Decision, of contractRequest: Rules.Request, principal: Principal, requestId: String, engine: EngineReadiness
    ) async -> Answer {
        let admin = principal.role == .platformAdmin
        let showHints = admin || configuration.exposeOperatorHints
        var headers = [HTTPField(name: .decisionId, value: decision.decisionId)]
        guard decision.allowed, let result = decision.result else {
            headers.append(HTTPField(name: .decisionReason, value: decision.code?.rawValue ?? "DENIED"))
            let code = decision.code ?? .internalError
            var answer = denial(code, status: decision.status, message: decision.message, requestId: requestId,
                hint: showHints ? decision.operatorHint : nil, details: decision.details)
            answer.headers += headers
            return answer
        }
        if Self.reportsReplay(contractRequest) || decision.replayed { headers.append(HTTPField(name: .idempotencyReplayed, value: decision.replayed ? "true" : "false")) }
        switch result {
        case .auditQuery(let query):
            do {
                let page = try await store.auditEvents(query)
                if let next = page.next { headers.append(HTTPField(name: .nextBefore, value: String(next))) }
                return Answer(status: 200, body: Views.auditEvents(page.entries), headers: headers)
            } catch where error.kind == .pruned {
                return denial(.invalidRequest, message: "The page cursor's entry was removed by retention; read again from the first page",
                    requestId: requestId, hint: nil)
            } catch {
                return denial(.internalError, status: 503, message: "The audit log cannot be read", requestId: requestId, hint: nil)
            }
        case .configSanity:
            return Answer(status: 200, body: await configSanity(engine: engine, requestId: requestId), headers: headers)
        case .deployments(let records, _):
            // A full page names its last record as the next page's cursor (`before=`).
            if case .listDeployments(let query) = contractRequest, let limit = query.limit, records.count == limit, let last = records.last {
                headers.append(HTTPField(name: .nextBefore, value: DeploymentQuery.Cursor(after: last).text))
            }
            return Answer(status: decision.status, body: Views.result(result, admin: admin), headers: headers)
        default:
            return Answer(status: decision.status, body: Views.result(result, admin: admin), headers: headers)
        }
    }

    /// `GET /v1/config/sanity` (REFERENCE §2.9): the reference's three flags from this server's
    /// real configuration, and what else an operator checks first — the store, the policy, the
    /// verification keys and whether the engine answered its readiness probe.
    private func configSanity(engine: EngineReadiness, requestId: String) async -> [UInt8] {
        let policy = try? await store.policy()
        var w = CompactJSONWriter()
        w.open()
        w.field("artifact_discovery_configured", false)
        w.field("engine_reachable", engine == .ready)
        // A request answered here was verified: keys exist; the claims it must carry are set.
        let required = authenticator.requirements
        w.field("oidc_configured", required.issuer?.isEmpty == false && required.audience?.isEmpty == false)
        w.field("policy_loaded", policy.map { !$0.deliveryGroups.isEmpty } ?? false)
        w.field("request_id", requestId)
        w.field("spinnaker_configured", dispatcher != nil)
        w.field("store_ready", policy != nil)
        w.close()
        return w.bytes
    }

    /// Dispatches a new reservation to the engine: the record with its execution replaces
    /// `answer`, or the engine error does — saying whether the reservation was released or is held
    /// while the outcome is confirmed (DECISIONS D6).
    private func dispatched(_ record: DeploymentRecord, answer: Answer, requestId: String, admin: Bool) async -> Answer {
        let verb = switch record.kind {
        case .rollback: "rollback"
        case .promote: "promotion"
        case .rollForward: "deployment"
        }
        let outcome: Dispatcher.Outcome
        if let dispatcher {
            outcome = await dispatcher.dispatch(record, requestId: requestId)
        } else {
            do {
                _ = try await store.releaseReservation(deploymentId: record.id, reason: "no engine configured", now: clock())
                outcome = .released(EngineError(.engineUnavailable, delivery: .notSent, "no engine is configured"))
            } catch {
                // The reservation stands: it is never described as released.
                logger.error("releasing a reservation failed with no engine configured", metadata: ["deployment_id": "\(record.id)", "error": "\(error)"])
                outcome = .unconfirmed(record, EngineError(.engineUnavailable, delivery: .notSent, "no engine is configured, and its reservation could not be released"))
            }
        }
        metrics.dispatch(outcome)
        let error: EngineError, name: String, explanation: String
        var details: [String: JSONValue] = [:]
        switch outcome {
        case .started(let started):
            var updated = answer
            updated.body = Views.result(.deployment(started), admin: admin)
            return updated
        case .released(let released):
            (error, name) = (released, "NOT_STARTED")
            explanation = "The engine did not start the \(verb); its reservation was released. A retry with the same Idempotency-Key runs it again."
        case .unconfirmed(let held, let unconfirmed):
            (error, name) = (unconfirmed, "UNCONFIRMED")
            details["deployment_id"] = .string(held.id)
            explanation = "The engine may have started \(verb) \(held.id); it keeps its concurrency slot and quota unit while the outcome is "
                + "confirmed with the engine. A retry with the same Idempotency-Key answers with the \(verb) once confirmed."
        case .untracked(let released, let executionId):
            error = EngineError(.engineCallFailed, delivery: .ambiguous,
                "Gate started execution \(executionId) after the reservation of \(released.id) was released")
            name = "STARTED_UNTRACKED"
            details["deployment_id"] = .string(released.id)
            details["engine_execution_id"] = .string(executionId)
            explanation = "The engine started execution \(executionId) after the reservation of \(verb) \(released.id) had been released, so "
                + "nothing here tracks it. Do not retry: check that execution in Spinnaker first, since a retry starts another."
        }
        details.merge(error.details(requestId: requestId, engineHost: admin ? dispatcher?.gate.configuration.baseURL : nil)) { own, _ in own }
        details["engine_outcome"] = .string(name)
        details["engine_outcome_detail"] = .string(explanation)
        var failed = denial(error.code, status: error.code.httpStatus, message: "Unable to start \(verb)", requestId: requestId,
            hint: admin ? error.detail : nil, details: details)
        failed.headers += answer.headers.filter { $0.name == .decisionId } + [HTTPField(name: .decisionReason, value: error.code.rawValue)]
        return failed
    }

    /// The answer when the store could not decide — nothing was changed either way: the writer's
    /// queue full is 503 `SERVICE_OVERLOADED` with `Retry-After` (DECISIONS 74); any other failure
    /// 503 with the store unavailable.
    func storeFailure(_ error: any Error, requestId: String) -> Answer {
        if let error = error as? StoreError, error.kind == .busy {
            metrics.overloaded()
            var answer = denial(
                .serviceOverloaded, message: "Too many decisions are waiting; nothing was changed. Retry after the Retry-After seconds",
                requestId: requestId, hint: nil)
            answer.headers.append(HTTPField(name: .retryAfter, value: "1"))
            return answer
        }
        logger.error("decision failed", metadata: ["request_id": "\(requestId)", "error": "\(error)"])
        if let error = error as? StoreError, error.kind == .unconfirmed {
            // The commit was sent and its answer lost: it may have been applied. A retry with the
            // same Idempotency-Key replays it if it was, and decides afresh if it was not.
            return denial(.internalError, status: 503,
                message: "The decision store did not confirm the commit, so its outcome is unknown; retry with the same Idempotency-Key",
                requestId: requestId, hint: nil)
        }
        return denial(.internalError, status: 503, message: "The decision store is unavailable; nothing was changed", requestId: requestId, hint: nil)
    }

    /// A refusal in the contract's envelope. Its status is the code's (``ContractCode/httpStatus``,
    /// the one mapping); `status` overrides it only where the contract answers otherwise: the
    /// store unavailable is 503, a decision's own status (e.g. a policy 404) is the decision's.
    func denial(_ code: ContractCode, status: Int? = nil, message: String, requestId: String, hint: String?, details: [String: JSONValue]? = nil) -> Answer {
        Answer(status: status ?? code.httpStatus, body: Views.envelope(code: code.rawValue, message: message, cause: code.failureCause, requestId: requestId, hint: hint, details: details))
    }

    /// Endpoints that report `Idempotency-Replayed` (REFERENCE §6): deploy, promotions and the
    /// build endpoints.
    static func reportsReplay(_ request: Rules.Request) -> Bool {
        switch request {
        case .deploy, .promote, .uploadCapability, .registerBuild, .registerExistingBuild: true
        default: false
        }
    }
}

/// An error answer carried through `Result`.
struct AnswerError: Error {
    var answer: GovernanceServer.Answer
    init(_ answer: GovernanceServer.Answer) { self.answer = answer }
}

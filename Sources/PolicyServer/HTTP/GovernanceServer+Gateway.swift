import Rules
import GovernanceStore
import Hummingbird
import HTTPTypes

/// Decisions for API gateways in front of a DXCP API (docs/integrations/envoy.md, nginx.md,
/// traefik.md). A gateway asks before forwarding a request; the answer is 200 (forward it, with
/// `X-Decision-Id`, `X-Dxcp-Role`, `X-Dxcp-Actor`) or 401/403 with `X-Decision-Reason` and the
/// contract envelope — never another status, since NGINX turns any other into a 500 and Envoy
/// passes it to the client as is.
extension GovernanceServer {
    /// How each gateway tells the original request.
    enum GatewayFlavour: String {
        /// Envoy ext_authz, HTTP mode: the original method, and the original path under
        /// `/v1/gateway/envoy` (its `path_prefix`).
        case envoy
        /// NGINX auth_request: `X-Original-Method` and `X-Original-URI`.
        case nginx
        /// Traefik ForwardAuth: `X-Forwarded-Method` and `X-Forwarded-Uri`.
        case traefik

        /// The metrics label of its decisions.
        var route: String {
            switch self {
            case .envoy: "gateway_envoy"
            case .nginx: "gateway_nginx"
            case .traefik: "gateway_traefik"
            }
        }
    }

    static let gatewayPrefix = "/v1/gateway/"

    func gatewayAnswer(_ request: Request, path: String, requestId: String) async -> Answer {
        let rest = path.dropFirst(Self.gatewayPrefix.count)
        let flavourName = rest[..<(rest.utf8.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex)]
        guard let flavour = GatewayFlavour(rawValue: String(flavourName)) else {
            return Answer(status: 404, body: Views.routingError(code: .routeNotFound, status: 404, requestId: requestId), route: "gateway")
        }
        var answer = await gatewayDecision(request, flavour: flavour, rest: rest[flavourName.endIndex...], requestId: requestId)
        answer.route = flavour.route
        return answer
    }

    private func gatewayDecision(_ request: Request, flavour: GatewayFlavour, rest: Substring, requestId: String) async -> Answer {
        let headers = request.headers
        let method: String?, uri: String?
        switch flavour {
        case .envoy:
            method = request.method.rawValue
            uri = String(rest) + (request.uri.query.map { "?\($0)" } ?? "")
        case .nginx:
            method = headers.value(.originalMethod)
            uri = headers.value(.originalURI)
        case .traefik:
            method = headers.value(.forwardedMethod)
            uri = headers.value(.forwardedURI)
        }
        guard let method, !method.isEmpty, let uri, uri.hasPrefix("/") else {
            let names = flavour == .nginx ? "X-Original-Method and X-Original-URI" : "X-Forwarded-Method and X-Forwarded-Uri"
            return gatewayDenial(.invalidRequest, status: 403, message: "The gateway must send \(names)", requestId: requestId)
        }
        let path = String(uri[..<(uri.utf8.firstIndex(of: UInt8(ascii: "?")) ?? uri.endIndex)])
        guard Self.isCanonical(path) else {
            return gatewayDenial(.invalidRequest, status: 403, message: "The request path is not in canonical form", requestId: requestId)
        }
        if method == "OPTIONS" || GatewayRoute.isOpen(path) {
            return Answer(status: 200, body: Array(#"{"decision":"ALLOW"}"#.utf8))
        }
        let now = clock()
        let principal: Principal
        do {
            principal = try await authenticator.authenticate(headers.value(.authorization), now: now)
        } catch {
            return gatewayDenial(.unauthorized, status: 401, message: error.message, requestId: requestId)
        }
        guard let check = GatewayRoute.check(method: method, path: path) else {
            return gatewayDenial(.routeNotFound, status: 403, message: "\(method) \(path) is not an endpoint of the DXCP API", requestId: requestId)
        }
        let decisionId = makeId()
        let context = DecisionContext(now: now, decisionId: decisionId, newId: decisionId, idempotencyKey: headers.value(.idempotencyKey))
        let decision: Decision
        do {
            decision = try await store.decide(.gateway(check), by: principal, context: context, requestId: nil)
        } catch {
            logger.error("gateway decision failed", metadata: ["request_id": "\(requestId)", "error": "\(error)"])
            return gatewayDenial(.internalError, status: 403, message: "The decision store is unavailable", requestId: requestId)
        }
        metrics.decision(action: Action.gatewayCheck.rawValue, allowed: decision.allowed, code: decision.code?.rawValue)
        guard decision.allowed else {
            let code = decision.code ?? .internalError
            var answer = gatewayDenial(code, status: code == .unauthorized ? 401 : 403, message: decision.message, requestId: requestId)
            answer.headers.append(HTTPField(name: .decisionId, value: decision.decisionId))
            return answer
        }
        return Answer(
            status: 200, body: Array(#"{"decision":"ALLOW"}"#.utf8),
            headers: [
                HTTPField(name: .decisionId, value: decision.decisionId), HTTPField(name: .dxcpRole, value: principal.role?.rawValue ?? ""),
                HTTPField(name: .dxcpActor, value: Self.headerValue(principal.actorId)),
            ])
    }

    /// Whether `path` reads the same to every proxy and API: no `.`, `..` or empty segments, no
    /// encoded dot, slash or backslash (`%2E`, `%2F`, `%5C`, either case), no `\`. Others are
    /// refused, not guessed at.
    static func isCanonical(_ path: String) -> Bool {
        var path = path
        return path.withUTF8(isCanonical)
    }

    private static func isCanonical(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.first == UInt8(ascii: "/") else { return false }
        var segmentStart = 1
        for i in 1...bytes.count {
            if i == bytes.count || bytes[i] == UInt8(ascii: "/") {
                let segment = bytes[segmentStart..<i]
                if segment.isEmpty || segment.elementsEqual([0x2E]) || segment.elementsEqual([0x2E, 0x2E]) { return false }
                segmentStart = i + 1
                continue
            }
            if bytes[i] == UInt8(ascii: "\\") { return false }
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count {
                let code = (bytes[i + 1], bytes[i + 2] | 0x20)
                if code == (UInt8(ascii: "2"), UInt8(ascii: "f")) || code == (UInt8(ascii: "2"), UInt8(ascii: "e"))
                    || code == (UInt8(ascii: "5"), UInt8(ascii: "c"))
                {
                    return false
                }
            }
        }
        return true
    }

    /// `text` as a header value: printable ASCII kept, every other byte percent-encoded, so a
    /// claim can never split or forge a header.
    static func headerValue(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "%") }) { return text }
        var out: [UInt8] = []
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            if byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private func gatewayDenial(_ code: ContractCode, status: Int, message: String, requestId: String) -> Answer {
        var answer = denial(code, status: status, message: message, requestId: requestId, hint: nil)
        answer.headers.append(HTTPField(name: .decisionReason, value: code.rawValue))
        return answer
    }
}

import Foundation
import NIOCore
import NIOHTTP1

/// Serves one connection: Gate's endpoints, and the `/_emulator` control endpoints.
final class GateHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    // INVARIANT: touched only on the channel's event loop.
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private let state: EmulatorState

    init(state: EmulatorState) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(let buffer):
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            handle(head, body, context: context)
            self.head = nil
        }
    }

    private func handle(_ head: HTTPRequestHead, _ body: [UInt8], context: ChannelHandlerContext) {
        let parts = head.uri.split(separator: "?", maxSplits: 1)
        let path = String(parts.first ?? "")
        let query = parts.count > 1 ? Self.query(String(parts[1])) : [:]
        let segments = path.split(separator: "/").map { $0.removingPercentEncoding ?? String($0) }
        let headers = Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { _, last in last })
        if segments.first != "_emulator" {
            state.record(RecordedCall(method: head.method.rawValue, path: path, headers: headers, body: String(decoding: body, as: UTF8.self)))
        }
        let pipeline = head.method == .POST && segments.count == 3 && segments[0] == "pipelines" ? segments[2] : nil
        if segments.first != "_emulator", let fault = state.fault(path: path, pipeline: pipeline) {
            switch fault {
            case .status(let status):
                return respond(context, status: status, json: ["error": "injected failure", "status": status])
            case .redirect(let location):
                return respond(context, status: 302, json: [:], headers: [("Location", location)])
            case .garbage:
                return respond(context, status: 200, text: "<html>this is not json")
            case .huge(let bytes):
                let id = segments.last ?? "huge"
                let head = #"{"id":""# + id + #"","status":"RUNNING","stages":[{"outputs":{"manifest":""#
                let answer = Array(head.utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: max(0, bytes)) + Array(#""}}]}"#.utf8)
                return respond(context, status: 200, bytes: answer, contentType: "application/json", headers: [])
            case .hang:
                return
            case .noExecutionId:
                return respond(context, status: 200, json: ["message": "accepted"])
            case .delay(let ms):
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(Int64(ms))) {
                    let (handler, context) = loopBound.value
                    handler.serve(segments: segments, method: head.method, query: query, body: body, headers: headers, context: context)
                }
                return
            case .startLater(let ms):
                guard pipeline != nil else { break }
                context.close(promise: nil)
                context.eventLoop.scheduleTask(in: .milliseconds(Int64(ms))) { [self] in
                    _ = start(segments: segments, body: body, headers: headers)
                }
                return
            case .startThen(let after):
                guard pipeline != nil else { break }
                let execution = start(segments: segments, body: body, headers: headers)
                switch after {
                case .late(let ms):
                    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                    let id = execution.id
                    context.eventLoop.scheduleTask(in: .milliseconds(Int64(ms))) {
                        let (handler, context) = loopBound.value
                        handler.respond(context, status: 202, json: ["ref": "/pipelines/\(id)"])
                    }
                case .status(let status):
                    respond(context, status: status, json: ["error": "injected failure after start", "status": status])
                case .close:
                    context.close(promise: nil)
                case .noExecutionId:
                    respond(context, status: 200, json: ["message": "accepted"])
                case .garbage:
                    respond(context, status: 200, text: "<html>this is not json")
                }
                return
            }
        }
        serve(segments: segments, method: head.method, query: query, body: body, headers: headers, context: context)
    }

    /// Starts the execution a trigger asks for (`POST /pipelines/{app}/{pipeline}`).
    private func start(segments: [String], body: [UInt8], headers: [String: String]) -> Execution {
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        return state.start(
            application: segments[1], pipeline: segments[2], user: headers["x-spinnaker-user"],
            parameters: object["parameters"] as? [String: Any] ?? [:], correlationId: object["correlationId"] as? String,
            triggerType: object["type"] as? String ?? "manual")
    }

    /// A query string's parameters, percent-decoded.
    static func query(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            out[kv[0]] = kv.count > 1 ? kv[1] : ""
        }
        return out
    }

    private func serve(
        segments: [String], method: HTTPMethod, query: [String: String], body: [UInt8], headers: [String: String], context: ChannelHandlerContext
    ) {
        // Only the control endpoints read a body here (a trigger's is read by `start`).
        let object = segments.first == "_emulator" ? (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] : [:]
        switch (method, segments.count, segments.first) {
        case (.GET, 1, "health"):
            respond(context, status: 200, json: ["status": "UP"])
        case (.POST, 3, "pipelines"):
            let execution = start(segments: segments, body: body, headers: headers)
            respond(context, status: 202, bytes: Array("{\"ref\":".utf8) + jsonString("/pipelines/\(execution.id)") + [UInt8(ascii: "}")], contentType: "application/json")
        case (.GET, 2, "pipelines"):
            if let execution = state.execution(segments[1]) {
                respond(context, status: 200, bytes: execution.jsonBytes, contentType: "application/json")
            } else {
                respond(context, status: 404, json: ["error": "Execution not found"])
            }
        case (.GET, 3, "applications") where segments[2] == "pipelines":
            let limit = query["limit"].flatMap { Int($0) } ?? Int.max
            respond(context, status: 200, jsonArray: state.executions(application: segments[1]).prefix(limit).map(\.json))
        case (.GET, 4, "applications") where segments[2] == "executions" && segments[3] == "search":
            var trigger: Any?
            if let encoded = query["trigger"] {
                guard let data = Data(base64Encoded: encoded), let decoded = try? JSONSerialization.jsonObject(with: data) else {
                    return respond(context, status: 400, json: ["error": "trigger is not base64 JSON"])
                }
                trigger = decoded
            }
            let found = state.search(
                application: segments[1], triggerTypes: query["triggerTypes"].map { Set($0.split(separator: ",").map(String.init)) },
                trigger: trigger, startedAfterMs: query["triggerTimeStartBoundary"].flatMap { Int($0) } ?? 0,
                size: query["size"].flatMap { Int($0) } ?? 10)
            respond(context, status: 200, jsonArray: found.map(\.json))
        case (.POST, 2, "_emulator") where segments[1] == "faults":
            let action: Fault.Action? =
                if let status = object["status"] as? Int { .status(status) }
                else if let location = object["redirect"] as? String { .redirect(location) }
                else if object["garbage"] as? Bool == true { .garbage }
                else if let bytes = object["hugeBytes"] as? Int { .huge(bytes: bytes) }
                else if object["hang"] as? Bool == true { .hang }
                else if object["noExecutionId"] as? Bool == true { .noExecutionId }
                else if let after = object["afterStart"] as? String { Self.afterStart(after, object) }
                else if let ms = object["delayMs"] as? Int { .delay(milliseconds: ms) }
                else { nil }
            guard let action else { return respond(context, status: 400, json: ["error": "no fault action"]) }
            state.addFault(Fault(pipeline: object["pipeline"] as? String, pathPrefix: object["path"] as? String, action: action, remaining: object["times"] as? Int))
            respond(context, status: 200, json: ["ok": true])
        case (.POST, 3, "_emulator") where segments[1] == "faults" && segments[2] == "clear":
            state.clearFaults()
            respond(context, status: 200, json: ["ok": true])
        case (.POST, 2, "_emulator") where segments[1] == "outcomes":
            state.addOutcome(Outcome(
                pipeline: object["pipeline"] as? String ?? "*", status: object["status"] as? String ?? "SUCCEEDED",
                afterSeconds: object["afterSeconds"] as? Double ?? Double(object["afterSeconds"] as? Int ?? 0)))
            respond(context, status: 200, json: ["ok": true])
        case (.POST, 3, "_emulator") where segments[1] == "executions":
            let ok = state.force(segments[2], status: object["status"] as? String ?? "TERMINAL")
            respond(context, status: ok ? 200 : 404, json: ["ok": ok])
        case (.POST, 2, "_emulator") where segments[1] == "reset":
            state.reset()
            respond(context, status: 200, json: ["ok": true])
        case (.GET, 2, "_emulator") where segments[1] == "calls":
            respond(context, status: 200, jsonArray: state.calls().map {
                ["method": $0.method, "path": $0.path, "headers": $0.headers, "body": $0.body] as [String: Any]
            })
        default:
            respond(context, status: 404, json: ["error": "Not Found"])
        }
    }

    /// `{"afterStart": "late" (with "delayMs") | "status" (with "afterStatus") | "close" | "noExecutionId" | "garbage" | "later" (with "delayMs")}`;
    /// "later" closes the connection first and starts the execution after the delay.
    static func afterStart(_ name: String, _ object: [String: Any]) -> Fault.Action? {
        switch name {
        case "late": .startThen(.late(milliseconds: object["delayMs"] as? Int ?? 5_000))
        case "status": .startThen(.status(object["afterStatus"] as? Int ?? 502))
        case "close": .startThen(.close)
        case "noExecutionId": .startThen(.noExecutionId)
        case "garbage": .startThen(.garbage)
        case "later": .startLater(milliseconds: object["delayMs"] as? Int ?? 5_000)
        default: nil
        }
    }

    private func respond(_ context: ChannelHandlerContext, status: Int, json: [String: Any], headers: [(String, String)] = []) {
        let data = (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) ?? Data("{}".utf8)
        respond(context, status: status, bytes: Array(data), contentType: "application/json", headers: headers)
    }

    private func respond(_ context: ChannelHandlerContext, status: Int, jsonArray: [[String: Any]]) {
        let data = (try? JSONSerialization.data(withJSONObject: jsonArray, options: [.sortedKeys])) ?? Data("[]".utf8)
        respond(context, status: status, bytes: Array(data), contentType: "application/json")
    }

    private func respond(_ context: ChannelHandlerContext, status: Int, text: String) {
        respond(context, status: status, bytes: Array(text.utf8), contentType: "text/html")
    }

    private func respond(_ context: ChannelHandlerContext, status: Int, bytes: [UInt8], contentType: String, headers extra: [(String, String)] = []) {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(bytes.count))])
        for (name, value) in extra { headers.add(name: name, value: value) }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

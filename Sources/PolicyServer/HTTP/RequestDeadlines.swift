import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
public import Hummingbird
public import HummingbirdCore
public import Logging
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Rules

/// The HTTP/1.1 channel of `serve`: Hummingbird's, plus the deadlines of reading a request and the
/// contract's envelope on framing errors (docs/DECISIONS.md 60).
///
/// - A request's head must arrive whole within `headTimeout` of its first byte (slowloris), and
///   its body within `bodyTimeout` of its head (a body trickled a byte at a time): past either the
///   client gets 408 in the envelope and the connection is closed.
/// - Between requests a connection may stay idle for `idleTimeout` (Hummingbird's idle handler).
/// - A request the HTTP parser cannot frame before its head (Transfer-Encoding with
///   Content-Length, a negative Content-Length, a malformed request line) is answered 400 in the
///   envelope (431 for header fields past the limit), and the connection closed: its bytes cannot
///   be trusted to find the next request.
public struct GovernanceHTTPChannel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = HTTP1Channel.Value

    /// The reading limits of a connection.
    public struct Deadlines: Sendable {
        public var headTimeout: TimeAmount
        public var bodyTimeout: TimeAmount
        public init(headTimeout: TimeAmount, bodyTimeout: TimeAmount) {
            self.headTimeout = headTimeout
            self.bodyTimeout = bodyTimeout
        }
    }

    let base: HTTP1Channel
    let deadlines: Deadlines
    public var responder: HTTPChannelHandler.Responder { base.responder }

    public init(responder: @escaping HTTPChannelHandler.Responder, configuration: HTTP1Channel.Configuration, deadlines: Deadlines) {
        self.base = HTTP1Channel(responder: responder, configuration: configuration)
        self.deadlines = deadlines
    }

    /// `serve`'s server: this channel over `configuration` with `deadlines`.
    public static func builder(configuration: HTTP1Channel.Configuration, deadlines: Deadlines) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in GovernanceHTTPChannel(responder: responder, configuration: configuration, deadlines: deadlines) }
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let reading = RequestReading(deadlines)
            try operations.addHandler(RequestBytes(reading), position: .first)
            let codec = try operations.handler(type: HTTP1ToHTTPServerCodec.self)
            try operations.addHandler(RequestParts(reading), position: .after(codec))
            return value
        }
    }

    public func handle(value asyncChannel: Value, logger: Logger) async {
        await base.handle(value: asyncChannel, logger: logger)
    }
}

/// Where a connection is in reading its current request, shared by the two handlers that watch
/// it (raw bytes before the parser, parsed parts after it); used on the channel's event loop only.
final class RequestReading {
    enum Phase {
        /// Between requests: the next byte starts a head.
        case waiting
        /// Bytes of a head have arrived, the head is not whole yet.
        case head
        /// The head is whole, its body's end has not arrived.
        case body
        /// The request is read; its answer is being made.
        case answering
    }

    let deadlines: GovernanceHTTPChannel.Deadlines
    var phase = Phase.waiting
    /// Bytes arrived while answering (a pipelined request): its head starts when the answer ends.
    var bytesWhileAnswering = false
    var deadline: Scheduled<Void>?
    /// The raw side's context: a late answer is written there, beneath the HTTP encoder.
    var bytesContext: ChannelHandlerContext?

    init(_ deadlines: GovernanceHTTPChannel.Deadlines) { self.deadlines = deadlines }

    func start(_ phase: Phase, on eventLoop: any EventLoop) {
        self.phase = phase
        deadline?.cancel()
        deadline = nil
        let limit: TimeAmount
        switch phase {
        case .head: limit = deadlines.headTimeout
        case .body: limit = deadlines.bodyTimeout
        case .waiting, .answering: return
        }
        deadline = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: limit) { [self] in
            self.deadline = nil
            self.expire(phase)
        }
    }

    /// Past a reading deadline: 408 in the envelope, written beneath the HTTP encoder (no answer
    /// has begun while a request is still being read), and the connection closed.
    func expire(_ phase: Phase) {
        guard let context = bytesContext, self.phase == phase else { return }
        let what = phase == .head ? "head" : "body"
        let seconds = (phase == .head ? deadlines.headTimeout : deadlines.bodyTimeout).nanoseconds / 1_000_000_000
        let body = Views.envelope(
            code: ContractCode.invalidRequest.rawValue,
            message: "The request \(what) did not arrive within \(seconds) s; the connection is closed",
            cause: ContractCode.invalidRequest.failureCause, requestId: UUID().uuidString.lowercased(), hint: nil, details: nil)
        context.writeAndFlush(NIOAny(ByteBuffer(bytes: Self.rawAnswer(status: "408 Request Timeout", body: body))), promise: nil)
        context.close(promise: nil)
    }

    /// A whole HTTP/1.1 answer that closes its connection, as bytes.
    static func rawAnswer(status: String, body: [UInt8]) -> [UInt8] {
        Array("HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
    }

    func stop() {
        deadline?.cancel()
        deadline = nil
        bytesContext = nil
    }
}

/// Before the HTTP parser: the first byte of a request starts its head's deadline.
final class RequestBytes: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let reading: RequestReading
    init(_ reading: RequestReading) { self.reading = reading }

    func handlerAdded(context: ChannelHandlerContext) { reading.bytesContext = context }
    func handlerRemoved(context: ChannelHandlerContext) { reading.stop() }
    func channelInactive(context: ChannelHandlerContext) {
        reading.stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch reading.phase {
        case .waiting: reading.start(.head, on: context.eventLoop)
        case .answering: reading.bytesWhileAnswering = true
        case .head, .body: break
        }
        context.fireChannelRead(data)
    }
}

/// After the HTTP parser: a whole head moves to the body's deadline, the end of the body to
/// answering, the end of the answer back to waiting. A framing error before any head is answered
/// 400 in the envelope.
final class RequestParts: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let reading: RequestReading
    init(_ reading: RequestReading) { self.reading = reading }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: reading.start(.body, on: context.eventLoop)
        case .body: break
        case .end: reading.start(.answering, on: context.eventLoop)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), reading.phase == .answering {
            if reading.bytesWhileAnswering {
                reading.bytesWhileAnswering = false
                reading.start(.head, on: context.eventLoop)
            } else {
                reading.start(.waiting, on: context.eventLoop)
            }
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Mid-body the request's handler meets the error and answers; before a head nothing has.
        guard error is HTTPParserError, reading.phase == .head || reading.phase == .waiting, let bytes = reading.bytesContext else {
            context.fireErrorCaught(error)
            return
        }
        reading.stop()
        let body = Views.envelope(
            code: ContractCode.invalidRequest.rawValue,
            message: "The request is not valid HTTP/1.1 (\(Self.describe(error))); the connection is closed",
            cause: ContractCode.invalidRequest.failureCause, requestId: UUID().uuidString.lowercased(), hint: nil, details: nil)
        let status = (error as? HTTPParserError) == .headerOverflow ? "431 Request Header Fields Too Large" : "400 Bad Request"
        bytes.writeAndFlush(NIOAny(ByteBuffer(bytes: RequestReading.rawAnswer(status: status, body: body))), promise: nil)
        bytes.close(promise: nil)
    }

    /// The parser's complaint in words a client can act on.
    static func describe(_ error: any Error) -> String {
        switch error as? HTTPParserError {
        case .invalidContentLength?: "invalid Content-Length"
        case .unexpectedContentLength?: "Content-Length together with Transfer-Encoding"
        case .invalidHeaderToken?, .invalidCharactersUsed?: "invalid header field"
        case .invalidChunkSize?: "invalid chunk size"
        case .headerOverflow?: "header fields too large"
        case .invalidMethod?: "invalid method"
        case .invalidURL?: "invalid request target"
        case .invalidVersion?: "invalid version"
        default: "malformed request"
        }
    }
}

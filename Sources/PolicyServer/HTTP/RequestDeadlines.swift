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
    /// The raw side's context: a refusal is written there, beneath the HTTP encoder.
    var bytesContext: ChannelHandlerContext?

    init(_ deadlines: GovernanceHTTPChannel.Deadlines) { self.deadlines = deadlines }

    /// Moves to `phase`, dropping the deadline of the one before. The new phase's deadline is
    /// armed only when a read ends with the request still unread (``armIfReading(on:)``): a
    /// request that arrives whole in one read — nearly all of them — schedules no timer.
    func enter(_ phase: Phase) {
        self.phase = phase
        if let deadline {
            deadline.cancel()
            self.deadline = nil
        }
    }

    /// At the end of a read, or of an answer with a pipelined request waiting: the deadline of
    /// the head or body still being read, counted from now, unless one is already running.
    func armIfReading(on eventLoop: any EventLoop) {
        guard deadline == nil else { return }
        let phase = phase
        let limit: TimeAmount
        switch phase {
        case .head: limit = deadlines.headTimeout
        case .body: limit = deadlines.bodyTimeout
        case .waiting, .answering: return
        }
        deadline = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: limit) { [self] in
            self.deadline = nil
            guard self.phase == phase else { return }
            let what = phase == .head ? "head" : "body"
            self.refuse("408 Request Timeout", "The request \(what) did not arrive within \(limit.nanoseconds / 1_000_000_000) s; the connection is closed")
        }
    }

    /// Answers `status` with `message` in the envelope, beneath the HTTP encoder (no answer has
    /// begun while a request is still being read), and closes the connection.
    func refuse(_ status: String, _ message: String) {
        guard let context = bytesContext else { return }
        stop()
        let body = Views.envelope(
            code: ContractCode.invalidRequest.rawValue, message: message, cause: ContractCode.invalidRequest.failureCause,
            requestId: UUID().uuidString.lowercased(), hint: nil, details: nil)
        let head = "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n"
        context.writeAndFlush(NIOAny(ByteBuffer(bytes: Array(head.utf8) + body)), promise: nil)
        context.close(promise: nil)
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
        case .waiting: reading.enter(.head)
        case .answering: reading.bytesWhileAnswering = true
        case .head, .body: break
        }
        context.fireChannelRead(data)
    }

    /// The parser has seen this read's bytes: a head or body still incomplete gets its deadline.
    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        reading.armIfReading(on: context.eventLoop)
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
        case .head: reading.enter(.body)
        case .body: break
        case .end: reading.enter(.answering)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), reading.phase == .answering {
            if reading.bytesWhileAnswering {
                reading.bytesWhileAnswering = false
                reading.enter(.head)
                reading.armIfReading(on: context.eventLoop)
            } else {
                reading.enter(.waiting)
            }
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Mid-body the request's handler meets the error and answers; before a head nothing has.
        guard error is HTTPParserError, reading.phase == .head || reading.phase == .waiting, reading.bytesContext != nil else {
            context.fireErrorCaught(error)
            return
        }
        let status = (error as? HTTPParserError) == .headerOverflow ? "431 Request Header Fields Too Large" : "400 Bad Request"
        reading.refuse(status, "The request is not valid HTTP/1.1 (\(Self.describe(error))); the connection is closed")
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

import Foundation
import HTTPTypes
public import NIOCore
public import NIOHTTPTypes

/// Honours `Connection: close` among other tokens (`Connection: keep-alive, close`): the HTTP
/// server closes a connection after its answer only when the header is exactly `close`, so this
/// handler, placed after HTTP decoding, rewrites a list holding the token to just that
/// (RFC 9110 §7.6.1: the header is a list of tokens, matched case-insensitively).
public final class ConnectionCloseHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), let value = head.headerFields[.connection], value != "close",
            value.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces).lowercased() == "close" })
        else {
            context.fireChannelRead(data)
            return
        }
        head.headerFields[.connection] = "close"
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}

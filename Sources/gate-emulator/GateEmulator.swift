import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// `gate-emulator`: a stand-in for Spinnaker's Gate that speaks the endpoints dxcp-policy uses
/// (`GET /health`, `POST /pipelines/{app}/{pipeline}`, `GET /pipelines/{id}`,
/// `GET /applications/{app}/pipelines`) and can be told, through `/_emulator/...`, to fail,
/// delay, redirect, hang or return garbage, and how and when executions end.
@main
struct GateEmulator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate-emulator", abstract: "A Spinnaker Gate stand-in for tests and demos.")

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port; the chosen one is printed).")
    var port = 8084

    @Option(help: "How executions end unless told otherwise: SUCCEEDED, TERMINAL or CANCELED.")
    var outcome = "SUCCEEDED"

    @Option(help: "Seconds an execution runs before it ends.")
    var runSeconds = 1.0

    @Option(help: "Server certificate (PEM) to serve HTTPS.")
    var tlsCertificate: String?

    @Option(help: "Server key (PEM) to serve HTTPS.")
    var tlsKey: String?

    @Option(help: "CA (PEM) that client certificates must chain to: requires mutual TLS.")
    var clientCA: String?

    func run() async throws {
        let state = EmulatorState(defaultOutcome: Outcome(pipeline: "*", status: outcome, afterSeconds: runSeconds))
        var tls: NIOSSLContext?
        if let tlsCertificate, let tlsKey {
            var config = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tlsCertificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tlsKey, format: .pem)))
            if let clientCA {
                config.certificateVerification = .noHostnameVerification
                config.trustRoots = .file(clientCA)
            }
            tls = try NIOSSLContext(configuration: config)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [tls] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(GateHandler(state: state))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        let line = "gate-emulator listening on \(host):\(channel.localAddress?.port ?? port)\(tls == nil ? "" : " (TLS\(clientCA == nil ? "" : ", client certificates required"))")\n"
        // Unbuffered: whoever started the emulator waits for this line to learn the port.
        FileHandle.standardOutput.write(Data(line.utf8))
        try await channel.closeFuture.get()
    }
}

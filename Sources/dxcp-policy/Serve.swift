import ArgumentParser
import Engine
import GovernanceStore
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import PolicyFile
import PolicyServer
import Rules
import FoundationEssentials

/// `dxcp-policy serve`: the governance API over HTTP.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the DXCP governance API.",
        discussion: """
            Settings come from options, then the environment, then --config FILE (docs/CONFIGURATION.md). \
            Token verification: DXCP_OIDC_JWKS_URL or DXCP_OIDC_JWKS_FILE (a JWKS document: RS256/ES256 keys), DXCP_OIDC_ISSUER, \
            DXCP_OIDC_AUDIENCE, DXCP_OIDC_ROLES_CLAIM; DXCP_DEV_JWT_SECRET adds an HS256 key for development. \
            Engine: DXCP_SPINNAKER_GATE_URL with DXCP_SPINNAKER_MTLS_CERT_PATH/_KEY_PATH/_CA_PATH, or \
            DXCP_SPINNAKER_GATE_HEADER_NAME/_VALUE, or DXCP_SPINNAKER_GATE_TOKEN; DXCP_SPINNAKER_TIMEOUT_MS and \
            DXCP_SPINNAKER_CONNECT_TIMEOUT_MS bound each call, DXCP_SPINNAKER_RECONCILE_INTERVAL_SECONDS paces the reconciler of \
            unconfirmed dispatches, which releases none younger than DXCP_SPINNAKER_SETTLE_SECONDS. Spinnaker Webhook stages present \
            DXCP_SPINNAKER_WEBHOOK_TOKEN. Audit retention: DXCP_AUDIT_RETENTION_DAYS. With --demo: the demo policy, a \
            fresh development key, and a token per role printed.
            """)

    @Option(help: "Configuration file (YAML, docs/CONFIGURATION.md); the environment overrides it, options override both.")
    var config: String?

    @Option(help: "Address to listen on (DXCP_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (DXCP_PORT; default 8080).")
    var port: Int?

    @Option(name: .long, help: "Data directory, created when missing (DXCP_DATA_DIR; default ./data).")
    var dataDir: String?

    @Option(name: .long, help: "Policy file to load when the data directory holds no policy yet (DXCP_POLICY_FILE).")
    var policy: String?

    @Option(name: .long, help: "Gate base URL (overrides DXCP_SPINNAKER_GATE_URL).")
    var gateUrl: String?

    @Option(name: .long, help: "A fleet's PostgreSQL, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE: state shared by every replica instead of the data directory (DXCP_DATABASE_URL; docs/FLEET.md).")
    var store: String?

    @Option(name: .long, help: "Largest the data file may grow: bytes or e.g. 512MiB, 4GiB, 1TiB (DXCP_LMDB_MAP_SIZE; default 4GiB).")
    var mapSize: String?

    @Flag(help: "Demo mode: demo policy, development signing key, tokens printed, operator hints shown.")
    var demo = false

    func run() async throws {
        let fileSettings: [String: String]
        do {
            fileSettings = try config.map { try ServerConfigFile.load(path: $0) } ?? [:]
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        if let url = fileSettings["DXCP_DATABASE_URL"], let location = PostgresLocation(url: url), location.password != nil {
            // Secrets come from the environment only, never from the configuration file.
            printError("error: store.database_url in \(config ?? "the configuration file") carries a password; give the URL with its password in DXCP_DATABASE_URL instead")
            throw ExitCode(2)
        }
        let env = ServerConfigFile.merged(file: fileSettings, environment: ProcessInfo.processInfo.environment)
        let host = host ?? env["DXCP_HOST"] ?? "127.0.0.1"
        let dataDir = dataDir ?? env["DXCP_DATA_DIR"] ?? "./data"
        let policy = policy ?? env["DXCP_POLICY_FILE"]
        guard let port = port ?? (env["DXCP_PORT"].map { Int($0) } ?? 8080), (1...65535).contains(port) else {
            printError("error: DXCP_PORT must be a port number, got '\(env["DXCP_PORT"] ?? "")'")
            throw ExitCode(2)
        }
        guard let bodyLimit = env["DXCP_BODY_LIMIT_BYTES"].map({ Int($0) }) ?? WireRequest.defaultBodyLimit, bodyLimit >= 1024 else {
            printError("error: DXCP_BODY_LIMIT_BYTES must be a number of bytes (at least 1024), got '\(env["DXCP_BODY_LIMIT_BYTES"] ?? "")'")
            throw ExitCode(2)
        }
        guard let retentionDays = env["DXCP_AUDIT_RETENTION_DAYS"].map({ Int($0) }) ?? 0, PolicyBounds.auditRetentionDays.contains(retentionDays) else {
            printError(
                "error: DXCP_AUDIT_RETENTION_DAYS must be a number of days in \(PolicyBounds.auditRetentionDays) (0 keeps everything), got '\(env["DXCP_AUDIT_RETENTION_DAYS"] ?? "")'")
            throw ExitCode(2)
        }
        let mapSizeText = mapSize ?? env["DXCP_LMDB_MAP_SIZE"] ?? "4GiB"
        guard let mapBytes = GovernanceStore.mapSize(parsing: mapSizeText) else {
            printError("error: --map-size (DXCP_LMDB_MAP_SIZE) must be bytes or a size such as 512MiB or 4GiB, from 16MiB to 16TiB, got '\(mapSizeText)'")
            throw ExitCode(2)
        }
        let writeQueueLimit = try Self.bounded(env, "DXCP_WRITE_QUEUE_LIMIT", 16...1_000_000, default: 4096)
        let engine = try Self.engineSettings(env)
        let logger = {
            var logger = Logger(label: "dxcp")
            logger.logLevel = .info
            return logger
        }()
        let metrics = ServerMetrics()
        let store: any GovernanceBackend
        do {
            let observer: @Sendable (Int, Duration, Duration) -> Void = { size, applying, committing in
                metrics.batch(size: size, applying: applying, committing: committing)
            }
            if let url = self.store ?? env["DXCP_DATABASE_URL"] {
                guard let location = PostgresLocation(url: url) else {
                    printError("error: --store (DXCP_DATABASE_URL) must be postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
                    throw ExitCode(2)
                }
                let timeoutMs = try Self.bounded(env, "DXCP_DATABASE_TIMEOUT_MS", 100...60_000, default: 5_000)
                let readers = try Self.bounded(env, "DXCP_DATABASE_READERS", 1...64, default: 4)
                // The schema is created or brought up to date on start (replicas starting together wait for each other).
                store = try FleetStore(
                    location: location,
                    options: .init(
                        migrate: true, maxQueue: writeQueueLimit, readers: readers, timeout: .milliseconds(timeoutMs),
                        engineTimeoutMs: (gateUrl ?? env["DXCP_SPINNAKER_GATE_URL"]) == nil ? nil : engine.timeoutMs, commitObserver: observer),
                    logger: logger)
                logger.info("state in PostgreSQL", metadata: ["database": "\(location)"])
            } else {
                store = try GovernanceStore(directory: dataDir, options: .init(mapSize: mapBytes, create: true, maxQueue: writeQueueLimit, commitObserver: observer))
            }
            // First start: the policy file (if any) with the reference's variables applied, loaded
            // only if no policy was ever loaded (checked in the write transaction: of a fleet's
            // replicas starting together, one loads it).
            var loaded = false
            if try await store.policyGeneration() == 0 {
                let file = policy ?? (demo ? bundledDemoPolicy() ?? "examples/demo-policy.yaml" : nil)
                let snapshot = try ReferenceVariables.apply(
                    env, to: try file.map { try PolicyFile.load(path: $0) } ?? PolicySnapshot(), readFile: readFile)
                loaded = try await store.loadPolicyIfNone(snapshot, actorId: "dxcp-policy serve", now: currentTime())
            }
            if !loaded {
                if policy != nil { logger.notice("the store already holds policy data; --policy is ignored (use `dxcp-policy seed` to replace it)") }
                let ignored = ReferenceVariables.names.filter { env[$0] != nil }
                if !ignored.isEmpty {
                    logger.notice("the store already holds settings; these variables apply only at first start (change settings through the admin API)", metadata: ["ignored": "\(ignored.joined(separator: ","))"])
                }
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        let jwks = try env["DXCP_OIDC_JWKS_FILE"].map { path -> String in
            guard let bytes = readFile(path) else { throw ValidationError("cannot read the JWKS file \(path)") }
            return String(decoding: bytes, as: UTF8.self)
        }
        let devSecret = env["DXCP_DEV_JWT_SECRET"] ?? (demo ? newId() + newId() : nil)
        let issuer = env["DXCP_OIDC_ISSUER"] ?? (demo ? "dxcp-demo" : nil)
        // As the reference: the JWKS URL, else the issuer's well-known JWKS.
        let jwksURL = env["DXCP_OIDC_JWKS_URL"]
            ?? (jwks == nil && !demo ? env["DXCP_OIDC_ISSUER"].map { ($0.hasSuffix("/") ? String($0.dropLast()) : $0) + "/.well-known/jwks.json" } : nil)
        guard jwks != nil || jwksURL != nil || devSecret != nil else {
            printError("error: no way to verify tokens: set DXCP_OIDC_JWKS_URL, DXCP_OIDC_JWKS_FILE or DXCP_OIDC_ISSUER (or DXCP_DEV_JWT_SECRET for development), or use --demo")
            throw ExitCode(2)
        }
        let audience = env["DXCP_OIDC_AUDIENCE"] ?? (demo ? "dxcp-api" : nil)
        let rolesClaim = env["DXCP_OIDC_ROLES_CLAIM"] ?? WireClaims.defaultRolesClaim
        let authenticator = Authenticator(
            keys: try await Authenticator.keys(jwks: jwks, developmentSecret: devSecret),
            requirements: .init(issuer: issuer, audience: audience, rolesClaim: rolesClaim),
            jwksURL: jwksURL, fetch: { url in try await HTTPFetch.get(url) })
        if let jwksURL {
            do {
                try await authenticator.refreshKeys(now: currentTime())
            } catch {
                logger.warning("cannot fetch the JWKS yet; will retry when a token names a key not yet fetched, at most once per refresh interval", metadata: ["url": "\(jwksURL)", "error": "\(error)"])
            }
        }

        let gate = (gateUrl ?? env["DXCP_SPINNAKER_GATE_URL"]).map { url in
            GateClient(configuration: GateConfiguration(
                baseURL: url, authentication: Self.gateAuthentication(env), caFile: env["DXCP_SPINNAKER_MTLS_CA_PATH"],
                connectTimeoutMs: engine.connectTimeoutMs, requestTimeoutMs: engine.timeoutMs))
        }
        let dispatcher = gate.map { Dispatcher(store: store, gate: $0, clock: currentTime, logger: logger) }
        if let gate {
            logger.info("engine", metadata: [
                "gate": "\(gate.configuration)", "reconcile_interval_seconds": "\(engine.reconcileIntervalSeconds)", "settle_seconds": "\(engine.settleSeconds)",
            ])
        } else {
            logger.warning("no engine configured (DXCP_SPINNAKER_GATE_URL): deployments will be refused with ENGINE_UNAVAILABLE")
        }

        let webhookToken = env["DXCP_SPINNAKER_WEBHOOK_TOKEN"] ?? (demo ? "demo-webhook-" + newId() : nil)
        let configuration = GovernanceServer.Configuration(
            bodyLimit: bodyLimit, exposeOperatorHints: demo,
            corsOrigins: env["DXCP_CORS_ORIGINS"].map { Set($0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }) }
                ?? GovernanceServer.Configuration.defaultCORSOrigins,
            spinnakerWebhookToken: webhookToken)
        let server = GovernanceServer(
            store: store, authenticator: authenticator, dispatcher: dispatcher, readiness: gate.map { ReadinessProbe(gate: $0) },
            configuration: configuration,
            clock: currentTime, makeId: newId, metrics: metrics, logger: logger)
        let http = try Self.httpLimits(env)
        let app = Application(
            responder: server.responder(),
            server: GovernanceHTTPChannel.builder(
                configuration: HTTP1Channel.Configuration(
                    additionalChannelHandlers: [ConnectionCloseHandler()],
                    idleTimeout: .seconds(Int64(http.idleTimeoutSeconds)),
                    httpDecoderConfiguration: .init(
                        maxHeaderFieldSize: http.maxHeaderBytes, maxHeaderListSize: http.maxHeaderBytes, maxHeaderFieldCount: http.maxHeaderCount)),
                deadlines: .init(headTimeout: .seconds(Int64(http.headTimeoutSeconds)), bodyTimeout: .seconds(Int64(http.bodyTimeoutSeconds)))),
            configuration: .init(
                address: .hostname(host, port: port), serverName: "dxcp-policy",
                availableConnectionsDelegate: MaximumAvailableConnections(http.maxConnections)),
            logger: logger)
        if demo {
            try await printDemoTokens(
                authenticator, base: "http://\(host):\(port)", issuer: issuer, audience: audience, rolesClaim: rolesClaim, webhookToken: webhookToken)
        }
        // Background work: the reconciler resolves unconfirmed dispatches (its first pass at once,
        // so a restart resolves what a crash left), the poller follows executions.
        let background: [Task<Void, Never>] = gate.map { gate in
            let reconciler = Reconciler(store: store, gate: gate, dispatcher: dispatcher, settle: .seconds(engine.settleSeconds), logger: logger)
            return [
                Task {
                    await reconciler.run(
                        every: .seconds(engine.reconcileIntervalSeconds), now: currentTime, requestId: newId, observe: metrics.reconciled,
                        leads: store.leadsBackgroundWork)
                },
                Task {
                    await ExecutionPoller(store: store, gate: gate, logger: logger)
                        .run(every: .seconds(2), now: currentTime, requestId: newId, leads: store.leadsBackgroundWork)
                },
            ]
        } ?? []
        let retention = retentionDays > 0 ? Task { await AuditRetentionTask(store: store, days: retentionDays, logger: logger).run() } : nil
        let expiry = Task { await ExpiryTask(store: store, logger: logger).run() }
        try await app.runService()
        // In order: background work ends (its last writes committed), dispatches under way finish
        // and their executions are recorded, then the store closes.
        background.forEach { $0.cancel() }
        retention?.cancel()
        expiry.cancel()
        for task in background { await task.value }
        await retention?.value
        await expiry.value
        await dispatcher?.settle()
        await store.close()
    }

    /// Gate's timeouts and the reconciler's interval, bounded.
    struct EngineSettings {
        var connectTimeoutMs = 2_000
        var timeoutMs = 10_000
        var reconcileIntervalSeconds = 5
        var settleSeconds = Int(Reconciler.defaultSettle.components.seconds)
    }

    static func engineSettings(_ env: [String: String]) throws -> EngineSettings {
        var settings = EngineSettings()
        settings.timeoutMs = try bounded(env, "DXCP_SPINNAKER_TIMEOUT_MS", 500...300_000, default: settings.timeoutMs)
        // Unset, the connect timeout never exceeds the call's.
        settings.connectTimeoutMs = try bounded(env, "DXCP_SPINNAKER_CONNECT_TIMEOUT_MS", 100...60_000, default: min(settings.connectTimeoutMs, settings.timeoutMs))
        settings.reconcileIntervalSeconds = try bounded(env, "DXCP_SPINNAKER_RECONCILE_INTERVAL_SECONDS", 1...300, default: settings.reconcileIntervalSeconds)
        settings.settleSeconds = try bounded(env, "DXCP_SPINNAKER_SETTLE_SECONDS", 0...3_600, default: settings.settleSeconds)
        guard settings.connectTimeoutMs <= settings.timeoutMs else {
            printError("error: DXCP_SPINNAKER_CONNECT_TIMEOUT_MS (\(settings.connectTimeoutMs)) must not exceed DXCP_SPINNAKER_TIMEOUT_MS (\(settings.timeoutMs))")
            throw ExitCode(2)
        }
        return settings
    }

    /// The HTTP server's own limits (docs/DECISIONS.md 60).
    struct HTTPLimits {
        /// A request's head must be whole within this many seconds of its first byte (slowloris):
        /// else 408 and the connection is closed.
        var headTimeoutSeconds = 10
        /// A request's body must be whole within this many seconds of its head (a trickled or
        /// stalled body): else 408 and the connection is closed.
        var bodyTimeoutSeconds = 30
        /// A connection that completes no part of a request (head, body chunk or end) for this
        /// long is closed: between requests (an idle keep-alive connection) and while reading.
        var idleTimeoutSeconds = 30
        /// All of a request's header fields together, in bytes (431 beyond).
        var maxHeaderBytes = 16 * 1024
        /// Header fields per request.
        var maxHeaderCount = 100
        /// Open connections at once; past it new ones wait in the listen backlog.
        var maxConnections = 4096
    }

    static func httpLimits(_ env: [String: String]) throws -> HTTPLimits {
        var limits = HTTPLimits()
        limits.headTimeoutSeconds = try bounded(env, "DXCP_HTTP_HEAD_TIMEOUT_SECONDS", 1...300, default: limits.headTimeoutSeconds)
        limits.bodyTimeoutSeconds = try bounded(env, "DXCP_HTTP_BODY_TIMEOUT_SECONDS", 1...3600, default: limits.bodyTimeoutSeconds)
        limits.idleTimeoutSeconds = try bounded(env, "DXCP_HTTP_IDLE_TIMEOUT_SECONDS", 1...3600, default: limits.idleTimeoutSeconds)
        limits.maxHeaderBytes = try bounded(env, "DXCP_HTTP_MAX_HEADER_BYTES", 4096...1_048_576, default: limits.maxHeaderBytes)
        limits.maxHeaderCount = try bounded(env, "DXCP_HTTP_MAX_HEADER_COUNT", 16...1000, default: limits.maxHeaderCount)
        limits.maxConnections = try bounded(env, "DXCP_HTTP_MAX_CONNECTIONS", 16...100_000, default: limits.maxConnections)
        return limits
    }

    /// An integer setting within `range`, or `fallback` when unset; anything else stops the start.
    static func bounded(_ env: [String: String], _ name: String, _ range: ClosedRange<Int>, default fallback: Int) throws -> Int {
        guard let text = env[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            printError("error: \(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
            throw ExitCode(2)
        }
        return value
    }

    static func gateAuthentication(_ env: [String: String]) -> GateConfiguration.Authentication {
        if let cert = ServerConfigFile.given("DXCP_SPINNAKER_MTLS_CERT_PATH", in: env)?.value,
            let key = ServerConfigFile.given("DXCP_SPINNAKER_MTLS_KEY_PATH", in: env)?.value
        {
            return .mutualTLS(certificatePath: cert, keyPath: key)
        }
        if let name = env["DXCP_SPINNAKER_GATE_HEADER_NAME"], let value = env["DXCP_SPINNAKER_GATE_HEADER_VALUE"] {
            return .header(name: name, value: value)
        }
        if let token = env["DXCP_SPINNAKER_GATE_TOKEN"] { return .bearer(token) }
        return .none
    }

    func printDemoTokens(
        _ authenticator: Authenticator, base: String, issuer: String?, audience: String?, rolesClaim: String, webhookToken: String?
    ) async throws {
        let expires = currentTime().adding(seconds: 12 * 3600).seconds
        var lines = ["", "dxcp-policy demo on \(base) — development tokens (valid 12 h):"]
        var tokens: [String: String] = [:]
        for (name, subject, email, role) in [
            ("admin", "demo-admin", "admin@example.com", "dxcp-platform-admins"),
            ("owner", "demo-owner", "owner@example.com", "dxcp-delivery-owners"),
            ("observer", "demo-observer", "observer@example.com", "dxcp-observers"),
            ("ci", "ci-bot", "ci@example.com", "dxcp-ci-publishers"),
        ] {
            var claims: [String: JSON] = [
                "sub": .string(subject), "email": .string(email), rolesClaim: .array([.string(role)]), "exp": .int(expires),
            ]
            if let issuer { claims["iss"] = .string(issuer) }
            if let audience { claims["aud"] = .string(audience) }
            let token = try await authenticator.signDevelopmentToken(claims)
            tokens[name] = token
            lines.append("  \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) export DXCP_\(name.uppercased())_TOKEN=\(token)")
        }
        if let webhookToken { lines.append("  webhook   export DXCP_SPINNAKER_WEBHOOK_TOKEN=\(webhookToken)   (Spinnaker Webhook stages: /v1/spinnaker/webhook/check|admit)") }
        let intent = #"'{"service":"demo-service","environment":"sandbox","version":"1.0.0","changeSummary":"first deploy"}'"#
        lines += [
            "", "Try, in another shell (paste the exports above first):",
            "  # CI registers the build of version 1.0.0",
            #"  curl -s -H "Authorization: Bearer $DXCP_CI_TOKEN" -H 'Idempotency-Key: build-1' -H 'Content-Type: application/json' \"#,
            #"    -d '{"service":"demo-service","version":"1.0.0","artifactRef":"s3://dxcp-artifacts/demo-service/demo-service-1.0.0.zip","git_sha":"abc123","git_branch":"main","ci_provider":"github","ci_run_id":"1","built_at":"2026-01-01T00:00:00Z"}' \"#,
            "    \(base)/v1/builds/register",
            "  # the owner validates, then deploys (the Gate emulator runs it)",
            #"  curl -s -H "Authorization: Bearer $DXCP_OWNER_TOKEN" -H 'Content-Type: application/json' -d \#(intent) \#(base)/v1/deployments/validate"#,
            #"  curl -s -H "Authorization: Bearer $DXCP_OWNER_TOKEN" -H 'Idempotency-Key: deploy-1' -H 'Content-Type: application/json' -d \#(intent) \#(base)/v1/deployments"#,
            "",
        ]
        writeLine(lines.joined(separator: "\n"), to: 1)
    }
}

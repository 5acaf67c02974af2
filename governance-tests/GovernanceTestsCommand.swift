import ArgumentParser
import Foundation

/// `governance-tests`: proves that a DXCP-compatible API enforces the governance contract.
@main
struct GovernanceTestsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "governance-tests",
        abstract: "Conformance suite of the DXCP governance contract, run against a live API.",
        discussion: """
            Identities: tokens in GOV_ADMIN_TOKEN, GOV_OWNER_TOKEN, GOV_NON_MEMBER_OWNER_TOKEN, GOV_OBSERVER_TOKEN and \
            GOV_CI_TOKEN, or minted with --mint-key (a token given in the environment wins). The run changes settings \
            (CI allowlist, kill switch, group, routing, a temporary recipe; with --guardrails active also limits) and \
            restores them. Exit status 0 only for a conformant run; 1 otherwise; 64 for bad options. \
            See governance-tests/README.md.
            """)

    @Option(help: "Base URL of the API, e.g. http://127.0.0.1:8080.")
    var baseUrl: String

    @Option(help: "strict: every check must run and pass. diagnostic: missing prerequisites skip with a reason.")
    var profile: Profile = .strict

    @Option(help: "safe: shape checks only. active: also the bounded quota, concurrency and rate probes.")
    var guardrails: Guardrails = .safe

    @Option(help: "Write JUnit XML here.")
    var junit: String?

    @Option(help: "Write the conformance snapshot JSON here.")
    var snapshot: String?

    @Option(help: "RSA private key (PEM file) to mint the identities' RS256 tokens with.")
    var mintKey: String?

    @Option(help: "iss of minted tokens.")
    var issuer: String?

    @Option(help: "aud of minted tokens.")
    var audience: String?

    @Option(help: "kid of the minting key in the deployment's JWKS.")
    var kid: String?

    @Option(help: "Name of the roles claim.")
    var rolesClaim = "https://dxcp.example/claims/roles"

    @Option(help: "Name of the email claim of minted tokens.")
    var emailClaim = "email"

    @Option(help: "Service the run deploys.")
    var service = "demo-service"

    @Option(help: "Environment the run deploys to.")
    var environment = "sandbox"

    @Option(help: "Delivery group of the service; the owner identity is made a member for the run.")
    var deliveryGroup = "default"

    @Option(help: "artifactRef of the builds the run registers ({service}, {version} replaced).")
    var artifactRef = "s3://dxcp-artifacts/{service}/{service}-{version}.zip"

    @Option(help: "Seconds one HTTP call may take.")
    var httpTimeout: Double = 20

    @Option(help: "Seconds a deployment may take to reach a terminal state.")
    var deployTimeout: Double = 300

    @Option(help: "Seconds between polls of a deployment.")
    var pollInterval: Double = 2

    @Flag(help: "Print only the closing summary.")
    var quiet = false

    @Option(help: "Instead of the suite, run the differential test: this many random steps through a model of the contract and the API, compared.")
    var differential: Int?

    @Option(help: "Seed of the differential test's steps (default: random; always printed).")
    var seed: UInt64?

    @Option(help: "Gate emulator of the API's engine: the differential test then ends executions on demand.")
    var emulatorUrl: String?

    @Option(help: "Run the decision cases of this corpus directory (governance-tests/corpus) instead of the conformance run.")
    var corpus: String?

    func validate() throws {
        guard URL(string: baseUrl)?.scheme.map({ ["http", "https"].contains($0) }) == true else {
            throw ValidationError("--base-url must be an http(s) URL")
        }
        if mintKey != nil, issuer == nil || audience == nil || kid == nil {
            throw ValidationError("--mint-key needs --issuer, --audience and --kid")
        }
        guard httpTimeout > 0, deployTimeout > 0, pollInterval > 0 else { throw ValidationError("timeouts and the poll interval must be positive") }
        if let differential, differential < 1 { throw ValidationError("--differential needs a positive number of steps") }
        if differential == nil, seed != nil || emulatorUrl != nil { throw ValidationError("--seed and --emulator-url go with --differential") }
        if let emulatorUrl, URL(string: emulatorUrl)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            throw ValidationError("--emulator-url must be an http(s) URL")
        }
    }

    func run() async throws {
        let runId = Self.makeRunId()
        let environmentTokens = ProcessInfo.processInfo.environment
        var tokens: [Identity: String] = [:]
        if let mintKey, let issuer, let audience, let kid {
            let pem: String
            if mintKey.hasPrefix("-----BEGIN") {
                pem = mintKey
            } else {
                guard let text = try? String(contentsOfFile: mintKey, encoding: .utf8) else { throw ValidationError("cannot read --mint-key \(mintKey)") }
                pem = text
            }
            let minter = TokenMinter(
                privateKeyPEM: pem, issuer: issuer, audience: audience, keyId: kid, rolesClaim: rolesClaim, emailClaim: emailClaim,
                lifetimeSeconds: Int(deployTimeout) * 6 + 3600)
            do {
                tokens = try await minter.mint(Identity.allCases)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        for identity in Identity.allCases {
            if let token = environmentTokens[identity.environmentVariable], !token.isEmpty { tokens[identity] = token }
        }
        // Unbuffered, so CI logs (and whoever watches) see each check as it ends.
        let log: ((String) -> Void)? = quiet ? nil : { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        if let corpus {
            try await runCorpus(directory: corpus, tokens: tokens, runId: runId, log: log)
            return
        }
        let interruption = Interruption()
        interruption.install()
        let recorder = Recorder(profile: profile, log: log, interruption: interruption)
        let api = APIClient(baseURL: baseUrl, tokens: tokens, timeout: httpTimeout, runId: runId)
        let settings = SuiteSettings(
            service: service, environment: environment, deliveryGroup: deliveryGroup, artifactRefTemplate: artifactRef, rolesClaim: rolesClaim,
            deployTimeout: deployTimeout, pollInterval: pollInterval, guardrails: guardrails, runId: runId)
        if let differential {
            let emulator = emulatorUrl.map { APIClient(baseURL: $0, tokens: [:], timeout: httpTimeout, runId: runId) }
            let run = DifferentialRun(server: DifferentialServer(api: api, emulator: emulator, settings: settings), steps: differential,
                seed: seed ?? UInt64.random(in: 0...UInt64.max), interruption: interruption)
            if await !run.run() { throw ExitCode(1) }
            return
        }
        log?("governance-tests \(runId): \(baseUrl), profile \(profile.rawValue), guardrails \(guardrails.rawValue)")
        let suite = Suite(api: api, recorder: recorder, settings: settings)
        await suite.run()

        let reports = Reports(
            results: recorder.results, profile: profile, guardrails: guardrails, conformant: recorder.conformant, counts: recorder.counts,
            context: suite.context, baseURL: baseUrl, runId: runId, timestamp: Date())
        FileHandle.standardOutput.write(Data((reports.summary + "\n").utf8))
        if let junit { try Data(reports.junit.utf8).write(to: URL(fileURLWithPath: junit)) }
        if let snapshot { try Data((reports.snapshot.prettyText + "\n").utf8).write(to: URL(fileURLWithPath: snapshot)) }
        if !recorder.conformant { throw ExitCode(1) }
    }

    /// Runs the corpus over HTTP; exit 1 when a case fails.
    func runCorpus(directory: String, tokens: [Identity: String], runId: String, log: ((String) -> Void)?) async throws {
        let files: [CorpusFile]
        do {
            files = try CorpusFile.load(directory: directory)
        } catch {
            throw ValidationError("--corpus: \(error)")
        }
        log?("governance-tests \(runId): corpus \(directory) against \(baseUrl)")
        let api = APIClient(baseURL: baseUrl, tokens: tokens, timeout: httpTimeout, runId: runId)
        let runner = CorpusRunner(
            transport: HTTPCorpusTransport(api: api, deployTimeout: deployTimeout, pollInterval: pollInterval), runId: runId, log: log)
        let outcomes = await runner.run(files)
        FileHandle.standardOutput.write(Data((CorpusRunner.summary(outcomes, files: files) + "\n").utf8))
        if outcomes.contains(where: { $0.required && !$0.passed }) { throw ExitCode(1) }
    }

    /// `gt<yyyyMMddHHmmss><4 hex>`: sortable, unique enough, and usable in ids.
    static func makeRunId() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss"
        return "gt\(formatter.string(from: Date()))\(String(format: "%04x", UInt16.random(in: 0...UInt16.max)))"
    }
}

import ArgumentParser
import GovernanceStore
import PolicyFile
import PolicyServer
import Rules

/// `dxcp-policy eval`: decides one request offline and prints the decision with its trail.
struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate one request against a policy file and print the decision as JSON.",
        discussion: """
            Exit status: 0 allowed, 1 denied, 2 bad input. With --data-dir the request is decided \
            against that directory's counters and records (nothing is written); without it, against \
            empty state. Request file format: see `EvalRequest` in docs/ARCHITECTURE.md.
            """)

    @Option(name: .long, help: "Policy data file (YAML).")
    var policy: String

    @Option(name: .long, help: "Request file (JSON): method, path, claims, body, idempotency_key, now.")
    var request: String

    @Option(name: .long, help: "Data directory whose state to decide against (read only).")
    var dataDir: String?

    @Option(name: .long, help: "Name of the roles claim.")
    var rolesClaim: String = "https://dxcp.example/claims/roles"

    func run() async throws {
        do {
            let snapshot = try PolicyFile.load(path: policy)
            guard let bytes = readFile(request) else {
                printError("error: \(request): cannot read the request file")
                throw ExitCode(2)
            }
            let evalRequest: EvalRequest
            do {
                evalRequest = try EvalRequest.parse(bytes, rolesClaim: rolesClaim)
            } catch {
                printError("error: \(request): \(error.field.map { "\($0): " } ?? "")\(error.message)")
                throw ExitCode(2)
            }
            let store = try dataDir.map { dir throws(StoreError) in try GovernanceStore(directory: dir) }
            let decision = try evalRequest.decide(policy: snapshot, store: store, now: currentTime())
            print(DecisionJSON.encode(decision))
            if !decision.allowed { throw ExitCode(1) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
    }
}

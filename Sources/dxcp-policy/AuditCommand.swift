import ArgumentParser
import Audit
import GovernanceStore

/// `dxcp-policy audit`: offline tools for the decision log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify the hash-chained decision log.", subcommands: [Verify.self])

    /// `dxcp-policy audit verify`.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every entry of the audit chain; exit 1 naming the first bad sequence number.")

        @Option(name: .long, help: "Data directory.")
        var dataDir: String

        func run() async throws {
            do {
                let store = try GovernanceStore(directory: dataDir)
                switch try store.verifyAudit() {
                case .intact(let count, let head):
                    print("OK \(count) entries, head \(head)")
                case .broken(let sequence, let reason):
                    print("BROKEN at sequence \(sequence): \(reason)")
                    throw ExitCode(1)
                }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                printError("error: \(error)")
                throw ExitCode(2)
            }
        }
    }
}

import ArgumentParser
import GovernanceStore
import PolicyFile
import Rules

/// `dxcp-policy seed`: loads a policy data file into a data directory, creating it if needed.
struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a policy data file (YAML) into a data directory.",
        discussion: "Creates the directory and its LMDB environment when missing. Existing deployments, builds, counters and audit log are kept; policy data and settings are replaced, and the change is audited.")

    @Option(name: .long, help: "Data directory (created if missing).")
    var dataDir: String

    @Option(name: .long, help: "Policy data file (see docs/POLICY-FILE.md).")
    var policy: String

    @Option(name: .long, help: "Largest the data file may grow: bytes or e.g. 512MiB, 4GiB, 1TiB (default 4GiB).")
    var mapSize: String = "4GiB"

    func run() async throws {
        let snapshot: PolicySnapshot
        do {
            snapshot = try PolicyFile.load(path: policy)
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        do {
            guard let bytes = GovernanceStore.mapSize(parsing: mapSize) else {
                printError("error: --map-size must be bytes or a size such as 512MiB or 4GiB, from 16MiB to 16TiB, got '\(mapSize)'")
                throw ExitCode(2)
            }
            let store = try GovernanceStore(directory: dataDir, options: .init(mapSize: bytes, create: true))
            try await store.replacePolicy(snapshot, actorId: "dxcp-policy seed", now: currentTime())
            await store.close()
            print("seeded \(dataDir): \(snapshot.deliveryGroups.count) delivery groups, \(snapshot.recipes.count) recipes, \(snapshot.services.count) services, \(snapshot.environments.count) environments")
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
    }
}

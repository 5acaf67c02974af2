import ArgumentParser
import Audit
import GovernanceStore
import Rules

/// `dxcp-policy audit`: offline tools for the decision log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify, export and prune the hash-chained decision log.",
        subcommands: [Verify.self, Export.self, Prune.self])

    /// `dxcp-policy audit verify`.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every entry of the audit chain; exit 1 naming the first bad sequence number.")

        @Option(name: .long, help: "Data directory (one node).")
        var dataDir: String?

        @Option(name: .long, help: "A fleet's PostgreSQL, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (instead of --data-dir).")
        var store: String?

        func run() async throws {
            if let url = store {
                guard dataDir == nil else { throw ValidationError("give --data-dir or --store, not both") }
                let fleet = try openFleet(url, timeout: try commandTimeout())
                let verdict: AuditVerifier.Verdict
                do {
                    verdict = try await fleet.verifyAudit()
                } catch {
                    await fleet.close()
                    printError("error: \(error)")
                    throw ExitCode(2)
                }
                await fleet.close()
                try report(verdict, checkpoint: nil)
                return
            }
            guard let dataDir else { throw ValidationError("give --data-dir DIR or --store URL") }
            try await withStore(dataDir) { store in
                try report(try store.verifyAudit(), checkpoint: try store.auditCheckpoint())
            }
        }

        private func report(_ verdict: AuditVerifier.Verdict, checkpoint: AuditCheckpoint?) throws {
            switch verdict {
            case .intact(let count, let head):
                let from = checkpoint.map { " (after retention checkpoint \($0.sequence))" } ?? ""
                print("OK \(count) entries\(from), head \(head)")
            case .broken(let sequence, let reason):
                print("BROKEN at sequence \(sequence): \(reason)")
                throw ExitCode(1)
            }
        }
    }

    /// `dxcp-policy audit export`.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the entries after a sequence number to standard output, one JSON object per line.",
            discussion: """
                Each line is the entry exactly as stored (its `hash` covers it; `previous_hash` links it to the line \
                before). Resume with --after set to the `sequence` of the last line you stored: delivery is at least \
                once and nothing is skipped. Exits 3 when retention already removed entries after --after. Safe to \
                run while the server is running.
                """)

        @Option(name: .long, help: "Data directory.")
        var dataDir: String

        @Option(name: .long, help: "Export entries with a sequence number above this one (0: from the start).")
        var after: UInt64 = 0

        @Option(name: .long, help: "Stop after this many entries.")
        var limit: Int?

        @Flag(name: .long, help: "Keep running and export new entries as they are written.")
        var follow = false

        @Option(name: .long, help: "With --follow, seconds between looks for new entries.")
        var interval: Int = 1

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
            if interval < 1 { throw ValidationError("--interval must be at least 1") }
        }

        func run() async throws {
            try await withStore(dataDir) { store in
                var cursor = after
                var remaining = limit ?? .max
                while remaining > 0 {
                    let page: AuditExportPage
                    do {
                        page = try store.auditExport(after: cursor, limit: min(remaining, 1000))
                    } catch let error as StoreError where error.kind == .pruned {
                        printError("error: \(error)")
                        throw ExitCode(3)
                    }
                    guard let last = page.lastSequence else {
                        if !follow { return }
                        try await Task.sleep(for: .seconds(interval))
                        continue
                    }
                    var bytes: [UInt8] = []
                    for line in page.lines {
                        bytes += line
                        bytes.append(UInt8(ascii: "\n"))
                    }
                    guard writeAll(bytes, to: 1) else {
                        printError("error: standard output closed after sequence \(cursor)")
                        throw ExitCode(1)
                    }
                    cursor = last
                    remaining -= page.lines.count
                }
            }
        }
    }

    /// `dxcp-policy audit prune`.
    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove old audit entries, keeping a checkpoint so that the rest still verifies.",
            discussion: """
                Removes entries older than --older-than days (and, with --up-to, numbered at most that: pass the last \
                sequence your log shipper confirmed). Every removed entry is verified first; a log that does not \
                verify loses nothing. The removal is itself audited (AUDIT_RETENTION). The server does the same \
                periodically when DXCP_AUDIT_RETENTION_DAYS is set.
                """)

        @Option(name: .long, help: "Data directory.")
        var dataDir: String

        @Option(name: .long, help: "Remove entries older than this many days (at least 1).")
        var olderThan: Int

        @Option(name: .long, help: "Remove nothing numbered above this sequence.")
        var upTo: UInt64?

        func validate() throws {
            guard (1...PolicyBounds.auditRetentionDays.upperBound).contains(olderThan) else {
                throw ValidationError("--older-than must be between 1 and \(PolicyBounds.auditRetentionDays.upperBound) days")
            }
        }

        func run() async throws {
            try await withStore(dataDir) { store in
                let now = currentTime()
                let passes = try await store.pruneAudit(
                    olderThan: now.adding(seconds: -Int64(olderThan) * 86_400), upTo: upTo ?? .max,
                    actorId: "dxcp-policy audit prune", now: now)
                guard let first = passes.first, let last = passes.last else {
                    print("nothing to remove")
                    return
                }
                print("removed entries \(first.removed.lowerBound)...\(last.removed.upperBound); checkpoint \(last.checkpoint.sequence) hash \(last.checkpoint.hash)")
            }
        }
    }
}

/// Opens the store in `dataDir`, runs `body`, and closes it; store errors exit 2 with the
/// operator's message.
private func withStore(_ dataDir: String, _ body: (GovernanceStore) async throws -> Void) async throws {
    let store = try openNode(dataDir)
    do {
        try await body(store)
        await store.close()
    } catch let exit as ExitCode {
        await store.close()
        throw exit
    } catch {
        await store.close()
        printError("error: \(error)")
        throw ExitCode(2)
    }
}

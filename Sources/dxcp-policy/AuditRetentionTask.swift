import GovernanceStore
import Logging
import Rules

/// Server-side audit retention (`DXCP_AUDIT_RETENTION_DAYS`): at start and then hourly, removes
/// entries older than the retention period, through the store's write path.
struct AuditRetentionTask: Sendable {
    let store: any GovernanceBackend
    let days: Int
    let logger: Logger

    /// Runs until cancelled.
    func run() async {
        while !Task.isCancelled {
            let now = currentTime()
            do {
                guard await store.leadsBackgroundWork() else {
                    try? await Task.sleep(for: .seconds(3600))
                    continue
                }
                let passes = try await store.pruneAudit(
                    olderThan: now.adding(seconds: -Int64(days) * 86_400), upTo: .max, actorId: "dxcp-policy retention", now: now, batch: 10_000)
                if let first = passes.first, let last = passes.last {
                    logger.info("audit retention", metadata: [
                        "removed": "\(first.removed.lowerBound)...\(last.removed.upperBound)", "checkpoint": "\(last.checkpoint.sequence)",
                    ])
                }
            } catch {
                logger.error("audit retention failed; nothing was removed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(3600))
        }
    }
}

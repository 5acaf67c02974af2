import GovernanceStore
import Logging
import Rules

/// Server-side audit retention (`DXCP_AUDIT_RETENTION_DAYS`): at start and then hourly, removes
/// entries older than the retention period, through the store's write path.
struct AuditRetentionTask: Sendable {
    let store: GovernanceStore
    let days: Int
    let logger: Logger

    /// Runs until cancelled.
    func run() async {
        while !Task.isCancelled {
            let now = currentTime()
            do {
                let passes = try await store.pruneAudit(
                    olderThan: now.adding(seconds: -Int64(days) * 86_400), actorId: "dxcp-policy retention", now: now)
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

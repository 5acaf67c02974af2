import GovernanceStore
import Logging
import Rules

/// Expiry (DECISIONS 73): every minute, removes idempotency records past their time to live,
/// expired upload capabilities and past mutate rate windows (DECISIONS 78), and audits the closed minutes' rate-limit refusal tallies
/// (DECISIONS 75), in short passes through the store's write path.
struct ExpiryTask: Sendable {
    let store: any GovernanceBackend
    let logger: Logger

    /// Runs until cancelled.
    func run() async {
        while !Task.isCancelled {
            do {
                guard await store.leadsBackgroundWork() else {
                    try? await Task.sleep(for: .seconds(60))
                    continue
                }
                // Ten seconds behind the clock: a decision that read a key just before its expiry
                // and waits in the writer's queue still finds it when it commits.
                let removed = try await store.expire(now: currentTime().adding(seconds: -10))
                if removed.total > 0 {
                    logger.info("expired", metadata: [
                        "idempotency_records": "\(removed.idempotencyRecords)", "upload_capabilities": "\(removed.uploadCapabilities)",
                        "refusal_minutes": "\(removed.refusalMinutes)", "rate_windows": "\(removed.rateWindows)",
                    ])
                }
            } catch {
                logger.error("expiry failed; nothing was removed by the failed pass", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(60))
        }
    }
}

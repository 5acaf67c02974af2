/// The bounds of every number in policy data and settings, in one table: the policy file
/// loader and the admin API's checks read it, so a value one accepts the other accepts too, and
/// no accepted value can overflow the time arithmetic it feeds (docs/DECISIONS.md 59).
public enum PolicyBounds {
    /// `read_rpm`, `mutate_rpm` (REFERENCE §2.7).
    public static let rate: ClosedRange<Int> = 1...5000
    /// Per-actor daily build quotas: `daily_quota_build_register`, `daily_quota_upload_capability`.
    public static let actorDailyQuota: ClosedRange<Int> = 0...5000
    /// Concurrent deployments of a group or environment (`max_concurrent_deployments`).
    public static let guardrail: ClosedRange<Int> = 1...5000
    /// Daily deploy and rollback quotas: of groups and environments (`daily_deploy_quota`,
    /// `daily_rollback_quota`) and the settings' defaults (`daily_quota_deploy`,
    /// `daily_quota_rollback`). A day's deployments to one group and environment can be many more
    /// than its concurrent ones; the bound keeps counters and arithmetic far from overflow.
    public static let dailyQuota: ClosedRange<Int> = 1...1_000_000
    /// `idempotency_ttl_seconds`: up to a year.
    public static let idempotencyTTLSeconds: ClosedRange<Int64> = 1...31_536_000
    /// `deployment_lock_stale_seconds`: up to a week.
    public static let deploymentLockStaleSeconds: ClosedRange<Int64> = 1...604_800
    /// `upload_capability_ttl_seconds`: up to a day.
    public static let uploadCapabilityTTLSeconds: ClosedRange<Int64> = 1...86_400
    /// `max_artifact_size_bytes`: up to 1 TiB.
    public static let maxArtifactSizeBytes: ClosedRange<Int64> = 1...(1 << 40)
    /// A recipe's `revision` (each admin update adds one): far from overflow however it is set.
    public static let recipeRevision: ClosedRange<Int> = 1...1_000_000_000
    /// Audit retention in days (`DXCP_AUDIT_RETENTION_DAYS`; 0 keeps everything): up to 100 years.
    public static let auditRetentionDays: ClosedRange<Int> = 0...36_500

    /// Longest id of a delivery group, recipe or service, in bytes.
    public static let idLength = 128
    /// Longest display name, and longest description or other free text, in characters.
    public static let nameLength = 128
    public static let textLength = 1024

    /// Whether `id` is a valid id of a delivery group, recipe or service: 1 to 128 ASCII letters,
    /// digits, `.`, `_` or `-` — exactly what a request path can name, so everything stored can be
    /// read and changed again (no NUL, no invisible or right-to-left characters).
    public static func isValidId(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= idLength && id.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E
        }
    }

    /// The rule of ``isValidId(_:)``, in words, for messages.
    public static let idRule = "1 to 128 letters, digits, '.', '_' or '-'"

    /// Whether `text` is free text of at most `limit` characters with no control characters —
    /// except tab, line feed and carriage return in a text of several lines (a description).
    public static func isValidText(_ text: String, limit: Int, lines: Bool = false) -> Bool {
        text.count <= limit && !text.unicodeScalars.contains {
            $0.properties.generalCategory == .control && !(lines && ($0 == "\t" || $0 == "\n" || $0 == "\r"))
        }
    }
}

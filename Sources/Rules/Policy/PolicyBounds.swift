/// The bounds of every number in policy data and settings, in one table: the policy file
/// loader and the admin API's checks read it, so a value one accepts the other accepts too, and
/// no accepted value can overflow the time arithmetic it feeds (docs/DECISIONS.md 59).
public enum PolicyBounds {
    /// `read_rpm`, `mutate_rpm` (REFERENCE §2.7).
    public static let rate: ClosedRange<Int> = 1...5000
    /// Per-actor daily build quotas: `daily_quota_build_register`, `daily_quota_upload_capability`.
    public static let actorDailyQuota: ClosedRange<Int> = 0...5000
    /// Guardrails of groups and environments, and the settings' default deploy and rollback quotas.
    public static let guardrail: ClosedRange<Int> = 1...5000
    /// `idempotency_ttl_seconds`: up to a year.
    public static let idempotencyTTLSeconds: ClosedRange<Int64> = 1...31_536_000
    /// `deployment_lock_stale_seconds`: up to a week.
    public static let deploymentLockStaleSeconds: ClosedRange<Int64> = 1...604_800
    /// `upload_capability_ttl_seconds`: up to a day.
    public static let uploadCapabilityTTLSeconds: ClosedRange<Int64> = 1...86_400
    /// `max_artifact_size_bytes`: up to 1 TiB.
    public static let maxArtifactSizeBytes: ClosedRange<Int64> = 1...(1 << 40)
    /// Audit retention in days (`DXCP_AUDIT_RETENTION_DAYS`; 0 keeps everything): up to 100 years.
    public static let auditRetentionDays: ClosedRange<Int> = 0...36_500
}

/// System-wide settings: rate limits, quota defaults, the kill switch and the CI allowlist
/// (REFERENCE §2.7, §5.1). Read from the store for every decision (DECISIONS D9).
public struct Settings: Sendable, Hashable, Codable {
    /// Reads (GETs, validate, policy summary) per actor per minute; 1...5000.
    public var readRPM: Int
    /// Mutations per actor per minute; 1...5000.
    public var mutateRPM: Int
    /// Build registrations per actor per UTC day; 0...5000 (0 blocks all).
    public var dailyQuotaBuildRegister: Int
    /// Upload capabilities per actor per UTC day.
    public var dailyQuotaUploadCapability: Int
    /// Deploys per group and environment per UTC day when no guardrail says otherwise.
    public var dailyQuotaDeploy: Int
    /// Rollbacks per group and environment per UTC day when no guardrail says otherwise.
    public var dailyQuotaRollback: Int
    /// The kill switch: when true every mutating endpoint but the switch itself answers 503.
    public var mutationsDisabled: Bool
    /// The CI publisher allowlist; empty denies every CI token.
    public var ciPublishers: [CIPublisher]
    /// How long idempotency records are kept, in seconds.
    public var idempotencyTTLSeconds: Int64
    /// An IN_PROGRESS deployment untouched this long no longer holds its slot.
    public var deploymentLockStaleSeconds: Int64
    /// How long an upload capability stays valid, in seconds.
    public var uploadCapabilityTTLSeconds: Int64
    /// The largest artifact accepted, in bytes.
    public var maxArtifactSizeBytes: Int64
    /// Artifact content types accepted.
    public var allowedContentTypes: [String]
    /// Spinnaker application used when a recipe names none.
    public var defaultSpinnakerApplication: String?
    /// What the UI may display (`/v1/ui/policy/ui-exposure`); nil until an admin sets it: all
    /// hidden.
    public var uiExposure: UIExposurePolicy?

    /// The reference's defaults (REFERENCE §5.1, §6, §7, §3.2).
    public init(
        readRPM: Int = 60, mutateRPM: Int = 10, dailyQuotaBuildRegister: Int = 50,
        dailyQuotaUploadCapability: Int = 50, dailyQuotaDeploy: Int = 25, dailyQuotaRollback: Int = 10,
        mutationsDisabled: Bool = false, ciPublishers: [CIPublisher] = [], idempotencyTTLSeconds: Int64 = 86_400,
        deploymentLockStaleSeconds: Int64 = 900, uploadCapabilityTTLSeconds: Int64 = 900,
        maxArtifactSizeBytes: Int64 = 200 * 1024 * 1024,
        allowedContentTypes: [String] = ["application/zip", "application/gzip"],
        defaultSpinnakerApplication: String? = nil
    ) {
        self.readRPM = readRPM
        self.mutateRPM = mutateRPM
        self.dailyQuotaBuildRegister = dailyQuotaBuildRegister
        self.dailyQuotaUploadCapability = dailyQuotaUploadCapability
        self.dailyQuotaDeploy = dailyQuotaDeploy
        self.dailyQuotaRollback = dailyQuotaRollback
        self.mutationsDisabled = mutationsDisabled
        self.ciPublishers = ciPublishers
        self.idempotencyTTLSeconds = idempotencyTTLSeconds
        self.deploymentLockStaleSeconds = deploymentLockStaleSeconds
        self.uploadCapabilityTTLSeconds = uploadCapabilityTTLSeconds
        self.maxArtifactSizeBytes = maxArtifactSizeBytes
        self.allowedContentTypes = allowedContentTypes
        self.defaultSpinnakerApplication = defaultSpinnakerApplication
    }
}


/// The UI exposure policy (REFERENCE §2.9): whether the UI may display artifact references and
/// external links (commit and CI run URLs). Hidden unless an admin shows them.
public struct UIExposurePolicy: Sendable, Hashable, Codable {
    public var artifactRefDisplay: Bool
    public var externalLinksDisplay: Bool

    /// A policy from its parts; both hidden by default.
    public init(artifactRefDisplay: Bool = false, externalLinksDisplay: Bool = false) {
        self.artifactRefDisplay = artifactRefDisplay
        self.externalLinksDisplay = externalLinksDisplay
    }

    /// The policy as JSON, as the API answers and the audit records it.
    public var jsonValue: JSONValue {
        .object([
            "artifactRef": .object(["display": .bool(artifactRefDisplay)]),
            "externalLinks": .object(["display": .bool(externalLinksDisplay)]),
        ])
    }
}

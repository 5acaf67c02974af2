/// A registered build: the artifact a version of a service deploys (REFERENCE §2.6).
public struct Build: Sendable, Hashable, Codable {
    /// Record id (an input).
    public var id: String
    /// The service.
    public var service: String
    /// The version (semver-like).
    public var version: String
    /// The artifact reference, e.g. `s3://bucket/demo-service/demo-service-1.0.0.zip`.
    public var artifactRef: String
    /// Commit built.
    public var gitSha: String
    /// Branch built.
    public var gitBranch: String
    /// CI system name as the publisher reported it.
    public var ciProvider: String
    /// CI run id.
    public var ciRunId: String
    /// When it was built.
    public var builtAt: Timestamp
    /// sha256 of the artifact (64 hex digits), if given.
    public var sha256: String?
    /// Size in bytes, if given.
    public var sizeBytes: Int64?
    /// Content type, if given.
    public var contentType: String?
    /// Extra checksum field, passed through.
    public var checksumSha256: String?
    /// Repository, passed through.
    public var repo: String?
    /// CI actor, passed through.
    public var actor: String?
    /// Name of the allowlisted publisher that registered it.
    public var ciPublisher: String
    /// Link to the commit (http or https).
    public var commitURL: String?
    /// Link to the CI run (http or https).
    public var runURL: String?
    /// When it was registered.
    public var registeredAt: Timestamp

    /// A build from its parts.
    public init(
        id: String, service: String, version: String, artifactRef: String, gitSha: String, gitBranch: String,
        ciProvider: String, ciRunId: String, builtAt: Timestamp, sha256: String? = nil, sizeBytes: Int64? = nil,
        contentType: String? = nil, checksumSha256: String? = nil, repo: String? = nil, actor: String? = nil,
        ciPublisher: String, commitURL: String? = nil, runURL: String? = nil, registeredAt: Timestamp
    ) {
        self.id = id
        self.service = service
        self.version = version
        self.artifactRef = artifactRef
        self.gitSha = gitSha
        self.gitBranch = gitBranch
        self.ciProvider = ciProvider
        self.ciRunId = ciRunId
        self.builtAt = builtAt
        self.sha256 = sha256
        self.sizeBytes = sizeBytes
        self.contentType = contentType
        self.checksumSha256 = checksumSha256
        self.repo = repo
        self.actor = actor
        self.ciPublisher = ciPublisher
        self.commitURL = commitURL
        self.runURL = runURL
        self.registeredAt = registeredAt
    }
}

/// A short-lived permission to register one build with a known size, digest and type
/// (REFERENCE §2.6).
public struct UploadCapability: Sendable, Hashable, Codable {
    /// The token the CI job presents (an input).
    public var token: String
    /// The service.
    public var service: String
    /// The version.
    public var version: String
    /// Expected size in bytes.
    public var expectedSizeBytes: Int64
    /// Expected sha256, lower-case hex.
    public var expectedSha256: String
    /// Expected content type.
    public var expectedContentType: String
    /// When it stops being valid.
    public var expiresAt: Timestamp
    /// The actor it was issued to.
    public var actorId: String
}

/// What an idempotency key remembers (REFERENCE §6, DECISIONS D4–D6).
public struct IdempotencyRecord: Sendable, Hashable, Codable {
    /// The canonical request the key was first used with.
    public var fingerprint: String
    /// When the record stops counting.
    public var expiresAt: Timestamp
    /// The stored outcome; nil while the first request is still in flight.
    public var response: StoredResponse?

    /// A record from its parts.
    public init(fingerprint: String, expiresAt: Timestamp, response: StoredResponse?) {
        self.fingerprint = fingerprint
        self.expiresAt = expiresAt
        self.response = response
    }
}

/// A successful response kept for replay.
public struct StoredResponse: Sendable, Hashable, Codable {
    /// HTTP status of the first response (201, or 200 for an already registered build).
    public var status: Int
    /// What the first response carried.
    public var result: DecisionResult

    /// A stored response from its parts.
    public init(status: Int, result: DecisionResult) {
        self.status = status
        self.result = result
    }

    private enum CodingKeys: String, CodingKey { case status, result }

    /// A stored response as read back: its status is answered again on a replay, so one that is
    /// no HTTP status (stored data changed by hand) is undecodable, never sent.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let status = try container.decode(Int.self, forKey: .status)
        guard (100...599).contains(status) else {
            throw DecodingError.dataCorruptedError(forKey: .status, in: container, debugDescription: "\(status) is not an HTTP status")
        }
        self.init(status: status, result: try container.decode(DecisionResult.self, forKey: .result))
    }
}

/// Where an idempotency key lives: actor, method, path and key (DECISIONS D4).
public struct IdempotencyScope: Sendable, Hashable, Codable {
    /// The caller's actor id.
    public var actorId: String
    /// HTTP method and path, e.g. `POST /v1/deployments`.
    public var endpoint: String
    /// The client's key.
    public var key: String

    /// A scope from its parts.
    public init(actorId: String, endpoint: String, key: String) {
        self.actorId = actorId
        self.endpoint = endpoint
        self.key = key
    }
}

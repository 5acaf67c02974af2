extension Checks {
    /// §3.1: build endpoints accept only registry services → else 403 `SERVICE_NOT_ALLOWLISTED`.
    static func buildServiceAllowlisted(_ service: String, _ policy: PolicySnapshot) throws(Denial) -> ServiceEntry {
        guard let entry = policy.service(exactly: service) else {
            throw Denial(.serviceNotAllowlisted, "Service is not allowlisted", hint: "service \(service)", status: 403)
        }
        return entry
    }

    /// §3.1: `built_at` is an ISO-8601 date-time → else 400 `INVALID_BUILD_REGISTRATION`.
    static func builtAtValid(_ text: String) throws(Denial) -> Timestamp {
        guard let time = Timestamp(iso8601: text) else {
            throw Denial(
                .invalidBuildRegistration, "Invalid build registration",
                details: ["missing_fields": .array([]), "invalid_fields": .strings(["built_at"])])
        }
        return time
    }

    /// §3.1: the artifact's size is within the limit, its sha256 is 64 hex digits and its content
    /// type is allowed → else 400 `INVALID_ARTIFACT`. Absent optional fields are not checked.
    static func artifactValid(sizeBytes: Int64?, sha256: String?, contentType: String?, _ settings: Settings) throws(Denial) {
        if let sizeBytes, sizeBytes <= 0 || sizeBytes > settings.maxArtifactSizeBytes {
            throw Denial(.invalidArtifact, "Artifact is invalid", hint: "size \(sizeBytes) outside 1...\(settings.maxArtifactSizeBytes)")
        }
        if let sha256, !isSha256Hex(sha256) {
            throw Denial(.invalidArtifact, "Artifact is invalid", hint: "sha256 must be 64 hex digits")
        }
        if let contentType, !settings.allowedContentTypes.contains(contentType) {
            throw Denial(.invalidArtifact, "Artifact is invalid", hint: "content type \(contentType) is not allowed")
        }
    }

    /// §3.1 + DECISIONS D2: the artifact reference is an `s3://` URI under one of the service's
    /// allowed sources (any when it lists none) → else 400 `INVALID_ARTIFACT`.
    static func artifactSourceAllowed(_ ref: String, _ entry: ServiceEntry) throws(Denial) {
        guard ref.hasPrefix("s3://"), ref.count > 5, !ref.contains(" ") else {
            throw Denial(.invalidArtifact, "Artifact is invalid", hint: "artifactRef must be an s3:// URI")
        }
        guard entry.allowedArtifactSources.isEmpty || entry.allowedArtifactSources.contains(where: { ref.hasPrefix($0) }) else {
            throw Denial(.invalidArtifact, "Artifact is invalid", hint: "artifactRef is not under an allowed source of \(entry.name)")
        }
    }

    /// §3.1: `commit_url` and `run_url`, when given, are http(s) URLs → else 400 `INVALID_URL`.
    static func linksValid(_ urls: [(field: String, value: String?)]) throws(Denial) {
        for (field, value) in urls {
            guard let value else { continue }
            let lower = value.lowercased()
            let rest = lower.hasPrefix("https://") ? lower.dropFirst(8) : lower.hasPrefix("http://") ? lower.dropFirst(7) : nil
            guard let rest, let host = rest.split(separator: "/", omittingEmptySubsequences: false).first, !host.isEmpty else {
                throw Denial(.invalidURL, "\(field) must be an http or https URL", details: ["field": .string(field)])
            }
        }
    }

    /// §3.1: a build already registered for service + version must be the same artifact and
    /// commit → else 409 `BUILD_REGISTRATION_CONFLICT`. Returns the existing identical build.
    static func existingBuildConsistent(_ registration: BuildRegistration, _ state: some StateView) throws(Denial) -> Build? {
        guard let existing = state.build(service: registration.service, version: registration.version) else { return nil }
        guard existing.artifactRef == registration.artifactRef, existing.gitSha == registration.gitSha else {
            throw Denial(
                .buildRegistrationConflict, "Build already registered with a different artifact or commit",
                details: [
                    "service": .string(existing.service), "version": .string(existing.version),
                    "existing_artifactRef": .string(existing.artifactRef), "existing_git_sha": .string(existing.gitSha),
                ])
        }
        return existing
    }

    /// §3.1: `POST /v1/builds` needs an unexpired upload capability for the same service,
    /// version, size, sha256 and content type → else 400 `INVALID_ARTIFACT`.
    static func uploadCapabilityMatched(_ registration: BuildRegistration, _ state: some StateView, now: Timestamp) throws(Denial) -> UploadCapability {
        let match = state.uploadCapabilities(service: registration.service, version: registration.version).first {
            $0.expiresAt > now && $0.expectedSizeBytes == registration.sizeBytes
                && $0.expectedSha256 == registration.sha256?.lowercased() && $0.expectedContentType == registration.contentType
        }
        guard let match else {
            throw Denial(.invalidArtifact, "Artifact is invalid", hint: "no matching unexpired upload capability")
        }
        return match
    }
}

/// Whether `text` is 64 hexadecimal digits.
func isSha256Hex(_ text: String) -> Bool {
    text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }
}

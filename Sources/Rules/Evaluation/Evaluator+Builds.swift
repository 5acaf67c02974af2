extension Evaluator {
    /// The gate every build endpoint starts with (REFERENCE §4.4): role recognised, kill switch,
    /// CI publisher allowlist, idempotency key, mutate rate limit, daily quota per actor.
    static func publisher(_ quotaKind: QuotaScope.Kind, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> (role: Role, publisher: String, key: String, quota: QuotaScope) {
        let principal = i.principal, settings = i.settings, now = i.now, context = i.context
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        try t.check(.killSwitchOff) { () throws(Denial) in try Checks.killSwitchOff(settings) }
        let publisher = try t.check(.ciPublisherAllowlisted) { () throws(Denial) in
            try Checks.ciPublisherAllowlisted(principal, role, settings)
        }
        let key = try t.check(.idempotencyKeyPresent) { () throws(Denial) in try Checks.idempotencyKeyPresent(context.idempotencyKey) }
        let window = try t.check(.mutateRateLimit) { () throws(Denial) in
            try Checks.rateLimit(state, actor: principal.actorId, bucket: .mutate, limit: settings.mutateRPM, now: now)
        }
        t.effects.append(.countRate(window))
        let quota = QuotaScope(kind: quotaKind, key: principal.actorId)
        let limit = quotaKind == .uploadCapability ? settings.dailyQuotaUploadCapability : settings.dailyQuotaBuildRegister
        _ = try t.check(.quotaAvailable) { () throws(Denial) in try Checks.quotaAvailable(quota, limit: limit, state, now: now) }
        return (role, publisher, key, quota)
    }

    /// Stores the final response under the idempotency key, with the build audit entry.
    static func complete(_ scope: IdempotencyScope, _ fingerprint: String, _ status: Int, _ result: DecisionResult, _ i: Inputs, _ t: inout Trail) {
        t.effects.append(.putIdempotency(scope, IdempotencyRecord(
            fingerprint: fingerprint, expiresAt: i.now.adding(seconds: i.settings.idempotencyTTLSeconds),
            response: StoredResponse(status: status, result: result))))
    }

    /// `POST /v1/builds/upload-capability` (REFERENCE §4.4).
    static func uploadCapability(_ body: BuildUploadRequest, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let policy = i.policy, settings = i.settings, now = i.now
        t.subject.service = body.service
        let gate = try publisher(.uploadCapability, i, state, &t)
        let scope = IdempotencyScope(actorId: i.principal.actorId, endpoint: i.endpoint, key: gate.key)
        let fingerprint = body.fingerprint
        let lookup = try t.check(.idempotencyReplay) { () throws(Denial) in
            try Checks.idempotencyReplay(state, scope, fingerprint: fingerprint, now: now, conflictCode: .buildRegistrationConflict)
        }
        if case .replay(let stored) = lookup { return Allowed(status: stored.status, result: stored.result, replayed: true) }
        _ = try t.check(.serviceAllowlisted) { () throws(Denial) in try Checks.buildServiceAllowlisted(body.service, policy) }
        try t.check(.versionFormat) { () throws(Denial) in try Checks.versionFormat(body.version) }
        try t.check(.artifactValid) { () throws(Denial) in
            try Checks.artifactValid(sizeBytes: body.expectedSizeBytes, sha256: body.expectedSha256, contentType: body.contentType, settings)
        }
        let capability = UploadCapability(
            token: i.context.newId, service: body.service, version: body.version, expectedSizeBytes: body.expectedSizeBytes,
            expectedSha256: body.expectedSha256.lowercased(), expectedContentType: body.contentType,
            expiresAt: now.adding(seconds: settings.uploadCapabilityTTLSeconds), actorId: i.principal.actorId)
        t.effects.append(.spendQuota(gate.quota, day: now.day))
        t.effects.append(.putUploadCapability(capability))
        complete(scope, fingerprint, 201, .uploadCapability(capability), i, &t)
        t.effects.append(.audit(AuditNote(
            eventType: "UPLOAD_CAPABILITY_ISSUED", targetType: "Build", targetId: "\(body.service)@\(body.version)",
            outcome: .success, summary: "Upload capability issued for \(body.service) \(body.version)",
            actorId: i.principal.actorId, actorRole: gate.role, serviceName: body.service)))
        return Allowed(status: 201, result: .uploadCapability(capability))
    }

    /// `POST /v1/builds` (with an upload capability) and `POST /v1/builds/register` (an existing
    /// artifact; DECISIONS D2: no storage probe), REFERENCE §4.4.
    static func registerBuild(_ body: BuildRegistration, withCapability: Bool, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let policy = i.policy, settings = i.settings, now = i.now
        t.subject.service = body.service
        let gate = try publisher(.buildRegister, i, state, &t)
        let scope = IdempotencyScope(actorId: i.principal.actorId, endpoint: i.endpoint, key: gate.key)
        let fingerprint = body.fingerprint
        let lookup = try t.check(.idempotencyReplay) { () throws(Denial) in
            try Checks.idempotencyReplay(state, scope, fingerprint: fingerprint, now: now, conflictCode: .buildRegistrationConflict)
        }
        if case .replay(let stored) = lookup { return Allowed(status: stored.status, result: stored.result, replayed: true) }
        let entry = try t.check(.serviceAllowlisted) { () throws(Denial) in try Checks.buildServiceAllowlisted(body.service, policy) }
        try t.check(.versionFormat) { () throws(Denial) in try Checks.versionFormat(body.version) }
        let builtAt = try t.check(.builtAtValid) { () throws(Denial) in try Checks.builtAtValid(body.builtAt) }
        try t.check(.artifactValid) { () throws(Denial) in
            try Checks.artifactValid(sizeBytes: body.sizeBytes, sha256: body.sha256, contentType: body.contentType, settings)
        }
        try t.check(.artifactSourceAllowed) { () throws(Denial) in try Checks.artifactSourceAllowed(body.artifactRef, entry) }
        try t.check(.linksValid) { () throws(Denial) in
            try Checks.linksValid([("commit_url", body.commitURL), ("run_url", body.runURL)])
        }
        let existing = try t.check(.existingBuildConsistent) { () throws(Denial) in try Checks.existingBuildConsistent(body, state) }
        if let existing {
            complete(scope, fingerprint, 200, .build(existing), i, &t)
            return Allowed(status: 200, result: .build(existing))
        }
        if withCapability {
            let capability = try t.check(.uploadCapabilityMatched) { () throws(Denial) in
                try Checks.uploadCapabilityMatched(body, state, now: now)
            }
            t.effects.append(.consumeUploadCapability(capability))
        } else {
            t.skip(.uploadCapabilityMatched)
        }
        let build = Build(
            id: i.context.newId, service: body.service, version: body.version, artifactRef: body.artifactRef,
            gitSha: body.gitSha, gitBranch: body.gitBranch, ciProvider: body.ciProvider, ciRunId: body.ciRunId,
            builtAt: builtAt, sha256: body.sha256?.lowercased(), sizeBytes: body.sizeBytes, contentType: body.contentType,
            checksumSha256: body.checksumSha256, repo: body.repo, actor: body.actor, ciPublisher: gate.publisher,
            commitURL: body.commitURL, runURL: body.runURL, registeredAt: now)
        t.effects.append(.spendQuota(gate.quota, day: now.day))
        t.effects.append(.putBuild(build))
        complete(scope, fingerprint, 201, .build(build), i, &t)
        t.effects.append(.audit(AuditNote(
            eventType: "BUILD_REGISTER", targetType: "Build", targetId: build.id, outcome: .success,
            summary: "Build \(body.service) \(body.version) registered by \(gate.publisher)", actorId: i.principal.actorId,
            actorRole: gate.role, serviceName: body.service)))
        return Allowed(status: 201, result: .build(build))
    }
}

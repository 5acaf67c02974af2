extension Evaluator {
    /// The start of every admin settings change (REFERENCE §4.5): role recognised, mutate rate
    /// limit (spent even by non-admins), role PLATFORM_ADMIN.
    static func admin(_ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Role {
        let principal = i.principal, settings = i.settings, now = i.now
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        let window = try t.check(.mutateRateLimit) { () throws(Denial) in
            try Checks.rateLimit(state, actor: principal.actorId, bucket: .mutate, limit: settings.mutateRPM, now: now)
        }
        t.effects.append(.countRate(window))
        try t.check(.roleAllowed) { () throws(Denial) in try Checks.roleAllowed(role, [.platformAdmin], doing: "change system settings") }
        return role
    }

    /// Honours an `Idempotency-Key` where one is sent or `required` (DECISIONS D5): returns the
    /// scope to complete, or a replay.
    static func adminIdempotency(
        required: Bool, fingerprint: String, _ i: Inputs, _ state: some StateView, _ t: inout Trail
    ) throws(Denial) -> (scope: IdempotencyScope?, replay: StoredResponse?) {
        let context = i.context, now = i.now
        guard required || !(context.idempotencyKey ?? "").isEmpty else { return (nil, nil) }
        let key = try t.check(.idempotencyKeyPresent) { () throws(Denial) in try Checks.idempotencyKeyPresent(context.idempotencyKey) }
        let scope = IdempotencyScope(actorId: i.principal.actorId, endpoint: i.endpoint, key: key)
        let lookup = try t.check(.idempotencyReplay) { () throws(Denial) in
            try Checks.idempotencyReplay(state, scope, fingerprint: fingerprint, now: now)
        }
        if case .replay(let stored) = lookup { return (scope, stored) }
        return (scope, nil)
    }

    /// An `ADMIN_CONFIG_CHANGE` note for one setting (REFERENCE §11.2).
    static func configChange(_ key: String, _ old: JSONValue, _ new: JSONValue, reason: String?, role: Role, _ i: Inputs) -> Effect {
        let claims = i.principal.claims
        return .audit(AuditNote(
            eventType: "ADMIN_CONFIG_CHANGE", targetType: "AdminSetting", targetId: key, outcome: .success,
            summary: "\(key) changed", actorId: i.principal.actorId, actorRole: role,
            change: SettingChange(
                key: key, oldValue: old, newValue: new, reason: reason, actorSubject: claims.subject,
                actorEmail: i.principal.email, actorAuthorizedParty: claims.authorizedParty)))
    }

    /// `PUT /v1/admin/system/rate-limits`.
    static func setRateLimits(_ change: RateLimitsChange, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        t.subject.targetId = "rate_limits"
        let role = try admin(i, state, &t)
        let settings = i.settings
        try t.check(.killSwitchOff) { () throws(Denial) in try Checks.killSwitchOff(settings) }
        let fingerprint = CanonicalJSON.object([
            ("daily_quota_build_register", .int(Int64(change.dailyQuotaBuildRegister))),
            ("mutate_rpm", .int(Int64(change.mutateRPM))), ("read_rpm", .int(Int64(change.readRPM))),
        ])
        let idem = try adminIdempotency(required: false, fingerprint: fingerprint, i, state, &t)
        if let replay = idem.replay { return Allowed(status: replay.status, result: replay.result, replayed: true) }
        try t.check(.settingsValid) { () throws(Denial) in try Checks.rateLimitsValid(change) }
        var updated = settings
        updated.readRPM = change.readRPM
        updated.mutateRPM = change.mutateRPM
        updated.dailyQuotaBuildRegister = change.dailyQuotaBuildRegister
        t.effects.append(.putSettings(updated))
        for (key, old, new) in [
            ("read_rpm", settings.readRPM, change.readRPM), ("mutate_rpm", settings.mutateRPM, change.mutateRPM),
            ("daily_quota_build_register", settings.dailyQuotaBuildRegister, change.dailyQuotaBuildRegister),
        ] where old != new {
            t.effects.append(configChange(key, .int(Int64(old)), .int(Int64(new)), reason: nil, role: role, i))
        }
        if let scope = idem.scope { complete(scope, fingerprint, 200, .rateLimits(change), i, &t) }
        return Allowed(status: 200, result: .rateLimits(change))
    }

    /// `PUT /v1/admin/system/ci-publishers` (Idempotency-Key required).
    static func setCIPublishers(_ publishers: [CIPublisher], _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        t.subject.targetId = "ci_publishers"
        let role = try admin(i, state, &t)
        let settings = i.settings
        try t.check(.killSwitchOff) { () throws(Denial) in try Checks.killSwitchOff(settings) }
        let newValue = JSONValue.array(publishers.map(\.jsonValue))
        let idem = try adminIdempotency(required: true, fingerprint: canonical(newValue), i, state, &t)
        if let replay = idem.replay { return Allowed(status: replay.status, result: replay.result, replayed: true) }
        try t.check(.settingsValid) { () throws(Denial) in try Checks.ciPublishersValid(publishers) }
        var updated = settings
        updated.ciPublishers = publishers
        t.effects.append(.putSettings(updated))
        t.effects.append(configChange(
            "ci_publishers", .array(settings.ciPublishers.map(\.jsonValue)), newValue, reason: nil, role: role, i))
        if let scope = idem.scope { complete(scope, canonical(newValue), 200, .ciPublishers(publishers), i, &t) }
        return Allowed(status: 200, result: .ciPublishers(publishers))
    }

    /// `PUT`/`PATCH /v1/admin/system/mutations-disabled`: never blocked by the kill switch itself
    /// (contract §8). Every toggle is audited, changed or not.
    static func setMutationsDisabled(_ change: KillSwitchChange, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        t.subject.targetId = "mutations_disabled"
        let role = try admin(i, state, &t)
        let settings = i.settings
        let fingerprint = CanonicalJSON.object([
            ("mutations_disabled", .string(String(change.mutationsDisabled))),
            ("reason", change.reason.map { .string($0) } ?? .null),
        ])
        let idem = try adminIdempotency(required: false, fingerprint: fingerprint, i, state, &t)
        if let replay = idem.replay { return Allowed(status: replay.status, result: replay.result, replayed: true) }
        var updated = settings
        updated.mutationsDisabled = change.mutationsDisabled
        t.effects.append(.putSettings(updated))
        t.effects.append(configChange(
            "mutations_disabled", .bool(settings.mutationsDisabled), .bool(change.mutationsDisabled), reason: change.reason,
            role: role, i))
        if let scope = idem.scope { complete(scope, fingerprint, 200, .mutationsDisabled(change.mutationsDisabled), i, &t) }
        return Allowed(status: 200, result: .mutationsDisabled(change.mutationsDisabled))
    }

    /// `PUT /v1/admin/system/ui-exposure-policy`: replaces the whole UI exposure policy (what is
    /// not sent is hidden), refused while the kill switch is on.
    static func setUIExposure(_ policy: UIExposurePolicy, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        t.subject.targetId = "ui_exposure_policy"
        let role = try admin(i, state, &t)
        let settings = i.settings
        try t.check(.killSwitchOff) { () throws(Denial) in try Checks.killSwitchOff(settings) }
        let fingerprint = canonical(policy.jsonValue)
        let idem = try adminIdempotency(required: false, fingerprint: fingerprint, i, state, &t)
        if let replay = idem.replay { return Allowed(status: replay.status, result: replay.result, replayed: true) }
        let old = settings.uiExposure ?? UIExposurePolicy()
        var updated = settings
        updated.uiExposure = policy
        t.effects.append(.putSettings(updated))
        t.effects.append(configChange("ui_exposure_policy", old.jsonValue, policy.jsonValue, reason: nil, role: role, i))
        if let scope = idem.scope { complete(scope, fingerprint, 200, .uiExposure(policy), i, &t) }
        return Allowed(status: 200, result: .uiExposure(policy))
    }

    /// The audit note of a denied mutating request; nil for reads and validate, which change nothing.
    static func deniedAuditNote(_ request: Request, _ denial: Denial, _ i: Inputs, _ subject: Subject) -> AuditNote? {
        let (eventType, targetType, target): (String, String, String)
        switch request {
        case .deploy(let intent): (eventType, targetType, target) = ("DEPLOY_DENIED", "Deployment", intent.service)
        case .rollback(let id): (eventType, targetType, target) = ("ROLLBACK_DENIED", "Deployment", id)
        case .promote(let intent): (eventType, targetType, target) = ("PROMOTION_DENIED", "Deployment", intent.service)
        case .uploadCapability(let body): (eventType, targetType, target) = ("UPLOAD_CAPABILITY_DENIED", "Build", body.service)
        case .registerBuild(let body), .registerExistingBuild(let body):
            (eventType, targetType, target) = ("BUILD_REGISTER_DENIED", "Build", body.service)
        case .setRateLimits, .setCIPublishers, .setMutationsDisabled, .setUIExposure:
            (eventType, targetType, target) = ("ADMIN_CONFIG_DENIED", "AdminSetting", subject.targetId ?? "")
        case .changePolicy(let change):
            (eventType, targetType, target) = ("ADMIN_CHANGE_DENIED", "Policy", change.endpoint)
        case .spinnakerAdmit(let execution):
            (eventType, targetType, target) = ("SPINNAKER_ADMIT_DENIED", "Deployment", execution.executionId)
        case .validate, .validatePromotion, .policySummary, .readDeployment, .listDeployments, .read, .spinnakerCheck, .gateway:
            return nil
        }
        let verb = switch request.action {
        case .deploy: "Deploy"
        case .spinnakerAdmit: "Spinnaker admission"
        case .rollback: "Rollback"
        case .promote: "Promotion"
        case .setRateLimits, .setCIPublishers, .setMutationsDisabled, .setUIExposure, .changePolicy: "Setting change"
        default: "Build publish"
        }
        return AuditNote(
            eventType: eventType, targetType: targetType, targetId: target, outcome: .denied,
            summary: "\(verb) rejected (\(denial.code.rawValue)) for \(target)", actorId: i.principal.actorId,
            actorRole: i.principal.role, deliveryGroupId: subject.groupId, serviceName: subject.service,
            environment: subject.environment)
    }
}

/// Canonical JSON of a ``JSONValue``: sorted keys, compact, ASCII-escaped strings.
func canonical(_ value: JSONValue) -> String {
    var out = ""
    func write(_ v: JSONValue) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let n): out += String(n)
        case .string(let s): CanonicalJSON.escape(s, into: &out)
        case .array(let a):
            out += "["
            for (k, e) in a.enumerated() {
                if k > 0 { out += "," }
                write(e)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (k, key) in o.keys.sorted().enumerated() {
                if k > 0 { out += "," }
                CanonicalJSON.escape(key, into: &out)
                out += ":"
                write(o[key] ?? .null)
            }
            out += "}"
        }
    }
    write(value)
    return out
}

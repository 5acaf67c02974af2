extension Evaluator {
    /// What steps 6–10 of REFERENCE §4.1/§4.2 resolve: the group, environment and routed recipe.
    struct Routing {
        var group: DeliveryGroup
        var environment: Environment
        var recipe: Recipe
    }

    /// Steps 6–10 shared by validate and deploy: group (with DECISIONS D7 membership),
    /// environment, routed recipe, group policy, requested recipe id.
    static func routing(
        service: String, environment: String, recipeId: String?, _ i: Inputs, _ t: inout Trail
    ) throws(Denial) -> Routing {
        let policy = i.policy, principal = i.principal
        let group = try t.check(.deliveryGroupResolved) { () throws(Denial) in try Checks.deliveryGroupResolved(service, policy) }
        t.subject.groupId = group.id
        try t.check(.deliveryGroupMember) { () throws(Denial) in try Checks.deliveryGroupMember(principal, group) }
        let env = try t.check(.environmentAllowed) { () throws(Denial) in try Checks.environmentAllowed(environment, group, policy) }
        let recipe = try t.check(.recipeRouted) { () throws(Denial) in
            try Checks.recipeRouted(service: service, environment: environment, policy)
        }
        try t.check(.recipeAllowedByGroup) { () throws(Denial) in try Checks.recipeAllowedByGroup(recipe, group) }
        try t.check(.recipeIdMatchesRoute) { () throws(Denial) in try Checks.recipeIdMatchesRoute(recipeId, recipe) }
        return Routing(group: group, environment: env, recipe: recipe)
    }

    /// The identity checks every deployment endpoint starts with: role recognised, engine user
    /// present, role allowed.
    static func deployer(_ i: Inputs, _ t: inout Trail, doing what: String) throws(Denial) -> (Role, String) {
        let principal = i.principal
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        let user = try t.check(.principalClaimPresent) { () throws(Denial) in try Checks.principalClaimPresent(principal) }
        try t.check(.roleAllowed) { () throws(Denial) in try Checks.roleAllowed(role, deployers, doing: what) }
        return (role, user)
    }

    /// `POST /v1/deployments/validate`, in the order of REFERENCE §4.1 (with D7). Changes
    /// nothing but the caller's read window.
    static func validate(_ intent: DeploymentIntent, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let settings = i.settings, now = i.now, principal = i.principal
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        _ = try t.check(.principalClaimPresent) { () throws(Denial) in try Checks.principalClaimPresent(principal) }
        try t.check(.intentWellFormed) { () throws(Denial) in
            try Checks.intentWellFormed(service: intent.service, environment: intent.environment, version: intent.version, changeSummary: intent.changeSummary)
        }
        try t.check(.roleAllowed) { () throws(Denial) in try Checks.roleAllowed(role, deployers, doing: "validate deployments") }
        let window = try t.check(.readRateLimit) { () throws(Denial) in
            try Checks.rateLimit(state, actor: principal.actorId, bucket: .read, limit: settings.readRPM, now: now)
        }
        t.effects.append(.countRate(window))
        try t.check(.killSwitchOff) { () throws(Denial) in try Checks.killSwitchOff(settings) }
        let r = try routing(service: intent.service, environment: intent.environment, recipeId: intent.recipeId, i, &t)
        try capability(service: intent.service, environment: intent.environment, version: intent.version, i, &t, compatibleWith: r.recipe)
        try t.check(.versionRegistered) { () throws(Denial) in try Checks.versionRegistered(intent.service, intent.version, state) }
        if case .notChecked = i.context.engineReadiness {
            t.skip(.engineReady)
        } else {
            let readiness = i.context.engineReadiness
            try t.check(.engineReady) { () throws(Denial) in try Checks.engineReady(readiness) }
        }
        let limits = i.policy.limits(group: r.group, environment: intent.environment)
        let slots = Checks.slots(r.group.id, intent.environment, state, settings, now: now)
        try t.check(.concurrencyAvailable) { () throws(Denial) in
            try Checks.concurrencyAvailable(holding: slots.holding, limit: limits.maxConcurrentDeployments, group: r.group.id, environment: intent.environment)
        }
        let scope = QuotaScope(kind: .deploy, key: "\(r.group.id):\(intent.environment)")
        let used = try t.check(.quotaAvailable) { () throws(Denial) in
            try Checks.quotaAvailable(scope, limit: limits.dailyDeployQuota, state, now: now)
        }
        let numbers = PolicyNumbers(
            maxConcurrentDeployments: limits.maxConcurrentDeployments, currentConcurrentDeployments: slots.holding,
            dailyDeployQuota: limits.dailyDeployQuota, deploymentsUsed: used, dailyQuotaBuildRegister: settings.dailyQuotaBuildRegister)
        return Allowed(status: 200, result: .validation(ValidationReport(
            service: intent.service, environment: intent.environment, version: intent.version, recipeId: r.recipe.id,
            deliveryGroupId: r.group.id, versionRegistered: true, policy: numbers, validatedAt: now)))
    }

    /// Capability re-checks (service registered, environment configured, version format) and, for
    /// validate, compatibility right after (REFERENCE §4.1 steps 11–12).
    static func capability(
        service: String, environment: String, version: String?, _ i: Inputs, _ t: inout Trail,
        compatibleWith recipe: Recipe?
    ) throws(Denial) {
        let policy = i.policy
        let entry = try t.check(.serviceAllowlisted) { () throws(Denial) in try Checks.serviceAllowlisted(service, policy) }
        try t.check(.environmentConfigured) { () throws(Denial) in try Checks.environmentConfigured(environment, entry) }
        if let version {
            try t.check(.versionFormat) { () throws(Denial) in try Checks.versionFormat(version) }
        }
        if let recipe {
            try t.check(.recipeCompatible) { () throws(Denial) in try Checks.recipeCompatible(recipe, entry) }
        }
    }

    /// The checks a deploy and a promotion start with, in the order of REFERENCE §4.2: role
    /// recognised, engine user present, intent well formed, role allowed, kill switch,
    /// `Idempotency-Key` present.
    static func submitter(
        service: String, environment: String, version: String, changeSummary: String, doing what: String, _ i: Inputs, _ t: inout Trail
    ) throws(Denial) -> (role: Role, user: String, key: String) {
        let principal = i.principal, settings = i.settings, context = i.context
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        let user = try t.check(.principalClaimPresent) { () throws(Denial) in try Checks.principalClaimPresent(principal) }
        try t.check(.intentWellFormed) { () throws(Denial) in
            try Checks.intentWellFormed(service: service, environment: environment, version: version, changeSummary: changeSummary)
        }
        try t.check(.roleAllowed) { () throws(Denial) in try Checks.roleAllowed(role, deployers, doing: what) }
        try t.check(.killSwitchOff) { () throws(Denial) in try Checks.killSwitchOff(settings) }
        let key = try t.check(.idempotencyKeyPresent) { () throws(Denial) in try Checks.idempotencyKeyPresent(context.idempotencyKey) }
        return (role, user, key)
    }

    /// `POST /v1/deployments`, in the order of REFERENCE §4.2 with DECISIONS D4–D8, D11: the
    /// decision reserves the slot and the quota unit and queues the engine dispatch.
    static func deploy(_ intent: DeploymentIntent, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let settings = i.settings, now = i.now, principal = i.principal
        t.subject.service = intent.service
        t.subject.environment = intent.environment
        let (role, user, key) = try submitter(
            service: intent.service, environment: intent.environment, version: intent.version, changeSummary: intent.changeSummary,
            doing: "deploy", i, &t)
        let r = try routing(service: intent.service, environment: intent.environment, recipeId: intent.recipeId, i, &t)
        try capability(service: intent.service, environment: intent.environment, version: intent.version, i, &t, compatibleWith: nil)
        try t.check(.versionRegistered) { () throws(Denial) in try Checks.versionRegistered(intent.service, intent.version, state) }
        let entry = i.policy.services[intent.service]
        try t.check(.recipeCompatible) { () throws(Denial) in
            // The capability check above guarantees the entry exists.
            guard let entry else { throw .compatibility(.serviceNotAllowlisted, "service \(intent.service) is not in the service registry") }
            try Checks.recipeCompatible(r.recipe, entry)
        }
        let scope = IdempotencyScope(actorId: principal.actorId, endpoint: i.endpoint, key: key)
        let fingerprint = intent.fingerprint
        let lookup = try t.check(.idempotencyReplay) { () throws(Denial) in
            try Checks.idempotencyReplay(state, scope, fingerprint: fingerprint, now: now)
        }
        if case .replay(let stored) = lookup {
            return Allowed(status: stored.status, result: stored.result, replayed: true)
        }
        let reservation = try reserve(group: r.group, environment: intent.environment, kind: .deploy, i, state, &t)
        let target = try t.check(.engineTargetResolved) { () throws(Denial) in
            try Checks.engineTargetResolved(r.recipe, rollbackOf: nil, settings)
        }
        return admit(Admission(
            service: intent.service, environment: intent.environment, version: intent.version, kind: .rollForward,
            changeSummary: intent.changeSummary, group: r.group, recipe: r.recipe, target: target, reservation: reservation,
            scope: scope, fingerprint: fingerprint, role: role, engineUser: user, auditEvent: "DEPLOY_SUBMIT",
            auditSummary: "Deploy submitted for \(intent.service) \(intent.version) to \(intent.environment)"), i, &t)
    }

    /// A deployment the rules admit: what it deploys where, with which recipe and engine target,
    /// under which reservation and key, and how it is audited.
    struct Admission {
        var service: String
        var environment: String
        var version: String
        var kind: DeploymentRecord.Kind
        var changeSummary: String
        var group: DeliveryGroup
        var recipe: Recipe
        var target: Checks.EngineTarget
        var reservation: Reservation
        var scope: IdempotencyScope
        var fingerprint: String
        var role: Role
        var engineUser: String
        var auditEvent: String
        var auditSummary: String
        var sourceEnvironment: String? = nil
        var rollbackOf: String? = nil
    }

    /// The effects of an admitted deployment, the same for a deploy, a rollback and a promotion:
    /// its quota unit spent, the IN_PROGRESS record inserted (queued for the engine), its key held
    /// in flight until the engine's answer completes it, and the audit entry. Answers 201.
    static func admit(_ a: Admission, _ i: Inputs, _ t: inout Trail) -> Allowed {
        let now = i.now, context = i.context, principal = i.principal
        let record = DeploymentRecord(
            id: context.newId, service: a.service, environment: a.environment, version: a.version,
            sourceEnvironment: a.sourceEnvironment, recipeId: a.recipe.id, recipeRevision: a.recipe.revision,
            effectiveBehaviorSummary: a.recipe.effectiveBehaviorSummary, state: .inProgress, kind: a.kind,
            changeSummary: a.changeSummary, createdAt: now, updatedAt: now, rollbackOf: a.rollbackOf, deliveryGroupId: a.group.id,
            failures: [], intentCorrelationId: a.scope.key, engineExecutionId: nil, engineExecutionURL: nil,
            spinnakerApplication: a.target.application, spinnakerPipeline: a.target.pipeline,
            actor: ActorIdentity(principal: principal, role: a.role, engineUser: a.engineUser), policySnapshot: a.reservation.numbers)
        t.effects.append(.spendQuota(a.reservation.quota, day: now.day))
        t.effects.append(.insertDeployment(record, idempotency: a.scope))
        t.effects.append(.putIdempotency(a.scope, IdempotencyRecord(
            fingerprint: a.fingerprint, expiresAt: now.adding(seconds: i.settings.idempotencyTTLSeconds), response: nil)))
        t.effects.append(.audit(AuditNote(
            eventType: a.auditEvent, targetType: "Deployment", targetId: record.id, outcome: .success, summary: a.auditSummary,
            actorId: principal.actorId, actorRole: a.role, deliveryGroupId: a.group.id, serviceName: a.service,
            environment: a.environment)))
        return Allowed(status: 201, result: .deployment(record))
    }

    /// What a reservation checked: the quota it will spend and the policy figures before spending.
    struct Reservation {
        var quota: QuotaScope
        var numbers: PolicyNumbers
    }

    /// Steps 15–19 of REFERENCE §4.2 (and 13–15 of §4.3): mutate rate limit, daily quota, stale
    /// lock reaping, concurrency; the figures are frozen before anything is spent (DECISIONS D8).
    static func reserve(
        group: DeliveryGroup, environment: String, kind: QuotaScope.Kind, _ i: Inputs, _ state: some StateView, _ t: inout Trail
    ) throws(Denial) -> Reservation {
        let settings = i.settings, now = i.now, actor = i.principal.actorId
        let limits = i.policy.limits(group: group, environment: environment)
        let window = try t.check(.mutateRateLimit) { () throws(Denial) in
            try Checks.rateLimit(state, actor: actor, bucket: .mutate, limit: settings.mutateRPM, now: now)
        }
        t.effects.append(.countRate(window))
        let quota = QuotaScope(kind: kind, key: "\(group.id):\(environment)")
        let quotaLimit = kind == .rollback ? limits.dailyRollbackQuota : limits.dailyDeployQuota
        _ = try t.check(.quotaAvailable) { () throws(Denial) in try Checks.quotaAvailable(quota, limit: quotaLimit, state, now: now) }
        let slots = Checks.slots(group.id, environment, state, settings, now: now)
        for stale in slots.stale {
            t.effects.append(.expireDeployment(id: stale.id, failure: Failure(
                category: .infrastructure, summary: "Deployment lock expired due to stale in-progress state.",
                detail: "No progress for \(settings.deploymentLockStaleSeconds) seconds",
                actionHint: "Check the deployment in the engine, then retry.", observedAt: now)))
        }
        try t.check(.concurrencyAvailable) { () throws(Denial) in
            try Checks.concurrencyAvailable(holding: slots.holding, limit: limits.maxConcurrentDeployments, group: group.id, environment: environment)
        }
        let deployScope = QuotaScope(kind: .deploy, key: quota.key)
        let numbers = PolicyNumbers(
            maxConcurrentDeployments: limits.maxConcurrentDeployments, currentConcurrentDeployments: slots.holding,
            dailyDeployQuota: limits.dailyDeployQuota, deploymentsUsed: state.quotaUsed(deployScope, day: now.day),
            dailyQuotaBuildRegister: settings.dailyQuotaBuildRegister)
        return Reservation(quota: quota, numbers: numbers)
    }

    /// `POST /v1/deployments/{id}/rollback`, in the order of REFERENCE §4.3 with DECISIONS D7, D8:
    /// restores the newest version that succeeded before the target.
    static func rollback(_ id: String, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let settings = i.settings, now = i.now, principal = i.principal, context = i.context, policy = i.policy
        t.subject.targetId = id
        let (role, user) = try deployer(i, &t, doing: "roll back deployments")
        try t.check(.killSwitchOff) { () throws(Denial) in try Checks.killSwitchOff(settings) }
        let key = try t.check(.idempotencyKeyPresent) { () throws(Denial) in try Checks.idempotencyKeyPresent(context.idempotencyKey) }
        let target = try t.check(.rollbackTargetExists) { () throws(Denial) in try Checks.rollbackTargetExists(id, state) }
        t.subject.service = target.service
        t.subject.environment = target.environment
        try t.check(.rollbackTargetNotRollback) { () throws(Denial) in try Checks.rollbackTargetNotRollback(target) }
        let group = try t.check(.deliveryGroupResolved) { () throws(Denial) in try Checks.deliveryGroupResolved(target.service, policy) }
        t.subject.groupId = group.id
        try t.check(.deliveryGroupMember) { () throws(Denial) in try Checks.deliveryGroupMember(principal, group) }
        _ = try t.check(.environmentAllowed) { () throws(Denial) in try Checks.environmentAllowed(target.environment, group, policy) }
        let recipe = try t.check(.rollbackRecipeResolved) { () throws(Denial) in try Checks.rollbackRecipeResolved(target, policy) }
        try t.check(.recipeAllowedByGroup) { () throws(Denial) in try Checks.recipeAllowedByGroup(recipe, group) }
        try capability(service: target.service, environment: target.environment, version: nil, i, &t, compatibleWith: recipe)
        let scope = IdempotencyScope(actorId: principal.actorId, endpoint: i.endpoint, key: key)
        let lookup = try t.check(.idempotencyReplay) { () throws(Denial) in
            try Checks.idempotencyReplay(state, scope, fingerprint: id, now: now)
        }
        if case .replay(let stored) = lookup {
            return Allowed(status: stored.status, result: stored.result, replayed: true)
        }
        let reservation = try reserve(group: group, environment: target.environment, kind: .rollback, i, state, &t)
        let prior = try t.check(.priorSuccessfulVersion) { () throws(Denial) in try Checks.priorSuccessfulVersion(target, state) }
        let engine = try t.check(.engineTargetResolved) { () throws(Denial) in
            try Checks.engineTargetResolved(recipe, rollbackOf: target, settings)
        }
        var admission = Admission(
            service: target.service, environment: target.environment, version: prior.version, kind: .rollback,
            changeSummary: "rollback of \(target.id) to \(prior.version)", group: group, recipe: recipe, target: engine,
            reservation: reservation, scope: scope, fingerprint: id, role: role, engineUser: user, auditEvent: "ROLLBACK_SUBMIT",
            auditSummary: "Rollback of \(target.id) to \(prior.version) submitted")
        admission.rollbackOf = target.id
        return admit(admission, i, &t)
    }
}

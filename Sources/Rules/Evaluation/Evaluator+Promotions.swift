extension Evaluator {
    /// What a promotion resolves before any guardrail: the group, the target's routed recipe.
    struct PromotionRoute {
        var group: DeliveryGroup
        var recipe: Recipe
    }

    /// The promotion checks shared by validate and submit, in the reference's order (REFERENCE
    /// §2.10) with the owner scoping of DECISIONS D7: environments differ, group, both
    /// environments, the path, the target's routed recipe, capability and compatibility, the
    /// build, and a success of the version in the source.
    static func promotionRoute(_ intent: PromotionIntent, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> PromotionRoute {
        let policy = i.policy, principal = i.principal
        try t.check(.promotionTargetDiffers) { () throws(Denial) in try Checks.promotionTargetDiffers(intent) }
        let group = try t.check(.deliveryGroupResolved) { () throws(Denial) in try Checks.deliveryGroupResolved(intent.service, policy) }
        t.subject.groupId = group.id
        try t.check(.deliveryGroupMember) { () throws(Denial) in try Checks.deliveryGroupMember(principal, group) }
        for environment in [intent.sourceEnvironment, intent.targetEnvironment] {
            _ = try t.check(.environmentAllowed) { () throws(Denial) in try Checks.environmentAllowed(environment, group, policy) }
        }
        try t.check(.promotionPathAllowed) { () throws(Denial) in
            try Checks.promotionPathAllowed(source: intent.sourceEnvironment, target: intent.targetEnvironment, group, policy)
        }
        let recipe = try t.check(.recipeRouted) { () throws(Denial) in
            try Checks.recipeRouted(service: intent.service, environment: intent.targetEnvironment, policy)
        }
        try t.check(.recipeAllowedByGroup) { () throws(Denial) in try Checks.recipeAllowedByGroup(recipe, group) }
        let entry = try t.check(.serviceAllowlisted) { () throws(Denial) in try Checks.serviceAllowlisted(intent.service, policy) }
        for environment in [intent.sourceEnvironment, intent.targetEnvironment] {
            try t.check(.environmentConfigured) { () throws(Denial) in try Checks.environmentConfigured(environment, entry) }
        }
        try t.check(.versionFormat) { () throws(Denial) in try Checks.versionFormat(intent.version) }
        try t.check(.recipeCompatible) { () throws(Denial) in try Checks.recipeCompatible(recipe, entry) }
        try t.check(.versionRegistered) { () throws(Denial) in try Checks.versionRegistered(intent.service, intent.version, state) }
        try t.check(.promotionVersionEligible) { () throws(Denial) in
            try Checks.promotionVersionEligible(service: intent.service, source: intent.sourceEnvironment, version: intent.version, state)
        }
        return PromotionRoute(group: group, recipe: recipe)
    }

    /// `POST /v1/promotions/validate`: would this promotion be admitted now? Changes nothing but
    /// the caller's read window; the kill switch refuses it as it refuses the promotion.
    static func validatePromotion(_ intent: PromotionIntent, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let settings = i.settings, now = i.now, principal = i.principal
        t.subject.service = intent.service
        t.subject.environment = intent.targetEnvironment
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        _ = try t.check(.principalClaimPresent) { () throws(Denial) in try Checks.principalClaimPresent(principal) }
        try t.check(.intentWellFormed) { () throws(Denial) in
            try Checks.intentWellFormed(service: intent.service, environment: intent.targetEnvironment, version: intent.version, changeSummary: intent.changeSummary)
        }
        try t.check(.roleAllowed) { () throws(Denial) in try Checks.roleAllowed(role, deployers, doing: "promote") }
        try readWindow(i, state, &t)
        try t.check(.killSwitchOff) { () throws(Denial) in try Checks.killSwitchOff(settings) }
        let r = try promotionRoute(intent, i, state, &t)
        let limits = i.policy.limits(group: r.group, environment: intent.targetEnvironment)
        let slots = Checks.slots(r.group.id, intent.targetEnvironment, state, settings, now: now)
        try t.check(.concurrencyAvailable) { () throws(Denial) in
            try Checks.concurrencyAvailable(holding: slots.holding, limit: limits.maxConcurrentDeployments, group: r.group.id, environment: intent.targetEnvironment)
        }
        let scope = QuotaScope(kind: .deploy, key: "\(r.group.id):\(intent.targetEnvironment)")
        let used = try t.check(.quotaAvailable) { () throws(Denial) in
            try Checks.quotaAvailable(scope, limit: limits.dailyDeployQuota, state, now: now)
        }
        return Allowed(status: 200, result: .promotionValidation(PromotionValidationReport(
            intent: intent, recipeId: r.recipe.id, deliveryGroupId: r.group.id,
            policy: PolicyNumbers(
                maxConcurrentDeployments: limits.maxConcurrentDeployments, currentConcurrentDeployments: slots.holding,
                dailyDeployQuota: limits.dailyDeployQuota, deploymentsUsed: used, dailyQuotaBuildRegister: settings.dailyQuotaBuildRegister),
            validatedAt: now)))
    }

    /// `POST /v1/promotions`: a governed deployment of the target environment. It reserves a slot
    /// and a unit of the target's daily deploy quota (DECISIONS 64) and is dispatched like a
    /// deploy.
    static func promote(_ intent: PromotionIntent, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let settings = i.settings, now = i.now, principal = i.principal
        t.subject.service = intent.service
        t.subject.environment = intent.targetEnvironment
        let (role, user, key) = try submitter(
            service: intent.service, environment: intent.targetEnvironment, version: intent.version, changeSummary: intent.changeSummary,
            doing: "promote", i, &t)
        let r = try promotionRoute(intent, i, state, &t)
        let scope = IdempotencyScope(actorId: principal.actorId, endpoint: i.endpoint, key: key)
        let fingerprint = intent.fingerprint
        let lookup = try t.check(.idempotencyReplay) { () throws(Denial) in
            try Checks.idempotencyReplay(state, scope, fingerprint: fingerprint, now: now)
        }
        if case .replay(let stored) = lookup {
            return Allowed(status: stored.status, result: stored.result, replayed: true)
        }
        let reservation = try reserve(group: r.group, environment: intent.targetEnvironment, kind: .deploy, i, state, &t)
        let target = try t.check(.engineTargetResolved) { () throws(Denial) in
            try Checks.engineTargetResolved(r.recipe, rollbackOf: nil, settings)
        }
        var admission = Admission(
            service: intent.service, environment: intent.targetEnvironment, version: intent.version, kind: .promote,
            changeSummary: intent.changeSummary, group: r.group, recipe: r.recipe, target: target, reservation: reservation,
            scope: scope, fingerprint: fingerprint, role: role, engineUser: user, auditEvent: "PROMOTION_SUBMIT",
            auditSummary: "Promotion submitted for \(intent.service) \(intent.sourceEnvironment)->\(intent.targetEnvironment)")
        admission.sourceEnvironment = intent.sourceEnvironment
        return admit(admission, i, &t)
    }
}

extension Evaluator {
    /// `POST /v1/spinnaker/webhook/check` and `/admit`: a Spinnaker execution asks whether it may
    /// deploy. The trigger user stands as a delivery owner and must own the service's group (D7);
    /// the execution must be the routed deploy pipeline. `check` decides like validate (plus the
    /// kill switch) and changes nothing; `admit` decides like deploy, keyed by the execution id,
    /// and records a deployment already running in the engine (no dispatch).
    static func spinnaker(
        _ execution: SpinnakerExecution, admit: Bool, _ i: Inputs, _ state: some StateView, _ t: inout Trail
    ) throws(Denial) -> Allowed {
        let settings = i.settings, now = i.now, principal = i.principal
        t.subject.service = execution.service
        t.subject.environment = execution.environment
        t.subject.targetId = execution.executionId
        let (role, user) = try deployer(i, &t, doing: "deploy")
        try t.check(.intentWellFormed) { () throws(Denial) in
            try Checks.intentWellFormed(
                service: execution.service, environment: execution.environment, version: execution.version, changeSummary: execution.changeSummary)
        }
        if !admit {
            let window = try t.check(.readRateLimit) { () throws(Denial) in
                try Checks.rateLimit(state, actor: principal.actorId, bucket: .read, limit: settings.readRPM, now: now)
            }
            t.effects.append(.countRate(window))
        }
        try t.check(.killSwitchOff) { () throws(Denial) in try Checks.killSwitchOff(settings) }
        let r = try routing(service: execution.service, environment: execution.environment, recipeId: nil, i, &t)
        try capability(service: execution.service, environment: execution.environment, version: execution.version, i, &t, compatibleWith: r.recipe)
        try t.check(.versionRegistered) { () throws(Denial) in try Checks.versionRegistered(execution.service, execution.version, state) }
        let target = try t.check(.engineTargetResolved) { () throws(Denial) in
            try Checks.engineTargetResolved(r.recipe, rollbackOf: nil, settings)
        }
        try t.check(.pipelineRouted) { () throws(Denial) in try Checks.pipelineRouted(execution, target) }
        if let id = execution.dxcpDeploymentId, !id.isEmpty {
            let record = try t.check(.deploymentAdmitted) { () throws(Denial) in try Checks.deploymentAdmitted(id, execution, state) }
            return Allowed(status: 200, result: .deployment(record))
        }
        guard admit else {
            let limits = i.policy.limits(group: r.group, environment: execution.environment)
            let slots = Checks.slots(r.group.id, execution.environment, state, settings, now: now)
            try t.check(.concurrencyAvailable) { () throws(Denial) in
                try Checks.concurrencyAvailable(
                    holding: slots.holding, limit: limits.maxConcurrentDeployments, group: r.group.id, environment: execution.environment)
            }
            let scope = QuotaScope(kind: .deploy, key: "\(r.group.id):\(execution.environment)")
            let used = try t.check(.quotaAvailable) { () throws(Denial) in
                try Checks.quotaAvailable(scope, limit: limits.dailyDeployQuota, state, now: now)
            }
            return Allowed(status: 200, result: .validation(ValidationReport(
                service: execution.service, environment: execution.environment, version: execution.version, recipeId: r.recipe.id,
                deliveryGroupId: r.group.id, versionRegistered: true,
                policy: PolicyNumbers(
                    maxConcurrentDeployments: limits.maxConcurrentDeployments, currentConcurrentDeployments: slots.holding,
                    dailyDeployQuota: limits.dailyDeployQuota, deploymentsUsed: used, dailyQuotaBuildRegister: settings.dailyQuotaBuildRegister),
                validatedAt: now)))
        }
        let scope = IdempotencyScope(actorId: principal.actorId, endpoint: i.endpoint, key: execution.executionId)
        let fingerprint = execution.fingerprint
        let lookup = try t.check(.idempotencyReplay) { () throws(Denial) in
            try Checks.idempotencyReplay(state, scope, fingerprint: fingerprint, now: now)
        }
        if case .replay(let stored) = lookup {
            return Allowed(status: stored.status, result: stored.result, replayed: true)
        }
        let reservation = try reserve(group: r.group, environment: execution.environment, kind: .deploy, i, state, &t)
        let record = DeploymentRecord(
            id: i.context.newId, service: execution.service, environment: execution.environment, version: execution.version,
            sourceEnvironment: nil, recipeId: r.recipe.id, recipeRevision: r.recipe.revision,
            effectiveBehaviorSummary: r.recipe.effectiveBehaviorSummary, state: .inProgress, kind: .rollForward,
            changeSummary: execution.changeSummary, createdAt: now, updatedAt: now, rollbackOf: nil, deliveryGroupId: r.group.id,
            failures: [], intentCorrelationId: execution.executionId, engineExecutionId: execution.executionId, engineExecutionURL: nil,
            spinnakerApplication: target.application, spinnakerPipeline: target.pipeline,
            actor: ActorIdentity(principal: principal, role: role, engineUser: user), policySnapshot: reservation.numbers)
        t.effects.append(.spendQuota(reservation.quota, day: now.day))
        t.effects.append(.admitExecution(record))
        t.effects.append(.putIdempotency(scope, IdempotencyRecord(
            fingerprint: fingerprint, expiresAt: now.adding(seconds: settings.idempotencyTTLSeconds),
            response: StoredResponse(status: 200, result: .deployment(record)))))
        t.effects.append(.audit(AuditNote(
            eventType: "SPINNAKER_ADMIT", targetType: "Deployment", targetId: record.id, outcome: .success,
            summary: "Spinnaker execution \(execution.executionId) (\(execution.application)/\(execution.pipeline)) admitted for "
                + "\(execution.service) \(execution.version) to \(execution.environment)",
            actorId: principal.actorId, actorRole: role, deliveryGroupId: r.group.id, serviceName: execution.service,
            environment: execution.environment)))
        return Allowed(status: 200, result: .deployment(record))
    }
}

extension Evaluator {
    /// Admin changes to recipes, delivery groups, routing and bindings (REFERENCE §2.8, §4.5:
    /// role, kill switch, mutate window, then validation). The change is computed as a new policy
    /// snapshot and audited with its old and new values (DECISIONS D10).
    static func changePolicy(_ change: PolicyChange, _ i: Inputs, _ state: some StateView, _ t: inout Trail) throws(Denial) -> Allowed {
        let principal = i.principal, settings = i.settings, now = i.now
        let role = try t.check(.roleRecognised) { () throws(Denial) in try Checks.roleRecognised(principal) }
        try t.check(.roleAllowed) { () throws(Denial) in try Checks.roleAllowed(role, [.platformAdmin], doing: "change policy data") }
        try t.check(.killSwitchOff) { () throws(Denial) in try Checks.killSwitchOff(settings) }
        let window = try t.check(.mutateRateLimit) { () throws(Denial) in
            try Checks.rateLimit(state, actor: principal.actorId, bucket: .mutate, limit: settings.mutateRPM, now: now)
        }
        t.effects.append(.countRate(window))
        // An Idempotency-Key is honoured when sent (DECISIONS D5): a retry replays the answer.
        let fingerprint = canonical(change.fingerprintValue)
        let idem = try adminIdempotency(required: false, fingerprint: fingerprint, i, state, &t)
        if let replay = idem.replay { return Allowed(status: replay.status, result: replay.result, replayed: true) }
        var policy = i.policy
        let before = i.policy
        let allowed: Allowed
        let note: (type: String, target: String, id: String, old: JSONValue, new: JSONValue, reason: String?)
        switch change {
        case .createRecipe(let c):
            var recipe = try t.check(.policyChangeValid) { () throws(Denial) in try PolicyValidator.recipe(c, pathId: nil, revision: 1) }
            recipe.stamp = ChangeStamp(createdAt: now, createdBy: principal.actorId)
            try t.check(.objectAbsent) { () throws(Denial) in
                if before.recipes[recipe.id] != nil { throw Denial(.recipeExists, "Recipe already exists") }
            }
            policy.recipes[recipe.id] = recipe
            allowed = Allowed(status: 200, result: .recipe(recipe, engineMapping: true))
            note = ("ADMIN_CREATE", "Recipe", recipe.id, .null, recipe.jsonValue, c.changeReason)
        case .updateRecipe(let id, let c):
            let existing = try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(before.recipes[id], "Recipe") }
            var recipe = try t.check(.policyChangeValid) { () throws(Denial) in
                try PolicyValidator.recipe(c, pathId: id, revision: min(existing.revision, PolicyBounds.recipeRevision.upperBound) + 1)
            }
            recipe.stamp = stamp(updating: existing.stamp, reason: c.changeReason, i)
            policy.recipes[id] = recipe
            allowed = Allowed(status: 200, result: .recipe(recipe, engineMapping: true))
            note = ("ADMIN_UPDATE", "Recipe", id, existing.jsonValue, recipe.jsonValue, c.changeReason)
        case .deleteRecipe(let id):
            let existing = try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(before.recipes[id], "Recipe") }
            try t.check(.recipeNotInUse) { () throws(Denial) in try Checks.recipeNotInUse(id, before) }
            policy.recipes[id] = nil
            allowed = Allowed(status: 204, result: .deleted)
            note = ("ADMIN_DELETE", "Recipe", id, existing.jsonValue, .null, nil)
        case .createDeliveryGroup(let c):
            var group = try t.check(.policyChangeValid) { () throws(Denial) in try PolicyValidator.deliveryGroup(c, pathId: nil, in: before) }
            group.stamp = ChangeStamp(createdAt: now, createdBy: principal.actorId)
            try t.check(.objectAbsent) { () throws(Denial) in
                if before.deliveryGroups[group.id] != nil { throw Denial(.deliveryGroupExists, "Delivery group already exists") }
            }
            apply(group, environments: c.allowedEnvironments ?? [], to: &policy)
            let view = DeliveryGroupView(group, in: policy)
            allowed = Allowed(status: 201, result: .deliveryGroup(view))
            note = ("ADMIN_CREATE", "DeliveryGroup", group.id, .null, group.jsonValue(environments: view.environments), c.changeReason)
        case .updateDeliveryGroup(let id, let c):
            let existing = try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(before.deliveryGroups[id], "Delivery group") }
            var group = try t.check(.policyChangeValid) { () throws(Denial) in try PolicyValidator.deliveryGroup(c, pathId: id, in: before) }
            group.stamp = stamp(updating: existing.stamp, reason: c.changeReason, i)
            apply(group, environments: c.allowedEnvironments, to: &policy)
            let view = DeliveryGroupView(group, in: policy)
            allowed = Allowed(status: 200, result: .deliveryGroup(view))
            note = ("ADMIN_UPDATE", "DeliveryGroup", id, existing.jsonValue(environments: DeliveryGroupView(existing, in: before).environments),
                group.jsonValue(environments: view.environments), c.changeReason)
        case .setRoute(let service, let environment, let recipeId):
            try t.check(.objectExists) { () throws(Denial) in _ = try Checks.objectExists(before.services[service], "Service") }
            try t.check(.environmentWritable) { () throws(Denial) in try Checks.environmentWritable(environment, before) }
            let recipe = try t.check(.policyChangeValid) { () throws(Denial) in
                guard let recipeId, !recipeId.isEmpty else { throw Denial(.recipeIdRequired, "recipe_id is required") }
                guard let recipe = before.recipes[recipeId] else { throw Denial(.recipeNotFound, "Recipe not found", status: 400) }
                return recipe
            }
            let old = before.route(service: service, environment: environment)
            let route = Route(service: service, environment: environment, recipeId: recipe.id)
            policy.routes[service, default: [:]][environment] = route
            allowed = Allowed(status: 200, result: .route(route))
            note = ("ADMIN_UPDATE", "ServiceRouting", "\(service)/\(environment)", .optional(old?.recipeId), .string(recipe.id), nil)
        case .setBinding(let groupId, let environment, let isEnabled, let orderIndex):
            _ = try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(before.deliveryGroups[groupId], "Delivery group") }
            try t.check(.environmentWritable) { () throws(Denial) in try Checks.environmentWritable(environment, before) }
            try t.check(.policyChangeValid) { () throws(Denial) in
                if orderIndex < 0 { throw Denial(.invalidRequest, "order_index must be 0 or more", details: ["field": .string("order_index")]) }
            }
            let old = before.binding(group: groupId, environment: environment)
            let binding = EnvironmentBinding(deliveryGroupId: groupId, environmentId: environment, isEnabled: isEnabled, orderIndex: orderIndex)
            policy.bindings[groupId, default: [:]][environment] = binding
            allowed = Allowed(status: 200, result: .binding(binding))
            func value(_ b: EnvironmentBinding?) -> JSONValue {
                b.map { .object(["is_enabled": .bool($0.isEnabled), "order_index": .int(Int64($0.orderIndex))]) } ?? .null
            }
            note = ("ADMIN_UPDATE", "EnvironmentBinding", "\(groupId)/\(environment)", value(old), value(binding), nil)
        case .createEnvironment(let c):
            let environment = try t.check(.policyChangeValid) { () throws(Denial) in try PolicyValidator.environment(c, pathId: nil, current: nil) }
            try t.check(.objectAbsent) { () throws(Denial) in
                if before.environments[environment.id] != nil { throw Denial(.environmentExists, "Environment already exists") }
            }
            policy.environments[environment.id] = environment
            allowed = Allowed(status: 201, result: .environment(EnvironmentView(environment: environment, bindings: [])))
            note = ("ADMIN_CREATE", "Environment", environment.id, .null, environment.jsonValue, c.changeReason)
        case .updateEnvironment(let id, let c):
            let existing = try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(before.environments[id], "Environment") }
            let environment = try t.check(.policyChangeValid) { () throws(Denial) in try PolicyValidator.environment(c, pathId: id, current: existing) }
            if environment.kind != existing.kind {
                try t.check(.environmentUnreferenced) { () throws(Denial) in
                    try Checks.environmentUnreferenced(id, before, .environmentTypeLocked, "The type of an environment in use cannot change")
                }
            }
            policy.environments[id] = environment
            let bindings = policy.deliveryGroups.keys.sorted().compactMap { policy.binding(group: $0, environment: id) }
            allowed = Allowed(status: 200, result: .environment(EnvironmentView(environment: environment, bindings: bindings)))
            note = ("ADMIN_UPDATE", "Environment", id, existing.jsonValue, environment.jsonValue, c.changeReason)
        case .deleteEnvironment(let id):
            let existing = try t.check(.objectExists) { () throws(Denial) in try Checks.objectExists(before.environments[id], "Environment") }
            try t.check(.environmentUnreferenced) { () throws(Denial) in
                try Checks.environmentUnreferenced(id, before, .environmentDeleteBlockedReferenced, "An environment in use cannot be deleted")
            }
            policy.environments[id] = nil
            allowed = Allowed(status: 204, result: .deleted)
            note = ("ADMIN_DELETE", "Environment", id, existing.jsonValue, .null, nil)
        }
        t.effects.append(.putPolicy(policy))
        t.effects.append(.audit(AuditNote(
            eventType: note.type, targetType: note.target, targetId: note.id, outcome: .success,
            summary: "\(note.target) \(note.id) changed", actorId: principal.actorId, actorRole: role,
            change: SettingChange(
                key: "\(note.target):\(note.id)", oldValue: note.old, newValue: note.new, reason: note.reason,
                actorSubject: principal.claims.subject, actorEmail: principal.email, actorAuthorizedParty: principal.claims.authorizedParty))))
        if let scope = idem.scope { complete(scope, fingerprint, allowed.status, allowed.result, i, &t) }
        return allowed
    }

    /// The stamp of an object changed now by the caller: created when its stamp says (unknown for
    /// an object older than stamps), updated now, the reason given kept as the last one.
    static func stamp(updating old: ChangeStamp?, reason: String?, _ i: Inputs) -> ChangeStamp {
        (old ?? ChangeStamp(firstChangedAt: i.now, by: i.principal.actorId)).updated(at: i.now, by: i.principal.actorId, reason: reason)
    }

    /// Puts `group` into `policy`; with `environments`, its bindings become exactly those (new
    /// environments are created as active non-production ones; existing bindings keep their
    /// enabled flag), in order.
    static func apply(_ group: DeliveryGroup, environments: [String]?, to policy: inout PolicySnapshot) {
        policy.upsertGroup(group)
        guard let environments else { return }
        var bindings: [String: EnvironmentBinding] = [:]
        for (index, id) in environments.enumerated() {
            if policy.environments[id] == nil { policy.environments[id] = Environment(id: id) }
            let enabled = policy.binding(group: group.id, environment: id)?.isEnabled ?? true
            bindings[id] = EnvironmentBinding(deliveryGroupId: group.id, environmentId: id, isEnabled: enabled, orderIndex: index)
        }
        policy.bindings[group.id] = bindings
    }
}

extension PolicyChange {
    /// What was sent, for the idempotency fingerprint (the path is part of the key's scope).
    var fingerprintValue: JSONValue {
        switch self {
        case .createRecipe(let c), .updateRecipe(_, let c):
            .object([
                "id": .optional(c.id), "name": .optional(c.name), "description": .optional(c.description),
                "spinnaker_application": .optional(c.spinnakerApplication), "deploy_pipeline": .optional(c.deployPipeline),
                "rollback_pipeline": .optional(c.rollbackPipeline), "effective_behavior_summary": .optional(c.effectiveBehaviorSummary),
                "status": .optional(c.status), "change_reason": .optional(c.changeReason),
            ])
        case .createDeliveryGroup(let c), .updateDeliveryGroup(_, let c):
            .object([
                "id": .optional(c.id), "name": .optional(c.name), "description": .optional(c.description), "owner": .strings(c.owners),
                "services": .strings(c.services), "allowed_environments": c.allowedEnvironments.map { .strings($0) } ?? .null,
                "allowed_recipes": .strings(c.allowedRecipes),
                "max_concurrent_deployments": c.maxConcurrentDeployments.map { .int(Int64($0)) } ?? .null,
                "daily_deploy_quota": c.dailyDeployQuota.map { .int(Int64($0)) } ?? .null,
                "daily_rollback_quota": c.dailyRollbackQuota.map { .int(Int64($0)) } ?? .null,
                "change_reason": .optional(c.changeReason),
            ])
        case .setRoute(_, _, let recipeId):
            .object(["recipe_id": .optional(recipeId)])
        case .setBinding(_, _, let isEnabled, let orderIndex):
            .object(["is_enabled": .bool(isEnabled), "order_index": .int(Int64(orderIndex))])
        case .createEnvironment(let c), .updateEnvironment(_, let c):
            .object([
                "id": .optional(c.id), "display_name": .optional(c.displayName), "type": .optional(c.type),
                "lifecycle_state": .optional(c.lifecycleState), "change_reason": .optional(c.changeReason),
            ])
        case .deleteRecipe, .deleteEnvironment:
            .null
        }
    }
}

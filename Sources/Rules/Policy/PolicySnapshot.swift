/// Everything the rules know about policy at one moment: delivery groups, recipes, the service
/// registry, environments, bindings, routing and settings. A value; the store hands the rules a
/// consistent one per decision.
public struct PolicySnapshot: Sendable, Hashable, Codable {
    /// Delivery groups by id.
    public private(set) var deliveryGroups: [String: DeliveryGroup]
    /// Recipes by id.
    public var recipes: [String: Recipe]
    /// The service registry by service name.
    public var services: [String: ServiceEntry]
    /// Environments by id.
    public var environments: [String: Environment]
    /// Group–environment bindings, by group id then environment id.
    public var bindings: [String: [String: EnvironmentBinding]]
    /// Routing, by service then environment.
    public var routes: [String: [String: Route]]
    /// System settings.
    public var settings: Settings
    // INVARIANT: `groupByService` maps each service listed by a group to that group's id; it is
    // rebuilt whenever `deliveryGroups` changes (only through the initialiser or `setGroups`).
    private var groupByService: [String: String]

    private enum CodingKeys: String, CodingKey {
        case deliveryGroups, recipes, services, environments, bindings, routes, settings
    }

    /// A snapshot from its parts.
    public init(
        deliveryGroups: [DeliveryGroup] = [], recipes: [Recipe] = [], services: [ServiceEntry] = [],
        environments: [Environment] = [], bindings: [EnvironmentBinding] = [], routes: [Route] = [],
        settings: Settings = Settings()
    ) {
        self.deliveryGroups = [:]
        self.groupByService = [:]
        self.recipes = Dictionary(recipes.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        self.services = Dictionary(services.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        self.environments = Dictionary(environments.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        self.bindings = [:]
        for b in bindings { self.bindings[b.deliveryGroupId, default: [:]][b.environmentId] = b }
        self.routes = [:]
        for r in routes { self.routes[r.service, default: [:]][r.environment] = r }
        self.settings = settings
        setGroups(deliveryGroups)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.deliveryGroups = [:]
        self.groupByService = [:]
        self.recipes = try c.decode([String: Recipe].self, forKey: .recipes)
        self.services = try c.decode([String: ServiceEntry].self, forKey: .services)
        self.environments = try c.decode([String: Environment].self, forKey: .environments)
        self.bindings = try c.decode([String: [String: EnvironmentBinding]].self, forKey: .bindings)
        self.routes = try c.decode([String: [String: Route]].self, forKey: .routes)
        self.settings = try c.decode(Settings.self, forKey: .settings)
        setGroups(Array(try c.decode([String: DeliveryGroup].self, forKey: .deliveryGroups).values))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(deliveryGroups, forKey: .deliveryGroups)
        try c.encode(recipes, forKey: .recipes)
        try c.encode(services, forKey: .services)
        try c.encode(environments, forKey: .environments)
        try c.encode(bindings, forKey: .bindings)
        try c.encode(routes, forKey: .routes)
        try c.encode(settings, forKey: .settings)
    }

    /// Replaces the delivery groups and rebuilds the service index. When two groups list the
    /// same service the one with the smaller id owns it (a valid policy never does this).
    public mutating func setGroups(_ groups: [DeliveryGroup]) {
        deliveryGroups = Dictionary(groups.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        groupByService = [:]
        for group in deliveryGroups.values.sorted(by: { $0.id > $1.id }) {
            for service in group.services { groupByService[service] = group.id }
        }
    }

    /// Adds or replaces one delivery group.
    public mutating func upsertGroup(_ group: DeliveryGroup) {
        var groups = deliveryGroups
        groups[group.id] = group
        setGroups(Array(groups.values))
    }

    /// The delivery group that lists `service`, if any.
    public func deliveryGroup(forService service: String) -> DeliveryGroup? {
        guard let id = groupByService[service] else { return nil }
        return deliveryGroups[id]
    }

    /// The binding of `environment` to `group`, if any.
    public func binding(group: String, environment: String) -> EnvironmentBinding? {
        bindings[group]?[environment]
    }

    /// The route of `service` to `environment`, if any.
    public func route(service: String, environment: String) -> Route? {
        routes[service]?[environment]
    }

    /// Limits for deployments of `group` to `environment`: environment guardrail, then group
    /// guardrail, then the defaults (REFERENCE §5.1, §7).
    public func limits(group: DeliveryGroup, environment: String) -> DeploymentLimits {
        let env = environments[environment]?.guardrails ?? Guardrails()
        func pick(_ a: Int?, _ b: Int?, _ fallback: Int) -> Int {
            if let a, a > 0 { return a }
            if let b, b > 0 { return b }
            return fallback
        }
        return DeploymentLimits(
            maxConcurrentDeployments: pick(env.maxConcurrentDeployments, group.guardrails.maxConcurrentDeployments, 1),
            dailyDeployQuota: pick(env.dailyDeployQuota, group.guardrails.dailyDeployQuota, settings.dailyQuotaDeploy),
            dailyRollbackQuota: pick(
                env.dailyRollbackQuota, group.guardrails.dailyRollbackQuota, settings.dailyQuotaRollback)
        )
    }
}

/// The limits in force for one delivery group and environment.
public struct DeploymentLimits: Sendable, Hashable, Codable {
    /// Active deployments allowed at once.
    public var maxConcurrentDeployments: Int
    /// Deploys per UTC day.
    public var dailyDeployQuota: Int
    /// Rollbacks per UTC day.
    public var dailyRollbackQuota: Int
}

extension PolicySnapshot {
    /// This snapshot, loaded by `actor` at `now` in place of `previous` (the policy file behind
    /// `seed` and `serve --policy`), with its groups and recipes stamped: one unchanged since
    /// `previous` keeps its stamp (none, if it had none), a changed one is updated (its creation
    /// unknown if it had no stamp), a new one is created now.
    public func stamped(after previous: PolicySnapshot, at now: Timestamp, by actor: String) -> PolicySnapshot {
        func stamp(_ old: (stamp: ChangeStamp?, unchanged: Bool)?) -> ChangeStamp? {
            guard let old else { return ChangeStamp(createdAt: now, createdBy: actor) }
            if old.unchanged { return old.stamp }
            return (old.stamp ?? ChangeStamp(firstChangedAt: now, by: actor)).updated(at: now, by: actor, reason: nil)
        }
        var next = self
        next.setGroups(deliveryGroups.values.map { group in
            var stamped = group
            if group.stamp == nil {
                stamped.stamp = stamp(previous.deliveryGroups[group.id].map { before in
                    var unstamped = before
                    unstamped.stamp = nil
                    return (before.stamp, unstamped == group)
                })
            }
            return stamped
        })
        for (id, recipe) in recipes where recipe.stamp == nil {
            next.recipes[id]?.stamp = stamp(previous.recipes[id].map { before in
                var unstamped = before
                unstamped.stamp = nil
                return (before.stamp, unstamped == recipe)
            })
        }
        return next
    }
}

extension PolicySnapshot {
    /// The registry entry of the service named exactly `name`, byte for byte. The registry is keyed
    /// by Swift strings, which are equal under Unicode canonical equivalence (the Kelvin sign equals
    /// "K"); a name equal only so is another name — to the stores, which key by bytes, and to the
    /// engine — and is not allowlisted.
    public func service(exactly name: String) -> ServiceEntry? {
        guard let entry = services[name], entry.name.utf8.elementsEqual(name.utf8) else { return nil }
        return entry
    }
}

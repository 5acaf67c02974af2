import CYaml
import Rules
import Yams

/// Reads a policy document (format version 1) into a `PolicySnapshot`, checking every key, type,
/// bound, uniqueness rule and cross-reference. Sections are checked in dependency order (settings,
/// CI publishers, recipes, environments, services, delivery groups, routing), whatever their order
/// in the file; the first problem found is thrown.
struct PolicyDecoder {
    /// The top-level keys of a version 1 document.
    static let topKeys = [
        "version", "settings", "ci_publishers", "recipes", "environments", "services", "delivery_groups", "routing",
    ]
    static let settingsKeys = [
        "read_rpm", "mutate_rpm", "daily_quota_build_register", "daily_quota_upload_capability",
        "daily_quota_deploy", "daily_quota_rollback", "mutations_disabled", "idempotency_ttl_seconds",
        "deployment_lock_stale_seconds", "upload_capability_ttl_seconds", "max_artifact_size_bytes",
        "allowed_content_types", "default_spinnaker_application",
    ]
    static let publisherKeys = [
        "name", "provider", "issuers", "audiences", "authorized_party_azp", "subjects", "subject_prefixes", "emails",
        "description", "owner",
    ]
    static let recipeKeys = [
        "id", "name", "description", "spinnaker_application", "deploy_pipeline", "rollback_pipeline",
        "effective_behavior_summary", "status", "revision",
    ]
    static let environmentKeys = ["id", "name", "type", "lifecycle", "guardrails"]
    static let guardrailKeys = ["max_concurrent_deployments", "daily_deploy_quota", "daily_rollback_quota"]
    static let serviceKeys = [
        "name", "allowed_environments", "allowed_recipes", "allowed_artifact_sources", "stable_service_url_template",
    ]
    static let groupKeys = [
        "id", "name", "description", "owners", "services", "allowed_recipes", "guardrails", "environments",
    ]
    static let bindingKeys = ["id", "enabled"]
    static let routeKeys = ["service", "environment", "recipe"]

    /// The file the document came from, for errors.
    let file: String

    /// Names declared so far in one section, with the node that declared each.
    private typealias Declared = [String: PolicyNode]

    /// The snapshot `text` describes.
    func decode(_ text: String) throws(PolicyFileError) -> PolicySnapshot {
        let top = try PolicyMapping(try compose(text))
        try checkVersion(top)
        try top.allowOnly(Self.topKeys)

        var settings = Settings()
        if let node = top.optional("settings") { settings = try decodeSettings(node) }
        settings.ciPublishers = try decodePublishers(try listItems(top, "ci_publishers"))

        var recipeIds = Declared()
        let recipes = try decodeRecipes(try listItems(top, "recipes"), declared: &recipeIds)
        var environmentIds = Declared()
        let environments = try decodeEnvironments(try listItems(top, "environments"), declared: &environmentIds)
        var serviceNames = Declared()
        let services = try decodeServices(
            try listItems(top, "services"), declared: &serviceNames, environments: environmentIds, recipes: recipeIds)

        var bindings: [EnvironmentBinding] = []
        let groups = try decodeGroups(
            try listItems(top, "delivery_groups"), policy: PolicySnapshot(recipes: recipes, services: services),
            environments: environmentIds, bindings: &bindings)
        var groupOfService: [String: String] = [:]
        for group in groups { for service in group.services { groupOfService[service] = group.id } }

        var bound: [String: Set<String>] = [:]
        for binding in bindings { bound[binding.deliveryGroupId, default: []].insert(binding.environmentId) }
        let routes = try decodeRoutes(
            try listItems(top, "routing"), services: serviceNames, environments: environmentIds, recipes: recipeIds,
            groupOfService: groupOfService, bound: bound)

        return PolicySnapshot(
            deliveryGroups: groups, recipes: recipes, services: services, environments: environments,
            bindings: bindings, routes: routes, settings: settings)
    }

    // MARK: Document

    /// The root of the document: a mapping. Empty documents, other roots and YAML syntax errors
    /// fail here.
    private func compose(_ text: String) throws(PolicyFileError) -> PolicyNode {
        let composed = try composeYAML(text)
        let empty = PolicyFileError(
            file: file, line: 1, field: "", message: "the file is empty; a policy file starts with `version: 1`")
        guard let composed else { throw empty }
        let root = PolicyNode(node: composed, path: "", file: file)
        guard !root.isNull else { throw empty }
        guard case .mapping = composed else {
            throw PolicyFileError(
                file: file, line: 1, field: "",
                message: "the top level is \(root.found); it must be a mapping of sections starting with `version: 1`")
        }
        return root
    }

    /// The YAML node tree of `text` (nil for an empty document), for the policy file and the
    /// server's configuration file alike; an alias in a key is refused before composing.
    func composeYAML(_ text: String) throws(PolicyFileError) -> Node? {
        if let line = Self.aliasInKey(text) {
            throw PolicyFileError(
                file: file, line: line, field: "", message: "keys must be names, found an alias in a key; aliases may stand only for values")
        }
        do {
            return try Yams.compose(yaml: text)
        } catch {
            throw yamlError(error)
        }
    }

    /// The line of the first alias used as a mapping key or inside one, if any. Composing, Yams
    /// hashes every key of a mapping with its aliases expanded: a key of aliases of aliases
    /// ("billion laughs") takes exponential time, so such keys are refused before composing, in
    /// one pass over libyaml's events. A key in a policy document is a name, never an alias.
    static func aliasInKey(_ text: String) -> Int? {
        var text = text
        return text.withUTF8 { bytes -> Int? in
            guard let start = bytes.baseAddress, !bytes.isEmpty else { return nil }
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return nil }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, start, bytes.count)
            // The open collections: mappings' next node a key or a value, and whether the
            // collection is a key or inside one.
            var open: [(isMapping: Bool, keyNext: Bool, inKey: Bool)] = []
            func inKey() -> Bool { open.last.map { $0.inKey || ($0.isMapping && $0.keyNext) } ?? false }
            func nodeDone() { if let last = open.indices.last, open[last].isMapping { open[last].keyNext.toggle() } }
            while true {
                var event = yaml_event_t()
                // A syntax error is left to Yams to report.
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT: return nil
                case YAML_ALIAS_EVENT:
                    if inKey() { return Int(event.start_mark.line) + 1 }
                    nodeDone()
                case YAML_SCALAR_EVENT: nodeDone()
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    open.append((event.type == YAML_MAPPING_START_EVENT, true, inKey()))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    _ = open.popLast()
                    nodeDone()
                default: break
                }
            }
        }
    }

    /// A Yams error as a policy file error at the line it reports.
    func yamlError(_ error: any Error) -> PolicyFileError {
        func failure(_ line: Int?, _ message: String) -> PolicyFileError {
            PolicyFileError(file: file, line: line, field: "", message: message)
        }
        guard let error = error as? YamlError else { return failure(nil, "invalid YAML: \(error)") }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let during = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return failure(mark.line, "invalid YAML at column \(mark.column): \(problem)\(during)")
        case .reader(let problem, let offset, _, let yaml):
            let line = offset.map { offset in 1 + yaml.prefix(offset).count(where: { $0 == "\n" || $0 == "\r\n" }) }
            return failure(line, "the file is not readable as YAML text: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map(quoted).joined(separator: ", ")
            return failure(context.mark.line, "duplicate key \(keys) in one mapping; each key may appear once")
        default:
            return failure(nil, "invalid YAML: \(error)")
        }
    }

    /// Checks `version` before anything else, so that a newer document fails on its version
    /// rather than on a key this reader does not know.
    private func checkVersion(_ top: PolicyMapping) throws(PolicyFileError) {
        guard let node = top.optional("version") else {
            throw PolicyFileError(
                file: file, line: top.base.line ?? 1, field: "version",
                message: "is required; a policy file starts with `version: 1`")
        }
        let version = try node.integer(Int.self)
        guard version == 1 else {
            throw node.error("unsupported format version \(version); this reader understands version 1")
        }
    }

    /// The items of the list under `key`; empty when the key is absent or null.
    private func listItems(_ mapping: PolicyMapping, _ key: String) throws(PolicyFileError) -> [PolicyNode] {
        guard let node = mapping.optional(key) else { return [] }
        return try node.items()
    }

    /// Records `name` as declared by `node`; fails when it already is.
    private func declare(
        _ name: String, _ what: String, by node: PolicyNode, in declared: inout Declared
    ) throws(PolicyFileError) {
        if let first = declared[name] {
            let whereFirst = first.line.map { "; first declared at line \($0)" } ?? ""
            throw node.error("duplicate \(what) \(quoted(name))\(whereFirst)")
        }
        declared[name] = node
    }

    /// The names listed under `key`, each of which must be declared in `section` and listed once.
    private func references(
        _ mapping: PolicyMapping, _ key: String, to declared: Declared, what: String, section: String
    ) throws(PolicyFileError) -> [(name: String, node: PolicyNode)] {
        var result: [(name: String, node: PolicyNode)] = []
        for item in try listItems(mapping, key) {
            let name = try item.string()
            guard declared[name] != nil else {
                throw item.error("\(what) \(quoted(name)) is not declared under \(section)")
            }
            guard !result.contains(where: { $0.name == name }) else {
                throw item.error("\(what) \(quoted(name)) is listed more than once")
            }
            result.append((name, item))
        }
        return result
    }

    /// The string under `key`, if present.
    private func optionalString(_ mapping: PolicyMapping, _ key: String) throws(PolicyFileError) -> String? {
        try mapping.optional(key)?.string()
    }

    /// The list of strings under `key`; empty when absent.
    private func stringList(_ mapping: PolicyMapping, _ key: String) throws(PolicyFileError) -> [String] {
        try mapping.optional(key)?.strings() ?? []
    }

    // MARK: Sections

    private func decodeSettings(_ node: PolicyNode) throws(PolicyFileError) -> Settings {
        let m = try node.mapping(allowing: Self.settingsKeys)
        var s = Settings()
        if let n = m.optional("read_rpm") { s.readRPM = try n.integer(in: PolicyBounds.rate) }
        if let n = m.optional("mutate_rpm") { s.mutateRPM = try n.integer(in: PolicyBounds.rate) }
        if let n = m.optional("daily_quota_build_register") { s.dailyQuotaBuildRegister = try n.integer(in: PolicyBounds.actorDailyQuota) }
        if let n = m.optional("daily_quota_upload_capability") { s.dailyQuotaUploadCapability = try n.integer(in: PolicyBounds.actorDailyQuota) }
        if let n = m.optional("daily_quota_deploy") { s.dailyQuotaDeploy = try n.integer(in: PolicyBounds.dailyQuota) }
        if let n = m.optional("daily_quota_rollback") { s.dailyQuotaRollback = try n.integer(in: PolicyBounds.dailyQuota) }
        if let n = m.optional("mutations_disabled") { s.mutationsDisabled = try n.bool() }
        if let n = m.optional("idempotency_ttl_seconds") { s.idempotencyTTLSeconds = try n.integer(in: PolicyBounds.idempotencyTTLSeconds) }
        if let n = m.optional("deployment_lock_stale_seconds") {
            s.deploymentLockStaleSeconds = try n.integer(in: PolicyBounds.deploymentLockStaleSeconds)
        }
        if let n = m.optional("upload_capability_ttl_seconds") {
            s.uploadCapabilityTTLSeconds = try n.integer(in: PolicyBounds.uploadCapabilityTTLSeconds)
        }
        if let n = m.optional("max_artifact_size_bytes") { s.maxArtifactSizeBytes = try n.integer(in: PolicyBounds.maxArtifactSizeBytes) }
        if let n = m.optional("allowed_content_types") { s.allowedContentTypes = try n.strings() }
        s.defaultSpinnakerApplication = try optionalString(m, "default_spinnaker_application")
        return s
    }

    private func decodePublishers(_ items: [PolicyNode]) throws(PolicyFileError) -> [CIPublisher] {
        var names = Declared()
        var publishers: [CIPublisher] = []
        for item in items {
            let m = try item.mapping(allowing: Self.publisherKeys)
            let nameNode = try m.required("name")
            let name = try nameNode.nonEmptyString()
            try declare(name, "CI publisher name", by: nameNode, in: &names)
            publishers.append(
                CIPublisher(
                    name: name,
                    provider: try m.optional("provider")?.choice(CIPublisher.Provider.allCases) ?? .custom,
                    issuers: try stringList(m, "issuers"),
                    audiences: try stringList(m, "audiences"),
                    authorizedParties: try stringList(m, "authorized_party_azp"),
                    subjects: try stringList(m, "subjects"),
                    subjectPrefixes: try stringList(m, "subject_prefixes"),
                    emails: try stringList(m, "emails"),
                    description: try optionalString(m, "description"),
                    owner: try optionalString(m, "owner")))
        }
        return publishers
    }

    private func decodeRecipes(_ items: [PolicyNode], declared: inout Declared) throws(PolicyFileError) -> [Recipe] {
        var recipes: [Recipe] = []
        for item in items {
            let m = try item.mapping(allowing: Self.recipeKeys)
            let change = RecipeChange(
                id: try optionalString(m, "id"), name: try optionalString(m, "name"), description: try optionalString(m, "description"),
                spinnakerApplication: try optionalString(m, "spinnaker_application"),
                deployPipeline: try optionalString(m, "deploy_pipeline"), rollbackPipeline: try optionalString(m, "rollback_pipeline"),
                effectiveBehaviorSummary: try optionalString(m, "effective_behavior_summary"), status: try optionalString(m, "status"))
            let revision = try m.optional("revision")?.integer(in: PolicyBounds.recipeRevision) ?? 1
            let recipe: Recipe
            do {
                recipe = try PolicyValidator.recipe(change, pathId: nil, revision: revision)
            } catch {
                throw refusal(error, in: m)
            }
            try declare(recipe.id, "recipe id", by: try m.required("id"), in: &declared)
            recipes.append(recipe)
        }
        return recipes
    }

    private func decodeGuardrails(_ node: PolicyNode) throws(PolicyFileError) -> Guardrails {
        let m = try node.mapping(allowing: Self.guardrailKeys)
        return Guardrails(
            maxConcurrentDeployments: try m.optional("max_concurrent_deployments")?.integer(in: PolicyBounds.guardrail),
            dailyDeployQuota: try m.optional("daily_deploy_quota")?.integer(in: PolicyBounds.dailyQuota),
            dailyRollbackQuota: try m.optional("daily_rollback_quota")?.integer(in: PolicyBounds.dailyQuota))
    }

    private func decodeEnvironments(
        _ items: [PolicyNode], declared: inout Declared
    ) throws(PolicyFileError) -> [Environment] {
        var environments: [Environment] = []
        for item in items {
            let m = try item.mapping(allowing: Self.environmentKeys)
            let change = EnvironmentChange(
                id: try optionalString(m, "id"), displayName: try optionalString(m, "name"), type: try optionalString(m, "type"),
                lifecycleState: try optionalString(m, "lifecycle"))
            var environment: Environment
            do {
                environment = try PolicyValidator.environment(change, pathId: nil, current: nil)
            } catch {
                throw refusal(error, in: m, keys: ["display_name": "name", "lifecycle_state": "lifecycle"])
            }
            try declare(environment.id, "environment id", by: try m.required("id"), in: &declared)
            if let node = m.optional("guardrails") { environment.guardrails = try decodeGuardrails(node) }
            environments.append(environment)
        }
        return environments
    }

    private func decodeServices(
        _ items: [PolicyNode], declared: inout Declared, environments: Declared, recipes: Declared
    ) throws(PolicyFileError) -> [ServiceEntry] {
        var services: [ServiceEntry] = []
        for item in items {
            let m = try item.mapping(allowing: Self.serviceKeys)
            let nameNode = try m.required("name")
            let name = try nameNode.policyId()
            try declare(name, "service name", by: nameNode, in: &declared)
            services.append(
                ServiceEntry(
                    name: name,
                    allowedEnvironments: try references(
                        m, "allowed_environments", to: environments, what: "environment", section: "environments"
                    ).map(\.name),
                    allowedRecipes: try references(
                        m, "allowed_recipes", to: recipes, what: "recipe", section: "recipes"
                    ).map(\.name),
                    allowedArtifactSources: try stringList(m, "allowed_artifact_sources"),
                    stableServiceURLTemplate: try optionalString(m, "stable_service_url_template")))
        }
        return services
    }

    private func decodeGroups(
        _ items: [PolicyNode], policy: PolicySnapshot, environments: Declared, bindings: inout [EnvironmentBinding]
    ) throws(PolicyFileError) -> [DeliveryGroup] {
        var ids = Declared()
        var policy = policy
        var groups: [DeliveryGroup] = []
        for item in items {
            let m = try item.mapping(allowing: Self.groupKeys)
            // The environments a group binds: ids, or {id, enabled} mappings.
            var bound: [(id: String, node: PolicyNode, enabled: Bool)] = []
            for entry in try listItems(m, "environments") {
                switch entry.node {
                case .mapping:
                    let binding = try entry.mapping(allowing: Self.bindingKeys)
                    let node = try binding.required("id")
                    bound.append((try node.string(), node, try binding.optional("enabled")?.bool() ?? true))
                case .scalar:
                    bound.append((try entry.string(), entry, true))
                default:
                    throw entry.error("expected an environment id or {id: …, enabled: …}, found \(entry.found)")
                }
            }
            let guardrails = try m.optional("guardrails")?.mapping(allowing: Self.guardrailKeys)
            let change = DeliveryGroupChange(
                id: try optionalString(m, "id"), name: try optionalString(m, "name"), description: try optionalString(m, "description"),
                owners: try stringList(m, "owners"), services: try stringList(m, "services"), allowedEnvironments: bound.map(\.id),
                allowedRecipes: try stringList(m, "allowed_recipes"),
                maxConcurrentDeployments: try guardrails?.optional("max_concurrent_deployments")?.integer(Int.self),
                dailyDeployQuota: try guardrails?.optional("daily_deploy_quota")?.integer(Int.self),
                dailyRollbackQuota: try guardrails?.optional("daily_rollback_quota")?.integer(Int.self))
            let group: DeliveryGroup
            do {
                group = try PolicyValidator.deliveryGroup(change, pathId: nil, in: policy)
            } catch {
                throw refusal(error, in: m, keys: [
                    "allowed_environments": "environments", "max_concurrent_deployments": "guardrails.max_concurrent_deployments",
                    "daily_deploy_quota": "guardrails.daily_deploy_quota", "daily_rollback_quota": "guardrails.daily_rollback_quota",
                ])
            }
            try declare(group.id, "delivery group id", by: try m.required("id"), in: &ids)
            for (index, binding) in bound.enumerated() {
                guard environments[binding.id] != nil else {
                    throw binding.node.error("environment \(quoted(binding.id)) is not declared under environments")
                }
                bindings.append(EnvironmentBinding(deliveryGroupId: group.id, environmentId: binding.id, isEnabled: binding.enabled, orderIndex: index))
            }
            policy.upsertGroup(group)
            groups.append(group)
        }
        return groups
    }

    /// A refusal of ``PolicyValidator`` as an error at the value it names: the key of `mapping`
    /// that `details.field` names (spelled as the admin API does; `keys` gives the file's
    /// spelling where it differs, dotted for a nested key), the item `details.index` of a list —
    /// or the mapping's line and the key's path when the key is absent. The message is the
    /// validator's, with its specific reason.
    private func refusal(_ denial: Denial, in mapping: PolicyMapping, keys: [String: String] = [:]) -> PolicyFileError {
        let message = denial.hint.map { "\(denial.message): \($0)" } ?? denial.message
        guard case .string(let field)? = denial.details?["field"] else { return mapping.base.error(message) }
        let path = (keys[field] ?? field).split(separator: ".").map(String.init)
        var node: PolicyNode? = mapping.base
        for key in path { node = node.flatMap { try? PolicyMapping($0) }?.optional(key) }
        guard var node else {
            return PolicyFileError(file: file, line: mapping.base.line, field: mapping.path(path.joined(separator: ".")), message: message)
        }
        if case .int(let index)? = denial.details?["index"], let items = try? node.items(), items.indices.contains(Int(index)) {
            node = items[Int(index)]
        }
        return node.error(message)
    }

    private func decodeRoutes(
        _ items: [PolicyNode], services: Declared, environments: Declared, recipes: Declared,
        groupOfService: [String: String], bound: [String: Set<String>]
    ) throws(PolicyFileError) -> [Route] {
        var routed: [String: [String: PolicyNode]] = [:]
        var routes: [Route] = []
        for item in items {
            let m = try item.mapping(allowing: Self.routeKeys)
            let serviceNode = try m.required("service")
            let service = try serviceNode.string()
            guard services[service] != nil else {
                throw serviceNode.error("service \(quoted(service)) is not declared under services")
            }
            let environmentNode = try m.required("environment")
            let environment = try environmentNode.string()
            guard environments[environment] != nil else {
                throw environmentNode.error("environment \(quoted(environment)) is not declared under environments")
            }
            guard let group = groupOfService[service] else {
                throw serviceNode.error(
                    "service \(quoted(service)) is in no delivery group; list it under a group's services first")
            }
            guard bound[group]?.contains(environment) == true else {
                throw environmentNode.error(
                    "environment \(quoted(environment)) is not bound to delivery group \(quoted(group)), which "
                        + "deploys service \(quoted(service)); add it to that group's environments")
            }
            let recipeNode = try m.required("recipe")
            let recipe = try recipeNode.string()
            guard recipes[recipe] != nil else {
                throw recipeNode.error("recipe \(quoted(recipe)) is not declared under recipes")
            }
            if let first = routed[service]?[environment] {
                let whereFirst = first.line.map { " at line \($0)" } ?? ""
                throw item.error(
                    "service \(quoted(service)) is already routed to environment \(quoted(environment))\(whereFirst)")
            }
            routed[service, default: [:]][environment] = item
            routes.append(Route(service: service, environment: environment, recipeId: recipe))
        }
        return routes
    }
}

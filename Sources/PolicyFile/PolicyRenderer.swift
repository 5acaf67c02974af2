import Rules

/// Writes a `PolicySnapshot` as a version 1 policy document. Keyed collections come out sorted by
/// id (name for services, service then environment for routing, order index for a group's
/// environments); lists held by the snapshot (owners, CI publishers, …) keep their order. Every
/// setting is written; optional fields are written when set.
struct PolicyRenderer {
    private var lines: [String] = []

    /// The document for `snapshot`.
    static func render(_ snapshot: PolicySnapshot) -> String {
        var renderer = PolicyRenderer()
        renderer.write(snapshot)
        return renderer.lines.joined(separator: "\n") + "\n"
    }

    private mutating func add(_ line: String) {
        lines.append(line)
    }

    /// `key: value` at `indent`, the value already spelled.
    private mutating func field(_ indent: String, _ key: String, _ value: String) {
        add("\(indent)\(key): \(value)")
    }

    /// `key: "text"` when `text` is set.
    private mutating func optional(_ indent: String, _ key: String, _ text: String?) {
        if let text { field(indent, key, YAMLText.string(text)) }
    }

    /// A section header, `key: []` when it has no entries.
    private mutating func section(_ key: String, isEmpty: Bool) {
        add(isEmpty ? "\(key): []" : "\(key):")
    }

    private mutating func write(_ snapshot: PolicySnapshot) {
        add("# dxcp-policy policy data, format version 1 (see docs/POLICY-FILE.md).")
        add("version: 1")
        writeSettings(snapshot.settings)
        writePublishers(snapshot.settings.ciPublishers)
        writeRecipes(snapshot.recipes.values.sorted { $0.id < $1.id })
        writeEnvironments(snapshot.environments.values.sorted { $0.id < $1.id })
        writeServices(snapshot.services.values.sorted { $0.name < $1.name })
        writeGroups(snapshot.deliveryGroups.values.sorted { $0.id < $1.id }, bindings: snapshot.bindings)
        let routes = snapshot.routes.values.flatMap(\.values).sorted {
            ($0.service, $0.environment) < ($1.service, $1.environment)
        }
        writeRoutes(routes)
    }

    private mutating func writeSettings(_ s: Settings) {
        let i = "  "
        add("settings:")
        field(i, "read_rpm", "\(s.readRPM)")
        field(i, "mutate_rpm", "\(s.mutateRPM)")
        field(i, "daily_quota_build_register", "\(s.dailyQuotaBuildRegister)")
        field(i, "daily_quota_upload_capability", "\(s.dailyQuotaUploadCapability)")
        field(i, "daily_quota_deploy", "\(s.dailyQuotaDeploy)")
        field(i, "daily_quota_rollback", "\(s.dailyQuotaRollback)")
        field(i, "mutations_disabled", "\(s.mutationsDisabled)")
        field(i, "idempotency_ttl_seconds", "\(s.idempotencyTTLSeconds)")
        field(i, "deployment_lock_stale_seconds", "\(s.deploymentLockStaleSeconds)")
        field(i, "upload_capability_ttl_seconds", "\(s.uploadCapabilityTTLSeconds)")
        field(i, "max_artifact_size_bytes", "\(s.maxArtifactSizeBytes)")
        field(i, "allowed_content_types", YAMLText.list(s.allowedContentTypes))
        optional(i, "default_spinnaker_application", s.defaultSpinnakerApplication)
    }

    private mutating func writePublishers(_ publishers: [CIPublisher]) {
        section("ci_publishers", isEmpty: publishers.isEmpty)
        let i = "    "
        for p in publishers {
            add("  - name: \(YAMLText.string(p.name))")
            field(i, "provider", p.provider.rawValue)
            let lists = [
                ("issuers", p.issuers), ("audiences", p.audiences), ("authorized_party_azp", p.authorizedParties),
                ("subjects", p.subjects), ("subject_prefixes", p.subjectPrefixes), ("emails", p.emails),
            ]
            for (key, values) in lists where !values.isEmpty { field(i, key, YAMLText.list(values)) }
            optional(i, "description", p.description)
            optional(i, "owner", p.owner)
        }
    }

    private mutating func writeRecipes(_ recipes: [Recipe]) {
        section("recipes", isEmpty: recipes.isEmpty)
        let i = "    "
        for r in recipes {
            add("  - id: \(YAMLText.string(r.id))")
            field(i, "name", YAMLText.string(r.name))
            optional(i, "description", r.description)
            optional(i, "spinnaker_application", r.spinnakerApplication)
            field(i, "deploy_pipeline", YAMLText.string(r.deployPipeline))
            optional(i, "rollback_pipeline", r.rollbackPipeline)
            field(i, "effective_behavior_summary", YAMLText.string(r.effectiveBehaviorSummary))
            field(i, "status", r.status.rawValue)
            field(i, "revision", "\(r.revision)")
        }
    }

    private mutating func writeGuardrails(_ indent: String, _ g: Guardrails) {
        let parts = [
            ("max_concurrent_deployments", g.maxConcurrentDeployments), ("daily_deploy_quota", g.dailyDeployQuota),
            ("daily_rollback_quota", g.dailyRollbackQuota),
        ].compactMap { key, value in value.map { "\(key): \($0)" } }
        if !parts.isEmpty { field(indent, "guardrails", "{" + parts.joined(separator: ", ") + "}") }
    }

    private mutating func writeEnvironments(_ environments: [Environment]) {
        section("environments", isEmpty: environments.isEmpty)
        let i = "    "
        for e in environments {
            add("  - id: \(YAMLText.string(e.id))")
            field(i, "name", YAMLText.string(e.displayName))
            field(i, "type", e.kind.rawValue)
            field(i, "lifecycle", e.lifecycle.rawValue)
            writeGuardrails(i, e.guardrails)
        }
    }

    private mutating func writeServices(_ services: [ServiceEntry]) {
        section("services", isEmpty: services.isEmpty)
        let i = "    "
        for s in services {
            add("  - name: \(YAMLText.string(s.name))")
            field(i, "allowed_environments", YAMLText.list(s.allowedEnvironments))
            field(i, "allowed_recipes", YAMLText.list(s.allowedRecipes))
            field(i, "allowed_artifact_sources", YAMLText.list(s.allowedArtifactSources))
            optional(i, "stable_service_url_template", s.stableServiceURLTemplate)
        }
    }

    private mutating func writeGroups(_ groups: [DeliveryGroup], bindings: [String: [String: EnvironmentBinding]]) {
        section("delivery_groups", isEmpty: groups.isEmpty)
        let i = "    "
        for g in groups {
            add("  - id: \(YAMLText.string(g.id))")
            field(i, "name", YAMLText.string(g.name))
            optional(i, "description", g.description)
            field(i, "owners", YAMLText.list(g.owners))
            field(i, "services", YAMLText.list(g.services))
            field(i, "allowed_recipes", YAMLText.list(g.allowedRecipes))
            writeGuardrails(i, g.guardrails)
            let bound = (bindings[g.id] ?? [:]).values.sorted {
                ($0.orderIndex, $0.environmentId) < ($1.orderIndex, $1.environmentId)
            }
            if bound.isEmpty {
                field(i, "environments", "[]")
            } else {
                add("\(i)environments:")
                for b in bound {
                    let id = YAMLText.string(b.environmentId)
                    add(b.isEnabled ? "      - \(id)" : "      - {id: \(id), enabled: false}")
                }
            }
        }
    }

    private mutating func writeRoutes(_ routes: [Route]) {
        section("routing", isEmpty: routes.isEmpty)
        for r in routes {
            let parts = [
                "service: \(YAMLText.string(r.service))", "environment: \(YAMLText.string(r.environment))",
                "recipe: \(YAMLText.string(r.recipeId))",
            ]
            add("  - {" + parts.joined(separator: ", ") + "}")
        }
    }
}

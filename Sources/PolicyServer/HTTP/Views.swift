import Audit
import JSONWriter
import Rules

/// The JSON bodies the API answers with, in the reference's wire shapes (REFERENCE §2, §3.1, §8.1).
enum Views {
    static func body(_ write: (inout CompactJSONWriter) -> Void) -> [UInt8] {
        var w = CompactJSONWriter()
        write(&w)
        return w.bytes
    }

    /// The error envelope (REFERENCE §3.1). `hint` only goes to those allowed to see it.
    static func envelope(code: String, message: String, cause: FailureCause, requestId: String, hint: String?, details: [String: JSONValue]?) -> [UInt8] {
        body { w in
            w.open()
            w.field("code", code)
            if let details { w.field("details", JSONValue.object(details)) }
            w.field("error_code", code)
            w.field("failure_cause", cause.rawValue)
            w.field("message", message)
            if let hint { w.field("operator_hint", hint) }
            w.field("request_id", requestId)
            w.close()
        }
    }

    /// The envelope of a 404 or 405 from routing, with the `detail` field frameworks give (D18).
    static func routingError(code: ContractCode, status: Int, requestId: String) -> [UInt8] {
        let detail = status == 405 ? "Method Not Allowed" : "Not Found"
        return body { w in
            w.open()
            w.field("code", code.rawValue)
            w.field("detail", detail)
            w.field("error_code", code.rawValue)
            w.field("failure_cause", code.failureCause.rawValue)
            w.field("message", detail)
            w.field("request_id", requestId)
            w.close()
        }
    }

    static func result(_ result: DecisionResult, admin: Bool) -> [UInt8] {
        switch result {
        case .validation(let v): validation(v)
        case .promotionValidation(let v): promotionValidation(v)
        case .deliveryStatus(let status): deliveryStatus(status, admin: admin)
        case .runningState(let running): body { w in runningState(running, into: &w) }
        case .allowedActions(let service, let role, let view, let deploy, let rollback):
            body { w in
                w.open()
                w.key("actions")
                w.open()
                w.field("deploy", deploy)
                w.field("rollback", rollback)
                w.field("view", view)
                w.close()
                w.field("role", role.rawValue)
                w.field("service", service)
                w.close()
            }
        case .failureInsights(let insights): failureInsights(insights)
        case .uiExposure(let policy):
            body { w in
                w.open()
                w.field("policy", policy.jsonValue)
                w.field("source", "store")
                w.close()
            }
        // The edge answers with the facts it holds (GovernanceServer.configSanity); the rules know none.
        case .configSanity: Array("{}".utf8)
        case .deployment(let r): body { deployment(r, admin: admin, into: &$0) }
        case .failures(let r): failures(r)
        case .timeline(let r): timeline(r)
        case .deploymentRead(let r, let superseded): body { deployment(r, admin: admin, superseded: superseded, into: &$0) }
        case .deployments(let list, let ids):
            body { w in
                let superseded = Set(ids)
                w.raw("[")
                for (i, r) in list.enumerated() {
                    if i > 0 { w.raw(",") }
                    deployment(r, admin: admin, superseded: superseded.contains(r.id), into: &w)
                }
                w.raw("]")
            }
        case .policySummary(let s): policySummary(s)
        case .uploadCapability(let c): capability(c)
        case .build(let b): build(b)
        case .rateLimits(let r):
            body { w in
                w.open()
                w.field("daily_quota_build_register", Int64(r.dailyQuotaBuildRegister))
                w.field("mutate_rpm", Int64(r.mutateRPM))
                w.field("read_rpm", Int64(r.readRPM))
                w.field("source", "store")
                w.close()
            }
        case .ciPublishers(let publishers):
            body { w in
                w.open()
                w.field("publishers", JSONValue.array(publishers.map(\.jsonValue)))
                w.field("source", "store")
                w.close()
            }
        case .principal(let p):
            body { w in
                w.open()
                w.field("actor_id", p.actorId)
                w.field("aud", JSONValue.strings(p.claims.audiences))
                w.nullable("azp", p.claims.authorizedParty)
                w.nullable("email", p.email)
                w.nullable("iss", p.claims.issuer)
                w.nullable("role", p.role?.rawValue)
                w.nullable("sub", p.claims.subject)
                w.close()
            }
        case .services(let services):
            array(services) { w, s in
                w.open()
                w.field("allowed_artifact_sources", JSONValue.strings(s.allowedArtifactSources))
                w.field("allowed_environments", JSONValue.strings(s.allowedEnvironments))
                w.field("allowed_recipes", JSONValue.strings(s.allowedRecipes))
                w.null("backstage_entity_ref")
                w.null("backstage_entity_url")
                w.field("service_name", s.name)
                w.nullable("stable_service_url_template", s.stableServiceURLTemplate)
                w.close()
            }
        case .versions(let service, let builds):
            body { w in
                w.open()
                w.field("refreshedAt", builds.first?.registeredAt.iso8601 ?? "")
                w.field("service", service)
                w.field("source", "registry")
                w.key("versions")
                w.raw("[")
                for (i, b) in builds.enumerated() {
                    if i > 0 { w.raw(",") }
                    w.open()
                    w.field("artifactRef", b.artifactRef)
                    w.field("lastModified", b.registeredAt.iso8601)
                    if let size = b.sizeBytes { w.field("sizeBytes", size) } else { w.null("sizeBytes") }
                    w.field("version", b.version)
                    w.close()
                }
                w.raw("]")
                w.close()
            }
        case .deliveryGroups(let groups):
            array(groups) { w, g in deliveryGroup(g, into: &w) }
        case .deliveryGroup(let g):
            body { deliveryGroup(g, into: &$0) }
        case .recipes(let recipes, let mapping):
            array(recipes) { w, r in recipe(r, mapping: mapping, into: &w) }
        case .recipe(let r, let mapping):
            body { recipe(r, mapping: mapping, into: &$0) }
        case .settings(let s, let admin):
            body { w in
                w.open()
                if admin {
                    w.field("daily_deploy_quota", Int64(s.dailyQuotaDeploy))
                    w.field("daily_rollback_quota", Int64(s.dailyQuotaRollback))
                }
                w.field("default_refresh_interval_seconds", Int64(15))
                w.field("max_refresh_interval_seconds", Int64(300))
                w.field("min_refresh_interval_seconds", Int64(5))
                w.field("mutations_disabled", s.mutationsDisabled)
                w.close()
            }
        case .route(let route):
            body { self.route(route, into: &$0) }
        case .routes(let rows):
            array(rows) { w, row in
                w.open()
                w.field("display_name", row.environment.displayName)
                w.field("environment_id", row.environment.id)
                w.field("is_enabled", row.environment.lifecycle == .active)
                w.field("lifecycle_state", row.environment.lifecycle.rawValue)
                w.nullable("recipe_id", row.recipeId)
                w.field("service_id", row.service)
                w.field("type", row.environment.kind.rawValue)
                w.close()
            }
        case .binding(let b):
            body { binding(b, into: &$0) }
        case .bindings(let rows):
            array(rows) { w, row in
                let b = row.binding
                w.open()
                w.field("delivery_group_id", b.deliveryGroupId)
                w.nullable("display_name", row.environment?.displayName)
                w.field("environment_id", b.environmentId)
                w.field("is_enabled", b.isEnabled)
                // As the reference: the binding's own state, active or disabled.
                w.field("lifecycle_state", b.isEnabled ? "active" : "disabled")
                w.field("order_index", Int64(b.orderIndex))
                w.nullable("type", row.environment?.kind.rawValue)
                w.close()
            }
        case .deleted:
            []
        case .environments(let views):
            array(views) { w, v in environment(v, into: &w) }
        case .environment(let v):
            body { environment(v, into: &$0) }
        case .auditQuery:
            []
        case .mutationsDisabled(let on):
            body { w in
                w.open()
                w.field("mutations_disabled", on)
                w.field("source", "store")
                w.close()
            }
        }
    }

    static func array<T>(_ items: [T], _ write: (inout CompactJSONWriter, T) -> Void) -> [UInt8] {
        body { w in
            w.raw("[")
            for (i, item) in items.enumerated() {
                if i > 0 { w.raw(",") }
                write(&w, item)
            }
            w.raw("]")
        }
    }

    /// A delivery group with its guardrails' defaults filled in (REFERENCE §2.8).
    static func deliveryGroup(_ view: DeliveryGroupView, into w: inout CompactJSONWriter) {
        let g = view.group
        w.open()
        w.field("allowed_environments", JSONValue.strings(view.environments))
        w.field("allowed_recipes", JSONValue.strings(g.allowedRecipes))
        stamp(g.stamp, into: &w)
        w.nullable("description", g.description)
        w.key("guardrails")
        w.open()
        w.field("daily_deploy_quota", Int64(view.dailyDeployQuota))
        w.field("daily_rollback_quota", Int64(view.dailyRollbackQuota))
        w.field("max_concurrent_deployments", Int64(view.maxConcurrentDeployments))
        w.close()
        w.field("id", g.id)
        changed(g.stamp, into: &w)
        w.field("name", g.name)
        w.field("owner", g.owners.joined(separator: ", "))
        w.field("services", JSONValue.strings(g.services))
        updated(g.stamp, into: &w)
        w.close()
    }

    static func route(_ route: Route, into w: inout CompactJSONWriter) {
        w.open()
        w.field("environment_id", route.environment)
        w.field("recipe_id", route.recipeId)
        w.field("service_id", route.service)
        w.close()
    }

    /// The created and updated stamps of a policy object; null before the write path stamps it.
    static func stamp(_ stamp: ChangeStamp?, into w: inout CompactJSONWriter) {
        w.nullable("created_at", stamp?.createdAt?.iso8601)
        w.nullable("created_by", stamp?.createdBy)
    }

    static func changed(_ stamp: ChangeStamp?, into w: inout CompactJSONWriter) {
        w.nullable("last_change_reason", stamp?.lastChangeReason)
    }

    static func updated(_ stamp: ChangeStamp?, into w: inout CompactJSONWriter) {
        w.nullable("updated_at", stamp?.updatedAt.iso8601)
        w.nullable("updated_by", stamp?.updatedBy)
    }

    static func binding(_ b: EnvironmentBinding, into w: inout CompactJSONWriter) {
        w.open()
        w.field("delivery_group_id", b.deliveryGroupId)
        w.field("environment_id", b.environmentId)
        w.field("is_enabled", b.isEnabled)
        w.field("order_index", Int64(b.orderIndex))
        w.close()
    }

    /// An environment with the caller's visible bindings; `is_enabled` is true when some visible
    /// binding is enabled and the environment is active.
    static func environment(_ v: EnvironmentView, into w: inout CompactJSONWriter) {
        let e = v.environment
        w.open()
        w.key("delivery_groups")
        w.raw("[")
        for (i, b) in v.bindings.enumerated() {
            if i > 0 { w.raw(",") }
            w.open()
            w.field("delivery_group_id", b.deliveryGroupId)
            w.field("is_enabled", b.isEnabled)
            w.field("order_index", Int64(b.orderIndex))
            w.close()
        }
        w.raw("]")
        w.field("display_name", e.displayName)
        w.field("environment_id", e.id)
        w.field("id", e.id)
        w.field("is_enabled", e.lifecycle == .active && v.bindings.contains { $0.isEnabled })
        w.field("lifecycle_state", e.lifecycle.rawValue)
        w.field("name", e.id)
        w.field("type", e.kind.rawValue)
        w.close()
    }

    /// Audit events, newest first (REFERENCE §11.1, with the decision and chain fields).
    static func auditEvents(_ entries: [AuditEntry]) -> [UInt8] {
        array(entries) { w, e in
            w.open()
            w.field("actor_id", e.actorId)
            w.nullable("actor_role", e.actorRole?.rawValue)
            w.nullable("decision_id", e.decisionId)
            w.nullable("delivery_group_id", e.deliveryGroupId)
            w.nullable("environment", e.environment)
            w.field("event_id", e.eventId)
            w.field("event_type", e.eventType)
            w.field("hash", e.hash)
            w.field("outcome", e.outcome.rawValue)
            w.nullable("request_id", e.requestId)
            w.field("sequence", Int64(e.sequence))
            w.nullable("service_name", e.serviceName)
            w.field("summary", e.summary)
            w.field("target_id", e.targetId)
            w.field("target_type", e.targetType)
            w.field("timestamp", e.timestamp.iso8601)
            w.close()
        }
    }

    /// The failures of a deployment (`GET /v1/deployments/{id}/failures`).
    static func failures(_ r: DeploymentRecord) -> [UInt8] {
        array(r.failures) { w, f in
            w.open()
            w.field("actionHint", f.actionHint)
            w.field("category", f.category.rawValue)
            w.nullable("detail", f.detail)
            w.field("observedAt", f.observedAt.iso8601)
            w.field("summary", f.summary)
            w.close()
        }
    }

    /// The timeline of a deployment, derived from its record (REFERENCE §8.3).
    static func timeline(_ r: DeploymentRecord) -> [UInt8] {
        let promoted = r.sourceEnvironment.map { "Promotion of \(r.version) from \($0)" }
        var steps: [(String, String, Timestamp, String?)] = [("submitted", "Submitted", r.createdAt, promoted), ("validated", "Validated", r.createdAt, nil)]
        let rollback = r.kind == .rollback
        switch r.state {
        case .succeeded: steps.append((rollback ? "rollback_succeeded" : "succeeded", rollback ? "Rollback succeeded" : "Succeeded", r.updatedAt, nil))
        case .failed, .canceled:
            steps.append((rollback ? "rollback_failed" : "failed", rollback ? "Rollback failed" : "Failed", r.updatedAt, r.failures.first?.summary))
        case .rolledBack: steps.append(("rollback_succeeded", "Rolled back", r.updatedAt, nil))
        case .active: steps.append(("active", "Active", r.updatedAt, nil))
        case .inProgress, .pending: steps.append((rollback ? "rollback_started" : "in_progress", rollback ? "Rollback started" : "In progress", r.updatedAt, nil))
        }
        return array(steps) { w, step in
            w.open()
            w.nullable("detail", step.3)
            w.field("key", step.0)
            w.field("label", step.1)
            w.field("occurredAt", step.2.iso8601)
            w.close()
        }
    }

    /// A recipe; the engine mapping only for admins (REFERENCE §2.8).
    static func recipe(_ r: Recipe, mapping: Bool, into w: inout CompactJSONWriter) {
        w.open()
        stamp(r.stamp, into: &w)
        if mapping {
            w.field("deploy_pipeline", r.deployPipeline)
            w.nullable("rollback_pipeline", r.rollbackPipeline)
            w.nullable("spinnaker_application", r.spinnakerApplication)
        }
        w.nullable("description", r.description)
        w.field("effective_behavior_summary", r.effectiveBehaviorSummary)
        w.field("engine_type", "SPINNAKER")
        w.field("id", r.id)
        changed(r.stamp, into: &w)
        w.field("name", r.name)
        w.field("recipe_revision", Int64(r.revision))
        w.field("status", r.status.rawValue)
        updated(r.stamp, into: &w)
        w.close()
    }

    /// The public view of a deployment record (REFERENCE §8.1); admins also see the execution.
    static func deployment(_ r: DeploymentRecord, admin: Bool, superseded: Bool = false, into w: inout CompactJSONWriter) {
        w.open()
        w.field("changeSummary", r.changeSummary)
        w.field("createdAt", r.createdAt.iso8601)
        w.field("deliveryGroupId", r.deliveryGroupId)
        w.field("deploymentKind", r.kind.rawValue)
        w.field("effectiveBehaviorSummary", r.effectiveBehaviorSummary)
        if admin {
            w.nullable("engineExecutionId", r.engineExecutionId)
            w.nullable("engineExecutionUrl", r.engineExecutionURL)
        }
        w.field("engine_type", "SPINNAKER")
        w.field("environment", r.environment)
        w.key("failures")
        w.raw("[")
        for (i, f) in r.failures.enumerated() {
            if i > 0 { w.raw(",") }
            w.open()
            w.field("actionHint", f.actionHint)
            w.field("category", f.category.rawValue)
            w.nullable("detail", f.detail)
            w.field("observedAt", f.observedAt.iso8601)
            w.field("summary", f.summary)
            w.close()
        }
        w.raw("]")
        w.field("id", r.id)
        w.nullable("outcome", superseded ? "SUPERSEDED" : r.outcome?.rawValue)
        w.field("recipeId", r.recipeId)
        w.field("recipeRevision", Int64(r.recipeRevision))
        w.nullable("rollbackOf", r.rollbackOf)
        w.field("service", r.service)
        w.nullable("sourceEnvironment", r.sourceEnvironment)
        w.field("state", r.state.rawValue)
        w.field("updatedAt", r.updatedAt.iso8601)
        w.field("version", r.version)
        w.close()
    }

    static func policy(_ p: PolicyNumbers, into w: inout CompactJSONWriter) {
        w.field("current_concurrent_deployments", Int64(p.currentConcurrentDeployments))
        w.field("daily_deploy_quota", Int64(p.dailyDeployQuota))
        w.field("daily_quota_build_register", Int64(p.dailyQuotaBuildRegister))
        w.field("deployments_remaining", Int64(p.deploymentsRemaining))
        w.field("deployments_used", Int64(p.deploymentsUsed))
        w.field("max_concurrent_deployments", Int64(p.maxConcurrentDeployments))
    }

    static func validation(_ v: ValidationReport) -> [UInt8] {
        body { w in
            w.open()
            w.field("deliveryGroupId", v.deliveryGroupId)
            w.field("environment", v.environment)
            w.key("policy")
            w.open()
            policy(v.policy, into: &w)
            w.close()
            w.field("recipeId", v.recipeId)
            w.field("service", v.service)
            w.field("validatedAt", v.validatedAt.iso8601)
            w.field("version", v.version)
            w.field("versionRegistered", v.versionRegistered)
            w.close()
        }
    }

    /// What runs, or JSON null.
    static func runningState(_ r: RunningState?, into w: inout CompactJSONWriter) {
        guard let r else { return w.raw("null") }
        w.open()
        w.field("deploymentId", r.deploymentId)
        w.field("deploymentKind", r.deploymentKind.rawValue)
        w.field("derivedAt", r.derivedAt.iso8601)
        w.field("environment", r.environment)
        w.field("scope", "service")
        w.field("service", r.service)
        w.field("version", r.version)
        w.close()
    }

    /// A service's delivery status (REFERENCE §2.9).
    static func deliveryStatus(_ s: DeliveryStatus, admin: Bool) -> [UInt8] {
        body { w in
            w.open()
            w.key("currentRunning")
            runningState(s.currentRunning, into: &w)
            w.field("environment", s.environment)
            w.field("hasDeployments", s.latest != nil)
            w.key("latest")
            // The record as a read shows it: the reference's summary fields and the rest.
            if let r = s.latest { deployment(r, admin: admin, into: &w) } else { w.raw("null") }
            w.key("promotionCandidate")
            if let c = s.promotionCandidate {
                w.open()
                w.field("eligible", c.eligible)
                if let reason = c.reason { w.field("reason", reason) }
                if let recipeId = c.recipeId { w.field("recipeId", recipeId) }
                if let source = c.sourceEnvironment { w.field("source_environment", source) }
                if let target = c.targetEnvironment { w.field("target_environment", target) }
                if let version = c.version { w.field("version", version) }
                w.close()
            } else {
                w.raw("null")
            }
            w.field("service", s.service)
            w.close()
        }
    }

    /// Failure insights (REFERENCE §2.9); the rollback rate as the reference's four-place float.
    static func failureInsights(_ f: FailureInsights) -> [UInt8] {
        func rows(_ name: StaticString, _ rows: [KeyCount], _ w: inout CompactJSONWriter) {
            w.field(name, JSONValue.array(rows.map { .object(["count": .int(Int64($0.count)), "key": .string($0.key)]) }))
        }
        return body { w in
            w.open()
            rows("deploymentsByGroup", f.deploymentsByGroup, &w)
            rows("deploymentsByRecipe", f.deploymentsByRecipe, &w)
            rows("failuresByCategory", f.failuresByCategory, &w)
            w.key("rollbackRate")
            let rate = max(0, f.rollbackRateTenThousandths)  // never negative; a negative one would misprint
            var fraction = String(rate % 10_000)
            fraction = String(repeating: "0", count: max(0, 4 - fraction.count)) + fraction
            while fraction.count > 1, fraction.hasSuffix("0") { fraction.removeLast() }
            w.raw("\(rate / 10_000).\(fraction)")
            w.field("totalDeployments", Int64(f.totalDeployments))
            w.field("totalRollbacks", Int64(f.totalRollbacks))
            w.field("windowDays", Int64(f.windowDays))
            w.field("windowEnd", f.windowEnd.iso8601)
            w.field("windowStart", f.windowStart.iso8601)
            w.close()
        }
    }

    /// Promotion validate's answer (REFERENCE §2.10).
    static func promotionValidation(_ v: PromotionValidationReport) -> [UInt8] {
        body { w in
            w.open()
            w.field("deliveryGroupId", v.deliveryGroupId)
            w.key("policy")
            w.open()
            policy(v.policy, into: &w)
            w.close()
            w.field("recipeId", v.recipeId)
            w.field("service", v.intent.service)
            w.field("source_environment", v.intent.sourceEnvironment)
            w.field("target_environment", v.intent.targetEnvironment)
            w.field("validatedAt", v.validatedAt.iso8601)
            w.field("version", v.intent.version)
            w.field("versionEligible", true)
            w.close()
        }
    }

    /// The policy summary: the six figures at the top level (as the reference harness reads them)
    /// and under `policy` (as validate reports them), with the rollback figures.
    static func policySummary(_ s: PolicySummary) -> [UInt8] {
        body { w in
            w.open()
            w.field("daily_rollback_quota", Int64(s.dailyRollbackQuota))
            w.field("deliveryGroupId", s.deliveryGroupId)
            w.field("environment", s.environment)
            w.field("generatedAt", s.generatedAt.iso8601)
            policy(s.policy, into: &w)
            w.key("policy")
            w.open()
            policy(s.policy, into: &w)
            w.close()
            w.nullable("recipeId", s.recipeId)
            w.key("resolvedRecipe")
            if let r = s.resolvedRecipe {
                w.open()
                w.field("effectiveBehaviorSummary", r.effectiveBehaviorSummary)
                w.field("id", r.id)
                w.field("name", r.name)
                w.field("revision", Int64(r.revision))
                w.key("routing")
                w.open()
                w.nullable("display_name", s.environmentObject?.displayName)
                w.field("environment_id", s.environment)
                w.nullable("lifecycle_state", s.environmentObject?.lifecycle.rawValue)
                w.field("recipe_id", r.id)
                w.field("service_id", s.service)
                w.nullable("type", s.environmentObject?.kind.rawValue)
                w.close()
                w.field("status", r.status.rawValue)
                w.close()
            } else {
                w.raw("null")
            }
            w.field("rollbacks_used", Int64(s.rollbacksUsed))
            w.field("service", s.service)
            w.close()
        }
    }

    static func capability(_ c: UploadCapability) -> [UInt8] {
        body { w in
            w.open()
            w.field("expectedContentType", c.expectedContentType)
            w.field("expectedSha256", c.expectedSha256)
            w.field("expectedSizeBytes", c.expectedSizeBytes)
            w.field("expiresAt", c.expiresAt.iso8601)
            w.field("uploadToken", c.token)
            w.field("uploadType", "TOKEN")
            w.null("uploadUrl")
            w.close()
        }
    }

    static func build(_ b: Build) -> [UInt8] {
        body { w in
            w.open()
            w.nullable("actor", b.actor)
            w.field("artifactRef", b.artifactRef)
            w.field("built_at", b.builtAt.iso8601)
            w.nullable("checksum_sha256", b.checksumSha256)
            w.field("ci_provider", b.ciProvider)
            w.field("ci_publisher", b.ciPublisher)
            w.field("ci_run_id", b.ciRunId)
            w.nullable("commit_url", b.commitURL)
            w.nullable("contentType", b.contentType)
            w.field("git_branch", b.gitBranch)
            w.field("git_sha", b.gitSha)
            w.field("id", b.id)
            w.field("registeredAt", b.registeredAt.iso8601)
            w.nullable("repo", b.repo)
            w.nullable("run_url", b.runURL)
            w.field("service", b.service)
            w.nullable("sha256", b.sha256)
            if let size = b.sizeBytes { w.field("sizeBytes", size) } else { w.null("sizeBytes") }
            w.field("version", b.version)
            w.close()
        }
    }
}

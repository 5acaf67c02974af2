public import Rules

/// Turns an HTTP request of the governance surface into a contract ``Request``: routing by
/// method and path, then strict decoding of the JSON body (DECISIONS D18). Used by the HTTP API
/// and by `dxcp-policy eval`, so both read requests the same way.
public enum WireRequest {
    /// The largest body accepted by default, in bytes.
    public static let defaultBodyLimit = 64 * 1024

    /// The longest `Idempotency-Key` accepted, in bytes (DECISIONS 59).
    public static let idempotencyKeyLimit = 256

    /// The `Idempotency-Key` header's value: nil when absent; empty counts as absent for the
    /// rules (IDMP_KEY_REQUIRED); otherwise at most 256 printable ASCII characters, since it
    /// becomes part of a stored key → else 400 `INVALID_REQUEST` naming the header.
    public static func idempotencyKey(_ value: String?) throws(WireError) -> String? {
        guard let value, !value.isEmpty else { return value }
        guard value.utf8.count <= idempotencyKeyLimit, value.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw WireError.invalid("Idempotency-Key", "Idempotency-Key must be 1 to \(idempotencyKeyLimit) printable ASCII characters")
        }
        return value
    }

    /// Decodes one request. `body` is ignored where the endpoint takes none.
    public static func decode(method: String, path: String, query: [String: String] = [:], body: [UInt8]) throws(WireError) -> Request {
        try decode(method: method, path: path, query: query, body: Body.raw(body))
    }

    /// A request body: bytes as received, or a document already parsed (request files).
    enum Body {
        case raw([UInt8])
        case parsed(JSON)

        func json() throws(JSONSyntaxError) -> JSON {
            switch self {
            case .raw(let bytes): try JSON.parse(bytes)
            case .parsed(let json): json
            }
        }
    }

    /// The request `method` on `path` asks for; 405 when the path is an endpoint only of other
    /// methods (TRACE and unknown methods included), 404 when it is none.
    static func decode(method: String, path: String, query: [String: String], body: Body) throws(WireError) -> Request {
        do {
            return try route(method: method, path: path, query: query, body: body)
        } catch where error.status == 404 {
            for other in ["GET", "POST", "PUT", "PATCH", "DELETE"] where other != method && isEndpoint(other, path) {
                throw WireError(code: .methodNotAllowed, status: 405, message: "Method Not Allowed", field: nil, details: nil)
            }
            throw error
        }
    }

    /// Whether `method` on `path` is an endpoint: anything but a 404 when decoded with no body.
    static func isEndpoint(_ method: String, _ path: String) -> Bool {
        do {
            _ = try route(method: method, path: path, query: [:], body: .raw([]))
            return true
        } catch {
            return error.status != 404
        }
    }

    static func route(method: String, path: String, query: [String: String], body: Body) throws(WireError) -> Request {
        let segments = segments(of: path)
        guard segments.first == "v1" else { throw notFound() }
        let route = Array(segments.dropFirst())
        switch (method, route.count, route.first) {
        case ("POST", 2, "deployments") where route[1] == "validate":
            return .validate(try deploymentIntent(body))
        case ("POST", 1, "deployments"):
            return .deploy(try deploymentIntent(body))
        case ("GET", 1, "deployments"):
            let state = try query["state"].map { (text: String) throws(WireError) -> DeploymentRecord.State in
                guard let state = DeploymentRecord.State(rawValue: text) else { throw WireError.invalid("state", "state is not a deployment state") }
                return state
            }
            let limit = Int(clamping: try integerQuery(query, "limit") ?? 200)
            let before = try query["before"].flatMap { (text: String) throws(WireError) -> DeploymentQuery.Cursor? in
                if text.isEmpty { return nil }
                guard let cursor = DeploymentQuery.Cursor(text) else { throw WireError.invalid("before", "before must be the X-Next-Before of a previous page") }
                return cursor
            }
            return .listDeployments(DeploymentQuery(
                service: query["service"], environment: query["environment"], state: state, limit: limit, before: before))
        case ("POST", 3, "deployments") where route[2] == "rollback":
            return .rollback(deploymentId: try pathId(route[1]))
        case ("GET", 2, "deployments"):
            return .readDeployment(id: try pathId(route[1]))
        case ("GET", 3, "deployments") where route[2] == "failures":
            return .readDeployment(id: try pathId(route[1]), view: .failures)
        case ("GET", 3, "deployments") where route[2] == "timeline":
            return .readDeployment(id: try pathId(route[1]), view: .timeline)
        case (_, 2, "deployments") where route[1] != "validate":
            throw WireError(code: .methodNotAllowed, status: 405, message: "Method Not Allowed", field: nil, details: nil)
        case ("POST", 2, "promotions") where route[1] == "validate":
            return .validatePromotion(try promotionIntent(body))
        case ("POST", 1, "promotions"):
            return .promote(try promotionIntent(body))
        case ("POST", 3, "spinnaker") where route[1] == "webhook" && route[2] == "check":
            return .spinnakerCheck(try spinnakerExecution(body))
        case ("POST", 3, "spinnaker") where route[1] == "webhook" && route[2] == "admit":
            return .spinnakerAdmit(try spinnakerExecution(body))
        case ("POST", 2, "policy") where route[1] == "summary":
            var r = try reader(body)
            let query = PolicySummaryQuery(service: r.string("service"), environment: r.string("environment"), recipeId: r.optionalString("recipeId"))
            try r.check()
            return .policySummary(query)
        case ("POST", 2, "builds") where route[1] == "upload-capability":
            var r = try reader(body)
            let request = BuildUploadRequest(
                service: r.string("service"), version: r.string("version"), expectedSizeBytes: r.int("expectedSizeBytes") ?? 0,
                expectedSha256: r.string("expectedSha256"), contentType: r.string("contentType"))
            try r.check()
            return .uploadCapability(request)
        case ("POST", 1, "builds"):
            return .registerBuild(try buildRegistration(body, artifactRequired: true))
        case ("POST", 2, "builds") where route[1] == "register":
            return .registerExistingBuild(try buildRegistration(body, artifactRequired: false))
        case ("GET", 1, "whoami"): return .read(.whoami)
        case ("GET", 1, "environments"): return .read(.environments)
        case ("GET", 2, "environments"): return .read(.environment(id: try pathId(route[1])))
        case ("POST", 1, "environments"):
            return .changePolicy(.createEnvironment(try environmentChange(body)))
        case ("PATCH", 2, "environments"):
            return .changePolicy(.updateEnvironment(id: try pathId(route[1]), try environmentChange(body)))
        case ("DELETE", 2, "environments"):
            return .changePolicy(.deleteEnvironment(id: try pathId(route[1])))
        case ("GET", 2, "audit") where route[1] == "events":
            func time(_ name: String) throws(WireError) -> Timestamp? {
                guard let text = query[name] else { return nil }
                guard let value = Timestamp(iso8601: text) else { throw WireError.invalid(name, "\(name) must be an ISO-8601 date-time") }
                return value
            }
            let before = try integerQuery(query, "before")
            return .read(.auditEvents(AuditQuery(
                eventType: query["event_type"], deliveryGroupId: query["delivery_group_id"], startTime: try time("start_time"),
                endTime: try time("end_time"), limit: Int(clamping: try integerQuery(query, "limit") ?? 200), before: before.map { UInt64(max(0, $0)) })))
        case ("GET", 3, "services") where route[2] == "delivery-status":
            return .read(.deliveryStatus(service: try pathId(route[1]), environment: try requiredQuery(query, "environment")))
        case ("GET", 3, "services") where route[2] == "running":
            return .read(.runningState(service: try pathId(route[1]), environment: try requiredQuery(query, "environment")))
        case ("GET", 3, "services") where route[2] == "allowed-actions":
            return .read(.allowedActions(service: try pathId(route[1])))
        case ("GET", 2, "insights") where route[1] == "failures":
            return .read(.failureInsights(InsightsQuery(
                windowDays: Int(clamping: try integerQuery(query, "windowDays") ?? 7), groupId: query["groupId"].flatMap { $0.isEmpty ? nil : $0 },
                service: query["service"].flatMap { $0.isEmpty ? nil : $0 })))
        case ("GET", 2, "config") where route[1] == "sanity": return .read(.configSanity)
        case ("GET", 3, "ui") where route[1] == "policy" && route[2] == "ui-exposure": return .read(.uiExposure)
        case ("GET", 3, "admin") where route[1] == "system" && route[2] == "ui-exposure-policy": return .read(.adminUIExposure)
        case ("PUT", 3, "admin") where route[1] == "system" && route[2] == "ui-exposure-policy":
            return .setUIExposure(try uiExposurePolicy(body))
        case ("GET", 2, "spinnaker") where route[1] == "status" || route[1] == "applications",
            ("GET", 4, "spinnaker") where route[1] == "applications" && route[3] == "pipelines",
            ("GET", 4, "admin") where route[1] == "system" && route[2] == "engine-adapters",
            ("PUT", 4, "admin") where route[1] == "system" && route[2] == "engine-adapters",
            ("POST", 5, "admin") where route[1] == "system" && route[2] == "engine-adapters" && route[4] == "validate":
            throw notServed("Engine diagnostics and engine adapter settings are not served: Gate is configured when the service starts "
                + "(docs/CONFIGURATION.md) and its state is read from Spinnaker itself")
        case ("GET", 1, "services"): return .read(.services)
        case ("GET", 3, "services") where route[2] == "versions": return .read(.serviceVersions(service: try pathId(route[1])))
        case ("GET", 1, "delivery-groups"): return .read(.deliveryGroups)
        case ("GET", 2, "delivery-groups"): return .read(.deliveryGroup(id: try pathId(route[1])))
        case ("GET", 1, "recipes"): return .read(.recipes)
        case ("GET", 2, "recipes"): return .read(.recipe(id: try pathId(route[1])))
        case ("GET", 1, "builds"):
            return .read(.build(service: try requiredQuery(query, "service"), version: try requiredQuery(query, "version")))
        case ("GET", 2, "settings") where route[1] == "public": return .read(.publicSettings)
        case ("GET", 2, "settings") where route[1] == "admin": return .read(.adminSettings)
        case ("GET", 3, "admin") where route[1] == "system" && route[2] == "rate-limits": return .read(.rateLimits)
        case ("GET", 3, "admin") where route[1] == "system" && route[2] == "ci-publishers": return .read(.ciPublishers)
        case ("GET", 3, "admin") where route[1] == "system" && route[2] == "mutations-disabled": return .read(.mutationsDisabled)
        case ("POST", 1, "recipes"):
            return .changePolicy(.createRecipe(try recipeChange(body)))
        case ("PUT", 2, "recipes"):
            return .changePolicy(.updateRecipe(id: try pathId(route[1]), try recipeChange(body)))
        case ("DELETE", 3, "admin") where route[1] == "recipes":
            return .changePolicy(.deleteRecipe(id: try pathId(route[2])))
        case ("POST", 1, "delivery-groups"):
            return .changePolicy(.createDeliveryGroup(try groupChange(body)))
        case ("PUT", 2, "delivery-groups"):
            return .changePolicy(.updateDeliveryGroup(id: try pathId(route[1]), try groupChange(body)))
        case ("GET", 4, "admin") where route[1] == "services" && route[3] == "environments":
            return .read(.serviceRoutes(service: try pathId(route[2])))
        case ("GET", 4, "admin") where route[1] == "delivery-groups" && route[3] == "environments":
            return .read(.groupBindings(group: try pathId(route[2])))
        case ("PUT", 5, "admin") where route[1] == "services" && route[3] == "environments",
            ("PATCH", 5, "admin") where route[1] == "services" && route[3] == "environments":
            var r = try reader(body)
            let recipeId = r.optionalString("recipe_id")
            try r.check()
            return .changePolicy(.setRoute(service: try pathId(route[2]), environment: try pathId(route[4]), recipeId: recipeId))
        case ("PUT", 5, "admin") where route[1] == "delivery-groups" && route[3] == "environments",
            ("PATCH", 5, "admin") where route[1] == "delivery-groups" && route[3] == "environments":
            var r = try reader(body)
            let enabled = r.bool("is_enabled") ?? true
            let order = r.int("order_index") ?? 0
            try r.check()
            return .changePolicy(.setBinding(
                group: try pathId(route[2]), environment: try pathId(route[4]), isEnabled: enabled, orderIndex: Int(clamping: order)))
        case ("PUT", 3, "admin") where route[1] == "system" && route[2] == "rate-limits":
            var r = try reader(body)
            let change = RateLimitsChange(
                readRPM: Int(clamping: r.int("read_rpm") ?? 0), mutateRPM: Int(clamping: r.int("mutate_rpm") ?? 0),
                dailyQuotaBuildRegister: Int(clamping: r.int("daily_quota_build_register") ?? 0))
            try r.check()
            return .setRateLimits(change)
        case ("PUT", 3, "admin") where route[1] == "system" && route[2] == "ci-publishers":
            return .setCIPublishers(try publishers(body))
        case ("PUT", 3, "admin") where route[1] == "system" && route[2] == "mutations-disabled",
            ("PATCH", 3, "admin") where route[1] == "system" && route[2] == "mutations-disabled":
            var r = try reader(body)
            let change = KillSwitchChange(mutationsDisabled: r.bool("mutations_disabled") ?? false, reason: r.optionalString("reason", maxLength: 1000))
            try r.check()
            return .setMutationsDisabled(change)
        default:
            throw notFound()
        }
    }

    /// The non-empty segments of `path` between slashes, split on its bytes (a slash is never
    /// part of another character) and kept as substrings: routing makes no string per segment.
    static func segments(of path: String) -> [Substring] {
        var segments: [Substring] = []
        segments.reserveCapacity(6)
        let bytes = path.utf8
        var start = bytes.startIndex
        var index = start
        while index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "/") {
                if start < index { segments.append(path[start..<index]) }
                start = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
        if start < bytes.endIndex { segments.append(path[start...]) }
        return segments
    }

    static func notFound() -> WireError {
        WireError(code: .routeNotFound, status: 404, message: "Not Found", field: nil, details: nil)
    }

    /// A path id: 1...128 characters of letters, digits, `-`, `_` and `.` (service names, record
    /// and object ids).
    static func pathId(_ text: Substring) throws(WireError) -> String {
        let id = String(text)
        guard PolicyBounds.isValidId(id) else { throw WireError.invalid("id", "The id in the path must be \(PolicyBounds.idRule)") }
        return id
    }

    static func reader(_ body: [UInt8]) throws(WireError) -> FieldReader {
        try reader(Body.raw(body))
    }

    static func reader(_ body: Body) throws(WireError) -> FieldReader {
        let json: JSON
        do {
            json = try body.json()
        } catch {
            throw WireError.invalid(nil, "Request body is not valid JSON: \(error.reason) at byte \(error.offset)")
        }
        guard case .object = json else { throw WireError.invalid(nil, "Request body must be a JSON object, not \(json.typeName)") }
        return FieldReader(json)
    }

    static func deploymentIntent(_ body: Body) throws(WireError) -> DeploymentIntent {
        var r = try reader(body)
        let intent = DeploymentIntent(
            service: r.string("service"), environment: r.string("environment"), version: r.string("version"),
            changeSummary: r.string("changeSummary", maxLength: 240), recipeId: r.optionalString("recipeId"))
        try r.check()
        return intent
    }

    /// An endpoint of the reference that is deliberately not served (DECISIONS 65): 501 in the
    /// envelope, saying why.
    static func notServed(_ why: String) -> WireError {
        WireError(code: .notServed, status: 501, message: why, field: nil, details: ["not_served": .bool(true)])
    }

    /// An integer query parameter, or nil when absent.
    static func integerQuery(_ query: [String: String], _ name: String) throws(WireError) -> Int64? {
        guard let text = query[name] else { return nil }
        guard let value = Int64(text) else { throw WireError.invalid(name, "\(name) must be an integer") }
        return value
    }

    /// A query parameter that must be present and non-empty.
    static func requiredQuery(_ query: [String: String], _ name: String) throws(WireError) -> String {
        guard let value = query[name], !value.isEmpty else { throw WireError.invalid(name, "\(name) is required") }
        return value
    }

    /// The UI exposure policy (REFERENCE §2.9): `artifactRef` and `externalLinks`, each an
    /// object with a boolean `display` (absent or null: hidden); other members are ignored.
    static func uiExposurePolicy(_ body: Body) throws(WireError) -> UIExposurePolicy {
        let r = try reader(body)
        func display(_ name: String) throws(WireError) -> Bool {
            switch r.object[name] {
            case nil, .null?: return false
            case .object(let members)?:
                switch members.last(where: { $0.0 == "display" })?.1 {
                case nil: return false
                case .bool(let value)?: return value
                default: throw WireError.invalid("\(name).display", "\(name).display must be a boolean")
                }
            default: throw WireError.invalid(name, "\(name) must be an object")
            }
        }
        return UIExposurePolicy(artifactRefDisplay: try display("artifactRef"), externalLinksDisplay: try display("externalLinks"))
    }

    static func promotionIntent(_ body: Body) throws(WireError) -> PromotionIntent {
        var r = try reader(body)
        let intent = PromotionIntent(
            service: r.string("service"), sourceEnvironment: r.string("source_environment"),
            targetEnvironment: r.string("target_environment"), version: r.string("version"),
            changeSummary: r.string("changeSummary", maxLength: 240))
        try r.check()
        return intent
    }

    /// The body a Spinnaker Webhook stage sends (docs/integrations/spinnaker.md).
    static func spinnakerExecution(_ body: Body) throws(WireError) -> SpinnakerExecution {
        var r = try reader(body)
        let execution = SpinnakerExecution(
            application: r.string("application", maxLength: 256), pipeline: r.string("pipeline", maxLength: 256),
            executionId: r.string("executionId", maxLength: 128), user: r.string("user", maxLength: 320),
            service: r.string("service", maxLength: 256), environment: r.string("environment", maxLength: 256),
            version: r.string("version", maxLength: 128), changeSummary: r.optionalString("changeSummary", maxLength: 240) ?? "",
            dxcpDeploymentId: r.optionalString("dxcpDeploymentId", maxLength: 128).flatMap { $0.isEmpty ? nil : $0 })
        try r.check()
        return execution
    }

    static func buildRegistration(_ body: Body, artifactRequired: Bool) throws(WireError) -> BuildRegistration {
        let json: JSON
        do {
            json = try body.json()
        } catch {
            throw WireError(
                code: .invalidBuildRegistration, status: 400, message: "Request body is not valid JSON", field: nil,
                details: ["missing_fields": .array([]), "invalid_fields": .array([])])
        }
        guard case .object = json else {
            throw WireError(
                code: .invalidBuildRegistration, status: 400, message: "Request body must be a JSON object", field: nil,
                details: ["missing_fields": .array([]), "invalid_fields": .array([])])
        }
        var r = FieldReader(json)
        let registration = BuildRegistration(
            service: r.string("service"), version: r.string("version"), artifactRef: r.string("artifactRef"),
            gitSha: r.string("git_sha"), gitBranch: r.string("git_branch"), ciProvider: r.string("ci_provider"),
            ciRunId: r.string("ci_run_id"), builtAt: r.string("built_at"),
            sha256: r.optionalString("sha256", required: artifactRequired), sizeBytes: r.int("sizeBytes", required: artifactRequired),
            contentType: r.optionalString("contentType", required: artifactRequired),
            checksumSha256: r.optionalString("checksum_sha256"), repo: r.optionalString("repo"), actor: r.optionalString("actor"),
            commitURL: r.optionalString("commit_url"), runURL: r.optionalString("run_url"))
        try r.checkBuildRegistration()
        return registration
    }

    static func recipeChange(_ body: Body) throws(WireError) -> RecipeChange {
        var r = try reader(body)
        let change = RecipeChange(
            id: r.optionalString("id"), name: r.optionalString("name"), description: r.optionalString("description"),
            spinnakerApplication: r.optionalString("spinnaker_application"), deployPipeline: r.optionalString("deploy_pipeline"),
            rollbackPipeline: r.optionalString("rollback_pipeline"), effectiveBehaviorSummary: r.optionalString("effective_behavior_summary"),
            status: r.optionalString("status"), changeReason: r.optionalString("change_reason"))
        try r.check()
        return change
    }

    /// An environment create or update: `id`, `display_name` (or `name`), `type`,
    /// `lifecycle_state`, `change_reason`.
    static func environmentChange(_ body: Body) throws(WireError) -> EnvironmentChange {
        var r = try reader(body)
        let displayName = r.optionalString("display_name", maxLength: 1000)
        let name = r.optionalString("name", maxLength: 1000)
        let change = EnvironmentChange(
            id: r.optionalString("id"), displayName: displayName ?? name, type: r.optionalString("type"),
            lifecycleState: r.optionalString("lifecycle_state"), changeReason: r.optionalString("change_reason", maxLength: 1000))
        try r.check()
        return change
    }

    static func groupChange(_ body: Body) throws(WireError) -> DeliveryGroupChange {
        var r = try reader(body)
        let owners: [String]
        switch r.object["owner"] {
        case .string(let text)?: owners = text.split(separator: ",").map { String($0) }.filter { !$0.allSatisfy(\.isWhitespace) }
        case .array?: owners = r.strings("owner")
        default: owners = []
        }
        var guardrails: (Int?, Int?, Int?) = (nil, nil, nil)
        if case .object? = r.object["guardrails"] {
            var g = FieldReader(r.object["guardrails"] ?? .null)
            guardrails = (
                g.int("max_concurrent_deployments", required: false).map { Int(clamping: $0) },
                g.int("daily_deploy_quota", required: false).map { Int(clamping: $0) },
                g.int("daily_rollback_quota", required: false).map { Int(clamping: $0) })
            if let problem = g.firstProblem { throw WireError.invalid("guardrails.\(problem.field)", problem.message) }
        }
        let environments: [String]? = r.object["allowed_environments"].map { _ in r.strings("allowed_environments") }
        let change = DeliveryGroupChange(
            id: r.optionalString("id"), name: r.optionalString("name"), description: r.optionalString("description"), owners: owners,
            services: r.strings("services"), allowedEnvironments: environments, allowedRecipes: r.strings("allowed_recipes"),
            maxConcurrentDeployments: guardrails.0, dailyDeployQuota: guardrails.1, dailyRollbackQuota: guardrails.2,
            changeReason: r.optionalString("change_reason"))
        try r.check()
        return change
    }

    static func publishers(_ body: Body) throws(WireError) -> [CIPublisher] {
        let r = try reader(body)
        guard case .array(let items)? = r.object["publishers"] else {
            throw WireError.invalid("publishers", "publishers must be a list of publisher objects")
        }
        var out: [CIPublisher] = []
        for (index, item) in items.enumerated() { out.append(try publisher(item, field: "publishers[\(index)]")) }
        return out
    }

    /// One CI publisher object (REFERENCE §1.2); `field` names it in errors.
    static func publisher(_ item: JSON, field: String) throws(WireError) -> CIPublisher {
        guard case .object = item else { throw WireError.invalid(field, "each publisher must be an object") }
        var p = FieldReader(item)
        let providerText = p.optionalString("provider") ?? "custom"
        guard let provider = CIPublisher.Provider(rawValue: providerText) else {
            throw WireError.invalid("\(field).provider", "provider must be github, jenkins, spinnaker or custom")
        }
        let publisher = CIPublisher(
            name: p.string("name"), provider: provider, issuers: p.strings("issuers"), audiences: p.strings("audiences"),
            authorizedParties: p.strings("authorized_party_azp"), subjects: p.strings("subjects"),
            subjectPrefixes: p.strings("subject_prefixes"), emails: p.strings("emails"),
            description: p.optionalString("description"), owner: p.optionalString("owner"))
        if let problem = p.firstProblem { throw WireError.invalid("\(field).\(problem.field)", problem.message) }
        return publisher
    }
}

/// Reads verified token claims (a JSON object) into ``Claims`` (REFERENCE §1).
public enum WireClaims {
    /// The default roles claim name.
    public static let defaultRolesClaim = "https://dxcp.example/claims/roles"
    /// The custom email claim name.
    public static let emailClaim = "https://dxcp.example/claims/email"

    /// Claims from a decoded payload; non-string values of string claims count as absent.
    public static func claims(_ payload: JSON, rolesClaim: String = defaultRolesClaim) -> Claims {
        func text(_ key: String) -> String? {
            if case .string(let s)? = payload[key] { return s }
            return nil
        }
        let audiences: [String] = switch payload["aud"] {
        case .string(let s)?: [s]
        case .array(let items)?: items.compactMap { if case .string(let s) = $0 { s } else { nil } }
        default: []
        }
        let roles: Claims.RolesClaim = switch payload[rolesClaim] {
        case nil, .null?: .absent
        case .array(let items)?: .values(items.compactMap { if case .string(let s) = $0 { s } else { nil } })
        default: .notAnArray
        }
        return Claims(
            subject: text("sub"), email: text("email"), customEmail: text(emailClaim), issuer: text("iss"),
            audiences: audiences, authorizedParty: text("azp"), roles: roles)
    }
}

extension Suite {
    /// Step R: roles and claims (REFERENCE §1, §2.1, §3.1).
    func stepR() async {
        recorder.step = "R"
        await recorder.check("roles.claims_sanity", .contract, "§1.2", "each token's roles claim holds its identity's DXCP role") {
            var seen: [String] = []
            for identity in Identity.allCases {
                guard let token = api.tokens[identity] else {
                    if identity == .nonMemberOwner { continue }
                    throw CannotRun("no \(identity.label) identity (\(identity.environmentVariable) or --mint-key)")
                }
                guard let claims = TokenClaims.decode(token) else { throw CheckFailure("the \(identity.label) token is not a JWT") }
                let roles = claims[settings.rolesClaim]?.array?.compactMap(\.string) ?? []
                try require(roles.contains(identity.roleValue),
                    "the \(identity.label) token's \(settings.rolesClaim) is \(roles), expected it to contain \(identity.roleValue)")
                seen.append("\(identity.rawValue):\(identity.roleValue)")
            }
            return seen.joined(separator: " ")
        }
        await recorder.check("roles.unauthenticated_refused", .contract, "§1.1 §3.1 §13.1",
            "no token or a bad token is 401 UNAUTHORIZED in the error envelope, echoing X-Request-Id") {
            let none = try await api.get("/v1/whoami", as: nil).expect(401, "UNAUTHORIZED", "whoami without a token")
            try await api.send("GET", "/v1/whoami", as: nil, rawToken: "not-a-jwt").expect(401, "UNAUTHORIZED", "whoami with a malformed token")
            try await api.post("/v1/deployments/validate", as: nil, intent("0.0.1")).expect(401, "UNAUTHORIZED", "validate without a token")
            let envelope = try none.object("401 body")
            for field in ["code", "error_code", "failure_cause", "message", "request_id"] {
                try require(envelope[field]?.string != nil, "the 401 envelope lacks `\(field)`: \(envelope.text)")
            }
            try require(envelope["error_code"] == envelope["code"], "error_code differs from code: \(envelope.text)")
            try require(["USER_ERROR", "POLICY_CHANGE", "UNKNOWN"].contains(envelope["failure_cause"]?.string ?? ""),
                "failure_cause is not USER_ERROR, POLICY_CHANGE or UNKNOWN: \(envelope.text)")
            try require(envelope["request_id"]?.string == none.requestId, "request_id \(envelope["request_id"]?.text ?? "-") is not the X-Request-Id sent (\(none.requestId))")
            try require(none.header("X-Request-Id") == none.requestId, "the X-Request-Id header is not echoed (\(none.header("X-Request-Id") ?? "absent"))")
            return "401 UNAUTHORIZED with the envelope and the request id echoed"
        }
        await recorder.check("roles.admin_reads_ci_publishers", .contract, "§2.7", "a platform admin reads the CI publisher allowlist") {
            let json = try await api.get("/v1/admin/system/ci-publishers", as: .admin).expect(200, nil, "admin GET ci-publishers").object("ci-publishers")
            guard let publishers = json["publishers"], publishers.array != nil else { throw CheckFailure("no `publishers` array: \(json.text.prefix(200))") }
            originalPublishers = publishers
            return "\(publishers.array?.count ?? 0) publishers"
        }
        await recorder.check("roles.non_admin_cannot_change_ci_publishers", .contract, "§2.1 §4.5",
            "owner and observer PUT ci-publishers → 403 ROLE_FORBIDDEN") {
            for identity in [Identity.owner, .observer] {
                try await api.put("/v1/admin/system/ci-publishers", as: identity, ["publishers": []])
                    .expect(403, "ROLE_FORBIDDEN", "PUT ci-publishers as \(identity.label)")
            }
            return "both 403 ROLE_FORBIDDEN"
        }
        await recorder.check("roles.observer_cannot_validate_or_deploy", .contract, "§2.1 §4.1 §4.2",
            "an observer's validate and deploy → 403 ROLE_FORBIDDEN") {
            let version = try runVersions().unregistered
            try await api.post("/v1/deployments/validate", as: .observer, intent(version)).expect(403, "ROLE_FORBIDDEN", "observer validate")
            try await api.post("/v1/deployments", as: .observer, intent(version), key: key("r-observer-deploy"))
                .expect(403, "ROLE_FORBIDDEN", "observer deploy")
            return "both 403 ROLE_FORBIDDEN"
        }
        await recorder.check("roles.owner_unregistered_version", .contract, "§4.1 §4.2",
            "the owner's validate and deploy of an unregistered version → 400 VERSION_NOT_FOUND") {
            let version = try runVersions().unregistered
            try await api.post("/v1/deployments/validate", as: .owner, intent(version)).expect(400, "VERSION_NOT_FOUND", "owner validate \(version)")
            try await api.post("/v1/deployments", as: .owner, intent(version), key: key("r-owner-deploy"))
                .expect(400, "VERSION_NOT_FOUND", "owner deploy \(version)")
            return "both 400 VERSION_NOT_FOUND"
        }
        await recorder.check("roles.observer_reads", .contract, "§2.1 §2.9", "an observer reads versions, the deployment list and a deployment") {
            try await api.get("/v1/services/\(settings.service.urlEncoded)/versions", as: .observer).expect(200, nil, "observer versions")
            let list = try await api.get(deploymentsQuery, as: .observer).expect(200, nil, "observer deployment list").array("deployment list")
            if let first = list.first?["id"]?.string {
                try await api.get("/v1/deployments/\(first.urlEncoded)", as: .observer).expect(200, nil, "observer GET deployment \(first)")
                return "\(list.count) deployments listed; \(first) read"
            }
            return "no deployments listed yet"
        }
    }

    /// `GET /v1/deployments` of the run's service and environment.
    var deploymentsQuery: String {
        "/v1/deployments?service=\(settings.service.urlEncoded)&environment=\(settings.environment.urlEncoded)"
    }
}

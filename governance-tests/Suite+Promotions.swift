extension Suite {
    /// Step P: promotions' first refusals and the reads the reference's UI and Backstage
    /// integration call (REFERENCE §2.8–§2.10). Changes nothing: every promotion probed is refused
    /// before it could be admitted.
    func stepP() async {
        recorder.step = "P"
        let service = settings.service, environment = settings.environment
        func promotion(to target: String, version: String) -> JSON {
            [
                "service": .string(service), "source_environment": .string(environment), "target_environment": .string(target),
                "version": .string(version), "changeSummary": "governance-tests promotion probe",
            ]
        }
        await recorder.check("promotion.same_environment", .contract, "§2.10",
            "a promotion validate from an environment to itself → 400 PROMOTION_TARGET_REQUIRED") {
            let body = promotion(to: environment, version: try runVersions().run)
            try await api.post("/v1/promotions/validate", as: .owner, body).expect(400, "PROMOTION_TARGET_REQUIRED", "promotion validate to itself")
            return "400 PROMOTION_TARGET_REQUIRED"
        }
        await recorder.check("promotion.key_required", .contract, "§2.10 §6",
            "a promotion without or with an empty Idempotency-Key → 400 IDMP_KEY_REQUIRED") {
            let body = promotion(to: environment, version: try runVersions().run)
            try await api.post("/v1/promotions", as: .owner, body).expect(400, "IDMP_KEY_REQUIRED", "promotion without a key")
            try await api.post("/v1/promotions", as: .owner, body, key: "").expect(400, "IDMP_KEY_REQUIRED", "promotion with an empty key")
            return "both 400 IDMP_KEY_REQUIRED"
        }
        await recorder.check("delivery.status", .contract, "§2.9",
            "delivery-status of the run's service and environment: its fields, and the newest deployment once one exists") {
            let path = "/v1/services/\(service.urlEncoded)/delivery-status?environment=\(environment.urlEncoded)"
            let status = try await api.get(path, as: .observer).expect(200, nil, "delivery-status").object("delivery status")
            for field in ["service", "environment", "hasDeployments", "latest", "currentRunning", "promotionCandidate"] {
                try require(status[field] != nil, "delivery-status has no \(field): \(status.text.prefix(300))")
            }
            guard deployment != nil else { return "fields present (no deployment of the run)" }
            try require(status["hasDeployments"]?.bool == true, "hasDeployments is \(status["hasDeployments"]?.text ?? "-") after the run deployed")
            try require(status["latest"]?["id"]?.string?.isEmpty == false, "latest has no id: \(status["latest"]?.text ?? "-")")
            try await api.get("/v1/services/\(service.urlEncoded)/running", as: .observer).expect(400, "INVALID_REQUEST", "running without an environment")
            return "hasDeployments true; latest \(status["latest"]?["id"]?.string ?? "")"
        }
        await recorder.check("delivery.allowed_actions", .contract, "§2.9",
            "allowed-actions: an observer may view only; the member owner may deploy and roll back") {
            let path = "/v1/services/\(service.urlEncoded)/allowed-actions"
            let observer = try await api.get(path, as: .observer).expect(200, nil, "observer's allowed-actions").object("allowed actions")
            let seen = observer["actions"]
            try require(seen?["view"]?.bool == true && seen?["deploy"]?.bool == false && seen?["rollback"]?.bool == false,
                "the observer's actions are \(seen?.text ?? "-")")
            let owner = try await api.get(path, as: .owner).expect(200, nil, "owner's allowed-actions").object("allowed actions")
            try require(owner["actions"]?["deploy"]?.bool == true && owner["actions"]?["rollback"]?.bool == true,
                "the owner's actions are \(owner["actions"]?.text ?? "-")")
            return "observer view only; owner deploys and rolls back"
        }
        await recorder.check("insights.window", .contract, "§2.9 §3.2",
            "failure insights: windowDays 1…30 (else 400 INVALID_REQUEST) and the reference's fields") {
            for bad in ["0", "31"] {
                try await api.get("/v1/insights/failures?windowDays=\(bad)", as: .observer).expect(400, "INVALID_REQUEST", "windowDays=\(bad)")
            }
            let insights = try await api.get("/v1/insights/failures?windowDays=7", as: .observer).expect(200, nil, "insights").object("insights")
            for field in ["windowDays", "windowStart", "windowEnd", "totalDeployments", "totalRollbacks", "rollbackRate", "failuresByCategory",
                "deploymentsByRecipe", "deploymentsByGroup"] {
                try require(insights[field] != nil, "insights have no \(field): \(insights.text.prefix(300))")
            }
            try require(insights["windowDays"]?.int == 7, "windowDays is \(insights["windowDays"]?.text ?? "-")")
            return "400 outside 1…30; fields present"
        }
        await recorder.check("admin.object_shapes", .diagnostic, "§2.8",
            "admin objects carry the reference's stamps and engine_type; routing rows name service_id") {
            guard let recipe = routedRecipe else { throw CannotRun("the routed recipe is not known") }
            let object = try await api.get("/v1/recipes/\(recipe.urlEncoded)", as: .admin).expect(200, nil, "recipe \(recipe)").object("recipe")
            try require(object["engine_type"]?.string == "SPINNAKER", "engine_type is \(object["engine_type"]?.text ?? "absent")")
            for field in ["created_at", "created_by", "updated_at", "updated_by", "last_change_reason", "recipe_revision"] {
                try require(object[field] != nil, "recipe \(recipe) has no \(field)")
            }
            let group = try await api.get("/v1/delivery-groups/\(settings.deliveryGroup.urlEncoded)", as: .admin)
                .expect(200, nil, "delivery group").object("delivery group")
            for field in ["created_at", "created_by", "updated_at", "updated_by", "last_change_reason"] {
                try require(group[field] != nil, "delivery group has no \(field)")
            }
            let rows = try await api.get("/v1/admin/services/\(service.urlEncoded)/environments", as: .admin).expect(200, nil, "routing").array("routing")
            let row = rows.first { $0["environment_id"]?.string == environment }
            try require(row?["service_id"]?.string == service, "the routing row of \(environment) is \(row?.text ?? "absent")")
            return "stamps, engine_type and service_id present"
        }
    }
}

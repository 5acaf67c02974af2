import Foundation

extension Suite {
    /// Makes sure a rollback of the step F deployment has a version to restore: the newest
    /// SUCCEEDED deployment of the service and environment, or one the suite deploys now.
    func prepareRestorePoint() async {
        recorder.step = "prep"
        await recorder.check("prep.restore_point", .contract, "§9", "a SUCCEEDED deployment exists to roll back to (deployed now when missing)") {
            let versions = try runVersions()
            let list = try await api.get(deploymentsQuery, as: .admin).expect(200, nil, "deployment list").array("deployment list")
            if let existing = list.first(where: { $0["state"]?.string == "SUCCEEDED" }) {
                return "restore point: \(existing["version"]?.string ?? "?") (\(existing["id"]?.string ?? "?"))"
            }
            guard recorder.result("allowlist.ci_publisher_added")?.status == .passed else { throw CannotRun("allowlist.ci_publisher_added did not pass") }
            try await api.post("/v1/builds/register", as: .ci, registration(versions.baseline, sha: "ba5e0001"), key: key("prep-register"))
                .expect(201, nil, "register the baseline \(versions.baseline)")
            let reply = try await api.post("/v1/deployments", as: .owner, intent(versions.baseline, summary: "baseline"), key: key("prep-deploy"))
            try requireEngine(reply)
            let record = try reply.expect(201, nil, "deploy the baseline \(versions.baseline)").object("baseline deployment")
            let id = record["id"]?.string ?? ""
            let final = try await waitTerminal(id)
            try require(final["state"]?.string == "SUCCEEDED", "the baseline deployment \(id) ended \(final["state"]?.string ?? "?")")
            return "deployed baseline \(versions.baseline) (\(id))"
        }
    }

    /// Step E, ported to routed recipes (REFERENCE §4.1, §15.1, DECISIONS D3).
    func stepE() async {
        await inStep("E") {
            await recorder.check("deploy.validate_unregistered", .contract, "§4.1", "validate of an unregistered version → 400 VERSION_NOT_FOUND") {
                try await api.post("/v1/deployments/validate", as: .owner, intent(try runVersions().unregistered))
                    .expect(400, "VERSION_NOT_FOUND", "validate unregistered")
                return "400 VERSION_NOT_FOUND"
            }
            await recorder.check("deploy.key_required", .contract, "§6", "deploy without or with an empty Idempotency-Key → 400 IDMP_KEY_REQUIRED") {
                let body = intent(try runVersions().run)
                try await api.post("/v1/deployments", as: .owner, body).expect(400, "IDMP_KEY_REQUIRED", "deploy without a key")
                try await api.post("/v1/deployments", as: .owner, body, key: "").expect(400, "IDMP_KEY_REQUIRED", "deploy with an empty key")
                return "both 400 IDMP_KEY_REQUIRED"
            }
            await recorder.check("deploy.unregistered_refused", .contract, "§4.2", "deploy of an unregistered version → 400 VERSION_NOT_FOUND") {
                try await api.post("/v1/deployments", as: .owner, intent(try runVersions().unregistered), key: key("e-unregistered"))
                    .expect(400, "VERSION_NOT_FOUND", "deploy unregistered")
                return "400 VERSION_NOT_FOUND"
            }
            await routedRecipeChecks()
        }
    }

    /// The routed variant of step E: a temporary recipe routed to the service is refused as
    /// incompatible (registry) while the group allows it, as not allowed once the group does
    /// not, and a request naming a recipe other than the routed one is a mismatch.
    func routedRecipeChecks() async {
        let recipe = "gt-\(settings.runId.suffix(12).lowercased())"
        let groupPath = "/v1/delivery-groups/\(settings.deliveryGroup.urlEncoded)"
        let routePath = "/v1/admin/services/\(settings.service.urlEncoded)/environments/\(settings.environment.urlEncoded)"
        var routed = false
        await recorder.check("deploy.routed_recipe_incompatible", .contract, "§4.1 §15.1",
            "a routed recipe the group allows but the service registry does not → validate 400 RECIPE_INCOMPATIBLE") {
            let version = try runVersions().run
            guard runVersionRegistered else { throw CannotRun("builds.register_created did not pass") }
            guard let group = runGroup, let original = routedRecipe else { throw CannotRun("setup did not read the group and routing") }
            let created = try await adminChange("POST", "/v1/recipes", temporaryRecipe([
                "id": .string(recipe), "name": .string("governance-tests \(settings.runId)"), "deploy_pipeline": "governance-tests-never-run",
                "effective_behavior_summary": .string("Temporary recipe of governance-tests run \(settings.runId)."), "status": "active",
            ]), target: recipe)
            guard [200, 201].contains(created.status) || created.code == "RECIPE_EXISTS" else {
                throw CheckFailure("create a temporary recipe: expected 200 (or 409 RECIPE_EXISTS), got \(created.outcome)")
            }
            restores.push("temporary_recipe") { [self] in
                let reply = try await adminChange("DELETE", "/v1/admin/recipes/\(recipe.urlEncoded)", nil, target: recipe)
                try require([204, 200, 404].contains(reply.status), "delete the temporary recipe \(recipe): \(reply.outcome)")
            }
            let allowed = (group["allowed_recipes"]?.array ?? []) + [.string(recipe)]
            try await adminChange("PUT", groupPath, group.setting("allowed_recipes", .array(allowed)), target: settings.deliveryGroup)
                .expect(200, nil, "allow the temporary recipe in the group")
            restores.push("group_allowed_recipes") { [self] in
                try await adminChange("PUT", groupPath, group, target: settings.deliveryGroup).expect(200, nil, "restore the group")
            }
            try await adminChange("PUT", routePath, ["recipe_id": .string(recipe)], target: "\(settings.service)/\(settings.environment)")
                .expect(200, nil, "route the temporary recipe")
            restores.push("routing") { [self] in
                try await adminChange("PUT", routePath, ["recipe_id": .string(original)], target: "\(settings.service)/\(settings.environment)")
                    .expect(200, nil, "restore the routing")
            }
            routed = true
            try await api.post("/v1/deployments/validate", as: .owner, intent(version)).expect(400, "RECIPE_INCOMPATIBLE", "validate with the temporary recipe routed")
            return "400 RECIPE_INCOMPATIBLE"
        }
        await recorder.check("deploy.routed_recipe_not_allowed", .contract, "§4.1 §15.1",
            "a routed recipe the group does not allow → validate 403 RECIPE_NOT_ALLOWED") {
            guard routed, let group = runGroup else { throw CannotRun("deploy.routed_recipe_incompatible did not set up the routing") }
            try await adminChange("PUT", groupPath, group, target: settings.deliveryGroup).expect(200, nil, "take the recipe out of the group")
            try await api.post("/v1/deployments/validate", as: .owner, intent(try runVersions().run))
                .expect(403, "RECIPE_NOT_ALLOWED", "validate with a routed recipe the group does not allow")
            return "403 RECIPE_NOT_ALLOWED"
        }
        await recorder.check("deploy.recipe_id_mismatch", .contract, "§4.1 §4.2 §15.1",
            "a request recipeId other than the routed recipe → 400 RECIPE_ID_MISMATCH on validate and deploy") {
            guard routed, let original = routedRecipe else { throw CannotRun("deploy.routed_recipe_incompatible did not set up the routing") }
            try await adminChange("PUT", routePath, ["recipe_id": .string(original)], target: "\(settings.service)/\(settings.environment)")
                .expect(200, nil, "restore the routing")
            let version = try runVersions().run
            try await api.post("/v1/deployments/validate", as: .owner, intent(version, recipeId: recipe))
                .expect(400, "RECIPE_ID_MISMATCH", "validate naming the temporary recipe")
            try await api.post("/v1/deployments", as: .owner, intent(version, recipeId: recipe), key: key("e-mismatch"))
                .expect(400, "RECIPE_ID_MISMATCH", "deploy naming the temporary recipe")
            try await api.post("/v1/deployments/validate", as: .owner, intent(version, recipeId: original))
                .expect(200, nil, "validate naming the routed recipe")
            return "400 RECIPE_ID_MISMATCH; the routed recipe validates"
        }
    }

    /// Step F: validate, deploy, replay, conflict, reads and the terminal state (REFERENCE §2.3, §2.4, §1.4, §6, §7).
    func stepF() async {
        recorder.step = "F"
        await recorder.check("deploy.validate_ok", .contract, "§2.3", "validate of the registered run version: 200, versionRegistered, six numeric policy figures") {
            guard runVersionRegistered else { throw CannotRun("builds.register_created did not pass") }
            let json = try await api.post("/v1/deployments/validate", as: .owner, intent(try runVersions().run)).expect(200, nil, "validate").object("validation")
            try require(json["versionRegistered"]?.bool == true, "versionRegistered is \(json["versionRegistered"]?.text ?? "absent")")
            let missing = Self.nonNumeric(json["policy"], Self.policyFigures)
            try require(missing.isEmpty, "policy figures not numeric: \(missing) in \(json["policy"]?.text ?? "no policy")")
            try require(json["recipeId"]?.string == routedRecipe, "recipeId \(json["recipeId"]?.text ?? "-") is not the routed \(routedRecipe ?? "-")")
            return "200 versionRegistered=true"
        }
        await recorder.check("deploy.created", .contract, "§2.4 §4.2 §8.1", "deploy: 201 IN_PROGRESS ROLL_FORWARD record, Idempotency-Replayed: false") {
            guard runVersionRegistered else { throw CannotRun("builds.register_created did not pass") }
            let version = try runVersions().run
            let reply = try await api.post("/v1/deployments", as: .owner, intent(version), key: key("f-deploy"))
            try requireEngine(reply)
            let record = try reply.expect(201, nil, "deploy \(version)").object("deployment")
            try require(reply.header("Idempotency-Replayed").map { $0 == "false" } ?? true, "Idempotency-Replayed: \(reply.header("Idempotency-Replayed") ?? "")")
            try Self.expectFields(record, ["service": .string(settings.service), "environment": .string(settings.environment),
                "version": .string(version), "deploymentKind": "ROLL_FORWARD", "rollbackOf": .null], "the new deployment")
            try require(["IN_PROGRESS", "ACTIVE", "PENDING"].contains(record["state"]?.string ?? ""), "state \(record["state"]?.text ?? "-")")
            try require(!(record["id"]?.string ?? "").isEmpty, "no id")
            deployment = record
            return "deployment \(record["id"]?.string ?? "")"
        }
        await recorder.check("idempotency.deploy_replay", .contract, "§6", "deploy with the same key and body: 201, Idempotency-Replayed: true, the same record") {
            guard let first = deployment else { throw CannotRun("deploy.created did not pass") }
            let reply = try await api.post("/v1/deployments", as: .owner, intent(try runVersions().run), key: key("f-deploy")).expect(201, nil, "replay")
            try require(reply.header("Idempotency-Replayed") == "true", "Idempotency-Replayed is \(reply.header("Idempotency-Replayed") ?? "absent")")
            try require(reply.json?["id"] == first["id"], "the replay returned deployment \(reply.json?["id"]?.text ?? "-"), not \(first["id"]?.text ?? "-")")
            return "replayed"
        }
        await recorder.check("idempotency.deploy_conflict", .contract, "§6 §3.2", "deploy with the same key and another body → 409 IDEMPOTENCY_CONFLICT") {
            guard deployment != nil else { throw CannotRun("deploy.created did not pass") }
            try await api.post("/v1/deployments", as: .owner, intent(try runVersions().run, summary: "conflicting"), key: key("f-deploy"))
                .expect(409, "IDEMPOTENCY_CONFLICT", "same key, another changeSummary")
            return "409 IDEMPOTENCY_CONFLICT"
        }
        await readScopeChecks()
        await recorder.check("deploy.succeeded", .contract, "§7 §10.3", "the deployment reaches SUCCEEDED within --deploy-timeout") {
            guard let id = deployment?["id"]?.string else { throw CannotRun("deploy.created did not pass") }
            let final = try await waitTerminal(id)
            deploymentFinal = final
            guard final["state"]?.string == "SUCCEEDED" else {
                let failures = try? await api.get("/v1/deployments/\(id.urlEncoded)/failures", as: .admin).json
                throw CheckFailure("deployment \(id) ended \(final["state"]?.string ?? "?"); failures: \(failures?.text.prefix(300) ?? "-")")
            }
            return "SUCCEEDED"
        }
    }

    /// Who may read the step F deployment (REFERENCE §1.4, DECISIONS D7).
    func readScopeChecks() async {
        await recorder.check("reads.member_reads_record", .contract, "§1.4 §8.1",
            "the owner and an observer read the deployment; only the admin view carries the engine execution") {
            guard let id = deployment?["id"]?.string else { throw CannotRun("deploy.created did not pass") }
            for identity in [Identity.owner, .observer] {
                let json = try await readDeployment(id, as: identity)
                try require(json["engineExecutionId"] == nil, "the \(identity.label) view carries engineExecutionId")
            }
            let admin = try await readDeployment(id, as: .admin)
            try require(admin["engineExecutionId"]?.string?.isEmpty == false, "the admin view has no engineExecutionId")
            return "owner, observer and admin read it"
        }
        await recorder.check("reads.non_member_scope", .contract, "§1.4",
            "a non-member owner and a CI identity reading the deployment, its failures and timeline → 403 DELIVERY_GROUP_SCOPE_REQUIRED") {
            guard let id = deployment?["id"]?.string else { throw CannotRun("deploy.created did not pass") }
            _ = try api.token(.nonMemberOwner)
            for suffix in ["", "/failures", "/timeline"] {
                try await api.get("/v1/deployments/\(id.urlEncoded)\(suffix)", as: .nonMemberOwner)
                    .expect(403, "DELIVERY_GROUP_SCOPE_REQUIRED", "non-member GET deployment\(suffix)")
            }
            try await api.get("/v1/deployments/\(id.urlEncoded)", as: .ci).expect(403, "DELIVERY_GROUP_SCOPE_REQUIRED", "CI GET deployment")
            return "all 403 DELIVERY_GROUP_SCOPE_REQUIRED"
        }
        await recorder.check("reads.owner_list_scoped", .diagnostic, "§1.4 D7",
            "the deployment list a non-member owner gets leaves out the groups it does not own") {
            guard let id = deployment?["id"] else { throw CannotRun("deploy.created did not pass") }
            _ = try api.token(.nonMemberOwner)
            let list = try await api.get(deploymentsQuery, as: .nonMemberOwner).expect(200, nil, "non-member deployment list").array("list")
            try require(!list.contains { $0["id"] == id }, "the non-member owner's list contains deployment \(id.text)")
            let own = try await api.get(deploymentsQuery, as: .owner).expect(200, nil, "owner deployment list").array("list")
            try require(own.contains { $0["id"] == id }, "the member owner's list lacks deployment \(id.text)")
            return "non-member sees \(list.count); member sees its deployment"
        }
    }

    /// The six policy figures of a validation (REFERENCE §2.3).
    static let policyFigures = [
        "max_concurrent_deployments", "current_concurrent_deployments", "daily_deploy_quota", "deployments_used",
        "deployments_remaining", "daily_quota_build_register",
    ]

    /// Fails unless `json` has each field of `expected` equal to it.
    static func expectFields(_ json: JSON, _ expected: [String: JSON], _ what: String) throws(CheckFailure) {
        for (name, value) in expected.sorted(by: { $0.key < $1.key }) {
            let actual = json[name] ?? .null
            try require(actual == value, "\(what): \(name) is \(actual.text), expected \(value.text)")
        }
    }
}

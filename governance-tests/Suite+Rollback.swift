import Foundation

extension Suite {
    /// Step I: what a CI identity may not do (REFERENCE §2.1).
    func stepI() async {
        recorder.step = "I"
        await recorder.check("ci_denial.role_forbidden", .contract, "§2.1 §4.1–§4.3 §4.5",
            "a CI identity's validate, deploy, rollback and ci-publishers PUT → 403 ROLE_FORBIDDEN") {
            let version = try runVersions().run
            try await api.post("/v1/deployments/validate", as: .ci, intent(version)).expect(403, "ROLE_FORBIDDEN", "CI validate")
            try await api.post("/v1/deployments", as: .ci, intent(version), key: key("i-deploy")).expect(403, "ROLE_FORBIDDEN", "CI deploy")
            // The role is decided before the target is looked up (REFERENCE §4.3), so any id will do when step F made none.
            let id = deployment?["id"]?.string ?? Self.unknownDeployment
            try await api.post("/v1/deployments/\(id.urlEncoded)/rollback", as: .ci, nil, key: key("i-rollback")).expect(403, "ROLE_FORBIDDEN", "CI rollback")
            try await api.put("/v1/admin/system/ci-publishers", as: .ci, ["publishers": []], key: key("i-publishers"))
                .expect(403, "ROLE_FORBIDDEN", "CI PUT ci-publishers")
            return "all 403 ROLE_FORBIDDEN"
        }
    }

    /// Step G: rollback of the step F deployment and its linkage (REFERENCE §2.5, §4.3, §9, §13.12).
    func stepG() async {
        recorder.step = "G"
        await recorder.check("rollback.validate_route", .contract, "§13.12",
            "rollback/validate answers 200, or 404/405 without code NOT_FOUND and the restore version validates") {
            guard let id = deployment?["id"]?.string else { throw CannotRun("deploy.created did not pass") }
            let restore = try await restoreVersion(of: id)
            let reply = try await api.post("/v1/deployments/\(id.urlEncoded)/rollback/validate", as: .owner, nil)
            if reply.status == 200 { return "200" }
            try require([404, 405].contains(reply.status), "rollback/validate: expected 200, 404 or 405, got \(reply.outcome)")
            try require(reply.code != "NOT_FOUND", "rollback/validate answered \(reply.status) with code NOT_FOUND (REFERENCE §13.12)")
            let json = try await api.post("/v1/deployments/validate", as: .owner, intent(restore)).expect(200, nil, "validate \(restore)").object("validation")
            try require(json["versionRegistered"]?.bool == true, "versionRegistered of \(restore) is \(json["versionRegistered"]?.text ?? "absent")")
            return "\(reply.outcome); validate of \(restore) 200"
        }
        await recorder.check("rollback.key_required", .contract, "§6", "rollback without or with an empty Idempotency-Key → 400 IDMP_KEY_REQUIRED") {
            // The key is checked before the target is looked up (REFERENCE §4.3).
            let id = deployment?["id"]?.string ?? Self.unknownDeployment
            let path = "/v1/deployments/\(id.urlEncoded)/rollback"
            try await api.post(path, as: .owner, nil).expect(400, "IDMP_KEY_REQUIRED", "rollback without a key")
            try await api.post(path, as: .owner, nil, key: "").expect(400, "IDMP_KEY_REQUIRED", "rollback with an empty key")
            return "both 400 IDMP_KEY_REQUIRED"
        }
        await recorder.check("rollback.created", .contract, "§2.5 §9", "rollback: 201 ROLLBACK record linked to its target, restoring the newest earlier success") {
            guard let id = deployment?["id"]?.string else { throw CannotRun("deploy.created did not pass") }
            guard recorder.result("deploy.succeeded")?.status == .passed else { throw CannotRun("deploy.succeeded did not pass") }
            let restore = try await restoreVersion(of: id)
            expectedRestoreVersion = restore
            let reply = try await api.post("/v1/deployments/\(id.urlEncoded)/rollback", as: .owner, nil, key: key("g-rollback"))
            try requireEngine(reply)
            let record = try reply.expect(201, nil, "rollback of \(id)").object("rollback")
            try Self.expectFields(record, [
                "deploymentKind": "ROLLBACK", "rollbackOf": .string(id), "version": .string(restore),
                "service": .string(settings.service), "environment": .string(settings.environment),
            ], "the rollback")
            try require(record["id"] != deployment?["id"], "the rollback has its target's id")
            rollback = record
            return "rollback \(record["id"]?.string ?? "") restores \(restore)"
        }
        await recorder.check("idempotency.rollback_replay", .contract, "§6", "rollback with the same key replays the same record") {
            guard let id = deployment?["id"]?.string, let first = rollback else { throw CannotRun("rollback.created did not pass") }
            let reply = try await api.post("/v1/deployments/\(id.urlEncoded)/rollback", as: .owner, nil, key: key("g-rollback")).expect(201, nil, "replay")
            try require(reply.json?["id"] == first["id"], "the replay returned \(reply.json?["id"]?.text ?? "-"), not \(first["id"]?.text ?? "-")")
            return "replayed"
        }
        await recorder.check("rollback.succeeded", .contract, "§9", "the rollback reaches SUCCEEDED and keeps its linkage") {
            guard let id = rollback?["id"]?.string, let target = deployment?["id"] else { throw CannotRun("rollback.created did not pass") }
            let final = try await waitTerminal(id)
            rollbackFinal = final
            try require(final["state"]?.string == "SUCCEEDED", "rollback \(id) ended \(final["state"]?.string ?? "?")")
            try Self.expectFields(final, ["deploymentKind": "ROLLBACK", "rollbackOf": target], "the finished rollback")
            return "SUCCEEDED"
        }
        await recorder.check("rollback.of_rollback_refused", .contract, "§9 §4.3", "rolling back a rollback → 400 ROLLBACK_OF_ROLLBACK") {
            guard let id = rollback?["id"]?.string else { throw CannotRun("rollback.created did not pass") }
            try await api.post("/v1/deployments/\(id.urlEncoded)/rollback", as: .owner, nil, key: key("g-rollback-of-rollback"))
                .expect(400, "ROLLBACK_OF_ROLLBACK", "rollback of a rollback")
            return "400 ROLLBACK_OF_ROLLBACK"
        }
        await recorder.check("rollback.unknown_target", .contract, "§4.3", "rolling back an unknown deployment → 404 NOT_FOUND") {
            try await api.post("/v1/deployments/\(Self.unknownDeployment)/rollback", as: .owner, nil, key: key("g-rollback-unknown"))
                .expect(404, "NOT_FOUND", "rollback of an unknown deployment")
            return "404 NOT_FOUND"
        }
    }

    /// A deployment id no deployment has.
    static let unknownDeployment = "00000000-0000-4000-8000-000000000000"

    /// The version a rollback of `id` must restore: the newest SUCCEEDED deployment of the
    /// service and environment created before it (REFERENCE §9).
    func restoreVersion(of id: String) async throws -> String {
        let target = try await readDeployment(id)
        guard let created = target["createdAt"]?.string else { throw CheckFailure("deployment \(id) has no createdAt") }
        let list = try await api.get(deploymentsQuery, as: .admin).expect(200, nil, "deployment list").array("deployment list")
        let earlier = list.filter { $0["state"]?.string == "SUCCEEDED" && ($0["createdAt"]?.string ?? "") < created && $0["id"]?.string != id }
        guard let newest = earlier.max(by: { ($0["createdAt"]?.string ?? "") < ($1["createdAt"]?.string ?? "") })?["version"]?.string else {
            throw CannotRun("no SUCCEEDED deployment of \(settings.service) in \(settings.environment) before \(id) (prep.restore_point)")
        }
        return newest
    }

    /// Records cannot be changed, and their protected fields survive the terminal state (REFERENCE §8.4).
    func stepRecords() async {
        recorder.step = "X"
        await recorder.check("records.immutable", .contract, "§8.4", "PATCH, PUT and POST on a deployment → 405, and the record is unchanged") {
            guard let id = deployment?["id"]?.string else { throw CannotRun("deploy.created did not pass") }
            let before = try await readDeployment(id)
            for method in ["PATCH", "PUT", "POST"] {
                try await api.send(method, "/v1/deployments/\(id.urlEncoded)", as: .admin, body: ["state": "FAILED", "version": "9.9.9"])
                    .expect(405, nil, "\(method) /v1/deployments/{id}")
            }
            let after = try await readDeployment(id)
            try require(after["state"] == before["state"] && after["version"] == before["version"], "the record changed: \(before.text) → \(after.text)")
            return "405 ×3; unchanged"
        }
        await recorder.check("records.protected_fields_after_terminal", .contract, "§8.4",
            "after SUCCEEDED (and a rollback), the deployment's protected fields are unchanged and its state is final") {
            guard let created = deployment, let id = created["id"]?.string else { throw CannotRun("deploy.created did not pass") }
            guard let finished = deploymentFinal, finished["state"]?.string == "SUCCEEDED" else { throw CannotRun("deploy.succeeded did not pass") }
            let now = try await readDeployment(id)
            var expected: [String: JSON] = ["state": "SUCCEEDED"]
            for field in ["id", "service", "environment", "version", "recipeId", "recipeRevision", "deploymentKind", "rollbackOf", "deliveryGroupId", "createdAt", "changeSummary"] {
                expected[field] = created[field] ?? .null
            }
            try Self.expectFields(now, expected, "deployment \(id) after its terminal state")
            try require(["SUCCEEDED", "SUPERSEDED"].contains(now["outcome"]?.string ?? ""), "outcome is \(now["outcome"]?.text ?? "-")")
            return "unchanged; outcome \(now["outcome"]?.string ?? "")"
        }
    }
}

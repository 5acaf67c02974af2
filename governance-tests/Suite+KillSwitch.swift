extension Suite {
    /// Step J: the kill switch refuses every mutation, admin ones included, while its own toggle
    /// stays usable (REFERENCE §2.7, §4, §13.8).
    func stepJ() async {
        await inStep("J") {
            let path = "/v1/admin/system/mutations-disabled"
            var on = false
            await recorder.check("killswitch.toggle", .contract, "§2.7 §13.8", "the admin turns the kill switch off and on (200, value echoed)") {
                let original = try await api.get(path, as: .admin).expect(200, nil, "read the kill switch").object("kill switch")
                guard let was = original["mutations_disabled"]?.bool else { throw CheckFailure("no boolean mutations_disabled in \(original.text)") }
                originalKillSwitch = was
                let off = try await toggle(false, reason: "governance-tests \(settings.runId): off before the probe")
                try require(off == false, "PUT false answered mutations_disabled \(off.map(String.init) ?? "absent")")
                restores.push("kill_switch") { [self] in
                    let value = try await toggle(was, reason: "governance-tests \(settings.runId): restored")
                    try require(value == was, "restoring the kill switch answered \(value.map(String.init) ?? "absent")")
                }
                let value = try await toggle(true, reason: "governance-tests \(settings.runId): on for the probe")
                try require(value == true, "PUT true answered mutations_disabled \(value.map(String.init) ?? "absent")")
                on = true
                return "was \(was); off, then on"
            }
            await recorder.check("killswitch.blocks_deployments", .contract, "§13.8 §4.1–§4.3",
                "with the kill switch on, validate, deploy and rollback → 503 MUTATIONS_DISABLED") {
                guard on else { throw CannotRun("killswitch.toggle did not pass") }
                let version = try runVersions().run
                try await api.post("/v1/deployments/validate", as: .owner, intent(version)).expect(503, "MUTATIONS_DISABLED", "validate")
                try await api.post("/v1/deployments", as: .owner, intent(version, summary: "kill switch probe"), key: key("j-deploy"))
                    .expect(503, "MUTATIONS_DISABLED", "deploy")
                if let id = deployment?["id"]?.string {
                    try await api.post("/v1/deployments/\(id.urlEncoded)/rollback", as: .owner, nil, key: key("j-rollback"))
                        .expect(503, "MUTATIONS_DISABLED", "rollback")
                }
                return "503 MUTATIONS_DISABLED" + (deployment == nil ? " (no deployment to roll back)" : " ×3")
            }
            await recorder.check("killswitch.blocks_builds", .contract, "§13.8 §4.4", "with the kill switch on, CI build registration → 503 MUTATIONS_DISABLED") {
                guard on else { throw CannotRun("killswitch.toggle did not pass") }
                let body = registration(try runVersions().unregistered, sha: "0ff0ff01")
                try await api.post("/v1/builds/register", as: .ci, body, key: key("j-register")).expect(503, "MUTATIONS_DISABLED", "builds/register")
                return "503 MUTATIONS_DISABLED"
            }
            await recorder.check("killswitch.blocks_admin_mutations", .contract, "§13.8 §4.5",
                "with the kill switch on, admin changes (ci-publishers, rate limits, group, recipe) → 503 MUTATIONS_DISABLED") {
                guard on else { throw CannotRun("killswitch.toggle did not pass") }
                var refused: [String] = []
                let publishers = try await api.get("/v1/admin/system/ci-publishers", as: .admin).expect(200, nil, "read ci-publishers").object("ci-publishers")
                try await putPublishers(["publishers": publishers["publishers"] ?? []], key: key("j-publishers"))
                    .expect(503, "MUTATIONS_DISABLED", "PUT ci-publishers")
                refused.append("ci-publishers")
                let limits = try await api.get("/v1/admin/system/rate-limits", as: .admin).expect(200, nil, "read rate limits").object("rate limits")
                try await adminChange("PUT", "/v1/admin/system/rate-limits", limits.removing("source"), target: "read_rpm")
                    .expect(503, "MUTATIONS_DISABLED", "PUT rate-limits")
                refused.append("rate-limits")
                if let group = runGroup {
                    try await adminChange("PUT", "/v1/delivery-groups/\(settings.deliveryGroup.urlEncoded)", group, target: settings.deliveryGroup)
                        .expect(503, "MUTATIONS_DISABLED", "PUT delivery group")
                    refused.append("delivery group")
                }
                let recipe = "gt-ks-\(settings.runId.suffix(10).lowercased())"
                let created = try await adminChange("POST", "/v1/recipes", temporaryRecipe([
                    "id": .string(recipe), "name": "kill switch probe", "deploy_pipeline": "governance-tests-never-run",
                    "effective_behavior_summary": "Must not be created while mutations are disabled.",
                ]), target: recipe)
                if (200..<300).contains(created.status) {
                    restores.push("kill_switch_probe_recipe") { [self] in
                        let reply = try await adminChange("DELETE", "/v1/admin/recipes/\(recipe.urlEncoded)", nil, target: recipe)
                        try require([200, 204, 404].contains(reply.status), "delete recipe \(recipe): \(reply.outcome)")
                    }
                }
                try created.expect(503, "MUTATIONS_DISABLED", "POST recipe")
                refused.append("recipe")
                return "503 for \(refused.joined(separator: ", "))"
            }
            await recorder.check("killswitch.toggle_usable_while_on", .contract, "§13.8 §4.5",
                "with the kill switch on, its GET, PATCH and PUT still work, and reads are served") {
                guard on else { throw CannotRun("killswitch.toggle did not pass") }
                let state = try await api.get(path, as: .admin).expect(200, nil, "GET the kill switch").object("kill switch")
                try require(state["mutations_disabled"]?.bool == true, "GET says \(state.text)")
                let patched = try await adminChange("PATCH", path, ["mutations_disabled": true, "reason": .string("governance-tests \(settings.runId): still on")],
                    target: "mutations_disabled").expect(200, nil, "PATCH the kill switch while on").object("kill switch")
                try require(patched["mutations_disabled"]?.bool == true, "PATCH answered \(patched.text)")
                try await api.get(deploymentsQuery, as: .observer).expect(200, nil, "observer reads while the kill switch is on")
                let off = try await toggle(false, reason: "governance-tests \(settings.runId): off after the probe")
                try require(off == false, "PUT false answered \(off.map(String.init) ?? "absent")")
                on = false
                return "GET, PATCH, PUT answered 200; reads served"
            }
            await recorder.check("killswitch.released", .contract, "§13.8", "after the kill switch is off, validate is no longer refused with 503") {
                guard recorder.result("killswitch.toggle")?.status == .passed else { throw CannotRun("killswitch.toggle did not pass") }
                if on { _ = try await toggle(false, reason: "governance-tests \(settings.runId): off after the probe") }
                let reply = try await api.post("/v1/deployments/validate", as: .owner, intent(try runVersions().run))
                try require(reply.code != "MUTATIONS_DISABLED", "validate after the kill switch went off: \(reply.outcome)")
                return "validate \(reply.outcome)"
            }
        }
    }

    /// Sets the kill switch with PUT; the value the response echoes.
    func toggle(_ value: Bool, reason: String) async throws -> Bool? {
        try await adminChange("PUT", "/v1/admin/system/mutations-disabled", ["mutations_disabled": .bool(value), "reason": .string(reason)],
            target: "mutations_disabled").expect(200, nil, "PUT mutations_disabled \(value)").object("kill switch")["mutations_disabled"]?.bool
    }
}

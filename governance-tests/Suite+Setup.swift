import Foundation

extension Suite {
    /// Health, identities, the owner's delivery group and the run's versions (REFERENCE §12.3 setup).
    func setup() async {
        recorder.step = "setup"
        await recorder.check("setup.health", .contract, "§13.6", "GET /v1/health answers {\"status\":\"ok\"} without a token") {
            let json = try await api.get("/v1/health", as: nil).expect(200, nil, "health").object("health")
            try require(json["status"]?.string == "ok", "health: expected {\"status\":\"ok\"}, got \(json.text)")
            return "ok"
        }
        if recorder.result("setup.health")?.status != .passed {
            recorder.abandoned = "the API does not answer GET /v1/health (setup.health)"
        }
        await recorder.check("setup.identities", .contract, "§1.3 §2.9", "every identity's token is accepted (GET /v1/whoami 200 with an actor)") {
            _ = try api.token(.admin)
            var seen: [String] = []
            for identity in Identity.allCases where api.tokens[identity] != nil {
                let json = try await api.get("/v1/whoami", as: identity).expect(200, nil, "whoami as \(identity.label)").object("whoami")
                let actor = json["actor_id"]?.string ?? ""
                try require(!actor.isEmpty, "whoami as \(identity.label): no actor_id in \(json.text)")
                whoami[identity] = json
                seen.append("\(identity.rawValue)=\(actor)")
            }
            let missing = Identity.allCases.filter { api.tokens[$0] == nil }.map(\.rawValue)
            return seen.joined(separator: ", ") + (missing.isEmpty ? "" : "; not given: \(missing.joined(separator: ", "))")
        }
        await recorder.check(
            "setup.owner_group", .contract, "§1.4 §12.3",
            "the delivery group holds the service and environment, lists the owner and not the non-member"
        ) {
            guard let ownerEmail = whoami[.owner]?["email"]?.string, !ownerEmail.isEmpty else {
                throw CannotRun("the owner identity has no email claim (whoami), so it cannot be a delivery-group owner")
            }
            let path = "/v1/delivery-groups/\(settings.deliveryGroup.urlEncoded)"
            // Only what a client sets (REFERENCE §2.8): fields a server stamps on each write are
            // neither sent back nor compared.
            let group = try await api.get(path, as: .admin).expect(200, nil, "read delivery group \(settings.deliveryGroup)").object("group")
                .keeping(Self.groupFields)
            originalGroup = group
            let owners = (group["owner"]?.string ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
            if let stranger = whoami[.nonMemberOwner]?["email"]?.string?.lowercased(), owners.contains(stranger) {
                throw CannotRun("the non-member owner \(stranger) is an owner of group \(settings.deliveryGroup)")
            }
            var updated = group
            var changes: [String] = []
            if !owners.contains(ownerEmail.lowercased()) {
                updated = updated.setting("owner", .string((owners + [ownerEmail.lowercased()]).joined(separator: ", ")))
                changes.append("owner +\(ownerEmail)")
            }
            let services = group["services"]?.array ?? []
            if !services.contains(.string(settings.service)) {
                updated = updated.setting("services", .array(services + [.string(settings.service)]))
                changes.append("services +\(settings.service)")
            }
            let environments = group["allowed_environments"]?.array ?? []
            if !environments.contains(.string(settings.environment)) {
                updated = updated.setting("allowed_environments", .array(environments + [.string(settings.environment)]))
                changes.append("allowed_environments +\(settings.environment)")
            }
            if !changes.isEmpty {
                try await adminChange("PUT", path, updated, target: settings.deliveryGroup).expect(200, nil, "update delivery group")
                restores.push("delivery_group_membership") { [self] in
                    try await adminChange("PUT", path, group, target: settings.deliveryGroup).expect(200, nil, "restore delivery group")
                }
            }
            runGroup = updated
            for identity in [Identity.admin, .owner] {
                let environments = try await api.get("/v1/environments", as: identity).expect(200, nil, "environments as \(identity.label)").array("environments")
                let entry = environments.first { ($0["id"]?.string ?? $0["environment_id"]?.string ?? $0["name"]?.string) == settings.environment }
                try require(entry != nil, "GET /v1/environments as \(identity.label) does not list \(settings.environment)")
                try require(entry?["is_enabled"]?.bool != false, "environment \(settings.environment) is not enabled for \(identity.label)")
            }
            return changes.isEmpty ? "already set up" : "changed (restored at the end): \(changes.joined(separator: ", "))"
        }
        await recorder.check("setup.run_context", .contract, "§2.9 §12.3", "the service's registered versions are listed; the run picks unused ones") {
            let json = try await api.get("/v1/services/\(settings.service.urlEncoded)/versions", as: .admin)
                .expect(200, nil, "versions of \(settings.service)").object("versions")
            guard let listed = json["versions"]?.array else { throw CheckFailure("versions: no `versions` array in \(json.text.prefix(200))") }
            let picked = RunVersions(existing: Set(listed.compactMap { $0["version"]?.string }))
            versions = picked
            let routes = try await api.get("/v1/admin/services/\(settings.service.urlEncoded)/environments", as: .admin)
                .expect(200, nil, "routing of \(settings.service)").array("routing")
            routedRecipe = routes.first { $0["environment_id"]?.string == settings.environment }?["recipe_id"]?.string
            guard let recipe = routedRecipe else {
                throw CheckFailure("no routed recipe for \(settings.service) in \(settings.environment): \(JSON.array(routes).text.prefix(300))")
            }
            let definition = try await api.get("/v1/recipes/\(recipe.urlEncoded)", as: .admin)
                .expect(200, nil, "read the routed recipe \(recipe)").object("recipe \(recipe)")
            routedApplication = definition["spinnaker_application"]?.string.flatMap { $0.isEmpty ? nil : $0 }
            return "runVersion=\(picked.run) conflictVersion=\(picked.conflict) unregisteredVersion=\(picked.unregistered) recipe=\(routedRecipe ?? "")"
        }
    }
}

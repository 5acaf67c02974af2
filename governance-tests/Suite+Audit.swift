import Foundation

extension Suite {
    /// After the final restore: every setting and object the run touched is as it was.
    func verifyRestored() async {
        recorder.step = "cleanup"
        await recorder.check("cleanup.state_restored", .contract, "§12.4",
            "the allowlist, kill switch, delivery group (the fields a client sets) and routing are as before the run", restoring: true) {
            var compared: [String] = []
            if let original = originalPublishers {
                let now = try await api.get("/v1/admin/system/ci-publishers", as: .admin).expect(200, nil, "read ci-publishers").object("ci-publishers")
                try require(now["publishers"] == original, "the allowlist differs: \(now["publishers"]?.text.prefix(300) ?? "-")")
                compared.append("ci-publishers")
            }
            if let original = originalKillSwitch {
                let killSwitch = try await api.get("/v1/admin/system/mutations-disabled", as: .admin).expect(200, nil, "read kill switch").object("kill switch")
                try require(killSwitch["mutations_disabled"]?.bool == original, "the kill switch is \(killSwitch.text), was \(original)")
                compared.append("kill switch")
            }
            if let original = originalGroup {
                let now = try await api.get("/v1/delivery-groups/\(settings.deliveryGroup.urlEncoded)", as: .admin).expect(200, nil, "read group").object("group")
                    .keeping(Self.groupFields)
                try require(now == original, "the group differs: \(now.text.prefix(300)) vs \(original.text.prefix(300))")
                compared.append("delivery group")
            }
            if let recipe = routedRecipe {
                let routes = try await api.get("/v1/admin/services/\(settings.service.urlEncoded)/environments", as: .admin).expect(200, nil, "routing").array("routing")
                let now = routes.first { $0["environment_id"]?.string == settings.environment }?["recipe_id"]?.string
                try require(now == recipe, "routing of \(settings.environment) is \(now ?? "-"), was \(recipe)")
                compared.append("routing")
            }
            return "as before: \(compared.joined(separator: ", "))"
        }
    }

    /// Step K: the audit log holds the run's admin changes (REFERENCE §11.2, DECISIONS D10).
    func stepK() async {
        recorder.step = "K"
        var events: [JSON] = []
        var readError: (any Error)?
        do {
            events = try await auditEvents()
        } catch {
            readError = error
        }
        await recorder.check("audit.admin_config_changes", .contract, "§11.2",
            "ADMIN_CONFIG_CHANGE entries of the run carry request id, timestamp, actor, old and new values") {
            if let readError { throw readError }
            guard let admin = whoami[.admin]?["sub"]?.string ?? whoami[.admin]?["actor_id"]?.string else { throw CannotRun("the admin's whoami is unknown") }
            let runIds = Set(adminChanges.map(\.requestId))
            let mine = events.filter {
                $0["event_type"]?.string == "ADMIN_CONFIG_CHANGE" && ($0["summary"]?.string ?? "").contains(settings.runId)
            }
            var keys: [String: Int] = [:]
            for event in mine {
                guard let text = event["summary"]?.string, let summary = JSON.parse(Data(text.utf8)) else {
                    throw CheckFailure("an ADMIN_CONFIG_CHANGE summary is not JSON: \(event.text.prefix(300))")
                }
                for field in ["request_id", "timestamp", "actor_sub", "actor_email"] {
                    try require(!(summary[field]?.string ?? "").isEmpty, "summary lacks \(field): \(text.prefix(300))")
                }
                try require(summary["old_value"] != nil && summary["new_value"] != nil, "summary lacks old_value/new_value: \(text.prefix(300))")
                try require(event["actor_id"]?.string == admin && summary["actor_id"]?.string == admin,
                    "actor_id is \(event["actor_id"]?.text ?? "-") / \(summary["actor_id"]?.text ?? "-"), expected \(admin)")
                if let id = summary["request_id"]?.string, id.hasPrefix(settings.runId) {
                    try require(runIds.contains(id), "an entry names request \(id), which made no change")
                }
                keys[summary["setting_key"]?.string ?? event["target_id"]?.string ?? "?", default: 0] += 1
            }
            try require((keys["ci_publishers"] ?? 0) >= 1, "no ci_publishers entry of this run (seen: \(keys))")
            try require((keys["mutations_disabled"] ?? 0) >= 2, "fewer than two mutations_disabled entries of this run (seen: \(keys))")
            return keys.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")
        }
        await recorder.check("audit.every_admin_change", .contract, "§1.1 §11 D10",
            "every admin change the run made (allowlist, kill switch, rate limits, group, recipe, routing; restores included) has an audit entry") {
            if let readError { throw readError }
            // Every kind of change the run makes must have been made and audited: a kind the run
            // could not make is not proved by the others.
            let made = Set(adminChanges.compactMap(\.kind))
            let unmade = expectedAdminChangeKinds.subtracting(made).map(\.rawValue).sorted()
            guard unmade.isEmpty else {
                throw CannotRun("the run made no \(unmade.joined(separator: ", ")) change (an earlier check failed), so its audit is unproved")
            }
            var unused = events.filter { ($0["event_type"]?.string ?? "").hasPrefix("ADMIN_") }
            var missing: [String] = []
            for change in adminChanges {
                let index = unused.firstIndex { event in
                    event["request_id"]?.string == change.requestId
                        || (event["summary"]?.string.flatMap { JSON.parse(Data($0.utf8)) }?["request_id"]?.string == change.requestId)
                } ?? unused.firstIndex { event in
                    event["request_id"]?.string == nil && (event["target_id"]?.string ?? "").contains(change.target)
                }
                if let index { unused.remove(at: index) } else { missing.append("\(change.request) (\(change.requestId))") }
            }
            try require(missing.isEmpty, "\(missing.count) of \(adminChanges.count) admin changes have no audit entry: \(missing.prefix(5).joined(separator: "; "))")
            let counts = Dictionary(grouping: adminChanges.compactMap(\.kind), by: \.rawValue).mapValues(\.count)
            return "\(adminChanges.count) changes, each audited: " + counts.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")
        }
        await recorder.check("audit.deployments_recorded", .diagnostic, "§11.1",
            "the run's deployment and rollback have DEPLOY_SUBMIT and ROLLBACK_SUBMIT entries") {
            if let readError { throw readError }
            guard let id = deployment?["id"]?.string else { throw CannotRun("deploy.created did not pass") }
            try require(events.contains { $0["event_type"]?.string == "DEPLOY_SUBMIT" && $0["target_id"]?.string == id }, "no DEPLOY_SUBMIT for \(id)")
            if let rollbackId = rollback?["id"]?.string {
                try require(events.contains { $0["event_type"]?.string == "ROLLBACK_SUBMIT" && $0["target_id"]?.string == rollbackId },
                    "no ROLLBACK_SUBMIT for \(rollbackId)")
            }
            return "recorded"
        }
    }

    /// The kinds of admin change a run makes: all of them, but rate limits only in `active` mode.
    var expectedAdminChangeKinds: Set<AdminChange.Kind> {
        settings.guardrails == .active ? Set(AdminChange.Kind.allCases) : Set(AdminChange.Kind.allCases).subtracting([.rateLimits])
    }

    /// The audit events since the run started (newest first), following `X-Next-Before` pages.
    func auditEvents() async throws -> [JSON] {
        var events: [JSON] = []
        var before: String?
        let start = Self.iso8601(started.addingTimeInterval(-5))
        for _ in 0..<20 {
            var path = "/v1/audit/events?limit=500"
            if let before { path += "&before=\(before.urlEncoded)" }
            let reply = try await api.get(path, as: .admin).expect(200, nil, "audit events")
            let page = try reply.array("audit events")
            events += page
            guard let next = reply.header("X-Next-Before"), !page.isEmpty,
                let oldest = page.last?["timestamp"]?.string, oldest >= start
            else { break }
            before = next
        }
        return events
    }
}

import Foundation

extension Suite {
    /// Step A: CI gate negatives (REFERENCE §1.5, §4.4).
    func stepA() async {
        await inStep("A") {
            await recorder.check("ci_gate.owner_cannot_register", .contract, "§1.5 §4.4", "an owner's build registration → 403 CI_ONLY") {
                let version = try runVersions().unregistered
                try await api.post("/v1/builds/register", as: .owner, registration(version, sha: "a1"), key: key("a-owner-register"))
                    .expect(403, "CI_ONLY", "owner POST /v1/builds/register")
                return "403 CI_ONLY"
            }
            await recorder.check("ci_gate.unlisted_publisher_refused", .contract, "§1.5",
                "with an allowlist no CI token matches, CI registration → 403 CI_ONLY") {
                let version = try runVersions().unregistered
                guard let original = originalPublishers else { throw CannotRun("the allowlist could not be read (roles.admin_reads_ci_publishers)") }
                _ = try api.token(.ci)
                let never: JSON = [
                    "name": .string("\(settings.runId)-never"), "provider": "custom",
                    "subjects": [.string("\(settings.runId)-no-such-subject")],
                    "description": .string("governance-tests run \(settings.runId): matches nobody"),
                ]
                try await putPublishers(["publishers": [never]], key: key("a-never")).expect(200, nil, "replace the allowlist")
                restores.push("ci_publishers_after_step_a") { [self] in
                    try await putPublishers(["publishers": original], key: key("a-restore")).expect(200, nil, "restore the allowlist")
                }
                var last: Reply?
                for attempt in 1...5 {
                    let reply = try await api.post("/v1/builds/register", as: .ci, registration(version, sha: "a2"), key: key("a-ci-register-\(attempt)"))
                    last = reply
                    if reply.status == 403 && reply.code == "CI_ONLY" { return "403 CI_ONLY (attempt \(attempt))" }
                    try await Task.sleep(for: .seconds(1))
                }
                throw CheckFailure("CI POST /v1/builds/register with no matching publisher: expected 403 CI_ONLY, got \(last?.outcome ?? "-")")
            }
        }
    }

    /// Step B: the allowlist accepts this run's CI identity (REFERENCE §2.7, §6); it stays until
    /// the end of the run and is restored then.
    func stepB() async {
        recorder.step = "B"
        await recorder.check("allowlist.key_required", .contract, "§6", "PUT ci-publishers without or with an empty Idempotency-Key → 400 IDMP_KEY_REQUIRED") {
            guard let original = originalPublishers else { throw CannotRun("the allowlist could not be read (roles.admin_reads_ci_publishers)") }
            try await api.put("/v1/admin/system/ci-publishers", as: .admin, ["publishers": original]).expect(400, "IDMP_KEY_REQUIRED", "PUT without a key")
            try await api.put("/v1/admin/system/ci-publishers", as: .admin, ["publishers": original], key: "")
                .expect(400, "IDMP_KEY_REQUIRED", "PUT with an empty key")
            return "both 400 IDMP_KEY_REQUIRED"
        }
        await recorder.check("allowlist.ci_publisher_added", .contract, "§1.5 §2.7", "the run's CI identity is added to the allowlist (200, listed)") {
            guard let original = originalPublishers?.array else { throw CannotRun("the allowlist could not be read (roles.admin_reads_ci_publishers)") }
            let body = try runPublishers(original, description: "governance-tests run \(settings.runId)")
            let json = try await putPublishers(body, key: key("b-add")).expect(200, nil, "PUT ci-publishers").object("ci-publishers")
            restores.push("ci_publishers") { [self] in
                try await putPublishers(["publishers": .array(original)], key: key("b-restore")).expect(200, nil, "restore the allowlist")
            }
            let names = json["publishers"]?.array?.compactMap { $0["name"]?.string } ?? []
            try require(names.contains(runPublisherName), "the response's publishers \(names) lack \(runPublisherName)")
            return "\(runPublisherName) added"
        }
        await recorder.check("idempotency.ci_publishers_replay_and_conflict", .contract, "§6 §3.2",
            "PUT ci-publishers: the same key and body replays (200); the same key with another body → 409 IDEMPOTENCY_CONFLICT") {
            guard let original = originalPublishers?.array else { throw CannotRun("the allowlist could not be read (roles.admin_reads_ci_publishers)") }
            guard recorder.result("allowlist.ci_publisher_added")?.status == .passed else { throw CannotRun("allowlist.ci_publisher_added did not pass") }
            let body = try runPublishers(original, description: "governance-tests run \(settings.runId)")
            try await putPublishers(body, key: key("b-add")).expect(200, nil, "PUT ci-publishers again with the same key and body")
            let other = try runPublishers(original, description: "governance-tests run \(settings.runId) (conflicting body)")
            try await putPublishers(other, key: key("b-add")).expect(409, "IDEMPOTENCY_CONFLICT", "PUT ci-publishers with the same key and another body")
            return "replayed 200; conflict 409 IDEMPOTENCY_CONFLICT"
        }
    }

    /// Name of this run's allowlist entry.
    var runPublisherName: String { "governance-tests-\(settings.runId)" }

    /// `original` without earlier runs' entries, plus an entry matching the CI identity exactly.
    func runPublishers(_ original: [JSON], description: String) throws -> JSON {
        guard let ci = whoami[.ci], let subject = ci["sub"]?.string ?? ci["actor_id"]?.string else {
            throw CannotRun("the CI identity's whoami is unknown (setup.identities)")
        }
        var entry: JSON = ["name": .string(runPublisherName), "provider": "custom", "subjects": [.string(subject)], "description": .string(description)]
        if let issuer = ci["iss"]?.string { entry = entry.setting("issuers", [.string(issuer)]) }
        let audiences = ci["aud"]?.array ?? ci["aud"]?.string.map { [JSON.string($0)] } ?? []
        if !audiences.isEmpty { entry = entry.setting("audiences", .array(audiences)) }
        if let azp = ci["azp"]?.string { entry = entry.setting("authorized_party_azp", [.string(azp)]) }
        let kept = original.filter { !($0["name"]?.string ?? "").hasPrefix("governance-tests-") }
        return ["publishers": .array(kept + [entry])]
    }

    /// `PUT /v1/admin/system/ci-publishers` as the admin, remembered as an admin change.
    func putPublishers(_ body: JSON, key: String) async throws -> Reply {
        try await adminChange("PUT", "/v1/admin/system/ci-publishers", body, key: key, target: "ci_publishers")
    }
}

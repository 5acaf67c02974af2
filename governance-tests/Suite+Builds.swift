extension Suite {
    /// Step C: build registration, its key and its replay (REFERENCE §2.6, §6).
    func stepC() async {
        recorder.step = "C"
        await recorder.check("builds.register_key_required", .contract, "§6",
            "builds/register without or with an empty Idempotency-Key → 400 IDMP_KEY_REQUIRED") {
            let body = registration(try runVersions().run, sha: "c0ffee01")
            try await api.post("/v1/builds/register", as: .ci, body).expect(400, "IDMP_KEY_REQUIRED", "register without a key")
            try await api.post("/v1/builds/register", as: .ci, body, key: "").expect(400, "IDMP_KEY_REQUIRED", "register with an empty key")
            return "both 400 IDMP_KEY_REQUIRED"
        }
        await recorder.check("builds.register_created", .contract, "§2.6", "the allowlisted CI identity registers the run version (201)") {
            let version = try runVersions().run
            guard recorder.result("allowlist.ci_publisher_added")?.status == .passed else { throw CannotRun("allowlist.ci_publisher_added did not pass") }
            let reply = try await api.post("/v1/builds/register", as: .ci, registration(version, sha: "c0ffee01"), key: key("c-register"))
                .expect(201, nil, "register \(version)")
            let replayed = reply.header("Idempotency-Replayed")
            try require(replayed == nil || replayed == "false", "first registration carries Idempotency-Replayed: \(replayed ?? "")")
            let build = try reply.object("build")
            try require(build["version"]?.string == version && build["service"]?.string == settings.service, "the build is \(build.text.prefix(200))")
            runVersionRegistered = true
            registeredBuild = build
            return "registered \(version)"
        }
        await recorder.check("idempotency.register_replay", .contract, "§6", "the same key and body replays: 201, Idempotency-Replayed: true, same build") {
            guard let first = registeredBuild else { throw CannotRun("builds.register_created did not pass") }
            let reply = try await api.post("/v1/builds/register", as: .ci, registration(try runVersions().run, sha: "c0ffee01"), key: key("c-register"))
                .expect(201, nil, "replay of the registration")
            try require(reply.header("Idempotency-Replayed") == "true", "Idempotency-Replayed is \(reply.header("Idempotency-Replayed") ?? "absent"), expected true")
            let build = try reply.object("replayed build")
            try require(build["id"] == first["id"], "the replay returned build \(build["id"]?.text ?? "-"), the first was \(first["id"]?.text ?? "-")")
            return "replayed"
        }
    }

    /// Step D: conflicting registrations (REFERENCE §4.4, §6).
    func stepD() async {
        recorder.step = "D"
        await recorder.check("idempotency.register_conflict", .contract, "§6 §3.2",
            "the same key with another commit → 409 BUILD_REGISTRATION_CONFLICT") {
            let version = try runVersions().conflict
            guard runVersionRegistered else { throw CannotRun("builds.register_created did not pass") }
            try await api.post("/v1/builds/register", as: .ci, registration(version, sha: "c0ffee02"), key: key("d-register"))
                .expect(201, nil, "register \(version)")
            try await api.post("/v1/builds/register", as: .ci, registration(version, sha: "d0ffee02"), key: key("d-register"))
                .expect(409, "BUILD_REGISTRATION_CONFLICT", "same key, another git_sha")
            return "409 BUILD_REGISTRATION_CONFLICT"
        }
        await recorder.check("builds.version_conflict", .contract, "§4.4",
            "a new key for a registered version: another commit → 409 BUILD_REGISTRATION_CONFLICT; the same build → 200") {
            let version = try runVersions().conflict
            guard recorder.result("idempotency.register_conflict")?.status == .passed else { throw CannotRun("idempotency.register_conflict did not pass") }
            try await api.post("/v1/builds/register", as: .ci, registration(version, sha: "e0ffee02"), key: key("d-register-other"))
                .expect(409, "BUILD_REGISTRATION_CONFLICT", "another key, another git_sha")
            try await api.post("/v1/builds/register", as: .ci, registration(version, sha: "c0ffee02"), key: key("d-register-same"))
                .expect(200, nil, "another key, the identical build")
            return "409 for another commit; 200 for the identical build"
        }
    }

    /// Upload capability and POST /v1/builds: key, replay and conflict on both (REFERENCE §2.6, §6).
    func stepCapability() async {
        recorder.step = "X"
        let sha = String(repeating: "ab", count: 32)
        var token: String?
        await recorder.check("idempotency.upload_capability", .contract, "§2.6 §6 §3.2",
            "upload-capability: key required; replay returns the same capability; another body under the key → 409") {
            let version = try runVersions().capability
            guard recorder.result("allowlist.ci_publisher_added")?.status == .passed else { throw CannotRun("allowlist.ci_publisher_added did not pass") }
            let body: JSON = [
                "service": .string(settings.service), "version": .string(version), "expectedSizeBytes": 1024,
                "expectedSha256": .string(sha), "contentType": "application/zip",
            ]
            try await api.post("/v1/builds/upload-capability", as: .ci, body).expect(400, "IDMP_KEY_REQUIRED", "upload-capability without a key")
            let first = try await api.post("/v1/builds/upload-capability", as: .ci, body, key: key("x-capability"))
                .expect(201, nil, "upload-capability").object("capability")
            guard let issued = first["uploadToken"]?.string else { throw CheckFailure("no uploadToken in \(first.text.prefix(200))") }
            // POST /v1/builds needs only an issued capability, whatever the replay and conflict probes find.
            token = issued
            let replay = try await api.post("/v1/builds/upload-capability", as: .ci, body, key: key("x-capability")).expect(201, nil, "replay")
            try require(replay.json?["uploadToken"]?.string == issued, "the replay issued another capability")
            try require(replay.header("Idempotency-Replayed") == "true", "Idempotency-Replayed is \(replay.header("Idempotency-Replayed") ?? "absent") on the replay")
            let conflict = try await api.post("/v1/builds/upload-capability", as: .ci, body.setting("expectedSizeBytes", 2048), key: key("x-capability"))
            try require(conflict.status == 409 && ["BUILD_REGISTRATION_CONFLICT", "IDEMPOTENCY_CONFLICT"].contains(conflict.code ?? ""),
                "same key, another size: expected 409 BUILD_REGISTRATION_CONFLICT, got \(conflict.outcome)")
            return "201, replayed, 409 \(conflict.code ?? "")"
        }
        await recorder.check("idempotency.builds_post", .contract, "§2.6 §6 §3.2",
            "POST /v1/builds: key required; 201; replay; another body under the key → 409 BUILD_REGISTRATION_CONFLICT") {
            let version = try runVersions().capability
            guard token != nil else { throw CannotRun("idempotency.upload_capability issued no capability") }
            var body = registration(version, sha: "f0ffee03")
            body = body.setting("sha256", .string(sha)).setting("sizeBytes", 1024).setting("contentType", "application/zip")
            try await api.post("/v1/builds", as: .ci, body).expect(400, "IDMP_KEY_REQUIRED", "POST /v1/builds without a key")
            let first = try await api.post("/v1/builds", as: .ci, body, key: key("x-builds")).expect(201, nil, "POST /v1/builds").object("build")
            let replay = try await api.post("/v1/builds", as: .ci, body, key: key("x-builds")).expect(201, nil, "replay of POST /v1/builds")
            try require(replay.header("Idempotency-Replayed") == "true", "Idempotency-Replayed is \(replay.header("Idempotency-Replayed") ?? "absent") on the replay")
            try require(replay.json?["id"] == first["id"], "the replay returned another build")
            try await api.post("/v1/builds", as: .ci, body.setting("git_sha", "f0ffee04"), key: key("x-builds"))
                .expect(409, "BUILD_REGISTRATION_CONFLICT", "same key, another git_sha")
            let lookup = try await api.get("/v1/builds?service=\(settings.service.urlEncoded)&version=\(version.urlEncoded)", as: .observer)
                .expect(200, nil, "GET /v1/builds").object("build")
            try require(lookup["git_sha"]?.string == "f0ffee03", "the stored build has git_sha \(lookup["git_sha"]?.text ?? "-")")
            return "201, replayed, 409; the stored build is the first one"
        }
    }
}

import Foundation

/// The conformance run: the reference harness's steps R and A–K (E ported to routed recipes,
/// REFERENCE §15.1) and the checks that harness never made, in one sequential pass over a live
/// deployment, restoring everything it changes.
final class Suite {
    /// The API under test.
    let api: APIClient
    /// Where outcomes go.
    let recorder: Recorder
    /// What to put back.
    let restores = RestoreStack()
    /// Targets and timings.
    let settings: SuiteSettings

    /// `GET /v1/whoami` of each identity.
    var whoami: [Identity: JSON] = [:]
    /// Admin changes made, for the audit checks.
    var adminChanges: [AdminChange] = []
    /// Versions of this run (nil until the run context is known).
    var versions: RunVersions?
    /// The delivery group as it was before the run, and as the run set it up (owner a member).
    var originalGroup: JSON?
    var runGroup: JSON?
    /// The kill switch as it was before step J.
    var originalKillSwitch: Bool?
    /// The CI publisher allowlist as it was before the run.
    var originalPublishers: JSON?
    /// The routed recipe of the service and environment, and its engine application (if it names one).
    var routedRecipe: String?
    var routedApplication: String?
    /// Whether the run version's build is registered (step C), and the build.
    var runVersionRegistered = false
    var registeredBuild: JSON?
    /// The step F deployment as first returned, and as last read.
    var deployment: JSON?
    var deploymentFinal: JSON?
    /// The version a rollback of the step F deployment restores.
    var expectedRestoreVersion: String?
    /// The step G rollback as first returned, and as last read.
    var rollback: JSON?
    var rollbackFinal: JSON?
    /// When the run started (for the audit log).
    let started = Date()

    /// A suite over `api`.
    init(api: APIClient, recorder: Recorder, settings: SuiteSettings) {
        self.api = api
        self.recorder = recorder
        self.settings = settings
    }

    /// Runs every step, then undoes what is left to undo and checks the audit log.
    func run() async {
        await setup()
        await stepR()
        await stepA()
        await stepB()
        await stepC()
        await stepD()
        await stepCapability()
        await prepareRestorePoint()
        await stepE()
        await stepF()
        await stepI()
        await stepG()
        await stepRecords()
        await stepP()
        await stepH()
        await stepJ()
        await restores.unwind(to: 0, recorder: recorder)
        await verifyRestored()
        await stepK()
    }

    // MARK: Helpers

    /// Runs `body` under `step`; whatever it pushed on the restore stack is undone when it ends.
    func inStep(_ step: String, _ body: () async -> Void) async {
        recorder.step = step
        let depth = restores.depth
        await body()
        await restores.unwind(to: depth, recorder: recorder)
    }

    /// A run-scoped idempotency key.
    func key(_ label: String) -> String { "\(settings.runId)-\(label)" }

    /// The versions, or why a check cannot run.
    func runVersions() throws(CannotRun) -> RunVersions {
        guard let versions else { throw CannotRun("the run context (versions) is unknown: setup.run_context did not pass") }
        return versions
    }

    /// A deployment intent for `version`.
    func intent(_ version: String, summary: String = "governance-tests", recipeId: String? = nil) -> JSON {
        var body: JSON = [
            "service": .string(settings.service), "environment": .string(settings.environment), "version": .string(version),
            "changeSummary": .string("\(summary) \(settings.runId)"),
        ]
        if let recipeId { body = body.setting("recipeId", .string(recipeId)) }
        return body
    }

    /// A build registration body of `version` with commit `sha`; `built_at` is the run's start,
    /// so a retried body is byte for byte the same.
    func registration(_ version: String, sha: String) -> JSON {
        [
            "service": .string(settings.service), "version": .string(version), "artifactRef": .string(settings.artifactRef(version)),
            "git_sha": .string(sha), "git_branch": "main", "ci_provider": "governance-tests", "ci_run_id": .string(settings.runId),
            "built_at": .string(Self.iso8601(started)),
        ]
    }

    /// A temporary recipe's definition with the routed recipe's engine application: a server may
    /// refuse a recipe that names none (the reference answers 400 MISSING_ENGINE_APP).
    func temporaryRecipe(_ definition: JSON) -> JSON {
        guard let routedApplication else { return definition }
        return definition.setting("spinnaker_application", .string(routedApplication))
    }

    /// Sends an admin change and remembers it for the audit checks when it succeeded.
    @discardableResult
    func adminChange(_ method: String, _ path: String, _ body: JSON?, key: String? = nil, target: String) async throws -> Reply {
        let reply = try await api.send(method, path, as: .admin, body: body, key: key)
        if (200..<300).contains(reply.status), reply.header("Idempotency-Replayed") != "true" {
            adminChanges.append(AdminChange(request: "\(method) \(path)", kind: AdminChange.Kind(path: path), requestId: reply.requestId, target: target))
        }
        return reply
    }

    /// The deployment `id` as `identity` reads it.
    func readDeployment(_ id: String, as identity: Identity = .admin) async throws -> JSON {
        try await api.get("/v1/deployments/\(id.urlEncoded)", as: identity).expect(200, nil, "read deployment \(id)").object("deployment \(id)")
    }

    /// Polls deployment `id` until its state is terminal; fails past the deadline.
    func waitTerminal(_ id: String) async throws -> JSON {
        let deadline = Date().addingTimeInterval(settings.deployTimeout)
        while true {
            let record = try await readDeployment(id)
            let state = record["state"]?.string ?? ""
            if Self.terminalStates.contains(state) { return record }
            if recorder.interruption?.requested == true { throw CannotRun("the run was interrupted") }
            if Date() > deadline {
                throw CheckFailure("deployment \(id) still \(state) after \(Int(settings.deployTimeout)) s (--deploy-timeout)")
            }
            try await Task.sleep(for: .milliseconds(Int(settings.pollInterval * 1000)))
        }
    }

    /// The delivery group fields a client sets (REFERENCE §2.8, PUT /v1/delivery-groups/{id}):
    /// what the run sends back and compares; `created_at`, `updated_by` and the like are the server's.
    static let groupFields: Set<String> = [
        "id", "name", "description", "owner", "services", "allowed_environments", "allowed_recipes", "guardrails",
    ]

    /// Terminal deployment states (REFERENCE §8.3).
    static let terminalStates: Set<String> = ["SUCCEEDED", "FAILED", "CANCELED", "ROLLED_BACK"]

    /// Fails when the reply to a deploy says the engine is unavailable: a skip in `diagnostic`.
    func requireEngine(_ reply: Reply) throws(CannotRun) {
        if reply.engineUnavailable { throw CannotRun("the engine is unavailable: \(reply.outcome) [\(reply.request)]") }
    }

    /// `2026-11-25T10:00:00Z`.
    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// The top-level numeric figure `name` of a policy summary, or the one under `policy`.
    static func figure(_ json: JSON, _ name: String) -> JSON? {
        if let value = json[name], value.isNumber { return value }
        return json["policy"]?[name]
    }

    /// Names among `names` whose figure in `json` is not a number.
    static func nonNumeric(_ json: JSON?, _ names: [String]) -> [String] {
        names.filter { name in json.map { figure($0, name)?.isNumber != true } ?? true }
    }
}

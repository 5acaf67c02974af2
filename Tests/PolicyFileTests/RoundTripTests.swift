import Foundation
import PolicyFile
import Rules
import Testing

@Suite("Rendering and parsing back")
struct RoundTripTests {
    /// A snapshot with every optional field set, and strings that need quoting in YAML.
    static let everything: PolicySnapshot = {
        let settings = Settings(
            readRPM: 5000, mutateRPM: 1, dailyQuotaBuildRegister: 0, dailyQuotaUploadCapability: 5000,
            dailyQuotaDeploy: 7, dailyQuotaRollback: 3, mutationsDisabled: true,
            ciPublishers: [
                CIPublisher(
                    name: "zeta-jenkins", provider: .jenkins, issuers: ["https://jenkins.example.com"],
                    audiences: ["dxcp", "yes"], authorizedParties: ["azp-1"], subjects: ["ci-bot", "123"],
                    subjectPrefixes: ["repo:org/"], emails: ["ci@example.com"], description: "Build farm: primary",
                    owner: "Platform #1"),
                CIPublisher(name: "alpha", provider: .github, subjects: ["null"]),
            ],
            idempotencyTTLSeconds: 1, deploymentLockStaleSeconds: 60, uploadCapabilityTTLSeconds: 3_600,
            maxArtifactSizeBytes: 9_000_000_000, allowedContentTypes: ["application/zip", "text/plain; charset=utf-8"],
            defaultSpinnakerApplication: "true")
        let recipes = [
            Recipe(
                id: "default", name: "Standard: deploy", description: "Line one\nline \"two\"\twith tab \\ and é ✓",
                spinnakerApplication: "demo-app", deployPipeline: "demo-deploy", rollbackPipeline: "rollback",
                effectiveBehaviorSummary: String(repeating: "x", count: 240), status: .deprecated, revision: 42),
            Recipe(
                id: "2024-01-01", name: "- dash", deployPipeline: "0x1F", effectiveBehaviorSummary: "padded # not a comment"),
        ]
        let environments = [
            Environment(
                id: "production", displayName: "Production [EU]", kind: .prod, lifecycle: .disabled,
                guardrails: Guardrails(maxConcurrentDeployments: 2, dailyDeployQuota: 5, dailyRollbackQuota: 4)),
            Environment(id: "sandbox", lifecycle: .retired, guardrails: Guardrails(dailyRollbackQuota: 9)),
            Environment(id: "no", displayName: "No"),
        ]
        let services = [
            ServiceEntry(
                name: "demo-service", allowedEnvironments: ["sandbox", "production", "no"],
                allowedRecipes: ["default", "2024-01-01"], allowedArtifactSources: ["s3://bucket/demo/", "s3://b/x"],
                stableServiceURLTemplate: "https://{environment}.example.com/{service}"),
            ServiceEntry(name: "on"),
        ]
        let groups = [
            DeliveryGroup(
                id: "default", name: "Default", description: "",
                owners: ["Owner@Example.com", " second@example.org "], services: ["demo-service"],
                allowedRecipes: ["default"], guardrails: Guardrails(maxConcurrentDeployments: 1)),
            DeliveryGroup(id: "other", name: "~", services: ["on"]),
        ]
        let bindings = [
            EnvironmentBinding(deliveryGroupId: "default", environmentId: "sandbox", isEnabled: true, orderIndex: 1),
            EnvironmentBinding(
                deliveryGroupId: "default", environmentId: "production", isEnabled: false, orderIndex: 0),
            EnvironmentBinding(deliveryGroupId: "default", environmentId: "no", isEnabled: true, orderIndex: 2),
            EnvironmentBinding(deliveryGroupId: "other", environmentId: "sandbox", isEnabled: false, orderIndex: 0),
        ]
        let routes = [
            Route(service: "demo-service", environment: "sandbox", recipeId: "default"),
            Route(service: "demo-service", environment: "production", recipeId: "2024-01-01"),
            Route(service: "on", environment: "sandbox", recipeId: "default"),
        ]
        return PolicySnapshot(
            deliveryGroups: groups, recipes: recipes, services: services, environments: environments,
            bindings: bindings, routes: routes, settings: settings)
    }()

    @Test func demoRoundTrips() throws {
        let demo = try PolicyFile.load(path: demoPolicyPath)
        let rendered = PolicyFile.render(demo)
        #expect(try PolicyFile.parse(rendered, file: "rendered.yaml") == demo)
    }

    @Test func everyOptionalFieldRoundTrips() throws {
        let rendered = PolicyFile.render(Self.everything)
        let parsed = try PolicyFile.parse(rendered, file: "rendered.yaml")
        #expect(parsed == Self.everything, "rendered:\n\(rendered)")
        #expect(parsed.settings.ciPublishers.map(\.name) == ["zeta-jenkins", "alpha"])
        #expect(parsed.deliveryGroups["default"]?.owners == ["owner@example.com", "second@example.org"])
    }

    @Test func emptySnapshotRoundTrips() throws {
        let empty = PolicySnapshot()
        #expect(try PolicyFile.parse(PolicyFile.render(empty), file: "empty.yaml") == empty)
    }

    @Test func renderIsDeterministicAndSorted() throws {
        let rendered = PolicyFile.render(Self.everything)
        #expect(rendered == PolicyFile.render(try PolicyFile.parse(rendered, file: "again.yaml")))
        let recipeLines = rendered.split(separator: "\n").filter { $0.hasPrefix("  - id: ") }
        #expect(recipeLines.prefix(2) == ["  - id: \"2024-01-01\"", "  - id: default"])
        // A group's environments come out in binding order, disabled ones in long form.
        #expect(rendered.contains("      - {id: production, enabled: false}\n      - sandbox\n      - \"no\"\n"))
        #expect(rendered.hasPrefix("# "))
        #expect(rendered.hasSuffix("\n"))
    }

    /// Strings YAML would read as something else, or that need escaping.
    static let trickyStrings = [
        "", " ", "yes", "No", "ON", "null", "~", "-", "- x", "-x", "a: b", "a:b", "#x", "x #y", "@x", "`x",
        "*x", "&x", "!x", "%x", "|", ">", "'", "\"", "[x]", "{x}", "a,b", "?", "? x", "0", "-1", "+1", "007",
        "1e3", "1_000", ".inf", ".nan", "2024-01-01", "12:30", "0x1", "0o7", "=", "<<", "tab\tx",
        "line\nbreak", "cr\r", "\u{85}", "\u{2028}", "x\u{FEFF}y", "nul\u{0}byte", "é", "🙂", "\u{7}",
        "trailing ", "  lead", "a  b", "...", "---", "back\\slash", "./path", "/abs", "a/b@c+d-e",
    ]

    /// Each tricky string where the policy validator admits it: as a description (free text of
    /// several lines) and an environment's name (one line, trimmed, not empty). Where it does
    /// not, the file is refused at that value instead.
    @Test(arguments: trickyStrings)
    func trickyStringsRoundTrip(_ text: String) throws {
        let description = PolicyBounds.isValidText(text, limit: PolicyBounds.textLength, lines: true) ? text : "d"
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let name = !trimmed.isEmpty && trimmed == text && PolicyBounds.isValidText(text, limit: PolicyBounds.nameLength) ? text : "E"
        let snapshot = PolicySnapshot(
            recipes: [
                Recipe(id: "r", name: "R", description: description, deployPipeline: "p", effectiveBehaviorSummary: "s")
            ],
            environments: [Environment(id: "e", displayName: name)],
            settings: Settings(
                ciPublishers: [CIPublisher(name: "ci", subjects: [text, "x"], description: text)],
                allowedContentTypes: [text], defaultSpinnakerApplication: text))
        let rendered = PolicyFile.render(snapshot)
        #expect(try PolicyFile.parse(rendered, file: "tricky.yaml") == snapshot, "rendered:\n\(rendered)")
        if description != text {
            var refused = snapshot
            refused.recipes["r"]?.description = text
            #expect(throws: PolicyFileError.self) { try PolicyFile.parse(PolicyFile.render(refused), file: "tricky.yaml") }
        }
    }

    @Test func aliasesAndExplicitTagsAreRead() throws {
        let snapshot = try PolicyFile.parse(
            """
            version: 1
            settings:
              read_rpm: !!int "7"
              default_spinnaker_application: !!str 123
            environments:
              - id: a
                guardrails: &limits {daily_deploy_quota: 3}
              - id: b
                guardrails: *limits
            """, file: "alias.yaml")
        #expect(snapshot.settings.readRPM == 7)
        #expect(snapshot.settings.defaultSpinnakerApplication == "123")
        #expect(snapshot.environments["b"]?.guardrails == Guardrails(dailyDeployQuota: 3))
    }

    @Test func minimalDocumentTakesDefaults() throws {
        let snapshot = try PolicyFile.parse(
            """
            version: 1
            recipes:
              - {id: r, name: R, deploy_pipeline: p, effective_behavior_summary: s}
            environments:
              - id: dev
            settings:
            """, file: "min.yaml")
        #expect(snapshot.settings == Settings())
        #expect(snapshot.recipes["r"] == Recipe(id: "r", name: "R", deployPipeline: "p", effectiveBehaviorSummary: "s"))
        #expect(snapshot.environments["dev"] == Environment(id: "dev"))
        #expect(snapshot.environments["dev"]?.displayName == "dev")
    }
}

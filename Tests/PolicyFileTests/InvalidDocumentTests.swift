import PolicyFile
import Testing

/// A document `parse` must refuse, and where the error must point.
struct InvalidDocument: Sendable, CustomTestStringConvertible {
    /// What is wrong with it.
    let name: String
    let text: String
    let line: Int
    let field: String
    /// A fragment the message must contain.
    let message: String

    var testDescription: String { name }
}

/// Declarations the reference cases build on (lines 1-16).
private let declarations = """
    version: 1
    recipes:
      - {id: default, name: Default, deploy_pipeline: demo-deploy, effective_behavior_summary: Deploys.}
      - {id: canary, name: Canary, deploy_pipeline: demo-canary, effective_behavior_summary: Canaries.}
    environments:
      - id: sandbox
      - id: production
        type: prod
    services:
      - name: demo-service
      - name: payments-api
    delivery_groups:
      - id: default
        name: Default
        services: [demo-service]
        environments: [sandbox]

    """

let invalidDocuments: [InvalidDocument] = [
    InvalidDocument(
        name: "unknown key in a recipe",
        text: """
            version: 1
            recipes:
              - id: default
                name: Default
                deploy_pipeline: demo-deploy
                effective_behavior_summary: Deploys.
                colour: blue
            """,
        line: 7, field: "recipes[0].colour", message: "unknown key 'colour'"),
    InvalidDocument(
        name: "a recipe revision past its bound (each admin update adds one)",
        text: """
            version: 1
            recipes:
              - id: default
                name: Default
                deploy_pipeline: demo-deploy
                effective_behavior_summary: Deploys.
                revision: 9223372036854775807
            """,
        line: 7, field: "recipes[0].revision", message: "must be between 1 and 1000000000"),
    InvalidDocument(
        name: "unknown top-level key",
        text: "version: 1\nsetings:\n  read_rpm: 60\n",
        line: 2, field: "setings", message: "unknown key 'setings'"),
    InvalidDocument(
        name: "number where a string is expected",
        text: """
            version: 1
            recipes:
              - id: default
                name: Default
                deploy_pipeline: 42
                effective_behavior_summary: Deploys.
            """,
        line: 5, field: "recipes[0].deploy_pipeline", message: "expected a string, found the number 42"),
    InvalidDocument(
        name: "quoted number where an integer is expected",
        text: "version: 1\nsettings:\n  read_rpm: \"60\"\n",
        line: 3, field: "settings.read_rpm", message: "expected an integer, found the text '60'"),
    InvalidDocument(
        name: "word where an integer is expected",
        text: "version: 1\nsettings:\n  daily_quota_deploy: sixty\n",
        line: 3, field: "settings.daily_quota_deploy", message: "expected an integer"),
    InvalidDocument(
        name: "hexadecimal integer",
        text: "version: 1\nsettings:\n  read_rpm: 0x3C\n",
        line: 3, field: "settings.read_rpm", message: "expected a decimal integer"),
    InvalidDocument(
        name: "boolean spelled yes",
        text: "version: 1\nsettings:\n  mutate_rpm: 10\n  mutations_disabled: yes\n",
        line: 4, field: "settings.mutations_disabled", message: "only true and false"),
    InvalidDocument(
        name: "boolean spelled True",
        text: "version: 1\nsettings:\n  mutations_disabled: True\n",
        line: 3, field: "settings.mutations_disabled", message: "expected true or false"),
    InvalidDocument(
        name: "mutate_rpm above 5000",
        text: "version: 1\nsettings:\n  read_rpm: 60\n  mutate_rpm: 5001\n",
        line: 4, field: "settings.mutate_rpm", message: "must be between 1 and 5000, found 5001"),
    // Ids follow the one rule the admin API applies too (DECISIONS 59).
    .init(
        name: "recipe id with a zero-width space",
        text: "version: 1\nrecipes:\n  - {id: \"de\\u200Bfault\", name: D, deploy_pipeline: p, effective_behavior_summary: S.}\n",
        line: 3, field: "recipes[0].id", message: "must be 1 to 128 letters, digits"),
    .init(
        name: "service name with a space",
        text: "version: 1\nservices:\n  - name: demo service\n",
        line: 3, field: "services[0].name", message: "must be 1 to 128 letters, digits"),
    // Durations whose time arithmetic would overflow are refused with their bounds (DECISIONS 59).
    .init(
        name: "stale-lock seconds past their bound",
        text: "version: 1\nsettings:\n  deployment_lock_stale_seconds: 9300000000000\n",
        line: 3, field: "settings.deployment_lock_stale_seconds", message: "must be between 1 and 604800, found 9300000000000"),
    .init(
        name: "idempotency TTL past its bound",
        text: "version: 1\nsettings:\n  idempotency_ttl_seconds: 31536001\n",
        line: 3, field: "settings.idempotency_ttl_seconds", message: "must be between 1 and 31536000"),
    .init(
        name: "upload capability TTL past its bound",
        text: "version: 1\nsettings:\n  upload_capability_ttl_seconds: 86401\n",
        line: 3, field: "settings.upload_capability_ttl_seconds", message: "must be between 1 and 86400"),
    .init(
        name: "default deploy quota past its bound",
        text: "version: 1\nsettings:\n  daily_quota_deploy: 1000001\n",
        line: 3, field: "settings.daily_quota_deploy", message: "must be between 1 and 1000000"),
    .init(
        name: "artifact size past its bound",
        text: "version: 1\nsettings:\n  max_artifact_size_bytes: 9223372036854775807\n",
        line: 3, field: "settings.max_artifact_size_bytes", message: "must be between 1 and 1099511627776"),
    InvalidDocument(
        name: "read_rpm of zero",
        text: "version: 1\nsettings:\n  read_rpm: 0\n",
        line: 3, field: "settings.read_rpm", message: "must be between 1 and 5000, found 0"),
    InvalidDocument(
        name: "negative build quota",
        text: "version: 1\nsettings:\n  daily_quota_build_register: -1\n",
        line: 3, field: "settings.daily_quota_build_register", message: "between 0 and 5000"),
    InvalidDocument(
        name: "integer too large for 64 bits",
        text: "version: 1\nsettings:\n  max_artifact_size_bytes: 99999999999999999999\n",
        line: 3, field: "settings.max_artifact_size_bytes", message: "out of range"),
    InvalidDocument(
        name: "zero guardrail",
        text: "version: 1\nenvironments:\n  - id: sandbox\n    guardrails: {daily_deploy_quota: 0}\n",
        line: 4, field: "environments[0].guardrails.daily_deploy_quota", message: "must be between 1 and 1000000, found 0"),
    InvalidDocument(
        name: "bad environment id",
        text: "version: 1\nenvironments:\n  - id: sandbox\n  - id: Prod_1\n",
        line: 4, field: "environments[1].id", message: "Environment id must be lower-case letters and digits in dash-separated runs (at most 64): environment Prod_1"),
    InvalidDocument(
        name: "unknown environment type",
        text: "version: 1\nenvironments:\n  - id: sandbox\n    type: production\n",
        line: 4, field: "environments[0].type", message: "type must be non_prod or prod"),
    InvalidDocument(
        name: "bad owner email",
        text: """
            version: 1
            delivery_groups:
              - id: default
                name: Default
                owners:
                  - owner@example.com
                  - not-an-email
            """,
        line: 7, field: "delivery_groups[0].owners[1]", message: "Owners must be email addresses: invalid owner not-an-email"),
    InvalidDocument(
        name: "owner listed twice, differing in case",
        text: """
            version: 1
            delivery_groups:
              - id: default
                name: Default
                owners:
                  - owner@example.com
                  - Owner@Example.com
            """,
        line: 7, field: "delivery_groups[0].owners[1]", message: "Owners must be listed once: owner Owner@Example.com is listed twice"),
    InvalidDocument(
        name: "group id with a right-to-left override",
        text: "version: 1\ndelivery_groups:\n  - id: \"abc\\u202Edef\"\n    name: G\n",
        line: 3, field: "delivery_groups[0].id", message: "Delivery group id must be 1 to 128 letters, digits"),
    InvalidDocument(
        name: "group guardrail past its bound",
        text: "version: 1\ndelivery_groups:\n  - id: g\n    name: G\n    guardrails:\n      max_concurrent_deployments: 5001\n",
        line: 6, field: "delivery_groups[0].guardrails.max_concurrent_deployments",
        message: "max_concurrent_deployments must be an integer in 1...5000: max_concurrent_deployments is 5001"),
    InvalidDocument(
        name: "description with a NUL",
        text: "version: 1\nrecipes:\n  - {id: r, name: R, deploy_pipeline: p, effective_behavior_summary: s, description: \"a\\0b\"}\n",
        line: 3, field: "recipes[0].description",
        message: "description must be at most 1024 characters, without control characters other than tabs and line breaks"),
    InvalidDocument(
        name: "environment name of spaces",
        text: "version: 1\nenvironments:\n  - id: sandbox\n    name: \"  \"\n",
        line: 4, field: "environments[0].name", message: "display_name must be 1 to 128 characters"),
    InvalidDocument(
        name: "recipe without a name",
        text: "version: 1\nrecipes:\n  - id: r\n    deploy_pipeline: p\n    effective_behavior_summary: s\n",
        line: 3, field: "recipes[0].name", message: "Recipe name is required"),
    InvalidDocument(
        name: "duplicate recipe id",
        text: """
            version: 1
            recipes:
              - id: default
                name: A
                deploy_pipeline: p
                effective_behavior_summary: s
              - id: default
                name: B
                deploy_pipeline: p
                effective_behavior_summary: s
            """,
        line: 7, field: "recipes[1].id", message: "duplicate recipe id 'default'; first declared at line 3"),
    InvalidDocument(
        name: "recipe without deploy_pipeline",
        text: "version: 1\nrecipes:\n  - id: default\n    name: Default\n    effective_behavior_summary: s\n",
        line: 3, field: "recipes[0].deploy_pipeline", message: "is required"),
    InvalidDocument(
        name: "summary longer than 240 characters",
        text: "version: 1\nrecipes:\n  - id: r\n    name: R\n    deploy_pipeline: p\n    effective_behavior_summary: "
            + String(repeating: "y", count: 241) + "\n",
        line: 6, field: "recipes[0].effective_behavior_summary", message: "effective_behavior_summary is required (at most 240 characters)"),
    InvalidDocument(
        name: "undeclared recipe in a group",
        text: """
            version: 1
            recipes:
              - {id: default, name: A, deploy_pipeline: p, effective_behavior_summary: s}
            delivery_groups:
              - id: default
                name: Default
                allowed_recipes: [default, canary]
            """,
        line: 7, field: "delivery_groups[0].allowed_recipes[1]",
        message: "Recipe not found: recipe canary"),
    InvalidDocument(
        name: "service in two groups",
        text: """
            version: 1
            services:
              - name: demo-service
            delivery_groups:
              - id: a
                name: A
                services: [demo-service]
              - id: b
                name: B
                services: [demo-service]
            """,
        line: 10, field: "delivery_groups[1].services[0]",
        message: "Service already belongs to another delivery group: demo-service is in a"),
    InvalidDocument(
        name: "binding to an undeclared environment",
        text: declarations
            + "  - id: payments\n    name: Payments\n    environments:\n      - {id: qa, enabled: true}\n",
        line: 20, field: "delivery_groups[1].environments[0].id", message: "environment 'qa' is not declared"),
    InvalidDocument(
        name: "binding enabled spelled no",
        text: declarations
            + "  - id: payments\n    name: Payments\n    environments:\n      - {id: sandbox, enabled: no}\n",
        line: 20, field: "delivery_groups[1].environments[0].enabled", message: "only true and false"),
    InvalidDocument(
        name: "routing to an unbound environment",
        text: declarations + """
            routing:
              - {service: demo-service, environment: sandbox, recipe: default}
              - {service: demo-service, environment: production, recipe: default}
            """,
        line: 19, field: "routing[1].environment",
        message: "environment 'production' is not bound to delivery group 'default'"),
    InvalidDocument(
        name: "routing a service of no group",
        text: declarations + "routing:\n  - {service: payments-api, environment: sandbox, recipe: default}\n",
        line: 18, field: "routing[0].service", message: "service 'payments-api' is in no delivery group"),
    InvalidDocument(
        name: "routing to an undeclared recipe",
        text: declarations + "routing:\n  - service: demo-service\n    environment: sandbox\n    recipe: bluegreen\n",
        line: 20, field: "routing[0].recipe", message: "recipe 'bluegreen' is not declared under recipes"),
    InvalidDocument(
        name: "routing the same pair twice",
        text: declarations + """
            routing:
              - {service: demo-service, environment: sandbox, recipe: default}
              - {service: demo-service, environment: sandbox, recipe: canary}
            """,
        line: 19, field: "routing[1]", message: "already routed to environment 'sandbox' at line 18"),
    InvalidDocument(
        name: "service allowed in an undeclared environment",
        text: """
            version: 1
            environments:
              - id: sandbox
            services:
              - name: s
                allowed_environments: [sandbox, qa]
            """,
        line: 6, field: "services[0].allowed_environments[1]", message: "environment 'qa' is not declared"),
    InvalidDocument(
        name: "duplicate CI publisher name",
        text: "version: 1\nci_publishers:\n  - name: ci\n  - name: ci\n    provider: github\n",
        line: 4, field: "ci_publishers[1].name", message: "duplicate CI publisher name 'ci'"),
    InvalidDocument(
        name: "unknown CI provider",
        text: "version: 1\nci_publishers:\n  - name: ci\n    provider: gitlab\n",
        line: 4, field: "ci_publishers[0].provider", message: "expected one of github, jenkins, spinnaker, custom"),
    InvalidDocument(
        name: "unquoted date where a string is expected",
        text: "version: 1\nrecipes:\n  - id: 2024-01-01\n",
        line: 3, field: "recipes[0].id", message: "found the date 2024-01-01; quote it"),
    InvalidDocument(
        name: "empty list item",
        text: "version: 1\nsettings:\n  allowed_content_types:\n    - application/zip\n    -\n",
        line: 5, field: "settings.allowed_content_types[1]", message: "expected a string, found nothing (null)"),
    InvalidDocument(
        name: "version missing",
        text: "settings:\n  read_rpm: 60\n",
        line: 1, field: "version", message: "is required"),
    InvalidDocument(
        name: "version 2",
        text: "# a comment\nversion: 2\n",
        line: 2, field: "version", message: "unsupported format version 2"),
    InvalidDocument(
        name: "version as text",
        text: "version: \"1\"\n",
        line: 1, field: "version", message: "expected an integer"),
    InvalidDocument(
        name: "section that is not a list",
        text: "version: 1\nrecipes:\n  id: default\n",
        line: 3, field: "recipes", message: "expected a list, found a mapping"),
    InvalidDocument(
        name: "top level a list",
        text: "- version: 1\n- recipes: []\n",
        line: 1, field: "", message: "the top level is a list; it must be a mapping"),
    InvalidDocument(
        name: "top level a scalar",
        text: "just some text\n",
        line: 1, field: "", message: "it must be a mapping"),
    InvalidDocument(
        name: "empty file", text: "",
        line: 1, field: "", message: "the file is empty"),
    InvalidDocument(
        name: "only comments", text: "# nothing here yet\n\n",
        line: 1, field: "", message: "the file is empty"),
    InvalidDocument(
        name: "only a document marker", text: "---\n",
        line: 1, field: "", message: "the file is empty"),
    InvalidDocument(
        name: "a list as a key",
        text: "version: 1\n? [a]\n: b\n",
        line: 2, field: "", message: "keys must be names, found a list"),
    InvalidDocument(
        name: "merge key",
        text: """
            version: 1
            environments:
              - id: a
                guardrails: &g {daily_deploy_quota: 3}
              - id: b
                guardrails:
                  <<: *g
            """,
        line: 7, field: "environments[1].guardrails.<<", message: "unknown key '<<'"),
    InvalidDocument(
        name: "YAML syntax error",
        text: "version: 1\nrecipes:\n  - id: default\n   name: broken\n",
        line: 4, field: "", message: "invalid YAML"),
    InvalidDocument(
        name: "duplicate YAML key",
        text: "version: 1\nsettings:\n  read_rpm: 60\n  read_rpm: 70\n",
        line: 3, field: "", message: "duplicate key 'read_rpm'"),
]

@Suite("Invalid documents")
struct InvalidDocumentTests {
    @Test(arguments: invalidDocuments)
    func pointsAtTheLineAndField(_ document: InvalidDocument) throws {
        let error = try #require(parseError(document.text, file: "bad.yaml"))
        #expect(error.file == "bad.yaml")
        #expect(error.line == document.line, "\(error)")
        #expect(error.field == document.field, "\(error)")
        #expect(error.message.contains(document.message), "\(error)")
    }

    @Test func declarationsAloneAreValid() {
        #expect(parseError(declarations) == nil)
    }

    @Test func descriptionNamesFileLineFieldAndMessage() throws {
        let error = try #require(parseError("version: 1\nsettings:\n  read_rpm: 0\n", file: "policy.yaml"))
        #expect(error.description == "policy.yaml:3: settings.read_rpm: must be between 1 and 5000, found 0")
        let noLine = PolicyFileError(file: "p.yaml", line: nil, field: "recipes", message: "broken")
        #expect(noLine.description == "p.yaml: recipes: broken")
        let whole = PolicyFileError(file: "p.yaml", line: 1, field: "", message: "the file is empty")
        #expect(whole.description == "p.yaml:1: the file is empty")
    }
}

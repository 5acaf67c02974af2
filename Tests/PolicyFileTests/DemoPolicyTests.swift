import PolicyFile
import Rules
import Testing

@Suite("The demo policy file")
struct DemoPolicyTests {
    let snapshot: PolicySnapshot

    init() throws {
        snapshot = try PolicyFile.load(path: demoPolicyPath)
    }

    @Test func settings() {
        let s = snapshot.settings
        #expect(s.readRPM == 600)
        #expect(s.mutateRPM == 120)
        #expect(s.dailyQuotaBuildRegister == 50)
        #expect(s.dailyQuotaDeploy == 25)
        #expect(s.dailyQuotaRollback == 10)
        #expect(s.mutationsDisabled == false)
        #expect(s.maxArtifactSizeBytes == 209_715_200)
        #expect(s.allowedContentTypes == ["application/zip", "application/gzip"])
        #expect(s.defaultSpinnakerApplication == "demo-app")
    }

    @Test func ciPublisher() throws {
        #expect(snapshot.settings.ciPublishers.map(\.name) == ["demo-ci"])
        let publisher = try #require(snapshot.settings.ciPublishers.first)
        #expect(publisher.subjects == ["ci-bot"])
        #expect(publisher.provider == .custom)
        #expect(publisher.matches(Claims(subject: "ci-bot")))
        #expect(!publisher.matches(Claims(subject: "someone-else")))
    }

    @Test func recipes() throws {
        #expect(snapshot.recipes.keys.sorted() == ["bluegreen", "canary", "default", "legacy"])
        let standard = try #require(snapshot.recipes["default"])
        #expect(standard.spinnakerApplication == "demo-app")
        #expect(standard.deployPipeline == "demo-deploy")
        #expect(standard.rollbackPipeline == "rollback-demo-service")
        #expect(standard.status == .active)
        #expect(standard.revision == 1)
        #expect(snapshot.recipes["canary"]?.deployPipeline == "demo-deploy-canary")
        #expect(snapshot.recipes["canary"]?.spinnakerApplication == nil)
        #expect(snapshot.recipes["bluegreen"]?.deployPipeline == "demo-deploy-bluegreen")
        #expect(snapshot.recipes["legacy"]?.status == .deprecated)
        #expect(snapshot.recipes["legacy"]?.revision == 3)
        for recipe in snapshot.recipes.values { #expect(recipe.effectiveBehaviorSummary.count <= 240) }
    }

    @Test func environments() throws {
        #expect(snapshot.environments.keys.sorted() == ["production", "sandbox", "staging"])
        let production = try #require(snapshot.environments["production"])
        #expect(production.kind == .prod)
        #expect(production.displayName == "Production")
        #expect(production.lifecycle == .active)
        #expect(production.guardrails == Guardrails(maxConcurrentDeployments: 1, dailyDeployQuota: 5))
        #expect(snapshot.environments["sandbox"]?.kind == .nonProd)
        #expect(snapshot.environments["sandbox"]?.guardrails == Guardrails())
    }

    @Test func services() throws {
        #expect(snapshot.services.keys.sorted() == ["demo-service", "payments-api"])
        let demo = try #require(snapshot.services["demo-service"])
        #expect(demo.allowedEnvironments == ["sandbox", "staging", "production"])
        #expect(demo.allowedRecipes == ["default", "canary", "bluegreen"])
        #expect(demo.allowedArtifactSources == ["s3://dxcp-artifacts/demo-service/"])
        #expect(snapshot.services["payments-api"]?.allowedEnvironments == ["sandbox", "production"])
    }

    @Test func deliveryGroups() throws {
        #expect(snapshot.deliveryGroups.keys.sorted() == ["default", "payments"])
        let group = try #require(snapshot.deliveryGroups["default"])
        #expect(group.owners == ["owner@example.com"])
        #expect(group.services == ["demo-service"])
        #expect(group.allowedRecipes == ["default", "canary", "bluegreen"])
        #expect(
            group.guardrails == Guardrails(maxConcurrentDeployments: 1, dailyDeployQuota: 25, dailyRollbackQuota: 10))
        #expect(snapshot.deliveryGroup(forService: "demo-service")?.id == "default")
        #expect(snapshot.deliveryGroup(forService: "payments-api")?.id == "payments")
        #expect(snapshot.deliveryGroups["payments"]?.owners == ["payments-lead@example.com"])

        let order = snapshot.bindings["default"]?.values.sorted { $0.orderIndex < $1.orderIndex }.map(\.environmentId)
        #expect(order == ["sandbox", "staging", "production"])
        let production = EnvironmentBinding(
            deliveryGroupId: "default", environmentId: "production", isEnabled: true, orderIndex: 2)
        #expect(snapshot.binding(group: "default", environment: "production") == production)
        #expect(snapshot.bindings["payments"]?.keys.sorted() == ["production", "sandbox"])
    }

    @Test func limitsCombineEnvironmentAndGroupGuardrails() throws {
        let group = try #require(snapshot.deliveryGroups["default"])
        let production = snapshot.limits(group: group, environment: "production")
        #expect(production.dailyDeployQuota == 5)
        #expect(production.dailyRollbackQuota == 10)
        #expect(snapshot.limits(group: group, environment: "sandbox").dailyDeployQuota == 25)
    }

    @Test func everyServiceIsRoutedInEveryBoundEnvironment() throws {
        for group in snapshot.deliveryGroups.values {
            for service in group.services {
                for environment in snapshot.bindings[group.id, default: [:]].keys {
                    let route = try #require(snapshot.route(service: service, environment: environment))
                    #expect(route.recipeId == "default")
                }
            }
        }
        #expect(snapshot.routes.values.map(\.count).reduce(0, +) == 5)
    }
}

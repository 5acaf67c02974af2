import Foundation
import Rules
@_spi(Benchmark) import GovernanceStore
import PolicyServer

// dxcp-bench: measures the rules and the durable write path. Prints one table per measurement;
// the figures go to docs/PERFORMANCE.md.

func nowMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func percentile(_ sorted: [UInt64], _ p: Double) -> UInt64 {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// A policy with `groups` delivery groups, each owning one service deployable to three
/// environments with one recipe.
func bigPolicy(groups: Int, maxConcurrent: Int = 1, dailyDeploy: Int = 25) -> PolicySnapshot {
    let envs = ["sandbox", "staging", "production"]
    var deliveryGroups: [DeliveryGroup] = []
    var services: [ServiceEntry] = []
    var bindings: [EnvironmentBinding] = []
    var routes: [Route] = []
    for g in 0..<groups {
        let service = "service-\(g)"
        deliveryGroups.append(DeliveryGroup(
            id: "group-\(g)", name: "Group \(g)", owners: ["owner\(g)@example.com", "lead@example.com"],
            services: [service], allowedRecipes: ["default", "canary"],
            guardrails: Guardrails(maxConcurrentDeployments: maxConcurrent, dailyDeployQuota: dailyDeploy)))
        services.append(ServiceEntry(name: service, allowedRecipes: ["default", "canary"], allowedArtifactSources: ["s3://artifacts/"]))
        for (i, env) in envs.enumerated() {
            bindings.append(EnvironmentBinding(deliveryGroupId: "group-\(g)", environmentId: env, orderIndex: i))
            routes.append(Route(service: service, environment: env, recipeId: "default"))
        }
    }
    return PolicySnapshot(
        deliveryGroups: deliveryGroups,
        recipes: [
            Recipe(id: "default", name: "Default", spinnakerApplication: "demo-app", deployPipeline: "demo-deploy", effectiveBehaviorSummary: "Standard"),
            Recipe(id: "canary", name: "Canary", spinnakerApplication: "demo-app", deployPipeline: "demo-deploy-canary", effectiveBehaviorSummary: "Canary"),
        ],
        services: services, environments: envs.map { Rules.Environment(id: $0) }, bindings: bindings, routes: routes,
        settings: Settings(readRPM: 1_000_000, mutateRPM: 1_000_000, dailyQuotaBuildRegister: 1_000_000, ciPublishers: [CIPublisher(name: "ci", subjects: ["ci-bot"])]))
}

/// State with a registered build for every service and a few counters, held in memory.
struct BenchState: StateView {
    let registered = Build(
        id: "b", service: "", version: "1.0.0", artifactRef: "s3://artifacts/x.zip", gitSha: "abc", gitBranch: "main",
        ciProvider: "github", ciRunId: "1", builtAt: Timestamp(seconds: 0), ciPublisher: "ci", registeredAt: Timestamp(seconds: 0))
    func rateCount(_ window: RateWindow) -> Int { 3 }
    func quotaUsed(_ scope: QuotaScope, day: Int64) -> Int { 4 }
    func activeDeployments(group: String, environment: String) -> [ActiveDeployment] { [] }
    func deployment(id: String) -> DeploymentRecord? { nil }
    func latestSucceeded(service: String, environment: String, before: Timestamp) -> DeploymentRecord? { nil }
    func hasSucceeded(service: String, environment: String, version: String) -> Bool { false }
    func latestDeployment(service: String, environment: String) -> DeploymentRecord? { nil }
    func insightCounts(hours: ClosedRange<Int64>) -> [InsightCount] { [] }
    func build(service: String, version: String) -> Build? { version == "1.0.0" ? registered : nil }
    func builds(service: String) -> [Build] { [registered] }
    func uploadCapabilities(service: String, version: String) -> [UploadCapability] { [] }
    func idempotencyRecord(_ scope: IdempotencyScope) -> IdempotencyRecord? { nil }
    func deployments(matching query: DeploymentQuery, groups: Set<String>?) -> [DeploymentRecord] { [] }
}

func benchRules() {
    let policy = bigPolicy(groups: 1000)
    let state = BenchState()
    let owner = Principal(claims: Claims(subject: "owner-500", email: "owner500@example.com", roles: .values(["dxcp-delivery-owners"])))
    let intent = DeploymentIntent(service: "service-500", environment: "staging", version: "1.0.0", changeSummary: "bench")
    let denied = DeploymentIntent(service: "service-500", environment: "staging", version: "9.9.9", changeSummary: "bench")
    let context = DecisionContext(now: Timestamp(seconds: 1_795_608_000), decisionId: "d", newId: "n", idempotencyKey: "k")
    let only = ProcessInfo.processInfo.environment["DXCP_BENCH_ONLY"]
    let n = Int(ProcessInfo.processInfo.environment["DXCP_BENCH_ITERATIONS"] ?? "") ?? 200_000
    for (name, request) in [("deploy, allowed", Request.deploy(intent)), ("deploy, denied (VERSION_NOT_FOUND)", .deploy(denied)), ("validate, allowed", .validate(intent))]
    where only == nil || name.hasPrefix(only ?? "") {
        var check = Evaluator.evaluate(request, by: owner, policy: policy, state: state, context: context)
        for _ in 0..<min(20_000, n) { check = Evaluator.evaluate(request, by: owner, policy: policy, state: state, context: context) }
        var samples = [UInt64](repeating: 0, count: n)
        var allowed = 0
        for i in 0..<n {
            let t0 = nowNanos()
            let d = Evaluator.evaluate(request, by: owner, policy: policy, state: state, context: context)
            samples[i] = nowNanos() - t0
            if d.allowed { allowed += 1 }
        }
        samples.sort()
        print(String(format: "rules  %-36@ 1000 groups  p50 %5.2f µs  p90 %5.2f µs  p99 %5.2f µs  p99.9 %6.2f µs  (%d allowed of %d; %@)",
            name as NSString, Double(percentile(samples, 0.5)) / 1000, Double(percentile(samples, 0.9)) / 1000,
            Double(percentile(samples, 0.99)) / 1000, Double(percentile(samples, 0.999)) / 1000, allowed, n,
            (check.code?.rawValue ?? "allowed") as NSString))
    }
}

/// A store in `dir` with `policy` (of ``bigPolicy(groups:maxConcurrent:dailyDeploy:)``) and version
/// 1.0.0 of every group's service registered.
func seededStore(_ dir: String, options: GovernanceStore.Options, policy: PolicySnapshot, at base: Timestamp) async throws -> GovernanceStore {
    let store = try GovernanceStore(directory: dir, options: options)
    try await seed(store, policy: policy, at: base)
    return store
}

/// The policy and a registered build of every group's service.
func seed(_ store: any GovernanceBackend, policy: PolicySnapshot, at base: Timestamp) async throws {
    try await store.replacePolicy(policy, actorId: "bench", now: base)
    let ci = Principal(claims: Claims(subject: "ci-bot", roles: .values(["dxcp-ci-publishers"])))
    for g in 0..<policy.deliveryGroups.count {
        let reg = BuildRegistration(
            service: "service-\(g)", version: "1.0.0", artifactRef: "s3://artifacts/service-\(g)-1.0.0.zip", gitSha: "abc",
            gitBranch: "main", ciProvider: "github", ciRunId: "1", builtAt: "2026-11-25T11:00:00Z")
        _ = try await store.decide(.registerExistingBuild(reg), by: ci, context: DecisionContext(now: base, decisionId: "b\(g)", newId: "b\(g)", idempotencyKey: "b\(g)"), requestId: nil)
    }
}

/// Durable deploy decisions through the write path of `stores` (one node, or a fleet's replicas
/// on one database), `callers` spread over them: decisions per second.
func benchDeploys(_ label: String, stores: [any GovernanceBackend], callers: Int, decisions: Int, groups: Int, base: Timestamp) async throws -> Double {
    let admin = Principal(claims: Claims(subject: "admin", email: "lead@example.com", roles: .values(["dxcp-platform-admins"])))
    let perCaller = decisions / callers
    let before = stores.map { $0.writeStatistics() }
    let cpu0 = CPUSample()
    let t0 = nowMicros()
    let allowed = try await withThrowingTaskGroup(of: Int.self) { group in
        for c in 0..<callers {
            let store = stores[c % stores.count]
            group.addTask {
                var ok = 0
                for i in 0..<perCaller {
                    let n = c * perCaller + i
                    let intent = DeploymentIntent(service: "service-\(n % groups)", environment: ["sandbox", "staging", "production"][n % 3], version: "1.0.0", changeSummary: "bench \(n)")
                    let d = try await store.decide(.deploy(intent), by: admin, context: DecisionContext(now: base, decisionId: "d\(n)", newId: RecordID.make(at: base.adding(seconds: Int64(n))), idempotencyKey: "k\(n)"), requestId: nil)
                    if d.allowed { ok += 1 }
                }
                return ok
            }
        }
        return try await group.reduce(0, +)
    }
    let elapsed = Double(nowMicros() - t0) / 1_000_000
    let cpu = CPUSample().since(cpu0)
    let done = perCaller * callers
    // The load's own transactions (not the seeding's).
    let after = stores.map { $0.writeStatistics() }
    func micros(_ d: Duration) -> Double { Double(d.components.attoseconds) / 1e12 + Double(d.components.seconds) * 1e6 }
    let transactions = zip(after, before).map { $0.transactions - $1.transactions }.reduce(0, +)
    let applying = zip(after, before).map { micros($0.applying - $1.applying) }.reduce(0, +)
    let committing = zip(after, before).map { micros($0.committing - $1.committing) }.reduce(0, +)
    print(String(format: "fleet  %@  %3d callers  %6d durable deploy decisions in %6.2f s  = %7.0f decisions/s  (%d allowed; %d transactions; per transaction %.0f µs applying, %.0f µs committing)",
        label as NSString, callers, done, elapsed, Double(done) / elapsed, allowed, transactions,
        applying / Double(max(1, transactions)), committing / Double(max(1, transactions))))
    print(String(format: "       CPU per decision: %.0f µs on the machine (%.0f µs this process, %.0f µs PostgreSQL and the rest); the cores %.0f%% busy",
        cpu.machine / Double(done), cpu.process / Double(done), (cpu.machine - cpu.process) / Double(done), 100 * cpu.machine / (elapsed * 1e6 * Double(cpu.cores))))
    return Double(done) / elapsed
}

/// CPU time used so far, in µs: by the whole machine (user, nice, system, irq and softirq of
/// `/proc/stat`: what PostgreSQL, this process and anything else ran) and by this process.
struct CPUSample {
    let machine: Double
    let process: Double
    let cores: Int

    init() {
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        let first = ((try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? "").split(separator: "\n").first ?? ""
        let ticks = first.split(separator: " ").dropFirst().compactMap { Double($0) }
        // user nice system idle iowait irq softirq steal …: busy is all but idle, iowait and steal.
        let busy = ticks.count >= 7 ? ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] : 0
        machine = busy / hz * 1e6
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func micros(_ t: timeval) -> Double { Double(t.tv_sec) * 1e6 + Double(t.tv_usec) }
        process = micros(usage.ru_utime) + micros(usage.ru_stime)
        cores = ProcessInfo.processInfo.activeProcessorCount
    }

    private init(machine: Double, process: Double, cores: Int) {
        self.machine = machine
        self.process = process
        self.cores = cores
    }

    func since(_ earlier: CPUSample) -> CPUSample {
        CPUSample(machine: machine - earlier.machine, process: process - earlier.process, cores: cores)
    }
}

/// A fresh database on the PostgreSQL at `server` (its URL with any database), by psql.
func freshDatabase(_ server: String) throws -> PostgresLocation {
    guard let base = PostgresLocation(url: server) else { throw BenchError("DXCP_BENCH_POSTGRES_URL is not a postgres:// URL") }
    let name = "bench_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    let psql = Process()
    psql.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
    psql.arguments = [server, "-XAtqc", "CREATE DATABASE \(name)"]
    try psql.run()
    psql.waitUntilExit()
    guard psql.terminationStatus == 0 else { throw BenchError("cannot create a database on \(base)") }
    var location = base
    location.database = name
    return location
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@discardableResult
func benchWrites(callers: Int, decisions: Int, audited: Bool = true) async throws -> Double {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-bench-\(UUID().uuidString)").path
    let keep = ProcessInfo.processInfo.environment["DXCP_BENCH_KEEP"] == "1"
    defer { if keep { print("kept \(dir)") } else { try? FileManager.default.removeItem(atPath: dir) } }
    let groups = 1000
    var options = GovernanceStore.Options(create: true)
    options.writesAudit = audited
    let base = Timestamp(seconds: 1_795_608_000)
    let store = try await seededStore(dir, options: options, policy: bigPolicy(groups: groups, maxConcurrent: 1_000, dailyDeploy: 1_000), at: base)
    let admin = Principal(claims: Claims(subject: "admin", email: "lead@example.com", roles: .values(["dxcp-platform-admins"])))
    let before = store.writeStatistics()
    let perCaller = decisions / callers
    let t0 = nowMicros()
    let allowed = try await withThrowingTaskGroup(of: Int.self) { group in
        for c in 0..<callers {
            group.addTask {
                var ok = 0
                for i in 0..<perCaller {
                    let n = c * perCaller + i
                    let intent = DeploymentIntent(service: "service-\(n % groups)", environment: ["sandbox", "staging", "production"][n % 3], version: "1.0.0", changeSummary: "bench \(n)")
                    let d = try await store.decide(.deploy(intent), by: admin, context: DecisionContext(now: base, decisionId: "d\(n)", newId: RecordID.make(at: base.adding(seconds: Int64(n))), idempotencyKey: "k\(n)"))
                    if d.allowed { ok += 1 }
                }
                return ok
            }
        }
        return try await group.reduce(0, +)
    }
    let elapsed = Double(nowMicros() - t0) / 1_000_000
    let stats = store.writeStatistics()
    let txns = stats.transactions - before.transactions
    let done = stats.committed - before.committed
    func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
    let applying = ms(stats.applying - before.applying), committing = ms(stats.committing - before.committing)
    print(String(format: "write  %3d caller(s)%@  %6d durable deploy decisions in %6.2f s  = %8.0f decisions/s  (%d allowed; %d transactions, mean batch %.1f, largest %d; per transaction: apply %.2f ms, commit %.2f ms)",
        callers, (audited ? "" : " no audit") as NSString, done, elapsed, Double(done) / elapsed, allowed, txns, Double(done) / Double(max(1, txns)), stats.largestBatch,
        applying / Double(max(1, txns)), committing / Double(max(1, txns))))
    await store.close()
    return Double(done) / elapsed
}

func benchFingerprint() {
    let intent = DeploymentIntent(service: "service-500", environment: "staging", version: "1.0.0", changeSummary: "bench")
    var total = 0
    let t0 = nowNanos()
    for _ in 0..<1_000_000 { total &+= intent.fingerprint.utf8.count }
    print(String(format: "fingerprint  %.0f ns each (%d bytes)", Double(nowNanos() - t0) / 1e6, total / 1_000_000))
}

/// Resident memory of this process from /proc/self/status, in MiB: anonymous (heap, stacks) and
/// file-backed (the LMDB map's pages in the page cache).
func residentMemory() -> (anonymous: Double, file: Double) {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    func field(_ name: String) -> Double {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
            let kb = line.split(separator: " ").compactMap({ Double($0) }).first
        else { return 0 }
        return kb / 1024
    }
    return (field("RssAnon"), field("RssFile"))
}

/// `scale`: one store filled through the write path — every deploy decided with its key,
/// dispatched and ended, idempotency records kept (a year's TTL) — and measured at each size of
/// `DXCP_BENCH_SCALE_SIZES` (default 10,000, 100,000, 1,000,000 deployments): validate, a durable
/// deploy, a read by id, the first page of the deployment list (all, and an owner's), an audit
/// page (all, and filtered by group); the data file and resident memory.
func benchScale() async throws {
    let sizes = (ProcessInfo.processInfo.environment["DXCP_BENCH_SCALE_SIZES"] ?? "10000,100000,1000000").split(separator: ",").compactMap { Int($0) }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-scale-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let groups = 1000
    let base = Timestamp(seconds: 1_795_608_000)
    var policy = bigPolicy(groups: groups, maxConcurrent: 1_000, dailyDeploy: 100_000)
    policy.settings.idempotencyTTLSeconds = 31_536_000
    let store = try await seededStore(dir, options: GovernanceStore.Options(mapSize: 32 << 30, create: true), policy: policy, at: base)
    let admin = Principal(claims: Claims(subject: "admin", email: "lead@example.com", roles: .values(["dxcp-platform-admins"])))
    let owner = Principal(claims: Claims(subject: "owner-500", email: "owner500@example.com", roles: .values(["dxcp-delivery-owners"])))
    func intent(_ n: Int) -> DeploymentIntent {
        DeploymentIntent(service: "service-\(n % groups)", environment: ["sandbox", "staging", "production"][n % 3], version: "1.0.0", changeSummary: "release \(n) of the service")
    }
    // Deploy n happens at base + n/10 seconds: ten a second, a day's quota never reached.
    func time(_ n: Int) -> Timestamp { Timestamp(microseconds: base.microseconds + Int64(n) * 100_000) }
    var filled = 0
    print("scale  size  fill/s  validate p50/p99 µs  deploy p50 ms  by id p50 µs  list p50 µs  owner list p50 µs  audit p50 µs  audit by group p50 µs  data file MiB  used MiB  anon RSS MiB  file RSS MiB")
    for size in sizes {
        let t0 = nowMicros()
        let cpu0 = CPUSample()
        let callers = 64
        let from = filled
        let made = try await withThrowingTaskGroup(of: Int.self) { group in
            for c in 0..<callers {
                group.addTask {
                    var mine = 0
                    var n = from + c
                    while n < size {
                        let id = RecordID.make(at: time(n))
                        let d = try await store.decide(.deploy(intent(n)), by: admin, context: DecisionContext(now: time(n), decisionId: "d\(n)", newId: id, idempotencyKey: "k\(n)"))
                        if d.allowed {
                            _ = try await store.recordDispatch(deploymentId: id, executionId: "E\(n)", executionURL: nil, now: time(n))
                            _ = try await store.recordEngineState(deploymentId: id, state: .succeeded, failures: [], now: time(n))
                            mine += 1
                        }
                        n += callers
                    }
                    return mine
                }
            }
            return try await group.reduce(0, +)
        }
        precondition(made == size - from, "every fill deploy is allowed")
        let fillCPU = CPUSample().since(cpu0)
        print(String(format: "scale  fill to %d: CPU per deploy's life (decided, dispatched, ended: three durable write jobs) %.0f µs on the machine, %.0f µs this process; the cores %.0f%% busy",
            size, fillCPU.machine / Double(made), fillCPU.process / Double(made), 100 * fillCPU.machine / (Double(nowMicros() - t0) * Double(fillCPU.cores))))
        filled = size
        // A thousand ids spread evenly over the store, read from the time index: the reads by id
        // touch as many pages at every size.
        let ids = try store.deploymentIds(stride: size / 1000)
        let fillRate = Double(size - from) / (Double(nowMicros() - t0) / 1_000_000)
        let now = time(size)
        for round in 0..<(Int(ProcessInfo.processInfo.environment["DXCP_BENCH_SCALE_REPEAT"] ?? "") ?? 2) {
        if round > 0 { try await Task.sleep(for: .seconds(20)) }
        func timed(_ count: Int, _ body: (Int) async throws -> Void) async rethrows -> [UInt64] {
            var samples: [UInt64] = []
            samples.reserveCapacity(count)
            for i in 0..<count {
                let t = nowNanos()
                try await body(i)
                samples.append(nowNanos() - t)
            }
            return samples.sorted()
        }
        let validate = try await timed(20_000) { i in
            _ = try store.decideReadOnly(.validate(intent(i)), by: admin, context: DecisionContext(now: now, decisionId: "v\(i)", newId: "v\(i)", idempotencyKey: nil))
        }
        let deploy = try await timed(300) { i in
            let n = size + 1_000_000_000 + round * 10_000 + i
            _ = try await store.decide(.deploy(intent(n)), by: admin, context: DecisionContext(now: now, decisionId: "x\(n)", newId: RecordID.make(at: now), idempotencyKey: "x\(n)"))
        }
        let byId = try await timed(20_000) { i in _ = try store.deployment(id: ids[i % ids.count]) }
        let list = try await timed(200) { i in
            _ = try store.decideReadOnly(.listDeployments(DeploymentQuery(limit: 200)), by: admin, context: DecisionContext(now: now, decisionId: "l\(i)", newId: "l\(i)", idempotencyKey: nil))
        }
        let ownerList = try await timed(200) { i in
            _ = try store.decideReadOnly(.listDeployments(DeploymentQuery(limit: 200)), by: owner, context: DecisionContext(now: now, decisionId: "o\(i)", newId: "o\(i)", idempotencyKey: nil))
        }
        let audit = try await timed(200) { _ in _ = try store.auditEvents(AuditQuery(limit: 200)) }
        let auditByGroup = try await timed(200) { _ in _ = try store.auditEvents(AuditQuery(deliveryGroupId: "group-500", limit: 200)) }
        let file = (try? FileManager.default.attributesOfItem(atPath: dir + "/data.mdb")[.size] as? Int) ?? 0
        let memory = residentMemory()
        func us(_ s: [UInt64], _ p: Double) -> Double { Double(percentile(s, p)) / 1000 }
        print(String(format: "scale  %7d  %6.0f  %7.2f / %7.2f  %6.2f  %6.2f  %8.1f  %8.1f  %8.1f  %8.1f  %8.0f  %8.0f  %6.1f  %7.1f",
            size, fillRate, us(validate, 0.5), us(validate, 0.99), us(deploy, 0.5) / 1000, us(byId, 0.5), us(list, 0.5), us(ownerList, 0.5),
            us(audit, 0.5), us(auditByGroup, 0.5), Double(file) / 1_048_576, Double(store.usage()?.used ?? 0) / 1_048_576, memory.anonymous, memory.file))
        }
    }
    await store.close()
}

/// Prints development tokens for `count` actors (`tokens SECRET ROLE COUNT`), for HTTP load.
func printTokens(_ args: [String]) async throws {
    guard args.count >= 3, let count = Int(args[2]) else { return }
    let authenticator = Authenticator(
        keys: try await Authenticator.keys(jwks: nil, developmentSecret: args[0]), requirements: .init(issuer: nil, audience: nil))
    let roles = ["owner": "dxcp-delivery-owners", "admin": "dxcp-platform-admins", "ci": "dxcp-ci-publishers"]
    for n in 0..<count {
        print(try await authenticator.signDevelopmentToken([
            "sub": .string(args[1] == "ci" ? "ci-bot" : "\(args[1])-\(n)"), "email": .string("owner@example.com"),
            WireClaims.defaultRolesClaim: .array([.string(roles[args[1]] ?? "dxcp-delivery-owners")]),
            "exp": .int(Int64(Date().timeIntervalSince1970) + 7200),
        ]))
    }
}

let args = CommandLine.arguments.dropFirst()
if args.first == "fingerprint" { benchFingerprint() }
if args.first == "tokens" {
    try await printTokens(Array(args.dropFirst()))
    exit(0)
}
let what = args.first ?? "all"
if what == "scale" { try await benchScale() }
if what == "rules" || what == "all" { benchRules() }
if what == "audit" || what == "all" {
    // The cost of the audit write on the durable decision rate: the same load with and without
    // it, alternating on fresh stores, in one run.
    let rounds = Int(ProcessInfo.processInfo.environment["DXCP_BENCH_ROUNDS"] ?? "") ?? 5
    let batched = Int(ProcessInfo.processInfo.environment["DXCP_BENCH_BATCHED"] ?? "") ?? 12_800
    var ratios: [Double] = []
    for _ in 0..<rounds {
        let with = try await benchWrites(callers: 64, decisions: batched)
        let without = try await benchWrites(callers: 64, decisions: batched, audited: false)
        ratios.append(with / without)
        print(String(format: "audit  audited rate / unaudited rate: %.3f", with / without))
    }
    ratios.sort()
    print(String(format: "audit  median over %d rounds: %.3f  (min %.3f, max %.3f)", rounds, ratios[rounds / 2], ratios.first ?? 0, ratios.last ?? 0))
}
if what == "fleet" {
    // Durable deploy decisions: one LMDB node against 1, 2 and 3 replicas on one PostgreSQL, in
    // one run, alternating, on fresh stores; the same load (64 callers, 1,000 groups). Each
    // configuration also prints the machine's CPU per decision and how busy the cores were.
    //   DXCP_BENCH_CALLERS=per-replica  64 callers for each replica instead of 64 in all
    //   DXCP_BENCH_NODE_CALLERS=N       the LMDB node's callers (64)
    //   DXCP_BENCH_FLEET=separate       the ceiling of any coordination between replicas: each
    //                                   replica on a database of its own (same server), sharing
    //                                   nothing, so no lock, row or chain is ever waited for
    guard let server = ProcessInfo.processInfo.environment["DXCP_BENCH_POSTGRES_URL"] else {
        print("set DXCP_BENCH_POSTGRES_URL to a PostgreSQL (bash scripts/postgres.sh start DIR prints one)")
        exit(2)
    }
    let rounds = Int(ProcessInfo.processInfo.environment["DXCP_BENCH_ROUNDS"] ?? "") ?? 3
    let decisions = Int(ProcessInfo.processInfo.environment["DXCP_BENCH_BATCHED"] ?? "") ?? 6_400
    let perReplica = ProcessInfo.processInfo.environment["DXCP_BENCH_CALLERS"] == "per-replica"
    let separate = ProcessInfo.processInfo.environment["DXCP_BENCH_FLEET"] == "separate"
    let nodeCallers = Int(ProcessInfo.processInfo.environment["DXCP_BENCH_NODE_CALLERS"] ?? "") ?? 64
    let groups = 1000
    let base = Timestamp(seconds: 1_795_608_000)
    let policy = bigPolicy(groups: groups, maxConcurrent: 1_000, dailyDeploy: 1_000)
    var ratios: [Double] = []
    for _ in 0..<rounds {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxcp-bench-\(UUID().uuidString)").path
        let node = try await seededStore(dir, options: GovernanceStore.Options(create: true), policy: policy, at: base)
        let lmdb = try await benchDeploys("LMDB node   ", stores: [node], callers: nodeCallers, decisions: decisions, groups: groups, base: base)
        await node.close()
        try? FileManager.default.removeItem(atPath: dir)
        var rates: [Double] = []
        for replicas in 1...3 {
            let location = try freshDatabase(server)
            var fleet = [try FleetStore(location: location, options: .init(migrate: true))]
            try await seed(fleet[0], policy: policy, at: base)
            while fleet.count < replicas {
                if separate {
                    // The ceiling of the lock's design: replicas that share nothing, each on a
                    // database of its own on the same server.
                    let own = try FleetStore(location: try freshDatabase(server), options: .init(migrate: true))
                    try await seed(own, policy: policy, at: base)
                    fleet.append(own)
                } else {
                    fleet.append(try FleetStore(location: location))
                }
            }
            // The same 64 callers spread over the replicas, or (DXCP_BENCH_CALLERS=per-replica) 64
            // for each replica, as a balancer gives each replica its share of many more clients.
            let callers = perReplica ? 64 * replicas : 64
            rates.append(try await benchDeploys("\(replicas) replica\(replicas == 1 ? " " : "s")", stores: fleet, callers: callers, decisions: decisions, groups: groups, base: base))
            for replica in fleet { await replica.close() }
        }
        ratios.append(rates[2] / lmdb)
        print(String(format: "fleet  3 replicas / LMDB node: %.2f   (1 replica %.2f, 2 replicas %.2f)", rates[2] / lmdb, rates[0] / lmdb, rates[1] / lmdb))
    }
    ratios.sort()
    print(String(format: "fleet  median of 3 replicas / LMDB node over %d rounds: %.2f", rounds, ratios[rounds / 2]))
}
if what == "write" || what == "all" {
    // Rounds on fresh stores; the machine is noisy, so the ratio is reported per round and as
    // the median.
    let rounds = Int(ProcessInfo.processInfo.environment["DXCP_BENCH_ROUNDS"] ?? "") ?? 5
    let batched = Int(ProcessInfo.processInfo.environment["DXCP_BENCH_BATCHED"] ?? "") ?? 12_800
    var ratios: [Double] = []
    for _ in 0..<rounds {
        let one = try await benchWrites(callers: 1, decisions: 2_000)
        let many = try await benchWrites(callers: 64, decisions: batched)
        ratios.append(many / one)
        print(String(format: "write  group commit: %.2f× the one-caller rate", many / one))
    }
    ratios.sort()
    print(String(format: "write  median over %d rounds: %.2f×  (min %.2f×, max %.2f×)", rounds, ratios[rounds / 2], ratios.first ?? 0, ratios.last ?? 0))
}

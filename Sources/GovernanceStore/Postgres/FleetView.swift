import Rules

/// The rules' view of a fleet's state through a ``FleetBatch``.
///
/// Questions by key are answered from what the batch knows. What it does not know is, when
/// *probing*, noted for the batch's next read and answered with a guess (a decision evaluated
/// while probing is never committed or returned), and when *live*, read at once. Other questions
/// (listings, the newest record of a service, insight counters) are read directly with the
/// batch's writes flushed first; a probe does not ask them.
///
/// As with ``StoreView``, a read error cannot be thrown through the rules: the view records the
/// first one and answers neutrally, and the owner discards the decision when ``failure`` is set.
final class FleetView: StateView {
    enum Mode {
        case probe, live
    }

    let batch: FleetBatch
    var mode: Mode
    /// Answers given without knowing them (a probe's guesses): the decision is not the rules' answer.
    private(set) var guessed = 0
    /// Whether a probe met a question not asked by key (read only when live).
    private(set) var askedUnkeyed = false
    // INVARIANT: set at most once, by the first failed read; a decision evaluated while it is set
    // is never committed or returned.
    private(set) var failure: (any Error)?
    private var direct: PostgresReads { PostgresReads(session: batch.session, codec: batch.codec) }

    init(batch: FleetBatch, mode: Mode) {
        self.batch = batch
        self.mode = mode
    }

    private func known<T>(_ guess: T, _ ask: (inout Questions) -> Void, _ answer: () -> T?) -> T {
        if let value = answer() { return value }
        switch mode {
        case .probe:
            guessed += 1
            ask(&batch.asked)
            return guess
        case .live:
            guard failure == nil else { return guess }
            do {
                return try batch.known(ask, answer) ?? guess
            } catch {
                failure = error
                return guess
            }
        }
    }

    private func unkeyed<T>(_ guess: T, _ body: (PostgresReads) throws -> T) -> T {
        switch mode {
        case .probe:
            guessed += 1
            askedUnkeyed = true
            return guess
        case .live:
            guard failure == nil else { return guess }
            do {
                try batch.flush()
                return try body(direct)
            } catch {
                failure = error
                return guess
            }
        }
    }

    func rateCount(_ window: RateWindow) -> Int {
        known(0, { $0.rates.insert(window) }) { batch.rates[window] }
    }

    func quotaUsed(_ scope: QuotaScope, day: Int64) -> Int {
        let key = QuotaKey(scope: scope, day: day)
        return known(0, { $0.quotas.insert(key) }) { batch.quotas[key] }
    }

    func slotUsage(group: String, environment: String, staleBefore: Timestamp) -> SlotUsage {
        let scope = SlotScope(group: group, environment: environment)
        return known(SlotUsage(holding: 0, stale: []), { $0.slots(scope, staleBefore: staleBefore) }) {
            batch.slots[scope]?.usage(staleBefore: staleBefore)
        }
    }

    func deployment(id: String) -> DeploymentRecord? {
        known(nil, { $0.deployments.insert(id) }) { batch.deployments[id] }
    }

    func build(service: String, version: String) -> Build? {
        let key = BuildKey(service: service, version: version)
        return known(nil, { $0.builds.insert(key) }) { batch.builds[key] }
    }

    func isRegistered(service: String, version: String) -> Bool {
        // A probe guesses registered, so that it goes on to ask what a deploy asks next.
        let key = BuildKey(service: service, version: version)
        return known(true, { $0.builds.insert(key) }) { batch.builds[key].map { $0 != nil } }
    }

    func idempotencyRecord(_ scope: IdempotencyScope) -> IdempotencyRecord? {
        known(nil, { $0.idempotency.insert(scope) }) { batch.idempotency[scope] }
    }

    func activeDeployments(group: String, environment: String) -> [ActiveDeployment] {
        unkeyed([]) { try $0.activeDeployments(group: group, environment: environment) }
    }

    func latestSucceeded(service: String, environment: String, before: Timestamp) -> DeploymentRecord? {
        unkeyed(nil) { try $0.latestSucceeded(service: service, environment: environment, before: before) }
    }

    func hasSucceeded(service: String, environment: String, version: String) -> Bool {
        unkeyed(false) { try $0.hasSucceeded(service: service, environment: environment, version: version) }
    }

    func latestDeployment(service: String, environment: String) -> DeploymentRecord? {
        unkeyed(nil) { try $0.latestDeployment(service: service, environment: environment) }
    }

    func insightCounts(hours: ClosedRange<Int64>) -> [InsightCount] {
        unkeyed([]) { try $0.insightCounts(hours: hours) }
    }

    func builds(service: String) -> [Build] {
        unkeyed([]) { try $0.builds(service: service) }
    }

    func uploadCapabilities(service: String, version: String) -> [UploadCapability] {
        unkeyed([]) { try $0.uploadCapabilities(service: service, version: version) }
    }

    func deployments(matching query: DeploymentQuery, groups: Set<String>?) -> [DeploymentRecord] {
        unkeyed([]) { try $0.deployments(matching: query, groups: groups) }
    }
}

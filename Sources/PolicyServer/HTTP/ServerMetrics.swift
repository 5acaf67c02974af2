public import Engine
import Metrics
import Prometheus
import Synchronization

/// The service's metrics in Prometheus form (`GET /metrics`): request latency by route and status,
/// decisions by action, outcome and code, write batch sizes and commit latency. Each server owns
/// its registry, so several can run in one process (tests).
public final class ServerMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    // Handles by label values: a request looks its metrics up instead of building them.
    private let timers = Mutex<[RequestKey: Metrics.Timer]>([:])
    private let counters = Mutex<[DecisionKey: Metrics.Counter]>([:])
    // Made once: a deploy counts its dispatch without building a handle.
    private let dispatches: (started: Metrics.Counter, released: Metrics.Counter, unconfirmed: Metrics.Counter, untracked: Metrics.Counter)

    private struct RequestKey: Hashable {
        var route: String
        var status: Int
    }

    private struct DecisionKey: Hashable {
        var action: String
        var allowed: Bool
        var code: String?
    }

    /// Empty metrics.
    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        factory.defaultValueHistogramBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        self.factory = factory
        let dispatched = { (outcome: String) in
            Metrics.Counter(label: "dxcp_engine_dispatches_total", dimensions: [("outcome", outcome)], factory: factory)
        }
        dispatches = (dispatched("started"), dispatched("released"), dispatched("unconfirmed"), dispatched("untracked"))
    }

    /// One answered request; `route` is the action or a fixed name, never a raw path.
    func request(route: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, status: status)
        let timer = timers.withLock { timers in
            if let timer = timers[key] { return timer }
            let timer = Metrics.Timer(label: "dxcp_http_request_duration_seconds", dimensions: [("route", route), ("status", String(status))], factory: factory)
            timers[key] = timer
            return timer
        }
        timer.recordInterval(duration)
    }

    /// One decision.
    func decision(action: String, allowed: Bool, code: String?) {
        let key = DecisionKey(action: action, allowed: allowed, code: code)
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Metrics.Counter(
                label: "dxcp_decisions_total", dimensions: [("action", action), ("outcome", allowed ? "allowed" : "denied"), ("code", code ?? "none")],
                factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    /// One committed write batch.
    public func batch(size: Int, applying: Duration, committing: Duration) {
        Recorder(label: "dxcp_write_batch_size", factory: factory).record(size)
        Timer(label: "dxcp_write_commit_duration_seconds", factory: factory).recordInterval(committing)
        Timer(label: "dxcp_write_apply_duration_seconds", factory: factory).recordInterval(applying)
    }

    /// One dispatch to the engine, by what became of it.
    func dispatch(_ outcome: Dispatcher.Outcome) {
        switch outcome {
        case .started: dispatches.started.increment()
        case .released: dispatches.released.increment()
        case .unconfirmed: dispatches.unconfirmed.increment()
        case .untracked: dispatches.untracked.increment()
        }
    }

    /// One reconciler pass: what it resolved, and the reservations still waiting for their outcome.
    public func reconciled(_ report: Reconciler.Report) {
        for (result, count) in [
            ("recorded", report.recorded.count), ("released", report.released.count), ("unresolved", report.unresolved.count),
            ("damaged", report.damaged.count), ("untracked", report.untracked.count),
        ]
        where count > 0 {
            Metrics.Counter(label: "dxcp_engine_reconciled_total", dimensions: [("result", result)], factory: factory).increment(by: count)
        }
        Gauge(label: "dxcp_engine_dispatches_pending", factory: factory).record(report.pending)
        Gauge(label: "dxcp_engine_dispatch_oldest_pending_seconds", factory: factory).record(report.oldestPendingSeconds)
    }

    /// Whether the data file was last seen nearly full; returns whether that changed (to log a
    /// crossing once, not every probe).
    func nearlyFull(_ now: Bool) -> Bool {
        mapNearlyFull.withLock { was in
            defer { was = now }
            return was != now
        }
    }
    private let mapNearlyFull = Mutex(false)

    /// One decision refused because the writer's queue was full.
    func overloaded() {
        Counter(label: "dxcp_store_overloaded_total", factory: factory).increment()
    }

    /// The store's map: its size and the bytes of it in use (the data file's high-water mark).
    func store(mapSize: Int, used: Int) {
        Gauge(label: "dxcp_store_map_size_bytes", factory: factory).record(mapSize)
        Gauge(label: "dxcp_store_used_bytes", factory: factory).record(used)
    }

    /// The Prometheus text exposition.
    func render() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}

extension Timer {
    fileprivate func recordInterval(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

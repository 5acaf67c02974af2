import Foundation

/// Threads of their own for libcurl's blocking calls. A call to Gate can block for its whole
/// timeout; on these threads it holds neither a thread of Swift's cooperative pool nor one of
/// Dispatch's global queues, and up to `limit` calls run at once, so concurrent triggers do not
/// queue behind each other. Threads start when needed and then stay, waiting for work.
final class CurlWorkers: @unchecked Sendable {
    /// The process's pool for Gate: every Gate client shares it.
    static let shared = CurlWorkers(limit: 64)
    /// A small pool for documents the server fetches for itself (a JWKS): a refresh of the
    /// signing keys never waits behind Gate calls that hang for their timeout.
    static let fetches = CurlWorkers(limit: 4)

    // INVARIANT: `jobs`, `head`, `threads`, `idle` and `wakeups` are read and written only while
    // `condition` is locked. `idle` counts waiting threads not yet handed a wake-up; `wakeups`
    // counts wake-ups handed out and not yet taken, so a spurious wake-up takes nothing and a
    // thread woken for a job is never counted as idle by the next `submit`.
    private let condition = NSCondition()
    private var jobs: [(@Sendable () -> Void)?] = []
    private var head = 0
    private var threads = 0
    private var idle = 0
    private var wakeups = 0
    /// The most threads started.
    let limit: Int

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Runs `job` on a worker thread: an idle one, a new one while fewer than `limit` exist, or the
    /// first to become free.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        var start = false
        if idle > 0 {
            idle -= 1
            wakeups += 1
            condition.signal()
        } else if threads < limit {
            threads += 1
            start = true
        }
        condition.unlock()
        if start {
            let thread = Thread { [self] in work() }
            thread.name = "dxcp.curl"
            thread.start()
        }
    }

    private func work() {
        condition.lock()
        while true {
            while head == jobs.count {
                idle += 1
                while wakeups == 0 { condition.wait() }
                wakeups -= 1
            }
            let job = jobs[head]
            jobs[head] = nil
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1_024, head * 2 >= jobs.count {
                // A backlog that never drains (every worker held by a hanging Gate) would otherwise
                // keep the slots of every job ever taken.
                jobs.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job?()
            condition.lock()
        }
    }
}

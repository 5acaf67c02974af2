import Rules
import Synchronization

/// Per-actor read windows (`read_rpm`) and gateway windows, kept in process memory.
///
/// Reads never take the writer, so their rate windows are not written to LMDB: a lost count costs
/// at most one minute of one actor's read allowance. Mutate windows are in LMDB, exact across
/// processes (docs/DECISIONS.md).
final class ReadWindows: Sendable {
    private let counts = Mutex<[RateWindow: Int]>([:])

    /// Requests counted in `window`.
    func count(_ window: RateWindow) -> Int {
        counts.withLock { $0[window] ?? 0 }
    }

    /// Counts one request; windows older than the previous minute are dropped as they pass.
    func hit(_ window: RateWindow) {
        counts.withLock { counts in
            counts[window, default: 0] += 1
            if counts.count > 4096 {
                counts = counts.filter { $0.key.minute >= window.minute - 1 }
            }
        }
    }
}

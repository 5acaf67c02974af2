import Rules
import Synchronization

/// Per-actor read windows (`read_rpm`) and gateway windows, kept in process memory.
///
/// Reads never take the writer, so their rate windows are not written to LMDB: a lost count costs
/// at most one minute of one actor's read allowance. Mutate windows are in LMDB, exact across
/// processes (docs/DECISIONS.md).
final class ReadWindows: Sendable {
    private struct Counts {
        // Keyed by bytes: two actors whose ids differ only in Unicode normalisation are two actors.
        var windows = RowMap<RateWindow, Int>()
        /// The latest minute counted in; windows before the one preceding it are gone.
        var minute: Int64 = .min
    }

    private let counts = Mutex(Counts())

    /// Requests counted in `window`.
    func count(_ window: RateWindow) -> Int {
        counts.withLock { $0.windows[window] ?? 0 }
    }

    /// Counts one request. The first request of a new minute drops the windows older than the
    /// previous minute, so memory follows the actors of the last two minutes and each request
    /// pays one dictionary update, however many actors there are. A minute more than two behind
    /// the latest (the clock stepped back) starts over from it, dropping the windows ahead of it,
    /// so memory stays bounded and no count from before the step is charged again.
    func hit(_ window: RateWindow) {
        counts.withLock { counts in
            counts.windows[window, default: 0] += 1
            if window.minute > counts.minute || window.minute < counts.minute - 2 {
                counts.minute = window.minute
                counts.windows = counts.windows.filtered { key, _ in (window.minute - 1)...window.minute ~= key.minute }
            }
        }
    }

    /// How many windows are held (for tests).
    var windowCount: Int { counts.withLock { $0.windows.count } }
}

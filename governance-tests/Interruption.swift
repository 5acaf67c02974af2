import Foundation
import Synchronization

/// SIGINT and SIGTERM stop the run between checks instead of killing it: the remaining checks
/// are not run, and what the run changed is still restored before it exits.
final class Interruption: Sendable {
    private let flag = Atomic<Bool>(false)
    private let sources: Mutex<[any DispatchSourceSignal]> = Mutex([])

    /// True once a signal arrived.
    var requested: Bool { flag.load(ordering: .relaxed) }

    /// Starts catching SIGINT and SIGTERM.
    func install() {
        sources.withLock { sources in
            for signalNumber in [SIGINT, SIGTERM] {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
                source.setEventHandler { [self] in
                    if flag.exchange(true, ordering: .relaxed) {
                        // A second signal: give up restoring.
                        exit(130)
                    }
                    FileHandle.standardError.write(Data("governance-tests: interrupted; restoring what the run changed (signal again to stop at once)\n".utf8))
                }
                source.resume()
                sources.append(source)
            }
        }
    }
}

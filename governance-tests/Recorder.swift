import Foundation

/// Runs named checks one at a time, records their outcomes and prints a line for each.
final class Recorder {
    /// How cannot-run is judged.
    let profile: Profile
    /// Every outcome, in the order the checks ran.
    private(set) var results: [CheckResult] = []
    /// The harness step checks are filed under now.
    var step = "setup"
    /// Where progress lines go (nil: nowhere).
    let log: ((String) -> Void)?
    /// Set when the run was interrupted: checks no longer run, restores still do.
    let interruption: Interruption?

    /// Set when the rest of the run cannot run (the API does not answer): later checks report it at once.
    var abandoned: String?

    /// A recorder judging by `profile`.
    init(profile: Profile, log: ((String) -> Void)?, interruption: Interruption? = nil) {
        self.profile = profile
        self.log = log
        self.interruption = interruption
    }

    /// Runs `body` as the check `id`. `body` returns evidence for the record; it throws
    /// ``CheckFailure`` when the API is wrong and ``CannotRun`` when a prerequisite is missing.
    /// Returns true when the check passed.
    /// A `restoring` check runs even after an interruption.
    @discardableResult
    func check(
        _ id: String, _ classification: Classification, _ section: String, _ title: String, restoring: Bool = false,
        _ body: () async throws -> String
    ) async -> Bool {
        let started = Date()
        var status = CheckStatus.passed
        var detail: String
        do {
            if interruption?.requested == true, !restoring { throw CannotRun("the run was interrupted") }
            if let abandoned, !restoring { throw CannotRun(abandoned) }
            detail = try await body()
        } catch let error as CannotRun {
            status = profile == .strict ? .failed : .skipped
            detail = profile == .strict ? "cannot run (strict): \(error.reason)" : "skipped: \(error.reason)"
        } catch let error as CheckFailure {
            status = .failed
            detail = error.message
        } catch {
            status = .failed
            detail = "unexpected error: \(error)"
        }
        let result = CheckResult(
            id: id, step: step, classification: classification, section: section, title: title, status: status, detail: detail,
            seconds: Date().timeIntervalSince(started))
        results.append(result)
        let mark = switch status {
        case .passed: "PASS"
        case .failed: "FAIL"
        case .skipped: "SKIP"
        }
        log?("\(mark)  \(id)  [\(classification.rawValue) \(section)]\(status == .passed ? "" : "\n      \(detail)")")
        return status == .passed
    }

    /// Records that the check `id` cannot run because an earlier step did not provide what it needs.
    func cannotRun(_ id: String, _ classification: Classification, _ section: String, _ title: String, _ reason: String) async {
        await check(id, classification, section, title) { throw CannotRun(reason) }
    }

    /// The outcome of `id`, if it ran.
    func result(_ id: String) -> CheckResult? { results.first { $0.id == id } }

    /// Counts for the summary and the snapshot.
    var counts: Counts {
        Counts(
            total: results.count, passed: results.count { $0.status == .passed }, failed: results.count { $0.status == .failed },
            skipped: results.count { $0.status == .skipped }, requiredFailed: results.count { $0.required && $0.status == .failed },
            requiredSkipped: results.count { $0.required && $0.status == .skipped })
    }

    /// True when the run is conformant. Only CONTRACT checks decide: in `strict` every one of
    /// them ran and passed; in `diagnostic` none failed (skips are reported). DIAGNOSTIC checks
    /// prove product decisions beyond the contract's letter: they are reported, never decisive.
    var conformant: Bool {
        let contract = results.filter(\.required)
        return switch profile {
        case .strict: !contract.isEmpty && contract.allSatisfy { $0.status == .passed }
        case .diagnostic: !contract.isEmpty && !contract.contains { $0.status == .failed }
        }
    }
}

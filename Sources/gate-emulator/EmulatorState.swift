import Foundation
import NIOConcurrencyHelpers

/// How executions of a pipeline end.
struct Outcome {
    var pipeline: String
    var status: String
    var afterSeconds: Double
}

/// A fault to inject: what it matches, what it does, and how many more times.
struct Fault {
    enum Action {
        case status(Int)
        case redirect(String)
        case garbage
        case delay(milliseconds: Int)
        case hang
        case noExecutionId
    }

    /// Matches a pipeline name, or a path prefix, or everything when both are nil.
    var pipeline: String?
    var pathPrefix: String?
    var action: Action
    var remaining: Int?
}

/// One execution the emulator started.
struct Execution {
    var id: String
    var application: String
    var pipeline: String
    var user: String?
    var parameters: [String: Any]
    var started: Date
    var outcome: Outcome
    var forcedStatus: String?

    var status: String {
        if let forcedStatus { return forcedStatus }
        return Date().timeIntervalSince(started) >= outcome.afterSeconds ? outcome.status : "RUNNING"
    }

    var json: [String: Any] {
        let status = self.status
        var stage: [String: Any] = ["type": "deploy", "name": "Deploy", "status": status]
        if status == "TERMINAL" { stage["context"] = ["error": "deploy stage failed: connection refused by target"] }
        return [
            "id": id, "application": application, "name": pipeline, "status": status,
            "startTime": Int(started.timeIntervalSince1970 * 1000),
            "trigger": ["type": "manual", "user": user ?? "anonymous", "parameters": parameters], "stages": [stage],
        ]
    }
}

/// One request the emulator received (for tests to inspect).
struct RecordedCall {
    var method: String
    var path: String
    var headers: [String: String]
    var body: String
}

/// Everything the emulator knows, behind one lock.
// INVARIANT: every stored value is reached only through `data`'s lock; execution parameters are
// plain JSON values (strings, numbers, arrays, dictionaries) that are never mutated after parsing.
final class EmulatorState: @unchecked Sendable {
    private struct Data {
        var executions: [String: Execution] = [:]
        var order: [String] = []
        var faults: [Fault] = []
        var outcomes: [Outcome] = []
        var calls: [RecordedCall] = []
    }

    private let data: NIOLockedValueBox<Data>
    private let defaultOutcome: Outcome

    init(defaultOutcome: Outcome) {
        self.defaultOutcome = defaultOutcome
        self.data = NIOLockedValueBox(Data())
    }

    func record(_ call: RecordedCall) {
        data.withLockedValue { $0.calls.append(call) }
    }

    /// The first fault matching the request, spending one of its times.
    func fault(path: String, pipeline: String?) -> Fault.Action? {
        data.withLockedValue { d in
            guard let index = d.faults.firstIndex(where: { f in
                (f.pipeline == nil || f.pipeline == pipeline) && (f.pathPrefix.map { path.hasPrefix($0) } ?? true)
            }) else { return nil }
            let action = d.faults[index].action
            if let remaining = d.faults[index].remaining {
                if remaining <= 1 { d.faults.remove(at: index) } else { d.faults[index].remaining = remaining - 1 }
            }
            return action
        }
    }

    func start(application: String, pipeline: String, user: String?, parameters: [String: Any]) -> Execution {
        data.withLockedValue { d in
            let outcome = d.outcomes.last { $0.pipeline == pipeline || $0.pipeline == "*" } ?? defaultOutcome
            let execution = Execution(
                id: UUID().uuidString.lowercased(), application: application, pipeline: pipeline, user: user,
                parameters: parameters, started: Date(), outcome: outcome)
            d.executions[execution.id] = execution
            d.order.append(execution.id)
            return execution
        }
    }

    func execution(_ id: String) -> Execution? {
        data.withLockedValue { $0.executions[id] }
    }

    func executions(application: String) -> [Execution] {
        data.withLockedValue { d in d.order.reversed().compactMap { d.executions[$0] }.filter { $0.application == application } }
    }

    func addFault(_ fault: Fault) { data.withLockedValue { $0.faults.append(fault) } }
    func addOutcome(_ outcome: Outcome) { data.withLockedValue { $0.outcomes.append(outcome) } }

    func force(_ id: String, status: String) -> Bool {
        data.withLockedValue { d in
            guard d.executions[id] != nil else { return false }
            d.executions[id]?.forcedStatus = status
            return true
        }
    }

    func reset() { data.withLockedValue { $0 = Data() } }

    func calls() -> [RecordedCall] { data.withLockedValue { $0.calls } }
}

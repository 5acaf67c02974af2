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
        /// Answer 200 with a JSON object of about `bytes` bytes (a RUNNING execution padded out):
        /// what Gate answers for an execution whose stages carry large outputs.
        case huge(bytes: Int)
        case delay(milliseconds: Int)
        case hang
        case noExecutionId
        /// Start the execution, then fail the answer: what a Gate (or a proxy in front of it) does
        /// when the outcome becomes ambiguous to its caller.
        case startThen(AfterStart)
        /// Close the connection at once, and start the execution `milliseconds` later: a Gate that
        /// stores what it received after its caller gave up.
        case startLater(milliseconds: Int)
    }

    /// How an answer fails after the execution started.
    enum AfterStart {
        /// Answer normally, `milliseconds` late (after the caller's timeout).
        case late(milliseconds: Int)
        /// Answer this status (e.g. 502 from a proxy).
        case status(Int)
        /// Close the connection without answering.
        case close
        /// Answer 200 without an execution id.
        case noExecutionId
        /// Answer 200 with a body that is not JSON.
        case garbage
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
    /// The trigger's `correlationId`: no second execution starts for it while this one runs.
    var correlationId: String?
    /// The trigger's type.
    var triggerType: String

    var status: String {
        if let forcedStatus { return forcedStatus }
        return Date().timeIntervalSince(started) >= outcome.afterSeconds ? outcome.status : "RUNNING"
    }

    /// The trigger's parameters as JSON (sorted keys), written once when the execution starts.
    var parametersJSON: [UInt8]

    var json: [String: Any] {
        let status = self.status
        var stage: [String: Any] = ["type": "deploy", "name": "Deploy", "status": status]
        if status == "TERMINAL" { stage["context"] = ["error": "deploy stage failed: connection refused by target"] }
        return [
            "id": id, "application": application, "name": pipeline, "status": status,
            "startTime": Int(started.timeIntervalSince1970 * 1000),
            "trigger": ["type": triggerType, "user": user ?? "anonymous", "parameters": parameters, "correlationId": correlationId.map { $0 as Any } ?? NSNull()],
            "stages": [stage],
        ]
    }

    /// `json` serialised (sorted keys), written by hand: the answer to `GET /pipelines/{id}`,
    /// asked about every running execution every few seconds, which Foundation's serialiser
    /// made the emulator's largest cost on the cores the service under test shares.
    var jsonBytes: [UInt8] {
        let status = self.status
        var out: [UInt8] = []
        out.reserveCapacity(320 + parametersJSON.count)
        func raw(_ text: String) { out.append(contentsOf: text.utf8) }
        func string(_ text: String) { out.append(contentsOf: jsonString(text)) }
        raw("{\"application\":"); string(application)
        raw(",\"id\":"); string(id)
        raw(",\"name\":"); string(pipeline)
        raw(",\"stages\":[{")
        if status == "TERMINAL" { raw("\"context\":{\"error\":\"deploy stage failed: connection refused by target\"},") }
        raw("\"name\":\"Deploy\",\"status\":"); string(status)
        raw(",\"type\":\"deploy\"}],\"startTime\":\(Int(started.timeIntervalSince1970 * 1000))")
        raw(",\"status\":"); string(status)
        raw(",\"trigger\":{\"correlationId\":")
        if let correlationId { string(correlationId) } else { raw("null") }
        raw(",\"parameters\":"); out.append(contentsOf: parametersJSON)
        raw(",\"type\":"); string(triggerType)
        raw(",\"user\":"); string(user ?? "anonymous")
        raw("}}")
        return out
    }
}

/// A value parsed by `JSONSerialization` as JSON again, keys sorted.
func jsonBytes(_ value: Any) -> [UInt8] {
    var out: [UInt8] = []
    func write(_ value: Any) {
        switch value {
        case let text as String:
            out.append(contentsOf: jsonString(text))
        case let object as [String: Any]:
            out.append(UInt8(ascii: "{"))
            for (n, key) in object.keys.sorted().enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: jsonString(key))
                out.append(UInt8(ascii: ":"))
                write(object[key] as Any)
            }
            out.append(UInt8(ascii: "}"))
        case let array as [Any]:
            out.append(UInt8(ascii: "["))
            for (n, element) in array.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                write(element)
            }
            out.append(UInt8(ascii: "]"))
        case let number as NSNumber:
            // JSONSerialization gives booleans the type code "c", integers "i", "l" or "q".
            switch String(cString: number.objCType) {
            case "c": out.append(contentsOf: (number.boolValue ? "true" : "false").utf8)
            case "f", "d": out.append(contentsOf: "\(number.doubleValue)".utf8)
            default: out.append(contentsOf: "\(number.int64Value)".utf8)
            }
        default:
            out.append(contentsOf: "null".utf8)
        }
    }
    write(value)
    return out
}

/// `text` as a JSON string literal.
func jsonString(_ text: String) -> [UInt8] {
    var out: [UInt8] = [UInt8(ascii: "\"")]
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
        default: out.append(byte)
        }
    }
    out.append(UInt8(ascii: "\""))
    return out
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
        /// Execution id by the trigger's correlation id.
        var correlated: [String: String] = [:]
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

    /// Starts an execution, unless one with the same correlation id still runs: then that one is
    /// answered (as Orca's `ExecutionLauncher` does).
    func start(application: String, pipeline: String, user: String?, parameters: [String: Any], correlationId: String?, triggerType: String) -> Execution {
        data.withLockedValue { d in
            if let correlationId, let id = d.correlated[correlationId], let running = d.executions[id], running.status == "RUNNING" {
                return running
            }
            let outcome = d.outcomes.last { $0.pipeline == pipeline || $0.pipeline == "*" } ?? defaultOutcome
            let execution = Execution(
                id: UUID().uuidString.lowercased(), application: application, pipeline: pipeline, user: user,
                parameters: parameters, started: Date(), outcome: outcome, correlationId: correlationId, triggerType: triggerType,
                parametersJSON: jsonBytes(parameters))
            d.executions[execution.id] = execution
            d.order.append(execution.id)
            if let correlationId { d.correlated[correlationId] = execution.id }
            return execution
        }
    }

    func execution(_ id: String) -> Execution? {
        data.withLockedValue { $0.executions[id] }
    }

    func executions(application: String) -> [Execution] {
        data.withLockedValue { d in d.order.reversed().compactMap { d.executions[$0] }.filter { $0.application == application } }
    }

    /// Gate's execution search (`GET /applications/{app}/executions/search`), as Orca matches it:
    /// trigger types, a trigger that must contain `trigger` (a subset match), a start-time lower
    /// bound; newest first, `size` at most.
    func search(application: String, triggerTypes: Set<String>?, trigger: Any?, startedAfterMs: Int, size: Int) -> [Execution] {
        executions(application: application).filter { execution in
            (triggerTypes?.contains(execution.triggerType) ?? true)
                && Int(execution.started.timeIntervalSince1970 * 1000) >= startedAfterMs
                && trigger.map { contains(execution.json["trigger"] as Any, $0) } ?? true
        }.prefix(size).map { $0 }
    }

    func addFault(_ fault: Fault) { data.withLockedValue { $0.faults.append(fault) } }
    func clearFaults() { data.withLockedValue { $0.faults = [] } }
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

/// Whether `value` contains `subset`: every key of a subset object with a matching value, every
/// element of a subset array matched by some element, equal (case-insensitive) strings, equal
/// numbers and booleans.
func contains(_ value: Any, _ subset: Any) -> Bool {
    switch subset {
    case let object as [String: Any]:
        guard let value = value as? [String: Any] else { return false }
        return object.allSatisfy { key, wanted in value[key].map { contains($0, wanted) } ?? false }
    case let array as [Any]:
        guard let value = value as? [Any] else { return false }
        return array.allSatisfy { wanted in value.contains { contains($0, wanted) } }
    case let text as String:
        return (value as? String)?.caseInsensitiveCompare(text) == .orderedSame
    case let number as NSNumber:
        return (value as? NSNumber) == number
    default:
        return false
    }
}

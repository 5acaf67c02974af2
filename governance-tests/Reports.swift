import Foundation

/// The run's outputs: the readable summary, JUnit XML and the conformance snapshot (REFERENCE §12.5).
struct Reports {
    /// The contract version these checks prove.
    static let contractVersion = "1.1"

    let results: [CheckResult]
    let profile: Profile
    let guardrails: Guardrails
    let conformant: Bool
    let counts: Counts
    /// What the run used and made (`runVersion=…` and the like), in print order.
    let context: [(String, String)]
    let baseURL: String
    let runId: String
    let timestamp: Date

    /// The closing summary, one `name=value` per line, then the failures and skips.
    var summary: String {
        var lines = ["", "governance-tests: DXCP governance contract \(Self.contractVersion) against \(baseURL)"]
        lines += context.map { "\($0.0)=\($0.1)" }
        lines += [
            "profile=\(profile.rawValue)", "guardrails=\(guardrails.rawValue)", "total=\(counts.total)", "passed=\(counts.passed)",
            "failed=\(counts.failed)", "skipped=\(counts.skipped)", "required_failed=\(counts.requiredFailed)",
            "required_skipped=\(counts.requiredSkipped)",
        ]
        for result in results where result.status != .passed {
            lines.append("\(result.status.rawValue) \(result.id) [\(result.classification.rawValue) \(result.section)]: \(result.detail)")
        }
        lines.append(conformant ? "RESULT: CONFORMANT" : "RESULT: NOT CONFORMANT")
        return lines.joined(separator: "\n")
    }

    /// JUnit XML: one test suite per harness step, one test case per check.
    var junit: String {
        var steps: [String] = []
        for result in results where !steps.contains(result.step) { steps.append(result.step) }
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        xml += #"<testsuites name="governance-tests" tests="\#(counts.total)" failures="\#(counts.failed)" skipped="\#(counts.skipped)" time="\#(seconds(results.reduce(0) { $0 + $1.seconds }))">"# + "\n"
        for step in steps {
            let cases = results.filter { $0.step == step }
            let failures = cases.count { $0.status == .failed }
            let skipped = cases.count { $0.status == .skipped }
            xml += #"  <testsuite name="\#(escape("governance-tests.\(step)"))" tests="\#(cases.count)" failures="\#(failures)" skipped="\#(skipped)" time="\#(seconds(cases.reduce(0) { $0 + $1.seconds }))">"# + "\n"
            for result in cases {
                xml += #"    <testcase classname="\#(escape("governance-tests.\(step)"))" name="\#(escape(result.id))" time="\#(seconds(result.seconds))">"# + "\n"
                xml += #"      <properties><property name="classification" value="\#(result.classification.rawValue)"/><property name="section" value="\#(escape(result.section))"/><property name="title" value="\#(escape(result.title))"/></properties>"# + "\n"
                switch result.status {
                case .passed: xml += "      <system-out>\(escape(result.detail))</system-out>\n"
                case .failed: xml += #"      <failure message="\#(escape(String(result.detail.prefix(300))))" type="\#(result.classification.rawValue)">\#(escape(result.detail))</failure>"# + "\n"
                case .skipped: xml += #"      <skipped message="\#(escape(result.detail))"/>"# + "\n"
                }
                xml += "    </testcase>\n"
            }
            xml += "  </testsuite>\n"
        }
        return xml + "</testsuites>\n"
    }

    /// The conformance snapshot: REFERENCE §12.5's shape with the run's context added.
    var snapshot: JSON {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var run: [String: JSON] = ["baseURL": .string(baseURL), "runId": .string(runId)]
        for (name, value) in context { run[name] = .string(value) }
        return [
            "contract_version": .string(Self.contractVersion),
            "timestamp": .string(formatter.string(from: timestamp)),
            "suite": "governance-tests",
            "conformance_profile": .string(profile.rawValue),
            "guardrails_mode": .string(guardrails.rawValue),
            "dry_run": false,
            "status": .string(conformant ? "PASS" : "FAIL"),
            "summary": [
                "total": .int(Int64(counts.total)), "passed": .int(Int64(counts.passed)), "failed": .int(Int64(counts.failed)),
                "skipped": .int(Int64(counts.skipped)), "required_failed": .int(Int64(counts.requiredFailed)),
                "required_skipped": .int(Int64(counts.requiredSkipped)),
            ],
            "checks": .array(results.map { result in
                [
                    "id": .string(result.id), "status": .string(result.status.rawValue), "classification": .string(result.classification.rawValue),
                    "required": .bool(result.required), "detail": .string(result.detail), "section": .string(result.section),
                    "step": .string(result.step), "title": .string(result.title),
                ]
            }),
            "run": .object(run),
            "source": ["last_run_artifact": .null],
        ]
    }

    private func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

    private func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            default:
                // XML 1.0 allows no other control characters.
                if scalar.value >= 0x20 { out.unicodeScalars.append(scalar) } else { out += "?" }
            }
        }
        return out
    }
}

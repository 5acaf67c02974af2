import Foundation
import Testing

/// The README's coverage matrix (guardrail × endpoint) is a claim about the suite: every cell
/// names checks of the run or corpus cases that exist, or says why REFERENCE does not apply the
/// guardrail there. An empty cell, or a name nothing answers to, fails here.
@Suite struct CoverageMatrixTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("governance-tests/README.md").path

    /// The matrix rows: guardrail → cells (validate, deploy, rollback, promotion).
    static func matrix() throws -> [(String, [String])] {
        let text = try String(contentsOfFile: readme, encoding: .utf8)
        guard let start = text.range(of: "<!-- coverage-matrix -->"), let end = text.range(of: "<!-- /coverage-matrix -->") else { return [] }
        return text[start.upperBound..<end.lowerBound].split(separator: "\n").dropFirst(2).map { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            return (cells.first ?? "", Array(cells.dropFirst()))
        }
    }

    @Test func everyCellNamesRealChecksOrSaysWhyNot() throws {
        let rows = try Self.matrix()
        #expect(rows.map(\.0) == [
            "role", "kill switch", "Idempotency-Key required", "replay", "conflict", "rate", "quota", "concurrency", "group scope (D7, DIAGNOSTIC)",
        ])
        let corpus = Set(try CorpusRunTests.caseIds())
        for (guardrail, cells) in rows {
            #expect(cells.count == 4, "\(guardrail): \(cells)")
            for (endpoint, cell) in zip(["validate", "deploy", "rollback", "promotion"], cells) {
                let names = cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
                if names.isEmpty {
                    #expect(cell.hasPrefix("n/a: ") && cell.count > 12, "\(guardrail) × \(endpoint) is empty: \(cell)")
                }
                for name in names {
                    if name.hasPrefix("corpus ") {
                        #expect(corpus.contains(String(name.dropFirst("corpus ".count))), "\(guardrail) × \(endpoint): no corpus case \(name)")
                    } else {
                        #expect(ConformanceTests.allChecks.contains(name), "\(guardrail) × \(endpoint): no check \(name)")
                    }
                }
            }
        }
    }
}

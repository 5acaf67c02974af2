import Foundation
import Testing

/// The test command runs the fleet's cases of the suites on both backends in a phase of its own,
/// by name: a suite given `Backend.underTest` arguments and missing from that list would have its
/// PostgreSQL cases run nowhere.
@Suite struct TestCommandTests {
    @Test func everySuiteOnBothBackendsHasItsFleetCasesRun() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = try String(contentsOf: root.appendingPathComponent("scripts/test.sh"), encoding: .utf8)
        let line = try #require(script.split(separator: "\n").first { $0.hasPrefix("both='") })
        let listed = Set(line.dropFirst("both='".count).dropLast().split(separator: "|").map { String($0.hasSuffix("/") ? $0.dropLast() : $0) })
        var suites: Set<String> = []
        let files = FileManager.default.enumerator(at: root.appendingPathComponent("Tests"), includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift", file.lastPathComponent != "TestCommandTests.swift" else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            // Each suite's text runs from its `@Suite` to the next one.
            for chunk in text.components(separatedBy: "@Suite").dropFirst() where chunk.contains("Backend.underTest") {
                let name = try #require(chunk.split(separator: "struct ").dropFirst().first?.split(separator: " ").first)
                suites.insert(String(name))
            }
        }
        #expect(suites.count >= 9, "\(suites.sorted())")
        #expect(suites.subtracting(listed).isEmpty, "suites on both backends missing from scripts/test.sh: \(suites.subtracting(listed).sorted())")
    }
}

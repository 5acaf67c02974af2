import PolicyFile
import Rules
import Testing

/// Policy documents the fuzz tests (Tests/PolicyServerTests/FuzzTests.swift) found to hang the
/// reader, kept as regressions: each must be refused, and quickly.
@Suite struct PolicyFileFuzzTests {
    /// Billion laughs: eight anchors, each a list of ten aliases of the one before (10^8 entries
    /// when expanded, in 300 bytes of text).
    static func laughs(_ use: String) -> String {
        var lines = ["version: 1", "l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1..<8 {
            lines.append("l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        return (lines + [use]).joined(separator: "\n") + "\n"
    }

    /// The YAML parser hashes every mapping key, aliases expanded, to find duplicates: an alias
    /// of the laughs as a key (alone or inside a collection) took minutes. Keys are names in a
    /// policy document, so an alias in a key is refused before the document is composed.
    @Test(arguments: ["? *l7\n: x", "*l7 : x", "[*l7]: x", "{a: *l7}: x", "? [[a, *l7]]\n: x", "settings:\n  *l7 : 1"])
    func aliasesInKeysAreRefusedQuickly(_ use: String) {
        let start = ContinuousClock.now
        let error = parseError(Self.laughs(use), file: "laughs.yaml")
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(error?.message.contains("alias") == true, "\(String(describing: error))")
        #expect(error?.line == use.split(separator: "\n").firstIndex { $0.contains("*l7") }.map { $0 + 10 })
    }

    /// The server configuration file is read by the same parser, and hung the same way.
    @Test(arguments: ["? *l7\n: x", "[*l7]: x"])
    func aliasesInConfigurationKeysAreRefusedQuickly(_ use: String) {
        let start = ContinuousClock.now
        var refusal: PolicyFileError?
        do { _ = try ServerConfigFile.parse(Self.laughs(use), file: "config.yaml") } catch { refusal = error }
        let error = refusal
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(error?.message.contains("alias") == true, "\(String(describing: error))")
        #expect(error?.line == 10)
    }

    /// The same laughs as a value are refused as fast, as an unknown key: nothing expands them.
    @Test func laughsAsAValueAreRefusedQuickly() {
        let start = ContinuousClock.now
        let error = parseError(Self.laughs("value: *l7"), file: "laughs.yaml")
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(error?.message.contains("unknown key 'l0'") == true, "\(String(describing: error))")
    }

    /// Aliases still stand for values anywhere.
    @Test func aliasesOfValuesStillWork() throws {
        let snapshot = try PolicyFile.parse(
            """
            version: 1
            settings:
              default_spinnaker_application: &app demo-app
              allowed_content_types: &types [application/zip]
            recipes:
              - {id: r, name: *app, deploy_pipeline: *app, effective_behavior_summary: s}
            ci_publishers:
              - {name: ci, audiences: *types}
            """, file: "alias.yaml")
        #expect(snapshot.recipes["r"]?.name == "demo-app")
        #expect(snapshot.settings.ciPublishers.first?.audiences == ["application/zip"])
    }
}

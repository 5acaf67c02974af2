import Foundation
import PolicyFile
import Rules
import Testing

@Suite("Loading from disk")
struct LoadTests {
    /// The error `load` throws for `path`, or nil when it loads.
    private func loadError(_ path: String) -> PolicyFileError? {
        do {
            _ = try PolicyFile.load(path: path)
            return nil
        } catch {
            return error
        }
    }

    /// A fresh temporary file holding `bytes`; removed by the caller.
    private func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("policy-file-tests-\(UUID().uuidString).yaml").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func missingFileNamesThePathAndTheReason() throws {
        let path = examplesDirectory + "/no-such-policy.yaml"
        let error = try #require(loadError(path))
        #expect(error.file == path)
        #expect(error.line == nil)
        #expect(error.field == "")
        #expect(error.message.contains("No such file or directory"), "\(error)")
        #expect(error.description.hasPrefix(path + ": "))
    }

    @Test func directoryNamesThePathAndTheReason() throws {
        let error = try #require(loadError(examplesDirectory))
        #expect(error.file == examplesDirectory)
        #expect(error.line == nil)
        #expect(error.message.contains("Is a directory"), "\(error)")
        #expect(error.description.hasPrefix(examplesDirectory + ": "))
    }

    @Test func invalidUTF8IsRefused() throws {
        let text = "version: 1\nsettings:\n  default_spinnaker_application: "
        let path = try temporaryFile(Array(text.utf8) + [0xFF, 0x0A])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(loadError(path))
        #expect(error.file == path)
        #expect(error.message.contains("UTF-8"), "\(error)")
    }

    @Test func errorsInALoadedFileNameItsPath() throws {
        let path = try temporaryFile(Array("version: 1\nsettings:\n  mutate_rpm: 0\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(loadError(path))
        #expect(error.description == "\(path):3: settings.mutate_rpm: must be between 1 and 5000, found 0")
    }

    @Test func loadMatchesParse() throws {
        let text = try String(contentsOfFile: demoPolicyPath, encoding: .utf8)
        #expect(try PolicyFile.load(path: demoPolicyPath) == PolicyFile.parse(text, file: demoPolicyPath))
    }
}

import PolicyFile
import Rules
import Testing

/// The repository's `examples/` folder, found from this file's path
/// (`<repo>/Tests/PolicyFileTests/TestSupport.swift`).
let examplesDirectory: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    parts.removeLast(3)
    return (parts + ["examples"]).joined(separator: "/")
}()

/// The demo policy file.
let demoPolicyPath = examplesDirectory + "/demo-policy.yaml"

/// The error `parse` throws for `text`, or nil when it parses.
func parseError(_ text: String, file: String = "test.yaml") -> PolicyFileError? {
    do {
        _ = try PolicyFile.parse(text, file: file)
        return nil
    } catch {
        return error
    }
}

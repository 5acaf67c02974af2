/// The versions a run registers and deploys, picked from the ones the deployment lists.
struct RunVersions: Sendable {
    /// Registered in step C and deployed in step F.
    var run: String
    /// Registered twice with different commits in step D.
    var conflict: String
    /// Registered through an upload capability (POST /v1/builds).
    var capability: String
    /// Deployed before step F when the deployment has no restore point yet.
    var baseline: String
    /// Never registered.
    var unregistered: String

    /// Picks unused `0.1.N` versions above every listed one, and the first unlisted `0.1.999+`.
    init(existing: Set<String>) {
        let used = existing.compactMap { version -> Int? in
            let parts = version.split(separator: ".")
            guard parts.count == 3, parts[0] == "0", parts[1] == "1", let n = Int(parts[2]), n < 900 else { return nil }
            return n
        }
        let next = (used.max() ?? 0) + 1
        run = "0.1.\(next)"
        conflict = "0.1.\(next + 1)"
        capability = "0.1.\(next + 2)"
        baseline = "0.1.\(next + 3)"
        var unregistered = 999
        while existing.contains("0.1.\(unregistered)") { unregistered += 1 }
        self.unregistered = "0.1.\(unregistered)"
    }
}

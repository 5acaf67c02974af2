/// What the suite changed, with how to put it back: undone last-first, when the step that
/// made the change ends (even by failing) or at the end of the run.
final class RestoreStack {
    private var entries: [(name: String, action: () async throws -> Void)] = []

    /// How many changes are waiting to be undone.
    var depth: Int { entries.count }

    /// Remembers how to undo a change just made. A name already waiting is not pushed again:
    /// its undo already puts that thing back as it was before the first change.
    func push(_ name: String, _ action: @escaping () async throws -> Void) {
        guard !entries.contains(where: { $0.name == name }) else { return }
        entries.append((name, action))
    }

    /// Undoes every change made since the stack was `depth` deep, newest first; each undo is
    /// recorded as the check `cleanup.<name>`.
    func unwind(to depth: Int, recorder: Recorder) async {
        let saved = recorder.step
        recorder.step = "cleanup"
        while entries.count > depth {
            let entry = entries.removeLast()
            await recorder.check("cleanup.\(entry.name)", .contract, "§12.4", "the suite restored what it changed: \(entry.name)",
                restoring: true) {
                try await entry.action()
                return "restored"
            }
        }
        recorder.step = saved
    }
}

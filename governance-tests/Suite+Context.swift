extension Suite {
    /// What the run used and made, for the summary and the snapshot.
    var context: [(String, String)] {
        var pairs: [(String, String)] = [("runId", settings.runId), ("service", settings.service), ("environment", settings.environment)]
        if let versions {
            pairs += [("runVersion", versions.run), ("conflictVersion", versions.conflict), ("unregisteredVersion", versions.unregistered)]
        }
        if let id = deployment?["id"]?.string { pairs.append(("deploymentId", id)) }
        if let state = deploymentFinal?["state"]?.string { pairs.append(("deploymentFinalState", state)) }
        if let version = expectedRestoreVersion { pairs.append(("rollbackTargetVersion", version)) }
        if let id = rollback?["id"]?.string { pairs.append(("rollbackDeploymentId", id)) }
        if let state = rollbackFinal?["state"]?.string { pairs.append(("rollbackFinalState", state)) }
        pairs.append(("adminChanges", String(adminChanges.count)))
        return pairs
    }
}

extension Checks {
    /// Webhook decisions (docs/DECISIONS.md 41): the execution asking is the deploy pipeline routed
    /// for its service and environment → else 403 `PIPELINE_NOT_ROUTED`. Without this a pipeline
    /// could borrow another service's admission.
    static func pipelineRouted(_ execution: SpinnakerExecution, _ target: EngineTarget) throws(Denial) {
        guard execution.application == target.application, execution.pipeline == target.pipeline else {
            throw Denial(
                .pipelineNotRouted,
                "Pipeline \(execution.application)/\(execution.pipeline) is not the pipeline routed for \(execution.service) in \(execution.environment)",
                hint: "routed pipeline: \(target.application)/\(target.pipeline)")
        }
    }

    /// Webhook decisions for a pipeline dxcp-policy triggered itself (its `dxcpDeploymentId`
    /// parameter): that deployment exists (→ else 404 `NOT_FOUND`), is this service, environment
    /// and version, still holds its slot, and is this execution or not yet bound to one (→ else
    /// 403 `PIPELINE_NOT_ROUTED`). It was admitted when it was deployed; nothing is spent again.
    static func deploymentAdmitted(_ id: String, _ execution: SpinnakerExecution, _ state: some StateView) throws(Denial) -> DeploymentRecord {
        guard let record = state.deployment(id: id) else {
            throw Denial(.notFound, "Deployment \(id) not found")
        }
        let refuse = { (why: String) -> Denial in
            Denial(.pipelineNotRouted, "Execution \(execution.executionId) does not carry out deployment \(id): \(why)")
        }
        guard record.service == execution.service, record.environment == execution.environment, record.version == execution.version else {
            throw refuse("it deploys \(record.service) \(record.version) to \(record.environment)")
        }
        guard record.state.holdsSlot else { throw refuse("the deployment is \(record.state.rawValue)") }
        if let bound = record.engineExecutionId, bound != execution.executionId {
            throw refuse("the deployment runs as execution \(bound)")
        }
        return record
    }
}

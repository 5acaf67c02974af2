import Rules
import GovernanceStore
import Hummingbird
import HTTPTypes

/// Decisions for Spinnaker Webhook stages (docs/integrations/spinnaker.md): a pipeline's first
/// stage asks whether its execution may deploy (`check`) or claims its admission (`admit`).
/// The stage authenticates with the configured webhook token; the trigger user in the body is
/// the principal, as a delivery owner. Denials are 4xx that Spinnaker does not retry — never 429
/// or 5xx — with the contract code and the decision id in the body for a later stage to read.
extension GovernanceServer {
    static let webhookPrefix = "/v1/spinnaker/webhook/"

    func webhookAnswer(_ request: inout Request, path: String, requestId: String) async -> Answer {
        var answer = await webhookDecision(&request, path: path, requestId: requestId)
        if answer.route == "other" { answer.route = "spinnaker_webhook" }
        return answer
    }

    private func webhookDecision(_ request: inout Request, path: String, requestId: String) async -> Answer {
        guard let expected = configuration.spinnakerWebhookToken else {
            return denial(.unauthorized, message: "Spinnaker webhook decisions are not configured (DXCP_SPINNAKER_WEBHOOK_TOKEN)", requestId: requestId, hint: nil)
        }
        guard let header = request.headers.value(.authorization), let token = Authenticator.bearerToken(header), Self.same(token, expected) else {
            return denial(.unauthorized, message: "The webhook token is missing or wrong", requestId: requestId, hint: nil)
        }
        let contractRequest: Rules.Request
        switch await decode(&request, method: request.method.rawValue, path: path, requestId: requestId) {
        case .success(let decoded): contractRequest = decoded
        case .failure(let error): return error.answer
        }
        let execution: SpinnakerExecution, mode: String
        switch contractRequest {
        case .spinnakerCheck(let e): (execution, mode) = (e, "check")
        case .spinnakerAdmit(let e): (execution, mode) = (e, "admit")
        default:
            return Answer(status: 404, body: Views.routingError(code: .routeNotFound, status: 404, requestId: requestId))
        }
        let user = execution.user.trimmingCharacters(in: .whitespaces)
        let principal = Principal(claims: Claims(
            subject: user, email: user.contains("@") ? user.lowercased() : nil, roles: .values(["dxcp-delivery-owners"])))
        let now = clock()
        let decisionId = makeId()
        let context = DecisionContext(now: now, decisionId: decisionId, newId: contractRequest.isMutating ? makeId() : decisionId, idempotencyKey: execution.executionId)
        let decision: Decision
        do {
            decision = try await store.decide(contractRequest, by: principal, context: context, requestId: requestId)
        } catch {
            // Not a denial: the store could not decide. Spinnaker retries a 5xx, which is what a
            // passing storage fault or a full writer queue needs; nothing was changed.
            return storeFailure(error, requestId: requestId)
        }
        metrics.decision(action: contractRequest.action.rawValue, allowed: decision.allowed, code: decision.code?.rawValue)
        var headers = [HTTPField(name: .decisionId, value: decision.decisionId)]
        if mode == "admit" { headers.append(HTTPField(name: .idempotencyReplayed, value: decision.replayed ? "true" : "false")) }
        guard decision.allowed else {
            let code = decision.code ?? .internalError
            headers.append(HTTPField(name: .decisionReason, value: code.rawValue))
            return Answer(
                status: Self.webhookStatus(decision.status),
                body: Views.webhookDenial(decision, code: code, mode: mode, execution: execution, requestId: requestId), headers: headers)
        }
        return Answer(status: 200, body: Views.webhookAllowed(decision, mode: mode, execution: execution, requestId: requestId), headers: headers)
    }

    /// The status of a webhook denial: the contract's, except that 429 and 5xx become 403, since
    /// Spinnaker retries those for minutes instead of failing the stage.
    static func webhookStatus(_ status: Int) -> Int {
        status == 429 || status >= 500 ? 403 : status
    }

    /// Compares two secrets in time that depends on their lengths only.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<x.count { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}

extension Views {
    /// An allowed webhook decision: the decision, and for an admission the deployment recorded.
    static func webhookAllowed(_ decision: Decision, mode: String, execution: SpinnakerExecution, requestId: String) -> [UInt8] {
        body { w in
            w.open()
            w.field("decision", "ALLOW")
            w.field("decision_id", decision.decisionId)
            switch decision.result {
            case .deployment(let record)?:
                w.field("delivery_group_id", record.deliveryGroupId)
                w.field("deployment_id", record.id)
            case .validation(let report)?:
                w.field("delivery_group_id", report.deliveryGroupId)
                w.field("policy", JSONValue.object([
                    "current_concurrent_deployments": .int(Int64(report.policy.currentConcurrentDeployments)),
                    "daily_deploy_quota": .int(Int64(report.policy.dailyDeployQuota)),
                    "deployments_used": .int(Int64(report.policy.deploymentsUsed)),
                    "max_concurrent_deployments": .int(Int64(report.policy.maxConcurrentDeployments)),
                ]))
            default:
                break
            }
            w.field("execution_id", execution.executionId)
            w.field("mode", mode)
            w.field("replayed", decision.replayed)
            w.field("request_id", requestId)
            w.close()
        }
    }

    /// A denied webhook decision: the contract envelope plus the decision fields.
    static func webhookDenial(_ decision: Decision, code: ContractCode, mode: String, execution: SpinnakerExecution, requestId: String) -> [UInt8] {
        body { w in
            w.open()
            w.field("code", code.rawValue)
            w.field("decision", "DENY")
            w.field("decision_id", decision.decisionId)
            w.field("error_code", code.rawValue)
            w.field("execution_id", execution.executionId)
            w.field("failure_cause", code.failureCause.rawValue)
            w.field("message", decision.message)
            w.field("mode", mode)
            w.field("request_id", requestId)
            w.close()
        }
    }
}

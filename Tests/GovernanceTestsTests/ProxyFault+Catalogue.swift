import Foundation

/// The faults the suite's own tests put in front of a conformant server: breakages of contract
/// rules, each of which the suite must notice in exactly the checks that prove the rule, and
/// differences the contract allows, which the suite must not count against a server.
extension ProxyFault {
    // MARK: Breakages

    /// The kill switch is accepted and echoed but never turned on.
    static let killSwitchIgnored = ProxyFault(
        request: { request, memory in
            guard request.path == killSwitchPath, ["PUT", "PATCH"].contains(request.method), var body = request.json,
                let value = body["mutations_disabled"] as? Bool
            else { return nil }
            memory["kill switch"] = String(value)
            body["mutations_disabled"] = false
            request.setJSON(body)
            return nil
        },
        response: { request, response, memory in
            guard request.path == killSwitchPath, response.status == 200, var body = response.json as? [String: Any],
                let faked = memory["kill switch"]
            else { return }
            body["mutations_disabled"] = faked == "true"
            response.setJSON(body)
        })

    /// Every `Idempotency-Key` is made unique: no request ever replays or conflicts.
    static let idempotencyIgnored = ProxyFault(request: { request, _ in
        if let key = request.headers["idempotency-key"], !key.isEmpty { request.headers["idempotency-key"] = key + "-" + UUID().uuidString.prefix(8) }
        return nil
    })

    /// Rate limits are accepted and echoed but never enforced: the server is given limits no run
    /// reaches (4000 above what was asked, so each change is still a change, and audited).
    static let rateLimitsIgnored = ProxyFault(
        request: { request, memory in
            guard request.path == rateLimitsPath, request.method == "PUT", var body = request.json else { return nil }
            for name in ["read_rpm", "mutate_rpm"] {
                guard let value = body[name] as? Int else { continue }
                memory["rate \(name)"] = String(value)
                body[name] = value + 4000
            }
            request.setJSON(body)
            return nil
        },
        response: { request, response, memory in
            guard request.path == rateLimitsPath, response.status == 200, var body = response.json as? [String: Any] else { return }
            for name in ["read_rpm", "mutate_rpm"] { if let value = memory["rate \(name)"].flatMap(Int.init) { body[name] = value } }
            response.setJSON(body)
        })

    /// An observer's validate and deploy are decided as the member owner's (roles not enforced).
    static let observerActsAsOwner = ProxyFault(request: { request, memory in
        remember(request, memory)
        if request.identity == "observer", request.method == "POST", ["/v1/deployments", "/v1/deployments/validate"].contains(request.path),
            let owner = memory["token owner"]
        {
            request.headers["authorization"] = owner
        }
        return nil
    })

    /// A request without a token, or with one that is not a JWT, is decided as the admin's.
    static let unauthenticatedAccepted = ProxyFault(request: { request, memory in
        remember(request, memory)
        if request.identity == nil, request.path != "/v1/health", let admin = memory["token admin"] { request.headers["authorization"] = admin }
        return nil
    })

    /// A non-member owner's reads are decided as the member owner's (group scope not enforced).
    static let groupScopeIgnored = ProxyFault(request: { request, memory in
        remember(request, memory)
        if request.identity == "non-member-owner", request.method == "GET", let owner = memory["token owner"] { request.headers["authorization"] = owner }
        return nil
    })

    /// What the reference does: upload-capability and POST /v1/builds with a known key and
    /// another body replay the first request instead of refusing with 409.
    static let buildsReplayOtherBodies = ProxyFault(request: { request, memory in
        guard request.method == "POST", ["/v1/builds", "/v1/builds/upload-capability"].contains(request.path),
            let key = request.headers["idempotency-key"], !key.isEmpty
        else { return nil }
        let first = "first body \(request.path) \(key)"
        if let body = memory[first] { request.body = Data(body.utf8) } else { memory[first] = String(decoding: request.body, as: UTF8.self) }
        return nil
    })

    /// What the reference does: PUT ci-publishers with a known key and another body applies the
    /// new body instead of refusing with 409.
    static let publishersRewriteOnConflict = ProxyFault(request: { request, memory in
        guard request.method == "PUT", request.path == "/v1/admin/system/ci-publishers", let key = request.headers["idempotency-key"], !key.isEmpty
        else { return nil }
        let body = String(decoding: request.body, as: UTF8.self)
        if let first = memory["publishers \(key)"], first != body {
            request.headers["idempotency-key"] = key + "-rewrite-" + UUID().uuidString.prefix(8)
        } else {
            memory["publishers \(key)"] = body
        }
        return nil
    })

    /// What the reference does: routing changes leave no audit entry.
    static let routingUnaudited = ProxyFault(response: { request, response, _ in
        guard request.method == "GET", request.path == "/v1/audit/events", response.status == 200, let events = response.json as? [[String: Any]] else {
            return
        }
        response.setJSON(events.filter { ($0["target_type"] as? String) != "ServiceRouting" })
    })

    /// Routing cannot be changed: every routing PUT is refused.
    static let routingRefused = ProxyFault(request: { request, _ in
        guard request.method == "PUT", request.path.hasPrefix("/v1/admin/services/") else { return nil }
        return .error(400, "INVALID_REQUEST", "routing is read-only here", requestId: request.headers["x-request-id"])
    })

    /// A non-admin's view of a deployment carries the engine execution.
    static let engineDetailsLeaked = ProxyFault(response: { request, response, _ in
        guard request.method == "GET", request.identity != "admin", request.path.hasPrefix("/v1/deployments/"),
            request.path.split(separator: "/").count == 3, response.status == 200, var record = response.json as? [String: Any]
        else { return }
        record["engineExecutionId"] = "01JLEAKEDEXECUTION"
        response.setJSON(record)
    })

    /// PATCH, PUT and POST on a deployment record are accepted (answered 200 with the record).
    static let recordsAcceptChanges = ProxyFault(request: { request, _ in
        guard ["PATCH", "PUT", "POST"].contains(request.method), request.path.hasPrefix("/v1/deployments/"),
            request.path.split(separator: "/").count == 3, !request.path.hasSuffix("/validate")
        else { return nil }
        return ProxiedResponse(status: 200, headers: ["content-type": "application/json", "x-request-id": request.headers["x-request-id"] ?? ""], body: Data("{}".utf8))
    })

    // MARK: Differences the contract allows

    /// A recipe without an engine application is refused (REFERENCE lists 400 MISSING_ENGINE_APP).
    static let recipeNeedsEngineApplication = ProxyFault(request: { request, _ in
        guard request.method == "POST", request.path == "/v1/recipes", let body = request.json,
            ((body["spinnaker_application"] as? String) ?? "").isEmpty
        else { return nil }
        return .error(400, "MISSING_ENGINE_APP", "spinnaker_application is required", requestId: request.headers["x-request-id"])
    })

    /// Delivery groups carry fields the server stamps on every read and write.
    static let groupsStamped = ProxyFault(response: { request, response, _ in
        guard request.method == "GET", request.path.hasPrefix("/v1/delivery-groups/"), response.status == 200, var group = response.json as? [String: Any]
        else { return }
        group["updated_at"] = ISO8601DateFormatter().string(from: Date()) + "-\(UUID().uuidString.prefix(4))"
        group["updated_by"] = "someone-\(UUID().uuidString.prefix(4))"
        group["created_at"] = "2026-01-01T00:00:00Z"
        response.setJSON(group)
    })

    /// The deployment list is not scoped to the owner's groups (DECISIONS D7 is our tightening).
    static let ownerListUnscoped = ProxyFault(request: { request, memory in
        remember(request, memory)
        if request.identity == "non-member-owner", request.method == "GET", request.path == "/v1/deployments", let admin = memory["token admin"] {
            request.headers["authorization"] = admin
        }
        return nil
    })

    // MARK: Helpers

    static let killSwitchPath = "/v1/admin/system/mutations-disabled"
    static let rateLimitsPath = "/v1/admin/system/rate-limits"

    /// Remembers the Authorization header of each identity the suite acts as.
    static func remember(_ request: ProxiedRequest, _ memory: ProxyMemory) {
        if let identity = request.identity, let authorization = request.headers["authorization"] { memory["token \(identity)"] = authorization }
    }
}

import Foundation
import GovernanceStore
import Rules
import Testing

/// What the decision log records over HTTP (REFERENCE §11, DECISIONS D10): every mutating
/// decision, allowed or denied, with its code, decision and request ids, in its own transaction;
/// nothing for validate and reads; and never a token or an Authorization value.
@Suite struct HTTPAuditTests {
    /// A filtered page read from an index whose cursor's entry retention has removed since is a
    /// 400 in the envelope (it cannot be placed in time order), not a silent end of the listing.
    @Test func aFilteredPageAfterAPrunedCursorIsRefused() async throws {
        let server = try await RunningServer()
        let (ci, admin) = (try await server.ci, try await server.admin)
        for n in 0..<3 {
            #expect(try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.\(n)"), headers: ["Idempotency-Key": "b\(n)"]).status == 201)
        }
        let entries = try server.store.auditEntries()
        let oldest = try #require(entries.first)
        _ = try await server.store.pruneAudit(olderThan: currentTime().adding(seconds: 60), upTo: oldest.sequence, actorId: "test", now: currentTime())
        let page = try await server.send("GET", "/v1/audit/events?event_type=BUILD_REGISTER&before=\(oldest.sequence)", token: admin)
        #expect(page.status == 400 && page.code == "INVALID_REQUEST", "\(page.status) \(page.code ?? "")")
        let fresh = try await server.send("GET", "/v1/audit/events?event_type=BUILD_REGISTER", token: admin)
        #expect(fresh.status == 200)
        let before0 = try await server.send("GET", "/v1/audit/events?event_type=BUILD_REGISTER&before=0", token: admin)
        #expect(before0.status == 200, "nothing is before the first entry: an empty page")
    }

    @Test func everyMutatingDecisionIsRecordedAndNoTokenEverIs() async throws {
        let server = try await RunningServer()
        let (owner, ci, admin) = (try await server.owner, try await server.ci, try await server.admin)
        let start = try server.store.auditEntries().count

        let registered = try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.0"), headers: ["Idempotency-Key": "b1"])
        #expect(registered.status == 201)
        let conflict = try await server.send("POST", "/v1/builds/register", token: ci, json: registerBody("1.0.0", sha: "def"), headers: ["Idempotency-Key": "b2"])
        #expect(conflict.code == "BUILD_REGISTRATION_CONFLICT")
        // No engine is configured: the deploy is allowed by the rules, then the engine cannot
        // take it and the reservation is released; both are recorded, in that order.
        let deploy = try await server.send("POST", "/v1/deployments", token: owner, json: deployBody(), headers: ["Idempotency-Key": "d1", "X-Request-Id": "req-deploy-1"])
        #expect(deploy.code == "ENGINE_UNAVAILABLE")
        let limits = try await server.send("PUT", "/v1/admin/system/rate-limits", token: admin,
            json: #"{"read_rpm": 100, "mutate_rpm": 50, "daily_quota_build_register": 40}"#, headers: ["X-Request-Id": "req-limits"])
        #expect(limits.status == 200)
        let forbidden = try await server.send("PUT", "/v1/admin/system/mutations-disabled", token: owner, json: #"{"mutations_disabled": true}"#)
        #expect(forbidden.code == "ROLE_FORBIDDEN")
        let afterMutations = try server.store.auditEntries()

        // Validate and reads change nothing and are not recorded.
        #expect(try await server.send("POST", "/v1/deployments/validate", token: owner, json: deployBody()).status == 200)
        #expect(try await server.send("GET", "/v1/deployments", token: owner).status == 200)
        #expect(try await server.send("GET", "/v1/services", token: owner).status == 200)
        #expect(try server.store.auditEntries().count == afterMutations.count)

        let added = Array(afterMutations.dropFirst(start))
        #expect(added.map(\.eventType) == ["BUILD_REGISTER", "BUILD_REGISTER_DENIED", "DEPLOY_SUBMIT", "ENGINE_TRIGGER_FAILED",
            "ADMIN_CONFIG_CHANGE", "ADMIN_CONFIG_CHANGE", "ADMIN_CONFIG_CHANGE", "ADMIN_CONFIG_DENIED"])
        #expect(added[3].targetId == added[2].targetId, "the engine outcome names the deployment")
        #expect(added[1].summary.contains("BUILD_REGISTRATION_CONFLICT"))
        #expect(added[1].trail.last?.outcome == .failed(.buildRegistrationConflict))
        #expect(added[2].requestId == "req-deploy-1")
        #expect(added[2].decisionId != nil)
        // The settings change: one entry per changed key, with old and new values (REFERENCE §11.2).
        let readChange = try #require(added.first { $0.eventType == "ADMIN_CONFIG_CHANGE" && $0.summary.contains("\"setting_key\":\"read_rpm\"") })
        #expect(readChange.summary.contains("\"new_value\":100"))
        #expect(readChange.requestId == "req-limits")
        #expect(added[7].summary.contains("ROLE_FORBIDDEN"))

        // The whole stored log, byte for byte: no token, no part of one, no Authorization value.
        let stored = try server.store.auditExport(after: 0, limit: .max).lines.map { String(decoding: $0, as: UTF8.self) }
        #expect(stored.count == afterMutations.count)
        for line in stored {
            for token in [owner, ci, admin] {
                #expect(!line.contains(token))
                for part in token.split(separator: ".") where part.count > 16 { #expect(!line.contains(part), "a token segment is in the log") }
            }
            #expect(!line.localizedCaseInsensitiveContains("bearer"))
            #expect(!line.localizedCaseInsensitiveContains("authorization"))
        }
        guard case .intact = try server.store.verifyAudit() else {
            Issue.record("the chain must verify")
            return
        }
    }
}

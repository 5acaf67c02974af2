public import Rules

/// What a gateway can know about a request to a DXCP API from its method and path alone: which
/// endpoint it is, who may call it (contract §1), whether it mutates, and whether it needs an
/// `Idempotency-Key`. The table lists every governed endpoint of the API (docs/openapi.yaml);
/// a request matching none of them is refused.
public enum GatewayRoute {
    /// One endpoint: method, path template (`*` is one segment), and what it needs.
    struct Entry {
        let method: String
        let template: [String]
        let access: GatewayCheck.Access
        let idempotencyKeyRequired: Bool

        init(_ method: String, _ path: String, _ access: GatewayCheck.Access, key: Bool = false) {
            self.method = method
            self.template = path.split(separator: "/").map(String.init)
            self.access = access
            self.idempotencyKeyRequired = key
        }
    }

    /// Paths anyone may call: health and the API document.
    static let open: Set<String> = ["/v1/health", "/v1/openapi.yaml"]

    static let entries: [Entry] = [
        Entry("POST", "/v1/deployments/validate", .deployers),
        Entry("POST", "/v1/deployments", .deployers, key: true),
        Entry("POST", "/v1/deployments/*/rollback", .deployers, key: true),
        Entry("GET", "/v1/deployments", .anyRole),
        Entry("GET", "/v1/deployments/*", .anyRole),
        Entry("GET", "/v1/deployments/*/failures", .anyRole),
        Entry("GET", "/v1/deployments/*/timeline", .anyRole),
        Entry("POST", "/v1/promotions/validate", .deployers),
        Entry("POST", "/v1/promotions", .deployers, key: true),
        Entry("POST", "/v1/policy/summary", .deployers),
        Entry("POST", "/v1/builds/upload-capability", .ciPublishers, key: true),
        Entry("POST", "/v1/builds", .ciPublishers, key: true),
        Entry("POST", "/v1/builds/register", .ciPublishers, key: true),
        Entry("GET", "/v1/builds", .anyRole),
        Entry("GET", "/v1/whoami", .anyRole),
        Entry("GET", "/v1/services", .anyRole),
        Entry("GET", "/v1/services/*/versions", .anyRole),
        Entry("GET", "/v1/services/*/delivery-status", .anyRole),
        Entry("GET", "/v1/services/*/running", .anyRole),
        Entry("GET", "/v1/services/*/allowed-actions", .anyRole),
        Entry("GET", "/v1/insights/failures", .anyRole),
        Entry("GET", "/v1/config/sanity", .anyRole),
        Entry("GET", "/v1/ui/policy/ui-exposure", .anyRole),
        Entry("GET", "/v1/delivery-groups", .anyRole),
        Entry("GET", "/v1/delivery-groups/*", .anyRole),
        Entry("GET", "/v1/recipes", .anyRole),
        Entry("GET", "/v1/recipes/*", .anyRole),
        Entry("GET", "/v1/environments", .anyRole),
        Entry("GET", "/v1/environments/*", .anyRole),
        Entry("GET", "/v1/settings/public", .anyRole),
        Entry("GET", "/v1/settings/admin", .platformAdmins),
        Entry("GET", "/v1/audit/events", .platformAdmins),
        Entry("GET", "/v1/admin/system/rate-limits", .platformAdmins),
        Entry("GET", "/v1/admin/system/ci-publishers", .platformAdmins),
        Entry("GET", "/v1/admin/system/mutations-disabled", .platformAdmins),
        Entry("GET", "/v1/admin/system/ui-exposure-policy", .platformAdmins),
        Entry("PUT", "/v1/admin/system/ui-exposure-policy", .platformAdmins),
        Entry("GET", "/v1/admin/services/*/environments", .platformAdmins),
        Entry("GET", "/v1/admin/delivery-groups/*/environments", .platformAdmins),
        Entry("PUT", "/v1/admin/system/rate-limits", .platformAdmins),
        Entry("PUT", "/v1/admin/system/ci-publishers", .platformAdmins),
        Entry("PUT", "/v1/admin/system/mutations-disabled", .platformAdmins),
        Entry("PATCH", "/v1/admin/system/mutations-disabled", .platformAdmins),
        Entry("POST", "/v1/recipes", .platformAdmins),
        Entry("PUT", "/v1/recipes/*", .platformAdmins),
        Entry("DELETE", "/v1/admin/recipes/*", .platformAdmins),
        Entry("POST", "/v1/delivery-groups", .platformAdmins),
        Entry("PUT", "/v1/delivery-groups/*", .platformAdmins),
        Entry("PUT", "/v1/admin/services/*/environments/*", .platformAdmins),
        Entry("PATCH", "/v1/admin/services/*/environments/*", .platformAdmins),
        Entry("PUT", "/v1/admin/delivery-groups/*/environments/*", .platformAdmins),
        Entry("PATCH", "/v1/admin/delivery-groups/*/environments/*", .platformAdmins),
        Entry("POST", "/v1/environments", .platformAdmins),
        Entry("PATCH", "/v1/environments/*", .platformAdmins),
        Entry("DELETE", "/v1/environments/*", .platformAdmins),
    ]

    /// The check for `method` and `path` (no query), or nil when no governed endpoint matches.
    public static func check(method: String, path: String) -> GatewayCheck? {
        let segments = WireRequest.segments(of: path)
        let method = method == "HEAD" ? "GET" : method
        for entry in entries where entry.method == method && entry.template.count == segments.count {
            let matches = zip(entry.template, segments).allSatisfy { template, segment in
                template == "*" ? !segment.isEmpty : template == segment
            }
            if matches {
                return GatewayCheck(
                    method: method, path: path, access: entry.access, mutating: method != "GET",
                    idempotencyKeyRequired: entry.idempotencyKeyRequired)
            }
        }
        return nil
    }

    /// Whether `path` needs no decision at all (health, the API document).
    public static func isOpen(_ path: String) -> Bool { open.contains(path) }
}

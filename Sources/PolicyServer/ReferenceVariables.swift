public import Rules
import Foundation
import PolicyFile

/// The reference's environment variables for limits, the kill switch and the CI publisher
/// allowlist (REFERENCE §1.1, §5.1, §13.8), read with the same meaning so an operator can switch
/// without rewriting their configuration. `serve` applies them to the settings of a data
/// directory that has never held policy data; after that the stored settings, changed through
/// the admin API, are the truth (DECISIONS D35).
public enum ReferenceVariables {
    /// A variable whose value cannot be used; `serve` refuses to start rather than guess.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        /// The variable's name.
        public var name: String
        /// What is wrong with its value.
        public var reason: String
        /// `NAME: reason`.
        public var description: String { "\(name): \(reason)" }
    }

    /// The variables this reads, in the order they are applied.
    public static let names = [
        "DXCP_READ_RPM", "DXCP_MUTATE_RPM", "DXCP_DAILY_QUOTA_BUILD_REGISTER", "DXCP_DAILY_QUOTA_UPLOAD_CAPABILITY",
        "DXCP_DAILY_QUOTA_DEPLOY", "DXCP_DAILY_QUOTA_ROLLBACK", "DXCP_MUTATIONS_DISABLED", "DXCP_KILL_SWITCH", "DXCP_CI_PUBLISHERS",
        "DXCP_SERVICE_REGISTRY_PATH",
    ]

    /// `policy` with every variable present in `environment` applied: the settings, and the
    /// services of the registry file `DXCP_SERVICE_REGISTRY_PATH` names (replacing the policy's).
    /// `readFile` reads that file (nil when it cannot).
    public static func apply(
        _ environment: [String: String], to policy: PolicySnapshot, readFile: (String) -> [UInt8]?
    ) throws(Invalid) -> PolicySnapshot {
        var policy = policy
        policy.settings = try apply(environment, to: policy.settings)
        if let path = environment["DXCP_SERVICE_REGISTRY_PATH"] {
            guard let bytes = readFile(path) else { throw Invalid(name: "DXCP_SERVICE_REGISTRY_PATH", reason: "cannot read \(path)") }
            let entries = try serviceRegistry(bytes)
            policy.services = Dictionary(entries.map { ($0.name, $0) }) { first, _ in first }
        }
        return policy
    }

    /// `settings` with every variable present in `environment` applied.
    public static func apply(_ environment: [String: String], to settings: Settings) throws(Invalid) -> Settings {
        var settings = settings
        func integer(_ name: String, _ range: ClosedRange<Int>) throws(Invalid) -> Int? {
            guard let raw = environment[name] else { return nil }
            guard let value = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                throw Invalid(name: name, reason: "expected a whole number in \(range.lowerBound)...\(range.upperBound), got '\(raw)'")
            }
            return value
        }
        // The same bounds as the policy file and the admin API (``PolicyBounds``).
        if let v = try integer("DXCP_READ_RPM", PolicyBounds.rate) { settings.readRPM = v }
        if let v = try integer("DXCP_MUTATE_RPM", PolicyBounds.rate) { settings.mutateRPM = v }
        if let v = try integer("DXCP_DAILY_QUOTA_BUILD_REGISTER", PolicyBounds.actorDailyQuota) { settings.dailyQuotaBuildRegister = v }
        if let v = try integer("DXCP_DAILY_QUOTA_UPLOAD_CAPABILITY", PolicyBounds.actorDailyQuota) { settings.dailyQuotaUploadCapability = v }
        if let v = try integer("DXCP_DAILY_QUOTA_DEPLOY", PolicyBounds.dailyQuota) { settings.dailyQuotaDeploy = v }
        if let v = try integer("DXCP_DAILY_QUOTA_ROLLBACK", PolicyBounds.dailyQuota) { settings.dailyQuotaRollback = v }
        // The reference reads DXCP_MUTATIONS_DISABLED, falling back to the legacy DXCP_KILL_SWITCH.
        if let (name, raw) = ServerConfigFile.given("DXCP_MUTATIONS_DISABLED", in: environment) {
            switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
            case "1", "true", "yes", "on": settings.mutationsDisabled = true
            case "0", "false", "no", "off", "": settings.mutationsDisabled = false
            default: throw Invalid(name: name, reason: "expected true or false, got '\(raw)'")
            }
        }
        if let raw = environment["DXCP_CI_PUBLISHERS"] { settings.ciPublishers = try publishers(raw) }
        return settings
    }

    /// The reference's `DXCP_CI_PUBLISHERS`: a JSON array of publisher objects or of strings (a
    /// string `s` is `{name: s, provider: custom, subjects: [s]}`). Where the reference quietly
    /// takes a value that is not JSON as an empty list, this refuses it.
    static func publishers(_ raw: String) throws(Invalid) -> [CIPublisher] {
        let name = "DXCP_CI_PUBLISHERS"
        let parsed: JSON
        do {
            parsed = try JSON.parse(Array(raw.utf8))
        } catch {
            throw Invalid(name: name, reason: "not JSON (\(error.reason) at byte \(error.offset)); expected an array of publisher objects or subject strings")
        }
        guard case .array(let items) = parsed else { throw Invalid(name: name, reason: "expected a JSON array") }
        var result: [CIPublisher] = []
        for (index, item) in items.enumerated() {
            switch item {
            case .string(let subject) where !subject.isEmpty:
                result.append(CIPublisher(name: subject, provider: .custom, subjects: [subject]))
            case .object:
                do {
                    result.append(try WireRequest.publisher(item, field: "[\(index)]"))
                } catch {
                    throw Invalid(name: name, reason: "\(error.field ?? "[\(index)]"): \(error.message)")
                }
            default:
                throw Invalid(name: name, reason: "entry \(index): expected a publisher object or a non-empty subject string")
            }
        }
        guard Set(result.map(\.name)).count == result.count else { throw Invalid(name: name, reason: "publisher names must be unique") }
        return result
    }

    /// The reference's service registry file: a JSON array of entries (or an object whose
    /// `services` is that array), each with `service_name` and optional `allowed_environments`,
    /// `allowed_recipes`, `allowed_artifact_sources`, `stable_service_url_template`; the
    /// reference's display-only Backstage fields are accepted and not kept.
    static func serviceRegistry(_ bytes: [UInt8]) throws(Invalid) -> [ServiceEntry] {
        let name = "DXCP_SERVICE_REGISTRY_PATH"
        let parsed: JSON
        do {
            parsed = try JSON.parse(bytes)
        } catch {
            throw Invalid(name: name, reason: "the registry is not JSON (\(error.reason) at byte \(error.offset))")
        }
        let items: [JSON]
        if case .array(let list) = parsed {
            items = list
        } else if case .array(let list)? = parsed["services"] {
            items = list
        } else {
            throw Invalid(name: name, reason: "expected a JSON array of services")
        }
        var entries: [ServiceEntry] = []
        for (index, item) in items.enumerated() {
            guard case .object = item else { throw Invalid(name: name, reason: "entry \(index): expected an object") }
            var r = FieldReader(item)
            let entry = ServiceEntry(
                name: r.string("service_name", maxLength: 128), allowedEnvironments: r.strings("allowed_environments"),
                allowedRecipes: r.strings("allowed_recipes"), allowedArtifactSources: r.strings("allowed_artifact_sources"),
                stableServiceURLTemplate: r.optionalString("stable_service_url_template"))
            _ = (r.optionalString("backstage_entity_ref"), r.optionalString("backstage_entity_url"))
            if let problem = r.firstProblem { throw Invalid(name: name, reason: "entry \(index).\(problem.field): \(problem.message)") }
            guard !entry.name.isEmpty else { throw Invalid(name: name, reason: "entry \(index).service_name: must not be empty") }
            entries.append(entry)
        }
        guard Set(entries.map(\.name)).count == entries.count else { throw Invalid(name: name, reason: "service names must be unique") }
        return entries
    }
}

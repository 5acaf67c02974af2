/// The named checks of the contract. Each function is one check; its doc comment cites the
/// section it enforces. A check returns what later checks need, or throws the ``Denial``.
public enum Checks {}

extension Checks {
    /// §1.2: the roles claim holds a recognised DXCP role → else 403 `AUTHZ_ROLE_REQUIRED`.
    static func roleRecognised(_ principal: Principal) throws(Denial) -> Role {
        guard let role = principal.role else {
            let hint: String = switch principal.claims.roles {
            case .absent: "token has no roles claim"
            case .notAnArray: "roles claim is not an array"
            case .values: "roles claim holds no DXCP role"
            }
            throw Denial(.authzRoleRequired, "A DXCP role is required", hint: hint)
        }
        return role
    }

    /// §1.3: endpoints that may reach the engine need a principal (email or subject) to act as
    /// → else 401 `UNAUTHORIZED`.
    static func principalClaimPresent(_ principal: Principal) throws(Denial) -> String {
        guard let user = principal.engineUser else {
            throw Denial(.unauthorized, "Authenticated principal claim is required")
        }
        return user
    }

    /// §1.1 role matrix: the role may perform the action → else 403 `ROLE_FORBIDDEN`.
    static func roleAllowed(_ role: Role, _ allowed: Set<Role>, doing what: String) throws(Denial) {
        guard allowed.contains(role) else {
            throw Denial(.roleForbidden, "Role \(role.rawValue) cannot \(what)")
        }
    }

    /// §1.4: only an allowlisted CI publisher may publish builds; a non-CI role, or a CI token
    /// matching no allowlist entry → 403 `CI_ONLY`. Returns the publisher's name.
    static func ciPublisherAllowlisted(_ principal: Principal, _ role: Role, _ settings: Settings) throws(Denial) -> String {
        let message = "Only CI publisher identities can publish builds"
        guard role == .ciPublisher else { throw Denial(.ciOnly, message, hint: "role \(role.rawValue) is not CI_PUBLISHER") }
        guard let publisher = CIPublisher.select(from: settings.ciPublishers, for: principal.claims) else {
            throw Denial(.ciOnly, message, hint: "token matches no allowlisted CI publisher")
        }
        return publisher.name
    }

    /// §5 + DECISIONS D7: a delivery owner acts only within groups that list their email
    /// → else 403 `DELIVERY_GROUP_SCOPE_REQUIRED`.
    static func deliveryGroupMember(_ principal: Principal, _ group: DeliveryGroup) throws(Denial) {
        guard principal.role != .deliveryOwner || principal.isMember(of: group) else {
            throw Denial(
                .deliveryGroupScopeRequired, "Action limited to members of the delivery group",
                hint: "caller is not an owner of delivery group \(group.id)")
        }
    }

    /// §5 read access: admins and observers read every record; an owner reads records of groups
    /// they own; CI publishers read none → else 403 `DELIVERY_GROUP_SCOPE_REQUIRED`.
    static func recordReadScope(_ principal: Principal, _ role: Role, _ record: DeploymentRecord, _ policy: PolicySnapshot) throws(Denial) {
        switch role {
        case .platformAdmin, .observer:
            return
        case .ciPublisher:
            throw Denial(.deliveryGroupScopeRequired, "Deployment records are not readable by CI identities")
        case .deliveryOwner:
            let group = policy.deliveryGroups[record.deliveryGroupId] ?? policy.deliveryGroup(forService: record.service)
            guard let group, principal.isMember(of: group) else {
                throw Denial(
                    .deliveryGroupScopeRequired, "Deployment belongs to a delivery group you do not own",
                    hint: "record group \(record.deliveryGroupId)")
            }
        }
    }

    /// The groups whose records `role` may list: nil for all, otherwise the set it owns.
    static func readableGroups(_ principal: Principal, _ role: Role, _ policy: PolicySnapshot) -> Set<String>? {
        switch role {
        case .platformAdmin, .observer: nil
        case .ciPublisher: []
        case .deliveryOwner: Set(policy.deliveryGroups.values.filter { principal.isMember(of: $0) }.map(\.id))
        }
    }
}

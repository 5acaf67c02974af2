extension Checks {
    /// §2.10: a promotion moves between two environments → else 400 `PROMOTION_TARGET_REQUIRED`.
    static func promotionTargetDiffers(_ intent: PromotionIntent) throws(Denial) {
        guard !intent.targetEnvironment.isEmpty, intent.sourceEnvironment != intent.targetEnvironment else {
            throw Denial(.promotionTargetRequired, "source and target environments must differ")
        }
    }

    /// §2.10: the target is the environment right after the source in the delivery group's
    /// promotion order → else 400 `PROMOTION_PATH_NOT_ALLOWED`. Backwards, skipping one and
    /// leaving the order are all refused; no setting allows jumps (DECISIONS 64).
    static func promotionPathAllowed(source: String, target: String, _ group: DeliveryGroup, _ policy: PolicySnapshot) throws(Denial) {
        let order = policy.promotionOrder(group: group.id)
        guard let from = order.firstIndex(of: source), from + 1 < order.count, order[from + 1] == target else {
            throw Denial(
                .promotionPathNotAllowed, "Promotion target is not the next configured environment",
                hint: "promotion order of \(group.id): \(order.joined(separator: " → "))")
        }
    }

    /// §2.10: the version SUCCEEDED in the source environment → else 400
    /// `PROMOTION_VERSION_INELIGIBLE`.
    static func promotionVersionEligible(service: String, source: String, version: String, _ state: some StateView) throws(Denial) {
        guard state.hasSucceeded(service: service, environment: source, version: version) else {
            throw Denial(
                .promotionVersionIneligible, "Version must be running or previously successful in source environment",
                hint: "no SUCCEEDED deployment of \(service) \(version) in \(source)")
        }
    }
}

extension PolicySnapshot {
    /// A delivery group's promotion order: its enabled environment bindings by `order_index`,
    /// then environment id (REFERENCE §2.10).
    public func promotionOrder(group: String) -> [String] {
        (bindings[group] ?? [:]).values.filter(\.isEnabled)
            .sorted { ($0.orderIndex, $0.environmentId) < ($1.orderIndex, $1.environmentId) }
            .map(\.environmentId)
    }
}

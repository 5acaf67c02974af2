/// What a check proves about: the contract itself, or a diagnostic of how the deployment
/// behaves beyond the contract's letter.
enum Classification: String, Sendable, Codable {
    /// A requirement of the contract; required for a conformant run.
    case contract = "CONTRACT"
    /// A diagnostic (a product decision beyond the contract's letter): reported, never decisive.
    case diagnostic = "DIAGNOSTIC"
}

/// How a check ended.
enum CheckStatus: String, Sendable, Codable {
    case passed = "PASSED"
    case failed = "FAILED"
    case skipped = "SKIPPED"
}

/// One named check and its outcome.
struct CheckResult: Sendable {
    /// Stable id, e.g. `killswitch.blocks_deploy`.
    var id: String
    /// Harness step it belongs to (`R`, `A`…`K`, `X` for checks the reference harness never made).
    var step: String
    /// CONTRACT or DIAGNOSTIC.
    var classification: Classification
    /// The contract section it proves (REFERENCE.md numbering).
    var section: String
    /// One line: what the check proves.
    var title: String
    /// How it ended.
    var status: CheckStatus
    /// What was seen: the failure, the skip reason, or evidence on a pass.
    var detail: String
    /// Seconds it took.
    var seconds: Double

    /// Required for conformance (= classification CONTRACT), as the reference snapshot says.
    var required: Bool { classification == .contract }
}

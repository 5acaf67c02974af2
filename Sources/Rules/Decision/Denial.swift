/// Why a check refused a request: the contract code, the status when the contract gives this
/// code a different one at this stage, a user-safe message, and an operator hint.
public struct Denial: Error, Sendable, Hashable {
    /// The contract code.
    public var code: ContractCode
    /// The HTTP status; the code's own unless the contract says otherwise for this stage.
    public var status: Int
    /// User-safe text.
    public var message: String
    /// The specific reason, for operators.
    public var hint: String?
    /// Structured details the contract defines for this code.
    public var details: [String: JSONValue]?

    /// A denial with `code`'s status.
    public init(_ code: ContractCode, _ message: String, hint: String? = nil, status: Int? = nil, details: [String: JSONValue]? = nil) {
        self.code = code
        self.status = status ?? code.httpStatus
        self.message = message
        self.hint = hint
        self.details = details
    }

    /// A group-policy refusal: the contract's generic message, the reason as a hint (REFERENCE §3.1).
    static func policy(_ code: ContractCode, _ hint: String) -> Denial {
        Denial(code, "Action not permitted by DeliveryGroup policy", hint: hint)
    }

    /// A compatibility refusal: the contract's generic message, the reason as a hint.
    static func compatibility(_ code: ContractCode, _ hint: String) -> Denial {
        Denial(code, "Service or recipe is incompatible with this request", hint: hint, status: 400)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fully specified seeded generator, so a generated
/// test case is named by its seed and comes out the same on every machine.
public struct SplitMix64: RandomNumberGenerator {
    /// The generator's whole state.
    public private(set) var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0..<n.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// One of `values`.
    public mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    /// True `percent` times in a hundred.
    public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

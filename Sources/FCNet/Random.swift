/// xoshiro256** (Blackman & Vigna), seeded through SplitMix64. Its whole state is
/// four `UInt64`s, saved with every checkpoint so shuffling continues exactly.
public struct Xoshiro256: RandomNumberGenerator, Equatable, Hashable, Codable, Sendable {
    /// The four state words.
    public var state: [UInt64] { [s0, s1, s2, s3] }
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Seeds the four words with SplitMix64(seed).
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// Restores a saved state.
    /// - Throws: `FCNetError.incompatibleState` unless `state` is four words, not all zero.
    public init(state: [UInt64]) throws {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw FCNetError.incompatibleState(
                "A random generator state must be 4 words, not all zero (got \(state.count) words).")
        }
        s0 = state[0]; s1 = state[1]; s2 = state[2]; s3 = state[3]
    }

    public init(from decoder: Decoder) throws {
        let words = try decoder.singleValueContainer().decode([UInt64].self)
        try self.init(state: words)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(state)
    }
    public static func == (a: Self, b: Self) -> Bool { a.state == b.state }
    public func hash(into h: inout Hasher) { h.combine(state) }

    /// The state as 32 little-endian bytes.
    public var stateBytes: [UInt8] {
        state.flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
    }
    /// Restores a state from `stateBytes`.
    public init(stateBytes b: [UInt8]) throws {
        guard b.count == 32 else {
            throw FCNetError.incompatibleState("A random generator state must be 32 bytes (got \(b.count)).")
        }
        try self.init(state: (0..<4).map { i in
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[i * 8 + $1]) << (8 * $1) }
        })
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform Float in [0, 1) from the top 24 bits.
    @inline(__always)
    mutating func nextUnit() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// A uniform integer in 0..<n (Lemire's multiply-shift with rejection, n > 0).
    @inline(__always)
    mutating func below(_ n: Int) -> Int {
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// Fisher–Yates shuffle of `p[0..<count]`, from the last element down.
    mutating func shuffle(_ p: UnsafeMutablePointer<Int32>, count: Int) {
        var i = count - 1
        while i > 0 {
            let j = below(i + 1)
            let t = p[i]; p[i] = p[j]; p[j] = t
            i -= 1
        }
    }
}

import CKernels

/// Vectorised element-wise math for the activations: one `exp` written for SIMD vectors so the
/// compiler emits packed code, used everywhere the engine needs e^x. It is plain arithmetic
/// (no libm, no fused multiply-add contraction), so the scalar tail gives the same bits as a
/// vector lane, and results are the same on every machine.
enum VectorMath {
    typealias V = SIMD8<Float>
    typealias U = SIMD8<UInt32>
    static let width = 8

    /// e^x, relative error ≲ 2 ulp (Cephes expf: x = n ln2 + r, |r| ≤ ln2/2, degree-6 polynomial).
    /// Inputs are clamped to [−87.3, 88.0], so results stay normal and finite.
    @inline(__always)
    static func exp(_ x: V) -> V {
        var x = x
        x.replace(with: -87.3, where: x .< -87.3)
        x.replace(with: 88.0, where: x .> 88.0)
        // n = round(x / ln 2) without a float→int conversion: adding 1.5·2^23 rounds to an
        // integer held in the low mantissa bits of t.
        let t = x * 1.442_695_04 + 12_582_912
        let n = t - 12_582_912
        x = x - n * 0.693_359_375
        x = x - n * -2.121_944_4e-4
        var p = V(repeating: 1.987_569_15e-4)
        p = p * x + 1.398_199_950_7e-3
        p = p * x + 8.333_451_907_3e-3
        p = p * x + 4.166_579_589_4e-2
        p = p * x + 1.666_666_545_9e-1
        p = p * x + 5.000_000_120_1e-1
        let y = p * (x * x) + x + 1
        // 2^n: the exponent field n + 127, from t's bits (0x4B40_0000 + n).
        let bits = (unsafeBitCast(t, to: U.self) &- 0x4B40_0000 &+ 127) &<< 23
        return y * unsafeBitCast(bits, to: V.self)
    }

    /// The same arithmetic for one value (the tails of `map`).
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        var x = min(max(x, -87.3), 88.0)
        let t = x * 1.442_695_04 + 12_582_912
        let n = t - 12_582_912
        x = x - n * 0.693_359_375
        x = x - n * -2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * x + 1.398_199_950_7e-3
        p = p * x + 8.333_451_907_3e-3
        p = p * x + 4.166_579_589_4e-2
        p = p * x + 1.666_666_545_9e-1
        p = p * x + 5.000_000_120_1e-1
        let y = p * (x * x) + x + 1
        return y * Float(bitPattern: (t.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
    }

    /// σ(z) = 1 / (1 + e^{−z}).
    @inline(__always) static func sigmoid(_ z: V) -> V { 1 / (1 + exp(-z)) }
    @inline(__always) static func sigmoid(_ z: Float) -> Float { 1 / (1 + exp(-z)) }
    /// tanh z = 1 − 2 / (e^{2z} + 1) (limits ±1 through the clamp in `exp`).
    @inline(__always) static func tanh(_ z: V) -> V { 1 - 2 / (exp(z + z) + 1) }
    @inline(__always) static func tanh(_ z: Float) -> Float { 1 - 2 / (exp(z + z) + 1) }

    // The array versions run in C (`Sources/CKernels`) with AVX-512/AVX2 dispatch: the same
    // operations in the same order, no FMA, so they give the same bits as the scalar
    // functions above (VectorMathTests checks every value against them).

    /// dst[i] = e^{src[i]}, `count` values (src and dst may be the same).
    static func exp(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        fck_exp(src, dst, count)
    }

    /// dst[i] = σ(src[i]).
    static func sigmoid(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        fck_sigmoid(src, dst, count)
    }

    /// dst[i] = tanh(src[i]).
    static func tanh(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        fck_tanh(src, dst, count)
    }

    /// z += b per row, a = σ(z).
    static func biasSigmoid(_ z: UnsafeMutablePointer<Float>, _ a: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, cols: Int) {
        fck_bias_sigmoid(z, a, bias, rows, cols)
    }

    /// z += b per row, a = tanh(z).
    static func biasTanh(_ z: UnsafeMutablePointer<Float>, _ a: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, cols: Int) {
        fck_bias_tanh(z, a, bias, rows, cols)
    }
}

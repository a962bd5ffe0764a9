import CKernels

/// Element-wise math for the activations. The array functions run in C (`Sources/CKernels`,
/// on the path `Kernels.isa` names); the scalar functions are their Swift reference: the same
/// operations in the same order, with the same constants (`fck_exp_constants.h`), plain
/// arithmetic (no libm, no fused multiply-add), so every path gives the same bits as these
/// (VectorMathTests and KernelTests check every value against them).
enum VectorMath {
    /// e^x, relative error ≲ 2 ulp (Cephes expf: x = n ln2 + r, |r| ≤ ln2/2, degree-6 polynomial).
    /// Inputs are clamped to [−87.3, 88.0], so results stay normal and finite.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        var x = min(max(x, FCK_EXP_MIN), FCK_EXP_MAX)
        // n = round(x / ln 2) without a float→int conversion: adding 1.5·2^23 rounds to an
        // integer held in the low mantissa bits of t.
        let t = x * FCK_EXP_LOG2E + FCK_EXP_ROUNDER
        let n = t - FCK_EXP_ROUNDER
        x = x - n * FCK_EXP_LN2_HI
        x = x - n * FCK_EXP_LN2_LO
        var p: Float = FCK_EXP_P0
        p = p * x + FCK_EXP_P1
        p = p * x + FCK_EXP_P2
        p = p * x + FCK_EXP_P3
        p = p * x + FCK_EXP_P4
        p = p * x + FCK_EXP_P5
        let y = p * (x * x) + x + 1
        // 2^n: the exponent field n + 127, from t's bits (FCK_EXP_ROUNDER_BITS + n).
        return y * Float(bitPattern: (t.bitPattern &- FCK_EXP_ROUNDER_BITS &+ 127) &<< 23)
    }

    /// σ(z) = 1 / (1 + e^{0−z}) (0 − z, not −z: a NaN keeps its sign bit, as on the vector paths).
    @inline(__always) static func sigmoid(_ z: Float) -> Float { 1 / (1 + exp(0 - z)) }
    /// tanh z = 1 − 2 / (e^{2z} + 1) (limits ±1 through the clamp in `exp`).
    @inline(__always) static func tanh(_ z: Float) -> Float { 1 - 2 / (exp(z + z) + 1) }

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

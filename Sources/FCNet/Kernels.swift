import FCCore
import CKernels

/// The engine's element-wise kernels (`Sources/CKernels`): which instruction-set path they
/// take, and the work fused around the GEMMs.
///
/// Every path (AVX-512F, AVX2, portable C) gives the same bits; by default the kernels take
/// the best path this CPU runs. `Kernels.force(.avx2)` chooses another (for tests and
/// measurements); the library reads no environment variable for it.
public enum Kernels {
    /// An instruction-set path of the kernels.
    public enum ISA: String, CaseIterable, Sendable {
        case avx512, avx2, portable

        var level: Int32 {
            switch self {
            case .avx512: return Int32(FCK_ISA_AVX512)
            case .avx2: return Int32(FCK_ISA_AVX2)
            case .portable: return Int32(FCK_ISA_PORTABLE)
            }
        }

        /// Whether this CPU can run the path (`.portable` runs everywhere).
        public var isSupported: Bool { fck_isa_supported(level) == 1 }
    }

    /// The path the kernels take now.
    public static var isa: ISA {
        switch Int(fck_isa_level()) {
        case Int(FCK_ISA_AVX512): return .avx512
        case Int(FCK_ISA_AVX2): return .avx2
        default: return .portable
        }
    }

    /// Makes every kernel take `isa` from now on; `nil` goes back to the best path this CPU
    /// runs. Call it before training or evaluation starts, not while kernels run.
    /// - Throws: `FCNetError.invalidConfiguration` when this CPU cannot run `isa` (nothing changes).
    public static func force(_ isa: ISA?) throws {
        guard let isa else {
            _ = fck_force_isa(Int32(FCK_ISA_AUTO))
            return
        }
        guard fck_force_isa(isa.level) == 0 else {
            throw FCNetError.invalidConfiguration("This CPU cannot run the \(isa.rawValue) kernels.")
        }
    }

    /// Z += 1 bᵀ (broadcast over rows), A = σ(Z); softmax per row, writing log Σ_j e^{z_j}
    /// of each row into `logNorm` (for the cross-entropy cost).
    static func biasActivate(
        _ act: Activation, z: UnsafeMutablePointer<Float>, a: UnsafeMutablePointer<Float>,
        bias: UnsafePointer<Float>, rows: Int, cols: Int, logNorm: UnsafeMutablePointer<Float>
    ) {
        let count = rows * cols
        switch act {
        case .sigmoid: fck_bias_sigmoid(z, a, bias, rows, cols)
        case .tanh: fck_bias_tanh(z, a, bias, rows, cols)
        case .softmax:
            // Row maxima, one vectorised exp over the block, row sums in column order.
            fck_bias_softmax(z, a, bias, rows, cols, logNorm)
        case .relu:
            fck_bias_add(z, bias, rows, cols)
            for i in 0..<count { a[i] = max(z[i], 0) }
        case .leakyRelu:
            fck_bias_add(z, bias, rows, cols)
            for i in 0..<count { let v = z[i]; a[i] = v > 0 ? v : Activation.leakySlope * v }
        case .identity:
            fck_bias_add(z, bias, rows, cols)
            a.update(from: z, count: count)
        }
    }

    /// σ'(z) for the element-wise activations, from z and a = σ(z).
    @inline(__always)
    static func derivative(_ act: Activation, z: Float, a: Float) -> Float {
        switch act {
        case .sigmoid: return a * (1 - a)
        case .tanh: return 1 - a * a
        case .relu: return z > 0 ? 1 : 0
        case .leakyRelu: return z > 0 ? 1 : Activation.leakySlope
        case .identity, .softmax: return 1  // softmax is handled by its Jacobian in outputDelta
        }
    }

    /// δ ⊙= σ'(z), element-wise.
    static func multiplyDerivative(
        _ act: Activation, delta d: UnsafeMutablePointer<Float>, z: UnsafePointer<Float>,
        a: UnsafePointer<Float>, count: Int
    ) {
        switch act {
        case .sigmoid: fck_mul_sigmoid_derivative(d, a, count)
        case .tanh: fck_mul_tanh_derivative(d, a, count)
        case .relu: for i in 0..<count where !(z[i] > 0) { d[i] = 0 }
        case .leakyRelu: for i in 0..<count where !(z[i] > 0) { d[i] *= Activation.leakySlope }
        case .identity, .softmax: break
        }
    }

    /// out[j] = Σ_r m[r · ld + j] for j < cols (rows in order).
    static func columnSums(
        _ m: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int, into out: UnsafeMutablePointer<Float>
    ) {
        fck_column_sums(m, rows, cols, ld, out)
    }

    /// ||v||₂ accumulated in Double.
    static func norm(_ v: UnsafePointer<Float>, count: Int) -> Double {
        var s = 0.0
        for i in 0..<count { let x = Double(v[i]); s += x * x }
        return s.squareRoot()
    }
}

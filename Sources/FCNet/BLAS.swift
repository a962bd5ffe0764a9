import CKernels
import COpenBLAS

/// The engine's view of OpenBLAS (see `Sources/COpenBLAS`): loading, the kernel
/// in use, the thread policy, and the one matrix product every layer calls.
///
/// OpenBLAS is loaded lazily with `dlopen` after `OPENBLAS_CORETYPE` is chosen
/// (SkylakeX on AVX-512 CPUs, Haswell on AVX2 CPUs, unless the user set it), so
/// the library's constructor picks a fast kernel even where OpenBLAS 0.3.21
/// does not recognise the CPU.
public enum BLAS {
    /// Loads OpenBLAS once per process.
    /// - Throws: `FCNetError.blasUnavailable` with a sentence saying what to install.
    public static func load() throws {
        if fcb_load() != 0 {
            throw FCNetError.blasUnavailable(String(cString: fcb_error()))
        }
    }

    /// Loads the OpenBLAS at `path` instead of the system's: call before the first `load()`
    /// (later calls change nothing). Nil or empty: the system library. The engine reads no
    /// environment; the CLI passes `$FCSTORE_OPENBLAS` here.
    public static func use(library path: String?) {
        fcb_set_library(path ?? "")
    }

    /// Why loading failed, as facts: the library path asked for (nil: the system's), the
    /// loader's reason (`dlerror`) or the missing symbol, and what to install on this system.
    public struct LoadFailure: Equatable, Sendable {
        public var path: String?
        public var missingSymbol: String?
        public var reason: String
        public var installHint: String
    }

    /// Nil once loaded (or before the first attempt).
    public static var loadFailure: LoadFailure? {
        let kind = Int(fcb_error_kind())
        guard kind == Int(FCB_ERROR_CANNOT_OPEN) || kind == Int(FCB_ERROR_MISSING_SYMBOL) else { return nil }
        let detail = String(cString: fcb_error_detail())
        let override = String(cString: fcb_library_override())
        let path = kind == Int(FCB_ERROR_MISSING_SYMBOL) ? library : override
        return LoadFailure(path: path.isEmpty ? nil : path,
                           missingSymbol: kind == Int(FCB_ERROR_MISSING_SYMBOL) ? detail : nil,
                           reason: detail, installHint: String(cString: fcb_install_hint()))
    }

    /// The kernel OpenBLAS uses, e.g. `"SkylakeX"` (`openblas_get_corename`); `""` if not loadable.
    public static var coreName: String { String(cString: fcb_core_name()) }
    /// `openblas_get_config()`, e.g. `"OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64"`.
    public static var configuration: String { String(cString: fcb_config()) }
    /// The `OPENBLAS_CORETYPE` fcstore chose before loading; `nil` when the user's value was kept
    /// or the CPU has neither AVX-512 nor AVX2.
    public static var chosenCoreType: String? {
        let s = String(cString: fcb_coretype_chosen())
        return s.isEmpty ? nil : s
    }
    /// The instruction set of the engine's element-wise kernels: `"avx512f"`, `"avx2"` or `"portable"`.
    public static var elementwiseISA: String { String(cString: fck_isa()) }
    /// The library file that was loaded (`libopenblas.so.0`, or the path given to `use(library:)`).
    public static var library: String { String(cString: fcb_library()) }

    /// The most threads one product may use (default: what OpenBLAS starts with,
    /// `OPENBLAS_NUM_THREADS` or the core count). Results are bit-identical for equal
    /// settings; a resume is bit-exact when this value is the same as in the original run.
    public static var maxThreads: Int {
        get { Int(fcb_max_threads()) }
        set { fcb_set_max_threads(Int32(clamping: newValue)) }
    }
    /// Products with fewer multiply-adds (M·N·K) than this run on one thread (default 2^22).
    public static var parallelThreshold: Int {
        get { Int(fcb_parallel_threshold()) }
        set { fcb_set_parallel_threshold(Int64(newValue)) }
    }

    /// While on, every product runs on one OpenBLAS thread (the engine's own threads split
    /// the step; see `SplitStep`).
    static func pinSingleThread(_ on: Bool) { fcb_pin_single_thread(on ? 1 : 0) }

    /// C = alpha · op(A) · op(B) + beta · C (row-major); op(A) is m × k, op(B) is k × n.
    /// Callers must have called `load()` (the trainer and model do).
    @inline(__always)
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if k == 1 && (beta == 0 || beta == 1) && !transB && m > 1 && n > 1 {
            // An outer product C = alpha x yᵀ (+ C) with y contiguous (SGD's dW = δ a_prevᵀ, or
            // the fused update W += −η δ a_prevᵀ): one vectorised pass over C, no sgemm call.
            if beta == 0 {
                fck_outer(m, n, alpha, a, transA ? 1 : lda, b, c, ldc)
            } else {
                fck_outer_acc(m, n, alpha, a, transA ? 1 : lda, b, c, ldc)
            }
            return
        }
        _ = fcb_sgemm(
            transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha,
            a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension BLAS {
    /// The median rate, in GFLOP/s (2·m·n·k per product), of `repeats` products
    /// C (m × n) = A (m × k) · B (k × n) through the seam, after one warm-up.
    /// - Throws: `FCNetError.blasUnavailable`.
    public static func sgemmRate(m: Int = 256, n: Int = 1024, k: Int = 1024, repeats: Int = 15) throws -> Double {
        try load()
        let a = FloatBuffer(count: m * k), b = FloatBuffer(count: k * n), c = FloatBuffer(count: m * n)
        for i in 0..<a.count { a.p[i] = Float(i % 13) * 0.01 }
        for i in 0..<b.count { b.p[i] = Float(i % 7) * 0.01 }
        var times: [Double] = []
        let clock = ContinuousClock()
        for r in 0...max(repeats, 1) {
            let start = clock.now
            gemm(transA: false, transB: false, m: m, n: n, k: k, a: a.p, lda: k, b: b.p, ldb: n, c: c.p, ldc: n)
            let d = (clock.now - start).components
            if r > 0 { times.append(Double(d.seconds) + Double(d.attoseconds) * 1e-18) }
        }
        return 2 * Double(m) * Double(n) * Double(k) / times.sorted()[times.count / 2] / 1e9
    }
}

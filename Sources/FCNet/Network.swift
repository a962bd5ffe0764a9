import FCCore
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a label becomes the target vector t of a sample.
enum TargetMode: Equatable {
    /// t = one-hot(label) over N_L > 1 outputs.
    case oneHot
    /// t = label, one output (a 0/1 class for binary classification, or a regression target).
    case scalar
}

/// The forward and backward passes of one network over batches of up to
/// `capacity` rows (rows = samples), into buffers allocated once here.
///
/// Shapes, for a batch of B rows:
/// - A^0 = X: (B × N_0), given by the caller;
/// - Z^l, A^l, Δ^l: (B × N_l);
/// - W^l: (N_l × N_{l-1}), b^l: (N_l), in the flat parameter buffer (`ParameterLayout`).
final class Network {
    let spec: NetworkSpec
    let layout: ParameterLayout
    let capacity: Int
    let target: TargetMode
    /// z[l - 1] = Z^l, a[l - 1] = A^l, delta[l - 1] = Δ^l, each capacity × N_l.
    private let z: [FloatBuffer]
    private let a: [FloatBuffer]
    private let delta: [FloatBuffer]
    /// log Σ_j e^{z^L_j} per row, from a softmax output layer.
    private let logNorm: FloatBuffer
    /// C_r of each row of the last `outputDelta` (so a split batch sums its cost in row order).
    let rowCost: UnsafeMutablePointer<Double>
    /// Inverted dropout on the hidden layers l < L (a training network only; nil otherwise):
    /// mask[l - 1] = M^l, each entry 0 (dropped) or 1/(1 − p) (kept), drawn by `drawMasks`,
    /// and dropped[l - 1] = Ã^l = A^l ⊙ M^l, which layer l + 1 reads instead of A^l.
    /// A^l itself stays unmasked, for σ'(Z^l).
    let dropout: Double?
    private let mask: [FloatBuffer]
    private let dropped: [FloatBuffer]

    init(spec: NetworkSpec, capacity: Int, target: TargetMode, dropout: Double? = nil) {
        self.spec = spec
        layout = ParameterLayout(spec)
        self.capacity = max(capacity, 1)
        self.target = target
        let n = spec.layerSizes
        z = n.map { FloatBuffer(count: $0 * max(capacity, 1)) }
        a = n.map { FloatBuffer(count: $0 * max(capacity, 1)) }
        delta = n.map { FloatBuffer(count: $0 * max(capacity, 1)) }
        logNorm = FloatBuffer(count: max(capacity, 1))
        rowCost = .allocate(capacity: max(capacity, 1))
        rowCost.initialize(repeating: 0, count: max(capacity, 1))
        let p = dropout.flatMap { $0 > 0 ? $0 : nil }
        self.dropout = p
        let hidden = p == nil ? [] : Array(n.dropLast())
        mask = hidden.map { FloatBuffer(count: $0 * max(capacity, 1)) }
        dropped = hidden.map { FloatBuffer(count: $0 * max(capacity, 1)) }
    }

    deinit { rowCost.deallocate() }

    /// A^L of the last forward pass: (rows × N_L).
    var output: UnsafeMutablePointer<Float> { a[layout.layerCount - 1].p }

    /// What layer l reads as its input A^{l-1} (Ã^{l-1} with dropout), for the whole batch.
    @inline(__always)
    private func input(_ l: Int, _ x: UnsafePointer<Float>) -> UnsafePointer<Float> {
        if l == 1 { return x }
        return UnsafePointer(dropout == nil ? a[l - 2].p : dropped[l - 2].p)
    }

    // MARK: Dropout

    /// Draws M^l of the hidden layers for rows 0 ..< rows from `random`: layer by layer, row
    /// by row, neuron by neuron, two entries per 64-bit draw (its low, then its high 32
    /// bits u; kept when u < ⌊(1 − p) · 2^32⌋). Nothing without dropout.
    func drawMasks(rows: Int, random: inout Xoshiro256) {
        guard let p = dropout else { return }
        let keep = 1 - p
        let threshold = UInt64((keep * 4_294_967_296).rounded(.down)), scale = Float(1 / keep)
        for l in 0..<mask.count {
            let m = mask[l].p, n = rows * layout.sizes[l + 1]
            var i = 0
            while i + 1 < n {
                let r = random.next()
                m[i] = r & 0xFFFF_FFFF < threshold ? scale : 0
                m[i + 1] = r >> 32 < threshold ? scale : 0
                i += 2
            }
            if i < n { m[i] = random.next() & 0xFFFF_FFFF < threshold ? scale : 0 }
        }
    }

    /// Sets M^l of the hidden layers for rows 0 ..< rows (tests: a fixed mask).
    func setMasks(_ masks: [[Float]]) {
        for (l, values) in masks.enumerated() { mask[l].p.update(from: values, count: values.count) }
    }

    /// Ã^l = A^l ⊙ M^l over `count` entries from `offset` (rows × N_l, row-major).
    @inline(__always)
    private func applyMask(_ l: Int, offset: Int, count: Int) {
        let src = a[l - 1].p + offset, m = mask[l - 1].p + offset, dst = dropped[l - 1].p + offset
        for i in 0..<count { dst[i] = src[i] * m[i] }
    }

    /// δ ⊙= M^l over `count` entries from `offset` (backprop through Ã^l = A^l ⊙ M^l).
    @inline(__always)
    private func maskDelta(_ l: Int, offset: Int, count: Int) {
        let d = delta[l - 1].p + offset, m = mask[l - 1].p + offset
        for i in 0..<count { d[i] *= m[i] }
    }

    // MARK: Forward

    /// Forward pass: for l = 1...L, Z^l = A^{l-1} · (W^l)ᵀ + 1 (b^l)ᵀ, A^l = σ_l(Z^l).
    /// - Parameters:
    ///   - parameters: the flat W/b buffer.
    ///   - x: A^0 of the whole batch, (B × N_0).
    ///   - rows: the rows to compute, r0 ..< r0 + rows, with r0 + rows ≤ capacity.
    ///   - r0: the first row (a part of a batch split over threads; rows are independent).
    func forward(parameters w: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int, from r0: Int = 0) {
        for l in 1...layout.layerCount { forwardLayer(l, parameters: w, x: x, rows: rows, from: r0) }
    }

    /// Layer l of the forward pass for the rows r0 ..< r0 + rows (A^{l-1} of those rows must be ready).
    func forwardLayer(_ l: Int, parameters w: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int, from r0: Int) {
        let nIn = layout.sizes[l - 1], nOut = layout.sizes[l]
        let input = self.input(l, x) + r0 * nIn
        let zl = z[l - 1].p + r0 * nOut, al = a[l - 1].p + r0 * nOut
        // Z (B × N_l) = A_prev (B × N_{l-1}) · Wᵀ (N_{l-1} × N_l)
        BLAS.gemm(
            transA: false, transB: true, m: rows, n: nOut, k: nIn,
            a: input, lda: nIn, b: w + layout.weightOffset[l - 1], ldb: nIn, c: zl, ldc: nOut)
        Kernels.biasActivate(
            spec.activation(layer: l), z: zl, a: al, bias: w + layout.biasOffset[l - 1],
            rows: rows, cols: nOut, logNorm: logNorm.p + r0)
        if dropout != nil && l < layout.layerCount { applyMask(l, offset: r0 * nOut, count: rows * nOut) }
    }

    /// Layer l of the forward pass for the neurons j of all `rows` rows of the batch:
    /// Z^l[:, j] = A^{l-1} · (W^l[j, :])ᵀ + b^l[j], A^l[:, j] = σ_l(Z^l[:, j]) (A^{l-1} of every
    /// row must be ready). Element-wise activations only (not softmax).
    func forwardLayer(_ l: Int, parameters w: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int, neurons j: Range<Int>) {
        let nIn = layout.sizes[l - 1], nOut = layout.sizes[l]
        let act = spec.activation(layer: l)
        precondition(act != .softmax, "internal: a softmax layer is computed by rows")
        guard !j.isEmpty else { return }
        let input = self.input(l, x)
        let zl = z[l - 1].p + j.lowerBound, al = a[l - 1].p + j.lowerBound
        BLAS.gemm(
            transA: false, transB: true, m: rows, n: j.count, k: nIn,
            a: input, lda: nIn, b: w + layout.weightOffset[l - 1] + j.lowerBound * nIn, ldb: nIn, c: zl, ldc: nOut)
        let bias = w + layout.biasOffset[l - 1] + j.lowerBound
        for r in 0..<rows {
            Kernels.biasActivate(
                act, z: zl + r * nOut, a: al + r * nOut, bias: bias, rows: 1, cols: j.count, logNorm: logNorm.p + r)
            if dropout != nil && l < layout.layerCount { applyMask(l, offset: r * nOut + j.lowerBound, count: j.count) }
        }
    }

    // MARK: Output delta and loss

    /// After `forward`: Δ^L = (1/B) ∂C_r/∂z^L for each row, and the summed batch cost.
    /// - cross-entropy + softmax, binary-cross-entropy + sigmoid: Δ^L = (A^L − T) / B (exact);
    /// - mse: Δ^L = ((A^L − T) ⊙ σ'(Z^L)) / B; for a softmax output, the Jacobian
    ///   product y ⊙ (g − (g·y)) with g = y − t.
    /// - Parameters:
    ///   - labels: one per row of the whole batch (class index, or the scalar target).
    ///   - rows, r0: the rows r0 ..< r0 + rows (see `forward`).
    ///   - scale: the factor applied to Δ^L, normally 1/B.
    /// - Returns: Σ_r C_r (Double, also left per row in `rowCost[r]`) and the number of rows
    ///   whose predicted class is the label (classification only; 0 otherwise).
    func outputDelta(labels: UnsafePointer<Float>, rows: Int, from r0: Int = 0, scale: Float, classify: Bool)
        -> (loss: Double, correct: Int)
    {
        let L = layout.layerCount
        let n = layout.sizes[L]
        let y = a[L - 1].p + r0 * n, zL = z[L - 1].p + r0 * n, d = delta[L - 1].p + r0 * n
        let labels = labels + r0, rowCost = self.rowCost + r0
        let act = spec.outputActivation
        var total = 0.0
        var correct = 0
        if spec.loss == .crossEntropy && target == .oneHot {
            // C_r = log Σ_j e^{z_j} − z_label (stable log-softmax, from the forward pass); Δ = (y − t)·scale.
            var hits = 0
            total = fck_softmax_ce_delta(y, zL, logNorm.p + r0, labels, d, rows, n, scale, &hits, rowCost)
            correct = hits
            return (total, classify ? correct : 0)
        }
        for r in 0..<rows {
            let yr = y + r * n, zr = zL + r * n, dr = d + r * n
            let label = labels[r]
            var cost: Float = 0
            switch (spec.loss, target) {
            case (.crossEntropy, _):
                // One-hot is handled above; a scalar target is impossible (softmax needs ≥ 2 outputs).
                for j in 0..<n { dr[j] = 0 }
            case (.binaryCrossEntropy, _):
                // C_r = Σ_n max(z,0) − z t + log(1 + e^{−|z|}); Δ = y − t.
                for j in 0..<n {
                    let t = targetValue(label, j)
                    let zj = zr[j]
                    cost += max(zj, 0) - zj * t + log1pf(expf(-abs(zj)))
                    dr[j] = (yr[j] - t) * scale
                }
            case (.mse, _):
                if act == .softmax {
                    var gy: Float = 0
                    for j in 0..<n {
                        let g = yr[j] - targetValue(label, j)
                        cost += 0.5 * g * g
                        gy += g * yr[j]
                    }
                    for j in 0..<n {
                        let g = yr[j] - targetValue(label, j)
                        dr[j] = yr[j] * (g - gy) * scale
                    }
                } else {
                    for j in 0..<n {
                        let g = yr[j] - targetValue(label, j)
                        cost += 0.5 * g * g
                        dr[j] = g * Kernels.derivative(act, z: zr[j], a: yr[j]) * scale
                    }
                }
            }
            rowCost[r] = Double(cost)
            total += Double(cost)
            if classify && predictedClass(yr, n) == Int(label) { correct += 1 }
        }
        return (total, correct)
    }

    /// The cost and hits of the last forward pass without touching Δ (evaluation).
    func cost(labels: UnsafePointer<Float>, rows: Int, classify: Bool) -> (loss: Double, correct: Int) {
        outputDelta(labels: labels, rows: rows, scale: 0, classify: classify)
    }

    @inline(__always)
    private func targetValue(_ label: Float, _ j: Int) -> Float {
        target == .scalar ? label : (Int(label) == j ? 1 : 0)
    }

    /// The predicted class of one output row: argmax over N_L > 1 outputs (first wins ties),
    /// or y ≥ 0.5 for a single output.
    @inline(__always)
    func predictedClass(_ y: UnsafePointer<Float>, _ n: Int) -> Int {
        if n == 1 { return y[0] >= 0.5 ? 1 : 0 }
        var best = 0
        for j in 1..<n where y[j] > y[best] { best = j }
        return best
    }

    // MARK: Backward

    /// Backward pass after `outputDelta`, writing the batch-mean gradient into `gradients`
    /// (same layout as the parameters; every entry is overwritten): `backwardDeltas` then
    /// `weightGradients` over the whole batch.
    func backward(
        parameters w: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>,
        x: UnsafePointer<Float>, rows: Int
    ) {
        backwardDeltas(parameters: w, rows: rows)
        weightGradients(gradients: g, x: x, rows: rows)
    }

    /// For l = L ... 2 and the rows r0 ..< r0 + rows:
    /// Δ^{l-1} = σ'(Z^{l-1}) ⊙ (Δ^l · W^l), with Δ^l · W^l: (rows × N_l)(N_l × N_{l-1});
    /// with dropout, Δ^{l-1} = σ'(Z^{l-1}) ⊙ M^{l-1} ⊙ (Δ^l · W^l).
    /// Rows are independent, so a batch may be split over threads by rows.
    func backwardDeltas(parameters w: UnsafePointer<Float>, rows: Int, from r0: Int = 0) {
        var l = layout.layerCount
        while l > 1 {
            backwardLayer(l, parameters: w, rows: rows, from: r0)
            l -= 1
        }
    }

    /// Δ^{l-1} = σ'(Z^{l-1}) ⊙ (Δ^l · W^l) for the rows r0 ..< r0 + rows (Δ^l of those rows ready).
    func backwardLayer(_ l: Int, parameters w: UnsafePointer<Float>, rows: Int, from r0: Int) {
        let nIn = layout.sizes[l - 1], nOut = layout.sizes[l]
        let dl = UnsafePointer(delta[l - 1].p + r0 * nOut)
        let dPrev = delta[l - 2].p + r0 * nIn
        BLAS.gemm(
            transA: false, transB: false, m: rows, n: nIn, k: nOut,
            a: dl, lda: nOut, b: w + layout.weightOffset[l - 1], ldb: nIn, c: dPrev, ldc: nIn)
        if dropout != nil { maskDelta(l - 1, offset: r0 * nIn, count: rows * nIn) }
        Kernels.multiplyDerivative(
            spec.hiddenActivation, delta: dPrev, z: z[l - 2].p + r0 * nIn, a: a[l - 2].p + r0 * nIn,
            count: rows * nIn)
    }

    /// Δ^{l-1}[:, j] = σ'(Z^{l-1}[:, j]) ⊙ (Δ^l · W^l[:, j]) for all `rows` rows and the neurons j
    /// of layer l − 1 (Δ^l of every row must be ready).
    func backwardLayer(_ l: Int, parameters w: UnsafePointer<Float>, rows: Int, neurons j: Range<Int>) {
        let nIn = layout.sizes[l - 1], nOut = layout.sizes[l]
        guard !j.isEmpty else { return }
        let dPrev = delta[l - 2].p + j.lowerBound
        BLAS.gemm(
            transA: false, transB: false, m: rows, n: j.count, k: nOut,
            a: delta[l - 1].p, lda: nOut, b: w + layout.weightOffset[l - 1] + j.lowerBound, ldb: nIn,
            c: dPrev, ldc: nIn)
        let zp = z[l - 2].p + j.lowerBound, ap = a[l - 2].p + j.lowerBound
        for r in 0..<rows {
            if dropout != nil { maskDelta(l - 1, offset: r * nIn + j.lowerBound, count: j.count) }
            Kernels.multiplyDerivative(
                spec.hiddenActivation, delta: dPrev + r * nIn, z: zp + r * nIn, a: ap + r * nIn, count: j.count)
        }
    }

    /// After `backwardDeltas` over the whole batch of `rows` rows, for l = 1 ... L:
    /// - dW^l (N_l × N_{l-1}) = (Δ^l)ᵀ (N_l × B) · A^{l-1} (B × N_{l-1});
    /// - db^l = Σ_rows Δ^l.
    /// Part `part` of `parts` computes the neurons j ∈ `neurons(l, part, parts)`: rows j of
    /// dW^l and entries j of db^l, so parts write disjoint, contiguous ranges.
    ///
    /// With `sgdStep` (plain SGD, learning rate η, parameters θ) the update is applied here
    /// instead of leaving dW^l in `gradients`: W^l += −η (Δ^l)ᵀ A^{l-1} is one product with
    /// alpha = −η and beta = 1 (no gradient pass); db^l still goes through `gradients`
    /// (b −= η db, as `Optimizer.update`). The dW^l entries of `gradients` are then not written.
    func weightGradients(
        gradients g: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int,
        part: Int = 0, of parts: Int = 1,
        sgdStep: (eta: Float, parameters: UnsafeMutablePointer<Float>)? = nil
    ) {
        let sizes = layout.sizes
        for l in 1...layout.layerCount {
            let nIn = sizes[l - 1], nOut = sizes[l]
            let dl = UnsafePointer(delta[l - 1].p)
            let aPrev = input(l, x)
            let j = neurons(l, part, parts)
            guard !j.isEmpty else { continue }
            let wo = layout.weightOffset[l - 1] + j.lowerBound * nIn, bo = layout.biasOffset[l - 1] + j.lowerBound
            if let (eta, theta) = sgdStep {
                BLAS.gemm(
                    transA: true, transB: false, m: j.count, n: nIn, k: rows, alpha: -eta,
                    a: dl + j.lowerBound, lda: nOut, b: aPrev, ldb: nIn, beta: 1, c: theta + wo, ldc: nIn)
                Kernels.columnSums(dl + j.lowerBound, rows: rows, cols: j.count, ld: nOut, into: g + bo)
                fck_sgd(theta + bo, g + bo, eta, j.count)
            } else {
                BLAS.gemm(
                    transA: true, transB: false, m: j.count, n: nIn, k: rows,
                    a: dl + j.lowerBound, lda: nOut, b: aPrev, ldb: nIn, c: g + wo, ldc: nIn)
                Kernels.columnSums(dl + j.lowerBound, rows: rows, cols: j.count, ld: nOut, into: g + bo)
            }
        }
    }

    /// The gradient contribution of the rows r0 ..< r0 + rows (after `backwardDeltas` over
    /// them), for l = 1 ... L: dW^l (+)= (Δ^l_rows)ᵀ A^{l-1}_rows and db^l (+)= Σ_rows Δ^l_rows,
    /// into `g` (the parameter layout). `first` overwrites g, otherwise the products are added
    /// (beta = 1), so a part of a batch can sum its rows chunk by chunk (`SplitStep`'s row mode).
    /// - Parameter x: A^0 of the whole batch.
    func accumulateGradients(
        into g: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int, from r0: Int, first: Bool
    ) {
        let sizes = layout.sizes
        for l in 1...layout.layerCount {
            let nIn = sizes[l - 1], nOut = sizes[l]
            let dl = UnsafePointer(delta[l - 1].p + r0 * nOut)
            let aPrev = input(l, x) + r0 * nIn
            BLAS.gemm(
                transA: true, transB: false, m: nOut, n: nIn, k: rows,
                a: dl, lda: nOut, b: aPrev, ldb: nIn, beta: first ? 0 : 1,
                c: g + layout.weightOffset[l - 1], ldc: nIn)
            let bias = g + layout.biasOffset[l - 1]
            if first {
                fck_column_sums(dl, rows, nOut, nOut, bias)
            } else {
                fck_column_sums_acc(dl, rows, nOut, nOut, bias)
            }
        }
    }

    /// The neurons of layer l whose gradients part `part` of `parts` computes.
    func neurons(_ l: Int, _ part: Int, _ parts: Int) -> Range<Int> {
        let n = layout.sizes[l]
        return (n * part / parts)..<(n * (part + 1) / parts)
    }
}

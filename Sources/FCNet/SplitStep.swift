import CKernels

/// One training step split over threads (`fck_parallel`), in one of two modes chosen from
/// the shapes and the thread setting (`chooseMode(rows:parts:)`).
///
/// Neuron mode (batches of a few hundred rows or fewer, or large networks). Part p of P:
/// 1. takes the batch rows B·p/P ..< B·(p+1)/P: gathers them (shuffled epochs), runs the
///    forward pass, Δ^L and the Δ^l back to layer 1 (rows are independent);
/// 2. after a barrier, computes its neurons' rows of every dW^l and entries of db^l over the
///    whole batch (`Network.weightGradients`), and applies the update to exactly those
///    parameters (the update is element-wise; for plain SGD outside the epoch's last batch it
///    is folded into the dW products, W += −η ΔᵀA with beta = 1).
///
/// Row mode (at least `rowModeMinimumRows` rows per part and a small network: data-parallel
/// with a gradient reduction). Part p of P:
/// 1. walks its rows in chunks of `chunkRows()` rows, each chunk small enough to stay in the
///    core's cache: gather, forward, Δ, and the chunk's dW/db added to the part's own gradient
///    buffer (`Network.accumulateGradients`; part 0's buffer is `gradients`);
/// 2. after a barrier, sums the P buffers in part order over its slice of the parameters
///    and applies the update to that slice.
///
/// Each entry is written by one part in a fixed order, and the cost is summed in row order
/// afterwards, so results depend on P (the thread setting) but never on timing. Inside the
/// step OpenBLAS runs every product on one thread.
final class SplitStep {
    enum Mode: Equatable { case neurons, rows }

    private let net: Network
    private let layout: ParameterLayout
    private let optimizer: OptimizerConfig
    private let weightCount: Int
    private var available = 0
    private let hits: UnsafeMutablePointer<Int>
    /// Row mode: the gradient buffers of parts 1 ..< P (part 0 uses `gradients`).
    private var partGradients: [FloatBuffer] = []
    // The step being run (set by `run`, read by the parts).
    private var epoch: EpochRows?
    private var offset = 0
    private var parameters: UnsafeMutablePointer<Float>?, gradients: UnsafeMutablePointer<Float>?
    private var slots: [FloatBuffer] = []
    private var rows = 0, count = 1, classify = false, learningRate = 0.0, step = 0
    private var mode = Mode.neurons
    private(set) var splitForward: [Bool], splitBackward: [Bool]
    /// Plain SGD folded into the dW products (`Network.weightGradients(sgdStep:)`; neuron mode).
    private var fuseSGD = false

    /// A part gets at least this many rows.
    static let minimumRows = 16
    /// Steps with fewer multiply-adds in their forward products (B · Σ N_l N_{l-1}) stay on one thread.
    static let minimumMultiplyAdds = 1 << 20
    static let maximumParts = 64
    /// Row mode needs at least this many rows per part ...
    static let rowModeMinimumRows = 256
    /// ... and at most this many parameters (the reduction reads P copies of them per step).
    static let rowModeMaximumParameters = 1 << 16
    /// A row-mode chunk keeps A^0 and every layer's Z, A and Δ within about this many bytes.
    static let chunkBytes = 1 << 20
    /// Neuron mode splits a layer's product by neurons from this many multiply-adds.
    static let neuronSplitMultiplyAdds = 1 << 22

    init(net: Network, layout: ParameterLayout, optimizer: OptimizerConfig) {
        self.net = net
        self.layout = layout
        self.optimizer = optimizer
        weightCount = (1...layout.layerCount).reduce(0) { $0 + layout.weightCount($1) }
        hits = .allocate(capacity: Self.maximumParts)
        hits.initialize(repeating: 0, count: Self.maximumParts)
        splitForward = Array(repeating: false, count: layout.layerCount + 1)
        splitBackward = Array(repeating: false, count: layout.layerCount + 1)
    }

    deinit { hits.deallocate() }

    /// How many parts a batch of `rows` rows is split into: 1 below the thresholds above,
    /// else min(BLAS.maxThreads, rows / minimumRows) — a function of the shapes and the
    /// thread setting only.
    func parts(rows: Int) -> Int {
        let threads = min(BLAS.maxThreads, rows / Self.minimumRows, Self.maximumParts)
        guard threads > 1, rows * weightCount >= Self.minimumMultiplyAdds else { return 1 }
        if available < threads { available = fck_pool_reserve(threads) }
        return min(threads, available)
    }

    /// Row mode when each of the `parts` parts gets at least `rowModeMinimumRows` rows and the
    /// network has at most `rowModeMaximumParameters` parameters; neuron mode otherwise.
    func chooseMode(rows: Int, parts: Int) -> Mode {
        rows / parts >= Self.rowModeMinimumRows && layout.count <= Self.rowModeMaximumParameters ? .rows : .neurons
    }

    /// Rows per row-mode chunk: the largest power of two from 16 to 1024 whose A^0 and
    /// Z/A/Δ rows of every layer fit in `chunkBytes` (a function of the shapes only).
    func chunkRows() -> Int {
        let floatsPerRow = layout.sizes[0] + 3 * layout.sizes.dropFirst().reduce(0, +)
        var chunk = 1024
        while chunk > 16 && chunk * floatsPerRow * MemoryLayout<Float>.size > Self.chunkBytes { chunk /= 2 }
        return chunk
    }

    /// Runs one step on the batch of `rows` rows at epoch position `offset` of `epoch`;
    /// returns Σ_r C_r (summed in row order) and the hits.
    func run(
        _ epoch: EpochRows, offset: Int, rows: Int, parts: Int, classify: Bool, learningRate: Double, step: Int,
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>, slots: [FloatBuffer],
        fuseSGD: Bool = false
    ) -> (loss: Double, correct: Int) {
        self.fuseSGD = fuseSGD
        self.epoch = epoch; self.offset = offset
        self.parameters = parameters; self.gradients = gradients; self.slots = slots
        self.rows = rows; self.count = parts; self.classify = classify
        self.learningRate = learningRate; self.step = step
        mode = chooseMode(rows: rows, parts: parts)
        if mode == .rows {
            while partGradients.count < parts - 1 { partGradients.append(FloatBuffer(count: layout.count)) }
        } else {
            planNeuronSplits(rows: rows, parts: parts)
        }
        BLAS.pinSingleThread(true)
        let status = fck_parallel(parts, { context, part in
            Unmanaged<SplitStep>.fromOpaque(context!).takeUnretainedValue().part(part)
        }, Unmanaged.passUnretained(self).toOpaque())
        BLAS.pinSingleThread(false)
        precondition(status == 0, "internal: the training threads could not be started")
        var loss = 0.0, correct = 0
        for r in 0..<rows { loss += net.rowCost[r] }
        for p in 0..<parts { correct += hits[p] }
        return (loss, correct)
    }

    private func part(_ p: Int) {
        if mode == .rows {
            rowPart(p)
            return
        }
        let r0 = rows * p / count, r1 = rows * (p + 1) / count
        // Ahead: this part's rows of the next batch (of the same size, except at the end).
        let (x, labels) = gather(r0, r1, ahead: (offset + rows + r0)..<(offset + rows + r1))
        let theta = parameters!, g = gradients!
        // What of the current layer's A (or Δ) this part may read without a barrier.
        var ready = epoch?.order == nil ? Ready.all : .ownRows
        for l in 1...layout.layerCount {
            if splitForward[l] {
                if ready != .all { fck_barrier(count) }
                net.forwardLayer(l, parameters: theta, x: x, rows: rows, neurons: net.neurons(l, p, count))
                ready = .ownColumns
            } else {
                if ready == .ownColumns { fck_barrier(count) }
                net.forwardLayer(l, parameters: theta, x: x, rows: r1 - r0, from: r0)
                ready = .ownRows
            }
        }
        hits[p] = net.outputDelta(labels: labels, rows: r1 - r0, from: r0, scale: 1 / Float(rows), classify: classify).correct
        ready = .ownRows
        var l = layout.layerCount
        while l > 1 {
            if splitBackward[l] {
                if ready != .all { fck_barrier(count) }
                net.backwardLayer(l, parameters: theta, rows: rows, neurons: net.neurons(l - 1, p, count))
                ready = .ownColumns
            } else {
                if ready == .ownColumns { fck_barrier(count) }
                net.backwardLayer(l, parameters: theta, rows: r1 - r0, from: r0)
                ready = .ownRows
            }
            l -= 1
        }
        fck_barrier(count)  // every row's Δ and A are ready; W is no longer read
        if fuseSGD {
            net.weightGradients(gradients: g, x: x, rows: rows, part: p, of: count, sgdStep: (Float(learningRate), theta))
            return
        }
        net.weightGradients(gradients: g, x: x, rows: rows, part: p, of: count)
        for l in 1...layout.layerCount {
            let j = net.neurons(l, p, count), nIn = layout.sizes[l - 1]
            guard !j.isEmpty else { continue }
            let wo = layout.weightOffset[l - 1] + j.lowerBound * nIn, bo = layout.biasOffset[l - 1] + j.lowerBound
            Optimizer.decayWeights(optimizer, learningRate: learningRate, parameters: theta + wo, gradients: g + wo, count: j.count * nIn)
            Optimizer.update(
                optimizer, learningRate: learningRate, step: step, parameters: theta + wo,
                gradients: g + wo, slots: slots, count: j.count * nIn, offset: wo)
            Optimizer.update(
                optimizer, learningRate: learningRate, step: step, parameters: theta + bo,
                gradients: g + bo, slots: slots, count: j.count, offset: bo)
        }
    }

    private enum Ready { case all, ownRows, ownColumns }

    /// Neuron mode: whether layer l's forward product (`splitForward[l]`) and the product giving
    /// Δ^{l-1} (`splitBackward[l]`) are split by neurons over all rows instead of by rows. Large
    /// products only (≥ `neuronSplitMultiplyAdds`, ≥ 16 neurons per part, not the output
    /// layer); the split costs a barrier where the next product needs every row.
    func planNeuronSplits(rows: Int, parts: Int) {
        let sizes = layout.sizes, L = layout.layerCount
        for l in 1...L {
            let big = rows * sizes[l] * sizes[l - 1] >= Self.neuronSplitMultiplyAdds
            splitForward[l] = big && l < L && sizes[l] >= 16 * parts
            splitBackward[l] = big && l > 1 && sizes[l - 1] >= 16 * parts
        }
    }

    /// A^0 and the labels of the whole batch, after gathering its rows r0 ..< r1 (shuffled
    /// epochs) and prefetching the rows at epoch positions `ahead` (`EpochRows.batch`).
    private func gather(_ r0: Int, _ r1: Int, ahead: Range<Int>) -> (x: UnsafePointer<Float>, labels: UnsafePointer<Float>) {
        epoch!.batch(at: offset, gathering: r0, r1, ahead: ahead)
    }

    /// Row mode, part p: its rows chunk by chunk into its gradient buffer, a barrier, then the
    /// reduction and update of its slice of the parameters.
    private func rowPart(_ p: Int) {
        let r0 = rows * p / count, r1 = rows * (p + 1) / count
        let theta = parameters!
        let g = p == 0 ? gradients! : partGradients[p - 1].p
        let chunk = chunkRows()
        var hitCount = 0
        var c0 = r0
        while c0 < r1 {
            let c1 = min(c0 + chunk, r1)
            let (x, labels) = gather(c0, c1, ahead: (offset + c1)..<(offset + min(c1 + chunk, r1)))
            net.forward(parameters: theta, x: x, rows: c1 - c0, from: c0)
            hitCount += net.outputDelta(
                labels: labels, rows: c1 - c0, from: c0, scale: 1 / Float(rows), classify: classify).correct
            net.backwardDeltas(parameters: theta, rows: c1 - c0, from: c0)
            net.accumulateGradients(into: g, x: x, rows: c1 - c0, from: c0, first: c0 == r0)
            c0 = c1
        }
        hits[p] = hitCount
        fck_barrier(count)  // every part's gradient sum is complete; W is no longer read
        let i0 = layout.count * p / count, i1 = layout.count * (p + 1) / count
        guard i1 > i0 else { return }
        let total = gradients! + i0
        for q in 1..<count { fck_add(total, partGradients[q - 1].p + i0, i1 - i0) }
        Optimizer.decayWeights(
            optimizer, learningRate: learningRate, layout: layout, parameters: theta + i0, gradients: total,
            count: i1 - i0, offset: i0)
        Optimizer.update(
            optimizer, learningRate: learningRate, step: step, parameters: theta + i0,
            gradients: total, slots: slots, count: i1 - i0, offset: i0)
    }
}

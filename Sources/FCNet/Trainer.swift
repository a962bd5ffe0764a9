import CKernels

/// What to train: the network, the update rule, the batch size and the seed.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var spec: NetworkSpec
    public var optimizer: OptimizerConfig
    /// M samples per update: 1 = stochastic gradient descent, nil (or ≥ N) = full-batch
    /// gradient descent, anything between = mini-batch. The last batch of an epoch uses its
    /// actual size. Mini-batch and SGD reshuffle every epoch; full batch does not.
    public var batchSize: Int?
    /// Fixes the initial weights (`.random` start) and the shuffling.
    public var seed: UInt64

    public init(spec: NetworkSpec, optimizer: OptimizerConfig = .init(), batchSize: Int? = nil, seed: UInt64 = 0) {
        self.spec = spec
        self.optimizer = optimizer
        self.batchSize = batchSize
        self.seed = seed
    }
}

/// Where training starts.
public enum TrainingStart: Sendable {
    /// Glorot/Xavier uniform weights (sigmoid, tanh, identity hidden layers) or He uniform
    /// (relu, leaky-relu), from xoshiro256** seeded with the config's seed; biases 0.
    case random
    /// Given W^1...W^L (each N_l × N_{l-1} row-major) and b^1...b^L, fresh optimizer state (`--init`).
    case weights(weights: [[Float]], biases: [[Float]])
    /// A checkpoint, continued exactly.
    case state(TrainingState)
}

/// How `Trainer.train` ended.
public enum TrainingOutcome: Equatable, Sendable {
    /// All requested epochs were trained.
    case completed
    /// `shouldStop` returned true; a partly trained epoch was dropped, `Trainer.state` is the
    /// last complete epoch.
    case stopped
    /// A batch loss or a parameter became NaN or infinite; `lastFinite` (also `Trainer.state`)
    /// is the last complete epoch, and that epoch was not kept.
    case diverged(lastFinite: TrainingState)
}

/// Trains a network by backpropagation, handing a checkpoint to an observer after every epoch.
///
/// Metrics per epoch (`TrainingState.metrics`):
/// `train_loss` (mean C_r over the epoch's samples, from the forward passes made while
/// training), `train_accuracy` (the same passes; classification only), `val_loss`,
/// `val_accuracy` (after the epoch, with a validation set), `learning_rate`, `wall_time_s`
/// (the epoch including validation), `samples_per_s` (training only), `weight_norm.<l>`
/// (||W^l||_F after the epoch) and `grad_norm.<l>` (||dC/dW^l||_F of the epoch's LAST batch).
/// Epoch 0 carries `weight_norm.<l>` and, with a validation set, `val_loss`/`val_accuracy`.
///
/// Not thread-safe; one trainer per thread. BLAS thread settings are process-wide (`BLAS`).
public final class Trainer {
    public let config: TrainingConfig
    /// The last complete epoch (the start value before training).
    public private(set) var state: TrainingState
    /// The epoch in progress so far: samples trained and the sum of their losses
    /// C_r (so `lossSum / samples` is its running mean train loss). Zero between
    /// epochs; read it from `shouldStop`, which is polled after each batch.
    public private(set) var epochProgress: (samples: Int, lossSum: Double) = (0, 0)

    private let trainData: Dataset
    private let validation: Dataset?
    private let layout: ParameterLayout
    private let batch: Int
    private let classify: Bool
    private let net: Network
    private let evalNet: Network?
    private let parameters: FloatBuffer
    private let gradients: FloatBuffer
    private let slots: [FloatBuffer]
    private let xBatch: FloatBuffer
    private let labelBatch: FloatBuffer
    private let order: UnsafeMutablePointer<Int32>
    private let splitStep: SplitStep
    private var random: Xoshiro256
    private var step: Int
    private var schedulePosition: Int
    private var pendingInitial: Bool

    /// Evaluation runs in chunks of this many rows.
    static let evaluationChunk = 1024

    /// - Parameters:
    ///   - train: normalised training data (features width = `spec.inputSize`).
    ///   - validation: optional normalised validation data, evaluated after every epoch.
    ///   - start: random weights, given weights, or a checkpoint to continue.
    ///   - allowDifferentData: accept a checkpoint whose data fingerprint differs from `train`'s.
    /// - Throws: `FCNetError` when OpenBLAS cannot be loaded, the configuration is invalid, the
    ///   data does not fit the network, or the start value does not fit the configuration.
    public init(
        config: TrainingConfig, train: Dataset, validation: Dataset? = nil,
        start: TrainingStart = .random, allowDifferentData: Bool = false
    ) throws {
        try BLAS.load()
        let spec = config.spec
        try spec.validate()
        try config.optimizer.validate()
        try Trainer.check(train, fits: spec, role: "training")
        if let validation {
            try Trainer.check(validation, fits: spec, role: "validation")
            guard validation.task == train.task else {
                throw FCNetError.invalidConfiguration(
                    "The validation data is for \(validation.task.rawValue) but the training data is for \(train.task.rawValue).")
            }
        }
        if let b = config.batchSize, b < 1 {
            throw FCNetError.invalidConfiguration("The batch size must be at least 1 (got \(b)).")
        }
        self.config = config
        self.trainData = train
        self.validation = validation
        let layout = ParameterLayout(spec)
        self.layout = layout
        batch = min(config.batchSize ?? train.count, train.count)
        classify = train.task == .classification
        let target: TargetMode = spec.outputSize == 1 ? .scalar : .oneHot
        net = Network(spec: spec, capacity: batch, target: target)
        evalNet = validation.map {
            Network(spec: spec, capacity: min(Trainer.evaluationChunk, $0.count), target: target)
        }
        parameters = FloatBuffer(count: layout.count)
        gradients = FloatBuffer(count: layout.count)
        slots = config.optimizer.slotNames.map { _ in FloatBuffer(count: layout.count) }
        xBatch = FloatBuffer(count: batch * train.width)
        labelBatch = FloatBuffer(count: batch)
        order = .allocate(capacity: train.count)
        order.initialize(repeating: 0, count: train.count)
        splitStep = SplitStep(net: net, layout: layout, optimizer: config.optimizer)

        let fingerprint = train.fingerprint
        let kind = config.optimizer.kind
        let zeroSlots = Dictionary(uniqueKeysWithValues: config.optimizer.slotNames.map {
            ($0, [Float](repeating: 0, count: layout.count))
        })
        switch start {
        case .random:
            var rng = Xoshiro256(seed: config.seed)
            let params = Trainer.initialParameters(spec, layout, &rng)
            state = TrainingState(
                spec: spec, epoch: 0, parameters: params, optimizer: kind, slots: zeroSlots, step: 0,
                schedulePosition: 0, random: rng, dataFingerprint: fingerprint, metrics: [:])
            pendingInitial = true
        case let .weights(weights, biases):
            var params = [Float]()
            params.reserveCapacity(layout.count)
            guard weights.count == spec.layerCount, biases.count == spec.layerCount else {
                throw FCNetError.incompatibleState(
                    "The initial weights have \(weights.count) layers; the network has \(spec.layerCount).")
            }
            for l in 1...spec.layerCount {
                guard weights[l - 1].count == layout.weightCount(l), biases[l - 1].count == layout.sizes[l] else {
                    throw FCNetError.incompatibleState(
                        "The initial weights of layer \(l) do not have shape \(layout.sizes[l]) × \(layout.sizes[l - 1]).")
                }
                params += weights[l - 1]
                params += biases[l - 1]
            }
            state = TrainingState(
                spec: spec, epoch: 0, parameters: params, optimizer: kind, slots: zeroSlots, step: 0,
                schedulePosition: 0, random: Xoshiro256(seed: config.seed), dataFingerprint: fingerprint,
                metrics: [:])
            pendingInitial = true
        case var .state(s):
            guard s.spec == spec else {
                throw FCNetError.incompatibleState("The checkpoint's network differs from the configured one.")
            }
            guard s.parameters.count == layout.count else {
                throw FCNetError.incompatibleState("The checkpoint has \(s.parameters.count) parameters; the network has \(layout.count).")
            }
            guard allowDifferentData || s.dataFingerprint == fingerprint else {
                throw FCNetError.incompatibleState(
                    "The checkpoint was trained on other data (fingerprint \(s.dataFingerprint), this data \(fingerprint)).")
            }
            if s.optimizer != kind {
                // A different update rule starts its own state.
                s.optimizer = kind
                s.slots = zeroSlots
                s.step = 0
            }
            for (name, values) in s.slots where values.count != layout.count {
                throw FCNetError.incompatibleState("The checkpoint's optimizer slot \(name) has the wrong size.")
            }
            s.dataFingerprint = fingerprint
            state = s
            pendingInitial = false
        }
        random = state.random
        step = state.step
        schedulePosition = state.schedulePosition
        restore(state)
        if pendingInitial {
            var m = evaluateValidation()
            addNorms(&m, gradients: false)
            state.metrics = m
        }
    }

    deinit { order.deallocate() }

    /// Trains up to `epochs` more epochs: `try trainer.train(epochs: 10) { state in try store.save(state) }`.
    /// - Parameters:
    ///   - shouldStop: polled between epochs and between batches; when it returns true the
    ///     current epoch is dropped and `.stopped` returned.
    ///   - observer: receives epoch 0 first (on the first call, unless the trainer started from
    ///     a checkpoint), then each completed epoch's state. An error it throws ends training
    ///     and is rethrown (`state` is then the epoch it was given).
    /// - Throws: whatever `observer` throws.
    @discardableResult
    public func train(
        epochs: Int, shouldStop: () -> Bool = { false },
        observer: (TrainingState) throws -> Void
    ) throws -> TrainingOutcome {
        if pendingInitial {
            pendingInitial = false
            try observer(state)
        }
        guard epochs > 0 else { return .completed }
        return try trainData.features.withUnsafeBufferPointer { f in
            try trainData.labels.withUnsafeBufferPointer { y in
                for _ in 0..<epochs {
                    if shouldStop() { return .stopped }
                    switch runEpoch(features: f.baseAddress!, labels: y.baseAddress!, shouldStop: shouldStop) {
                    case .stopped:
                        restore(state)
                        return .stopped
                    case .diverged:
                        restore(state)
                        return .diverged(lastFinite: state)
                    case let .finished(metrics):
                        state = snapshot(metrics: metrics)
                        try observer(state)
                    }
                }
                return .completed
            }
        }
    }

    // MARK: One epoch

    private enum EpochEnd { case finished([String: Double]), stopped, diverged }

    private func runEpoch(
        features f: UnsafePointer<Float>, labels y: UnsafePointer<Float>, shouldStop: () -> Bool
    ) -> EpochEnd {
        let clock = ContinuousClock()
        let started = clock.now
        let n = trainData.count, w = trainData.width
        let lr = config.optimizer.schedule.rate(base: config.optimizer.learningRate, position: schedulePosition)
        let shuffled = batch < n
        if shuffled {
            for i in 0..<n { order[i] = Int32(i) }
            random.shuffle(order, count: n)
        }
        var lossSum = 0.0, correct = 0, offset = 0
        epochProgress = (0, 0)
        defer { epochProgress = (0, 0) }
        let fuseSGD = config.optimizer.kind == .sgd
        while offset < n {
            let rows = min(batch, n - offset)
            let parts = splitStep.parts(rows: rows)
            if parts > 1 {
                // Gather, forward, Δ, gradients and update, split over `parts` threads.
                step += 1
                let (loss, hits) = splitStep.run(
                    features: f, labels: y, order: shuffled ? UnsafePointer(order) : nil, epochRows: n, offset: offset,
                    xBatch: xBatch.p, labelBatch: labelBatch.p, width: w, rows: rows, parts: parts,
                    classify: classify, learningRate: lr, step: step, parameters: parameters.p,
                    gradients: gradients.p, slots: slots, fuseSGD: fuseSGD && offset + rows < n)
                // A non-finite step is discarded with the whole epoch (restore(state)).
                guard loss.isFinite else { return .diverged }
                lossSum += loss
                correct += hits
                offset += rows
                epochProgress = (offset, lossSum)
                if offset < n && shouldStop() { return .stopped }
                continue
            }
            var x = f + offset * w, labels = y + offset
            if shuffled {
                let xb = xBatch.p, lb = labelBatch.p
                for r in 0..<rows {
                    let i = Int(order[offset + r])
                    (xb + r * w).update(from: f + i * w, count: w)
                    lb[r] = y[i]
                }
                x = UnsafePointer(xb); labels = UnsafePointer(lb)
                // The next batch's rows, into cache while this one computes (see SplitStep.gather).
                let ahead = min(rows, n - offset - rows)
                if ahead > 0 { fck_prefetch_rows(f, order + offset + rows, ahead, w) }
            }
            net.forward(parameters: parameters.p, x: x, rows: rows)
            let (loss, hits) = net.outputDelta(labels: labels, rows: rows, scale: 1 / Float(rows), classify: classify)
            guard loss.isFinite else { return .diverged }
            lossSum += loss
            correct += hits
            step += 1
            net.backwardDeltas(parameters: parameters.p, rows: rows)
            if fuseSGD && offset + rows < n {
                // Plain SGD, not the epoch's last batch (whose dW feeds grad_norm): the update
                // is folded into the dW products.
                net.weightGradients(gradients: gradients.p, x: x, rows: rows, sgdStep: (Float(lr), parameters.p))
            } else {
                net.weightGradients(gradients: gradients.p, x: x, rows: rows)
                Optimizer.update(
                    config.optimizer, learningRate: lr, step: step, parameters: parameters.p,
                    gradients: gradients.p, slots: slots, count: layout.count)
            }
            offset += rows
            epochProgress = (offset, lossSum)
            if offset < n && shouldStop() { return .stopped }
        }
        let trainSeconds = Self.seconds(clock.now - started)
        guard Kernels.norm(parameters.p, count: layout.count).isFinite else { return .diverged }
        schedulePosition += 1
        var m = evaluateValidation()
        m["train_loss"] = lossSum / Double(n)
        if classify { m["train_accuracy"] = Double(correct) / Double(n) }
        m["learning_rate"] = lr
        addNorms(&m, gradients: true)
        m["wall_time_s"] = Self.seconds(clock.now - started)
        m["samples_per_s"] = trainSeconds > 0 ? Double(n) / trainSeconds : 0
        return .finished(m)
    }

    private static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }

    private func addNorms(_ m: inout [String: Double], gradients withGradients: Bool) {
        for l in 1...layout.layerCount {
            m["weight_norm.\(l)"] = Kernels.norm(parameters.p + layout.weightOffset[l - 1], count: layout.weightCount(l))
            if withGradients {
                m["grad_norm.\(l)"] = Kernels.norm(gradients.p + layout.weightOffset[l - 1], count: layout.weightCount(l))
            }
        }
    }

    private func evaluateValidation() -> [String: Double] {
        guard let v = validation, let evalNet else { return [:] }
        let r = Evaluator.run(
            net: evalNet, parameters: parameters.p, features: v.features, labels: v.labels, width: v.width,
            classify: classify, confusion: nil)
        var m = ["val_loss": r.loss / Double(v.count)]
        if classify { m["val_accuracy"] = Double(r.correct) / Double(v.count) }
        return m
    }

    // MARK: State

    private func snapshot(metrics: [String: Double]) -> TrainingState {
        var slotValues: [String: [Float]] = [:]
        for (i, name) in config.optimizer.slotNames.enumerated() { slotValues[name] = slots[i].array }
        return TrainingState(
            spec: config.spec, epoch: state.epoch + 1, parameters: parameters.array,
            optimizer: config.optimizer.kind, slots: slotValues, step: step, schedulePosition: schedulePosition,
            random: random, dataFingerprint: state.dataFingerprint, metrics: metrics)
    }

    private func restore(_ s: TrainingState) {
        parameters.load(s.parameters)
        for (i, name) in config.optimizer.slotNames.enumerated() {
            if let v = s.slots[name] { slots[i].load(v) } else { slots[i].zero() }
        }
        gradients.zero()
        random = s.random
        step = s.step
        schedulePosition = s.schedulePosition
    }

    // MARK: Checks and initialisation

    static func check(_ d: Dataset, fits spec: NetworkSpec, role: String) throws {
        func fail(_ s: String) -> FCNetError { .invalidConfiguration(s) }
        guard d.count > 0 else { throw fail("The \(role) data (\(d.source)) has no rows.") }
        guard d.width == spec.inputSize else {
            throw fail("The \(role) data (\(d.source)) has \(d.width) features; the network's input size is \(spec.inputSize).")
        }
        switch d.task {
        case .regression:
            guard spec.outputSize == 1, spec.loss == .mse else {
                throw fail("Regression needs one output neuron and the mse loss.")
            }
        case .classification:
            let k = d.classCount ?? 0
            let allowed = spec.outputSize == 1 ? 2 : spec.outputSize
            guard k <= allowed else {
                throw fail(
                    "The \(role) data (\(d.source)) has labels up to \(k - 1) but the output layer only has \(spec.outputSize == 1 ? "classes 0 and 1 (one neuron)" : "\(allowed) neurons").")
            }
        }
    }

    /// Glorot/Xavier uniform U(±√(6 / (N_{l-1} + N_l))) for sigmoid, tanh and identity layers,
    /// He uniform U(±√(6 / N_{l-1})) for relu and leaky-relu; biases 0. Row-major W^l in order.
    static func initialParameters(_ spec: NetworkSpec, _ layout: ParameterLayout, _ rng: inout Xoshiro256) -> [Float] {
        var p = [Float](repeating: 0, count: layout.count)
        for l in 1...layout.layerCount {
            let nIn = Double(layout.sizes[l - 1]), nOut = Double(layout.sizes[l])
            let act = spec.activation(layer: l)
            let limit = Float(act == .relu || act == .leakyRelu ? (6 / nIn).squareRoot() : (6 / (nIn + nOut)).squareRoot())
            for i in layout.weightRange(l) { p[i] = (2 * rng.nextUnit() - 1) * limit }
        }
        return p
    }
}

/// Batched forward passes over a whole data set (validation, `Model.evaluate`).
enum Evaluator {
    /// Runs the network over `features` in chunks of the network's capacity.
    /// - Returns: Σ C_r and the number of correctly classified rows; fills `confusion`
    ///   (K × K, row = label, column = prediction) when given.
    static func run(
        net: Network, parameters: UnsafePointer<Float>, features: [Float], labels: [Float], width: Int,
        classify: Bool, confusion: UnsafeMutablePointer<Int>?, classes: Int = 0,
        outputs: UnsafeMutablePointer<Float>? = nil
    ) -> (loss: Double, correct: Int) {
        let count = labels.count, n = net.spec.outputSize
        var loss = 0.0, correct = 0
        features.withUnsafeBufferPointer { f in
            labels.withUnsafeBufferPointer { y in
                var offset = 0
                while offset < count {
                    let rows = min(net.capacity, count - offset)
                    net.forward(parameters: parameters, x: f.baseAddress! + offset * width, rows: rows)
                    let r = net.cost(labels: y.baseAddress! + offset, rows: rows, classify: classify)
                    loss += r.loss; correct += r.correct
                    if let outputs { (outputs + offset * n).update(from: net.output, count: rows * n) }
                    if let confusion {
                        for i in 0..<rows {
                            let t = Int(y[offset + i]), p = net.predictedClass(net.output + i * n, n)
                            if t < classes && p < classes { confusion[t * classes + p] += 1 }
                        }
                    }
                    offset += rows
                }
            }
        }
        return (loss, correct)
    }
}

extension Trainer {
    /// `train(epochs:shouldStop:observer:)` without an observer.
    @discardableResult
    public func train(epochs: Int, shouldStop: () -> Bool = { false }) throws -> TrainingOutcome {
        try train(epochs: epochs, shouldStop: shouldStop, observer: { _ in })
    }
}

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
    private var features: UnsafePointer<Float>?, allLabels: UnsafePointer<Float>?
    private var order: UnsafePointer<Int32>?
    private var offset = 0, width = 0, epochRows = 0
    private var xBatch: UnsafeMutablePointer<Float>?, labelBatch: UnsafeMutablePointer<Float>?
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

    /// Runs one step on the batch rows offset ..< offset + rows (through `order` when given);
    /// returns Σ_r C_r (summed in row order) and the hits.
    func run(
        features: UnsafePointer<Float>, labels: UnsafePointer<Float>, order: UnsafePointer<Int32>?,
        epochRows: Int, offset: Int, xBatch: UnsafeMutablePointer<Float>, labelBatch: UnsafeMutablePointer<Float>, width: Int, rows: Int,
        parts: Int, classify: Bool, learningRate: Double, step: Int,
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>, slots: [FloatBuffer],
        fuseSGD: Bool = false
    ) -> (loss: Double, correct: Int) {
        self.fuseSGD = fuseSGD
        self.features = features; self.allLabels = labels; self.order = order; self.offset = offset
        self.epochRows = epochRows
        self.xBatch = xBatch; self.labelBatch = labelBatch; self.width = width
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
        var ready = order == nil ? Ready.all : .ownRows
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

    /// Gathers the batch rows r0 ..< r1 into `xBatch`/`labelBatch` in a shuffled epoch and
    /// prefetches the rows at epoch positions `ahead`; returns A^0 and the labels of the whole batch.
    private func gather(
        _ r0: Int, _ r1: Int, ahead: Range<Int>
    ) -> (x: UnsafePointer<Float>, labels: UnsafePointer<Float>) {
        let w = width
        guard let order else { return (features! + offset * w, allLabels! + offset) }
        let xb = xBatch!, lb = labelBatch!, f = features!, y = allLabels!
        for r in r0..<r1 {
            let i = Int(order[offset + r])
            (xb + r * w).update(from: f + i * w, count: w)
            lb[r] = y[i]
        }
        // The rows this part gathers next (`ahead`, positions in the epoch's order), from
        // memory into cache while these compute: a shuffled data set larger than the cache
        // is otherwise read row by row at memory latency.
        let next = ahead.clamped(to: 0..<epochRows)
        if !next.isEmpty { fck_prefetch_rows(f, order + next.lowerBound, next.count, w) }
        return (UnsafePointer(xb), UnsafePointer(lb))
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
        Optimizer.update(
            optimizer, learningRate: learningRate, step: step, parameters: theta + i0,
            gradients: total, slots: slots, count: i1 - i0, offset: i0)
    }
}

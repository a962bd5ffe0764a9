import CKernels

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
    private var patience: PatienceState?
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
        try config.validateRegularization()
        try Trainer.check(train, fits: spec, role: "training")
        if let validation {
            try Trainer.check(validation, fits: spec, role: "validation")
            guard validation.task == train.task else {
                throw FCNetError.invalidConfiguration(
                    "The validation data is for \(validation.task.rawValue) but the training data is for \(train.task.rawValue).")
            }
        }
        if let rule = config.earlyStopping, rule.monitor.needsValidation {
            guard validation != nil else {
                throw FCNetError.invalidConfiguration("Early stopping on \(rule.monitor.rawValue) needs a validation set.")
            }
            guard rule.monitor != .valAccuracy || train.task == .classification else {
                throw FCNetError.invalidConfiguration("Early stopping on val_accuracy needs a classification task.")
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
        net = Network(spec: spec, capacity: batch, target: target, dropout: config.dropout)
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
            s.patience = Trainer.continuedPatience(s.patience, rule: config.earlyStopping)
            state = s
            pendingInitial = false
        }
        random = state.random
        step = state.step
        schedulePosition = state.schedulePosition
        patience = state.patience
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
                    case var .finished(metrics):
                        var stop = false
                        if let rule = config.earlyStopping, let value = metrics[rule.monitor.rawValue] {
                            let next = PatienceState.after(patience, epoch: state.epoch + 1, value: value, rule: rule)
                            patience = next.state
                            stop = next.stop
                            if stop { metrics[Trainer.earlyStopMetric] = Double(next.state.bestEpoch ?? state.epoch + 1) }
                        }
                        state = snapshot(metrics: metrics)
                        try observer(state)
                        if stop { return .stoppedEarly(bestEpoch: patience?.bestEpoch ?? state.epoch) }
                    }
                }
                return .completed
            }
        }
    }

    /// The metric an early stop records on the epoch that stopped: the best epoch.
    public static let earlyStopMetric = "early_stop.best_epoch"

    /// The early-stopping state a run continues with from a checkpoint's: none without early
    /// stopping; afresh when the monitored metric changed; with the wait back at 0 when the
    /// checkpoint is an early stop (its wait reached the patience), so that training further
    /// gets a full patience again (the best value and epoch are kept).
    static func continuedPatience(_ stored: PatienceState?, rule: EarlyStopping?) -> PatienceState? {
        guard let rule, var state = stored, state.monitor == rule.monitor else { return nil }
        if state.wait >= max(rule.patience, 1) { state.wait = 0 }
        return state
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
        let epoch = EpochRows(
            features: f, labels: y, count: n, width: w, order: shuffled ? UnsafePointer(order) : nil,
            xBatch: xBatch.p, labelBatch: labelBatch.p)
        var lossSum = 0.0, correct = 0, offset = 0
        epochProgress = (0, 0)
        defer { epochProgress = (0, 0) }
        // Weight decay changes the gradient first: no folding of the update into dW.
        let fuseSGD = config.optimizer.kind == .sgd && config.optimizer.weightDecay == nil
        while offset < n {
            let rows = min(batch, n - offset)
            net.drawMasks(rows: rows, random: &random)
            let parts = splitStep.parts(rows: rows)
            if parts > 1 {
                // Gather, forward, Δ, gradients and update, split over `parts` threads.
                step += 1
                let (loss, hits) = splitStep.run(
                    epoch, offset: offset, rows: rows, parts: parts,
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
            // This batch's rows, and the next batch's into cache while this one computes.
            let (x, labels) = epoch.batch(at: offset, gathering: 0, rows, ahead: (offset + rows)..<(offset + 2 * rows))
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
                Optimizer.decayWeights(
                    config.optimizer, learningRate: lr, layout: layout, parameters: parameters.p,
                    gradients: gradients.p, count: layout.count)
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
            random: random, dataFingerprint: state.dataFingerprint, metrics: metrics, patience: patience)
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
        patience = s.patience
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

extension Trainer {
    /// `train(epochs:shouldStop:observer:)` without an observer.
    @discardableResult
    public func train(epochs: Int, shouldStop: () -> Bool = { false }) throws -> TrainingOutcome {
        try train(epochs: epochs, shouldStop: shouldStop, observer: { _ in })
    }
}

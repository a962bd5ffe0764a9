import FCCore
/// One tensor of a checkpoint, by layer (1-based, as in the math) and role.
/// Roles: `weight` (N_l × N_{l-1}), `bias` (N_l), and per optimizer slot
/// `weight.<slot>` / `bias.<slot>` (`velocity` for momentum; `m`, `v` for Adam).
public struct NamedTensor: Codable, Equatable, Sendable {
    public var layer: Int
    public var role: String
    public var shape: [Int]
    public var values: [Float]

    public init(layer: Int, role: String, shape: [Int], values: [Float]) {
        self.layer = layer
        self.role = role
        self.shape = shape
        self.values = values
    }

    /// `layers.<l>.<role>`, e.g. `layers.1.weight`, `layers.2.bias.m`.
    public var name: String { TensorName.name(layer: layer, role: role) }
}

/// The scalar part of a checkpoint (Codable, e.g. as JSON next to the tensors).
public struct TrainingScalars: Codable, Equatable, Sendable {
    /// Completed epochs (0 = the initial state).
    public var epoch: Int
    /// Optimizer updates made so far (t of Adam).
    public var step: Int
    /// The learning-rate schedule's position (epochs trained under it).
    public var schedulePosition: Int
    /// Which optimizer the slot tensors belong to.
    public var optimizer: OptimizerConfig.Kind
    /// The xoshiro256** state words.
    public var random: [UInt64]
    /// `Dataset.fingerprint` of the training data.
    public var dataFingerprint: String
    /// Early stopping's state (runs that stop early only).
    public var patience: PatienceState?

    public init(
        epoch: Int, step: Int, schedulePosition: Int, optimizer: OptimizerConfig.Kind,
        random: [UInt64], dataFingerprint: String, patience: PatienceState? = nil
    ) {
        self.patience = patience
        self.epoch = epoch
        self.step = step
        self.schedulePosition = schedulePosition
        self.optimizer = optimizer
        self.random = random
        self.dataFingerprint = dataFingerprint
    }
}

/// A complete checkpoint: everything needed to continue training bit-exactly.
public struct TrainingState: Equatable, Sendable {
    public var spec: NetworkSpec
    /// Completed epochs; 0 is the state before any update.
    public var epoch: Int
    /// All W^l and b^l in one flat array: for l = 1...L, W^l row-major (N_l × N_{l-1}) then b^l.
    public var parameters: [Float]
    public var optimizer: OptimizerConfig.Kind
    /// Optimizer slots by name (`velocity`; `m`, `v`), each with the layout of `parameters`.
    public var slots: [String: [Float]]
    /// Optimizer updates made so far.
    public var step: Int
    /// The learning-rate schedule's position.
    public var schedulePosition: Int
    /// The generator used for shuffling, as it is after this epoch.
    public var random: Xoshiro256
    /// `Dataset.fingerprint` of the training data.
    public var dataFingerprint: String
    /// The epoch's metrics (empty for epoch 0 except norms and, with a validation set, val_*).
    public var metrics: [String: Double]
    /// Early stopping's best value, best epoch and wait after this epoch (nil without early
    /// stopping, and at epoch 0).
    public var patience: PatienceState?

    public init(
        spec: NetworkSpec, epoch: Int, parameters: [Float], optimizer: OptimizerConfig.Kind,
        slots: [String: [Float]], step: Int, schedulePosition: Int, random: Xoshiro256,
        dataFingerprint: String, metrics: [String: Double], patience: PatienceState? = nil
    ) {
        self.patience = patience
        self.spec = spec
        self.epoch = epoch
        self.parameters = parameters
        self.optimizer = optimizer
        self.slots = slots
        self.step = step
        self.schedulePosition = schedulePosition
        self.random = random
        self.dataFingerprint = dataFingerprint
        self.metrics = metrics
    }

    var layout: ParameterLayout { ParameterLayout(spec) }

    /// W^l (l from 1), N_l × N_{l-1} row-major.
    public func weights(layer l: Int) -> [Float] { Array(parameters[layout.weightRange(l)]) }
    /// b^l (l from 1).
    public func biases(layer l: Int) -> [Float] { Array(parameters[layout.biasRange(l)]) }
    /// [W^1, ..., W^L].
    public var weights: [[Float]] { (1...spec.layerCount).map { weights(layer: $0) } }
    /// [b^1, ..., b^L].
    public var biases: [[Float]] { (1...spec.layerCount).map { biases(layer: $0) } }

    public var scalars: TrainingScalars {
        TrainingScalars(
            epoch: epoch, step: step, schedulePosition: schedulePosition, optimizer: optimizer,
            random: random.state, dataFingerprint: dataFingerprint, patience: patience)
    }

    /// Every tensor, layer by layer: `weight`, `bias`, then `weight.<slot>`, `bias.<slot>`
    /// for each optimizer slot in `OptimizerConfig.slotNames` order.
    public func namedTensors() -> [NamedTensor] {
        let lay = layout
        var out: [NamedTensor] = []
        for l in 1...spec.layerCount {
            let wShape = [lay.sizes[l], lay.sizes[l - 1]], bShape = [lay.sizes[l]]
            out.append(NamedTensor(layer: l, role: TensorRole.weight, shape: wShape, values: Array(parameters[lay.weightRange(l)])))
            out.append(NamedTensor(layer: l, role: TensorRole.bias, shape: bShape, values: Array(parameters[lay.biasRange(l)])))
            for name in OptimizerConfig.slotNames(optimizer) {
                guard let s = slots[name] else { continue }
                out.append(NamedTensor(layer: l, role: TensorRole.slot(name, of: TensorRole.weight), shape: wShape, values: Array(s[lay.weightRange(l)])))
                out.append(NamedTensor(layer: l, role: TensorRole.slot(name, of: TensorRole.bias), shape: bShape, values: Array(s[lay.biasRange(l)])))
            }
        }
        return out
    }

    /// Rebuilds a state from `namedTensors()`, `scalars` and the metrics.
    /// - Throws: `FCNetError.incompatibleState` when a tensor is missing, unknown, or of the
    ///   wrong shape, or the generator state is invalid.
    public init(
        spec: NetworkSpec, scalars: TrainingScalars, tensors: [NamedTensor], metrics: [String: Double] = [:]
    ) throws {
        try spec.validate()
        let lay = ParameterLayout(spec)
        let slotNames = OptimizerConfig.slotNames(scalars.optimizer)
        var params = [Float](repeating: 0, count: lay.count)
        var slots = Dictionary(uniqueKeysWithValues: slotNames.map { ($0, [Float](repeating: 0, count: lay.count)) })
        var seen = Set<String>()
        for t in tensors {
            guard t.layer >= 1, t.layer <= spec.layerCount else {
                throw FCNetError.incompatibleState("Tensor \(t.name) names a layer the network (\(spec.layerCount) layers) does not have.")
            }
            let parts = t.role.split(separator: ".", maxSplits: 1).map(String.init)
            guard let kind = parts.first, TensorRole.parameters.contains(kind) else {
                throw FCNetError.incompatibleState("Tensor \(t.name) has an unknown role \"\(t.role)\".")
            }
            let range = kind == TensorRole.weight ? lay.weightRange(t.layer) : lay.biasRange(t.layer)
            let shape = kind == TensorRole.weight ? [lay.sizes[t.layer], lay.sizes[t.layer - 1]] : [lay.sizes[t.layer]]
            guard t.shape == shape, t.values.count == range.count else {
                throw FCNetError.incompatibleState(
                    "Tensor \(t.name) has shape \(t.shape) with \(t.values.count) values; the network needs \(shape).")
            }
            guard seen.insert(t.role + "@\(t.layer)").inserted else {
                throw FCNetError.incompatibleState("Tensor \(t.name) appears twice.")
            }
            if parts.count == 1 {
                params.replaceSubrange(range, with: t.values)
            } else if slots[parts[1]] != nil {
                slots[parts[1]]!.replaceSubrange(range, with: t.values)
            } else {
                throw FCNetError.incompatibleState(
                    "Tensor \(t.name) is not a slot of the \(scalars.optimizer.rawValue) optimizer.")
            }
        }
        for l in 1...spec.layerCount {
            for role in TensorRole.parameters + slotNames.flatMap({ slot in TensorRole.parameters.map { TensorRole.slot(slot, of: $0) } })
            where !seen.contains(role + "@\(l)") {
                throw FCNetError.incompatibleState("The checkpoint lacks tensor \(TensorName.name(layer: l, role: role)).")
            }
        }
        guard scalars.epoch >= 0, scalars.step >= 0, scalars.schedulePosition >= 0 else {
            throw FCNetError.incompatibleState("A checkpoint's epoch, step and schedule position cannot be negative.")
        }
        self.init(
            spec: spec, epoch: scalars.epoch, parameters: params, optimizer: scalars.optimizer, slots: slots,
            step: scalars.step, schedulePosition: scalars.schedulePosition,
            random: try Xoshiro256(state: scalars.random), dataFingerprint: scalars.dataFingerprint,
            metrics: metrics, patience: scalars.patience)
    }
}

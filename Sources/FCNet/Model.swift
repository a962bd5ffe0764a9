/// A trained network for inference: spec, W^l and b^l, and the normaliser its training data
/// went through (applied to raw features before the forward pass).
public struct Model: Equatable, Sendable {
    public var spec: NetworkSpec
    /// Flat W/b buffer (see `TrainingState.parameters`).
    public var parameters: [Float]
    public var normalizer: Normalizer

    /// - Throws: `FCNetError` when the spec is invalid, the shapes do not fit it, or the
    ///   normaliser's width is not the input size.
    public init(spec: NetworkSpec, weights: [[Float]], biases: [[Float]], normalizer: Normalizer? = nil) throws {
        try spec.validate()
        let layout = ParameterLayout(spec)
        guard weights.count == spec.layerCount, biases.count == spec.layerCount else {
            throw FCNetError.incompatibleState("The model has \(weights.count) weight tensors; the network has \(spec.layerCount) layers.")
        }
        var p = [Float]()
        p.reserveCapacity(layout.count)
        for l in 1...spec.layerCount {
            guard weights[l - 1].count == layout.weightCount(l), biases[l - 1].count == layout.sizes[l] else {
                throw FCNetError.incompatibleState(
                    "Layer \(l)'s weights do not have shape \(layout.sizes[l]) × \(layout.sizes[l - 1]).")
            }
            p += weights[l - 1]; p += biases[l - 1]
        }
        try self.init(spec: spec, parameters: p, normalizer: normalizer)
    }

    /// - Throws: as above.
    public init(spec: NetworkSpec, parameters: [Float], normalizer: Normalizer? = nil) throws {
        try spec.validate()
        guard parameters.count == spec.parameterCount else {
            throw FCNetError.incompatibleState("The model has \(parameters.count) parameters; the network needs \(spec.parameterCount).")
        }
        let norm = normalizer ?? .identity(width: spec.inputSize)
        guard norm.shift.count == spec.inputSize, norm.scale.count == spec.inputSize else {
            throw FCNetError.incompatibleState("The normaliser has \(norm.shift.count) features; the network's input size is \(spec.inputSize).")
        }
        self.spec = spec
        self.parameters = parameters
        self.normalizer = norm
        self.layout = ParameterLayout(spec)
    }

    /// The model of a checkpoint.
    public init(state: TrainingState, normalizer: Normalizer? = nil) throws {
        try self.init(spec: state.spec, parameters: state.parameters, normalizer: normalizer)
    }

    /// Where each W^l and b^l lies in `parameters`; computed once, with the spec.
    let layout: ParameterLayout
    /// W^1 ... W^L (each N_l × N_{l-1}, row-major), read one layer at a time.
    public var weights: LayerTensors { LayerTensors(parameters: parameters, layout: layout, role: .weight) }
    /// b^1 ... b^L.
    public var biases: LayerTensors { LayerTensors(parameters: parameters, layout: layout, role: .bias) }

    /// The weights (or biases) of every layer as a collection indexed 0..<L. Reading one
    /// layer copies that layer only, in O(its size): the parameters are shared, not copied,
    /// and the offsets come from the model's layout.
    public struct LayerTensors: RandomAccessCollection, Sendable {
        enum Role: Sendable { case weight, bias }
        let parameters: [Float]
        let layout: ParameterLayout
        let role: Role

        public var startIndex: Int { 0 }
        public var endIndex: Int { layout.layerCount }
        /// The values of layer `index + 1`.
        public subscript(index: Int) -> [Float] {
            Array(parameters[role == .weight ? layout.weightRange(index + 1) : layout.biasRange(index + 1)])
        }
    }

    /// Outputs A^L for raw (un-normalised) features, rows = samples: class probabilities for a
    /// softmax (or sigmoid) output, raw values for regression.
    /// - Parameters:
    ///   - features: count × `spec.inputSize`, row-major.
    /// - Returns: count × N_L, row-major.
    /// - Throws: `FCNetError` when the width is wrong or OpenBLAS cannot be loaded.
    public func predict(features: [Float], count: Int) throws -> [Float] {
        try BLAS.load()
        guard count >= 0, features.count == count * spec.inputSize else {
            throw FCNetError.invalidConfiguration(
                "Expected \(count) rows of \(spec.inputSize) features, got \(features.count) values.")
        }
        var x = features
        try normalizer.apply(to: &x, width: spec.inputSize)
        let n = spec.outputSize
        var out = [Float](repeating: 0, count: count * n)
        guard count > 0 else { return out }
        let net = Network(spec: spec, capacity: min(Trainer.evaluationChunk, count), target: n == 1 ? .scalar : .oneHot)
        let dummy = [Float](repeating: 0, count: count)
        parameters.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                _ = Evaluator.run(
                    net: net, parameters: p.baseAddress!, features: x, labels: dummy, width: spec.inputSize,
                    classify: false, confusion: nil, outputs: o.baseAddress!)
            }
        }
        return out
    }

    /// `predict(features:count:)` over a data set's (raw) features.
    public func predict(_ data: Dataset) throws -> [Float] {
        try predict(features: data.features, count: data.count)
    }

    /// The predicted class of each row (argmax, or output ≥ 0.5 with one output).
    public func classify(_ data: Dataset) throws -> [Int] {
        let y = try predict(data)
        let n = spec.outputSize
        return (0..<data.count).map { r in
            y.withUnsafeBufferPointer { b in
                let row = b.baseAddress! + r * n
                if n == 1 { return row[0] >= 0.5 ? 1 : 0 }
                var best = 0
                for j in 1..<n where row[j] > row[best] { best = j }
                return best
            }
        }
    }

    /// Loss (mean C_r), accuracy and confusion matrix over a data set of raw features.
    /// - Throws: `FCNetError` when the data does not fit the network.
    public func evaluate(_ data: Dataset) throws -> Evaluation {
        try BLAS.load()
        try Trainer.check(data, fits: spec, role: "evaluation")
        var x = data.features
        try normalizer.apply(to: &x, width: data.width)
        let n = spec.outputSize
        let classify = data.task == .classification
        let k = classify ? (n == 1 ? 2 : n) : 0
        var confusion = [Int](repeating: 0, count: k * k)
        let net = Network(spec: spec, capacity: min(Trainer.evaluationChunk, data.count), target: n == 1 ? .scalar : .oneHot)
        let r = parameters.withUnsafeBufferPointer { p in
            confusion.withUnsafeMutableBufferPointer { c in
                Evaluator.run(
                    net: net, parameters: p.baseAddress!, features: x, labels: data.labels, width: data.width,
                    classify: classify, confusion: classify ? c.baseAddress! : nil, classes: k)
            }
        }
        return Evaluation(
            count: data.count, loss: r.loss / Double(data.count),
            accuracy: classify ? Double(r.correct) / Double(data.count) : nil,
            confusion: classify ? (0..<k).map { Array(confusion[($0 * k)..<(($0 + 1) * k)]) } : nil)
    }
}

/// The result of `Model.evaluate`.
public struct Evaluation: Equatable, Sendable, Codable {
    public var count: Int
    /// Mean C_r.
    public var loss: Double
    /// Fraction classified correctly (classification only).
    public var accuracy: Double?
    /// confusion[label][predicted] counts (classification only; K × K).
    public var confusion: [[Int]]?
}

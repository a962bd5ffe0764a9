import FCCore

/// The architecture of a fully-connected network: N_0 = `inputSize`, N_1..N_L = `layerSizes`.
public struct NetworkSpec: Codable, Equatable, Hashable, Sendable {
    public var inputSize: Int
    /// Hidden and output layer sizes N_1 ... N_L.
    public var layerSizes: [Int]
    public var hiddenActivation: Activation
    public var outputActivation: Activation
    public var loss: Loss

    public init(
        inputSize: Int, layerSizes: [Int], hiddenActivation: Activation = .sigmoid,
        outputActivation: Activation = .softmax, loss: Loss = .crossEntropy
    ) {
        self.inputSize = inputSize
        self.layerSizes = layerSizes
        self.hiddenActivation = hiddenActivation
        self.outputActivation = outputActivation
        self.loss = loss
    }

    /// L, the number of layers with weights.
    public var layerCount: Int { layerSizes.count }
    /// N_0, N_1, ..., N_L.
    public var sizes: [Int] { [inputSize] + layerSizes }
    /// N_L.
    public var outputSize: Int { layerSizes.last ?? 0 }
    /// The activation of layer l (1-based).
    public func activation(layer l: Int) -> Activation {
        l == layerCount ? outputActivation : hiddenActivation
    }
    /// Number of weights and biases: Σ_l N_l (N_{l-1} + 1); `Int.max` when that overflows
    /// (only for a spec `validate()` refuses).
    public var parameterCount: Int { checkedParameterCount ?? .max }

    /// Σ_l N_l (N_{l-1} + 1) with overflow-checked arithmetic, nil when it overflows.
    public var checkedParameterCount: Int? {
        let s = sizes
        var total = 0
        for l in 1..<s.count {
            let (inputs, o1) = s[l - 1].addingReportingOverflow(1)
            let (layer, o2) = s[l].multipliedReportingOverflow(by: inputs)
            let (sum, o3) = total.addingReportingOverflow(layer)
            guard !o1, !o2, !o3 else { return nil }
            total = sum
        }
        return total
    }

    /// The largest layer (or input) size.
    public static let maximumLayerSize = 1 << 24
    /// The most weights and biases a network may have.
    public static let maximumParameterCount = 1 << 31
    /// The most values one weight matrix may hold: the store keeps a tensor of at most
    /// 1,000,000,000 bytes (`TensorValue.maximumBytes`), 250,000,000 float32 values.
    public static let maximumTensorElements = 250_000_000

    /// Checks the combination is one the engine trains and the store can keep.
    /// - Throws: `FCNetError.invalidConfiguration` naming the problem.
    public func validate() throws {
        func fail(_ s: String) -> FCNetError { .invalidConfiguration(s) }
        guard inputSize > 0 else { throw fail("The input size must be positive (got \(inputSize)).") }
        guard !layerSizes.isEmpty else { throw fail("The network needs at least one layer.") }
        if let bad = layerSizes.first(where: { $0 <= 0 }) {
            throw fail("Every layer size must be positive (got \(bad)).")
        }
        guard inputSize <= Self.maximumLayerSize else {
            throw fail("The input size \(inputSize) is above the limit of \(Self.maximumLayerSize).")
        }
        if let l = layerSizes.firstIndex(where: { $0 > Self.maximumLayerSize }) {
            throw fail("Layer \(l + 1) has \(layerSizes[l]) neurons, above the limit of \(Self.maximumLayerSize) per layer.")
        }
        // Sizes are at most 2^24 here: products fit in 2^48, no overflow.
        let s = sizes
        for l in 1..<s.count where s[l] * s[l - 1] > Self.maximumTensorElements {
            throw fail("Layer \(l)'s weights (\(s[l]) x \(s[l - 1]) = \(s[l] * s[l - 1]) values) exceed the store's limit of \(Self.maximumTensorElements) values (1 GB) per tensor.")
        }
        guard let count = checkedParameterCount, count <= Self.maximumParameterCount else {
            throw fail("The network is too large (\(checkedParameterCount.map(String.init) ?? "more than \(Int.max)") parameters); the limit is \(Self.maximumParameterCount).")
        }
        guard hiddenActivation != .softmax else {
            throw fail("Softmax is only available on the output layer.")
        }
        switch (loss, outputActivation) {
        case (.crossEntropy, .softmax), (.binaryCrossEntropy, .sigmoid): break
        case (.crossEntropy, _):
            throw fail("The cross-entropy loss needs a softmax output layer.")
        case (.binaryCrossEntropy, _):
            throw fail("The binary-cross-entropy loss needs a sigmoid output layer.")
        case (.mse, _): break
        }
        if outputActivation == .softmax && outputSize < 2 {
            throw fail("A softmax output layer needs at least 2 neurons.")
        }
    }
}

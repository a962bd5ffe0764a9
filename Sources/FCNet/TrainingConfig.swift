/// What to train: the network, the update rule, the batch size, the seed, and the
/// regularisation (dropout, early stopping; weight decay is the optimizer's).
///
/// Settings at their defaults are nil and left out of the JSON encoding, so a configuration
/// without them encodes exactly as before they existed.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var spec: NetworkSpec
    public var optimizer: OptimizerConfig
    /// M samples per update: 1 = stochastic gradient descent, nil (or ≥ N) = full-batch
    /// gradient descent, anything between = mini-batch. The last batch of an epoch uses its
    /// actual size. Mini-batch and SGD reshuffle every epoch; full batch does not.
    public var batchSize: Int?
    /// Fixes the initial weights (`.random` start) and the shuffling.
    public var seed: UInt64
    /// Inverted dropout on the hidden layers: the probability p of dropping a hidden unit
    /// during training (nil: none; `Dropout`).
    public var dropout: Double?
    /// Stop when the monitored metric has not improved for `patience` epochs (nil: never).
    public var earlyStopping: EarlyStopping?

    public init(
        spec: NetworkSpec, optimizer: OptimizerConfig = .init(), batchSize: Int? = nil, seed: UInt64 = 0,
        dropout: Double? = nil, earlyStopping: EarlyStopping? = nil
    ) {
        self.spec = spec
        self.optimizer = optimizer
        self.batchSize = batchSize
        self.seed = seed
        self.dropout = dropout == 0 ? nil : dropout
        self.earlyStopping = earlyStopping
    }

    /// - Throws: `FCNetError.invalidConfiguration` for a dropout outside [0, 1), dropout on a
    ///   network without hidden layers, or early stopping out of range.
    public func validateRegularization() throws {
        if let p = dropout {
            guard p >= 0, p < 1 else {
                throw FCNetError.invalidConfiguration("The dropout probability must be in [0, 1) (got \(p)).")
            }
            guard spec.layerCount > 1 else {
                throw FCNetError.invalidConfiguration("Dropout applies to hidden layers; this network has none.")
            }
        }
        try earlyStopping?.validate()
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
    /// Early stopping: the monitored metric did not improve for `patience` epochs. The
    /// epoch that noticed it was kept (`Trainer.state`); `bestEpoch` is the monitored best.
    case stoppedEarly(bestEpoch: Int)
}

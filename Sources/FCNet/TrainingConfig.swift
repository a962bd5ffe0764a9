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

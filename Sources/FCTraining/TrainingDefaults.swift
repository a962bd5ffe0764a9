import FCCore
import FCNet

/// What a new run uses for every setting not given: one place, shared by the CLI's
/// `train` (and its help text) and the workflow.
public enum TrainingDefaults {
    public static let optimizer: OptimizerConfig.Kind = .sgd
    public static let momentum = 0.9
    public static let batchSize = 32
    public static let epochs = 10
    public static let seed: UInt64 = 1
    public static let hiddenActivation: Activation = .sigmoid

    /// η by optimizer: 0.001 for Adam, 0.1 for SGD and momentum.
    public static func learningRate(for kind: OptimizerConfig.Kind) -> Double {
        kind == .adam ? 0.001 : 0.1
    }

    /// The optimizer of a new run: the given values, the defaults for the others.
    public static func optimizer(kind: OptimizerConfig.Kind?, learningRate: Double?, momentum: Double?,
                                 schedule: LearningRateSchedule?) -> OptimizerConfig {
        let kind = kind ?? optimizer
        var config = OptimizerConfig(kind: kind, learningRate: learningRate ?? self.learningRate(for: kind),
                                     momentum: momentum ?? self.momentum)
        if let schedule { config.schedule = schedule }
        return config
    }

    /// The output activation for a loss and an output width: identity for mse, sigmoid for
    /// binary cross-entropy or one output, softmax otherwise.
    public static func outputActivation(for loss: Loss?, outputs: Int) -> Activation {
        switch loss {
        case .mse?: return .identity
        case .binaryCrossEntropy?: return .sigmoid
        default: return outputs == 1 ? .sigmoid : .softmax
        }
    }

    /// The loss that suits an output activation: cross-entropy for softmax, binary
    /// cross-entropy for sigmoid, mse otherwise.
    public static func loss(for output: Activation) -> Loss {
        switch output {
        case .softmax: return .crossEntropy
        case .sigmoid: return .binaryCrossEntropy
        default: return .mse
        }
    }
}

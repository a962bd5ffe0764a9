import FCNet

extension Workflow {
    /// Hyper-parameters `resume` may change; any change makes a fork.
    public struct Overrides: Equatable {
        public var learningRate: Double?
        public var momentum: Double?
        public var optimizer: OptimizerConfig.Kind?
        public var schedule: LearningRateSchedule?
        /// `.some(nil)` is `--full-batch`.
        public var batchSize: Int??
        public var weightDecay: Double?
        public var dropout: Double?
        /// Early stopping: any of these sets it (a run without it needs `patience`).
        public var patience: Int?
        public var minDelta: Double?
        public var monitor: EarlyStopping.Monitor?
        public var name: String?

        public init() {}

        public var changesTraining: Bool {
            learningRate != nil || momentum != nil || optimizer != nil || schedule != nil || batchSize != nil
                || weightDecay != nil || dropout != nil || patience != nil || minDelta != nil || monitor != nil
        }

        /// Applies the overrides to a run's training configuration.
        /// - Throws: `TrainingError.earlyStoppingNeedsPatience`, or the engine's range errors.
        public func apply(to training: inout TrainingConfig) throws {
            var optimizer = training.optimizer
            if let value = learningRate { optimizer.learningRate = value }
            if let value = momentum { optimizer.momentum = value }
            if let value = self.optimizer { optimizer.kind = value }
            if let value = schedule { optimizer.schedule = value }
            if let value = weightDecay { optimizer.weightDecay = value == 0 ? nil : value }
            try optimizer.validate()
            training.optimizer = optimizer
            if let value = batchSize { training.batchSize = value }
            if let value = dropout { training.dropout = value == 0 ? nil : value }
            if patience != nil || minDelta != nil || monitor != nil {
                guard var rule = training.earlyStopping ?? patience.map({ EarlyStopping(patience: $0) }) else {
                    throw TrainingError.earlyStoppingNeedsPatience
                }
                if let value = patience { rule.patience = value }
                if let value = minDelta { rule.minDelta = value }
                if let value = monitor { rule.monitor = value }
                training.earlyStopping = rule
            }
            try training.validateRegularization()
        }
    }
}

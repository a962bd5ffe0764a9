/// Early stopping as Keras' `EarlyStopping` defines it: after every epoch the monitored
/// metric is compared with the best value so far; it improves when it is better than the
/// best by more than `minDelta` (lower for losses, higher for accuracy). An improvement
/// records the epoch as the best and sets the wait to 0; any other epoch adds 1 to the wait,
/// and training stops after the epoch whose wait reaches `patience`. Epoch 0 (the initial
/// weights) is not monitored: the first trained epoch is always an improvement.
public struct EarlyStopping: Codable, Equatable, Hashable, Sendable {
    /// The metric watched, by its name in `TrainingState.metrics`.
    public enum Monitor: String, Codable, CaseIterable, Sendable {
        case valLoss = "val_loss"
        case trainLoss = "train_loss"
        case valAccuracy = "val_accuracy"

        /// Whether a larger value is better (accuracy) rather than a smaller one (losses).
        public var maximizes: Bool { self == .valAccuracy }
        /// Whether the metric needs a validation set.
        public var needsValidation: Bool { self != .trainLoss }
    }

    public var monitor: Monitor
    /// Epochs without improvement after which training stops (Keras' `patience`).
    public var patience: Int
    /// The least change that counts as an improvement (Keras' `min_delta`, ≥ 0).
    public var minDelta: Double

    public init(monitor: Monitor = .valLoss, patience: Int, minDelta: Double = 0) {
        self.monitor = monitor
        self.patience = patience
        self.minDelta = minDelta
    }

    /// The most epochs of patience (the most epochs a run may have).
    public static let maximumPatience = Int(Int32.max)

    /// - Throws: `FCNetError.invalidConfiguration` for a negative patience or a negative or
    ///   non-finite `minDelta`.
    public func validate() throws {
        guard patience >= 0, patience <= Self.maximumPatience else {
            throw FCNetError.invalidConfiguration(
                "The patience must be from 0 to \(Self.maximumPatience) epochs (got \(patience)).")
        }
        guard minDelta >= 0, minDelta.isFinite else {
            throw FCNetError.invalidConfiguration("The least improvement must be a number ≥ 0 (got \(minDelta)).")
        }
    }

    /// Whether `value` improves on `best` by more than `minDelta` (always, without a best).
    public func improves(_ value: Double, on best: Double?) -> Bool {
        guard let best else { return true }
        return monitor.maximizes ? value - minDelta > best : value + minDelta < best
    }

    /// The best epoch of a sequence of (epoch, value) in epoch order, by the rule above: the
    /// last epoch that improved on the best before it. NaN values never improve.
    public func bestEpoch(_ values: [(epoch: Int, value: Double)]) -> (epoch: Int, value: Double)? {
        var best: (epoch: Int, value: Double)?
        for entry in values where !entry.value.isNaN && improves(entry.value, on: best?.value) { best = entry }
        return best
    }
}

/// Where early stopping stands after an epoch; saved in every checkpoint of a run that
/// stops early, so a resumed run stops at the same epoch as an uninterrupted one.
public struct PatienceState: Codable, Equatable, Hashable, Sendable {
    /// The metric these values are of (a resume with another monitor starts afresh).
    public var monitor: EarlyStopping.Monitor
    /// The best monitored value so far, and its epoch (nil while no epoch had a number).
    public var best: Double?
    public var bestEpoch: Int?
    /// Epochs since the last improvement.
    public var wait: Int

    public init(monitor: EarlyStopping.Monitor, best: Double?, bestEpoch: Int?, wait: Int) {
        self.monitor = monitor
        self.best = best
        self.bestEpoch = bestEpoch
        self.wait = wait
    }

    /// The state after `epoch`, whose monitored value is `value`, from `previous` (nil before
    /// the first monitored epoch); and whether training stops after this epoch.
    public static func after(
        _ previous: PatienceState?, epoch: Int, value: Double, rule: EarlyStopping
    ) -> (state: PatienceState, stop: Bool) {
        if !value.isNaN, rule.improves(value, on: previous?.best) {
            return (PatienceState(monitor: rule.monitor, best: value, bestEpoch: epoch, wait: 0), false)
        }
        var state = previous ?? PatienceState(monitor: rule.monitor, best: nil, bestEpoch: nil, wait: 0)
        state.wait += 1
        return (state, state.wait >= rule.patience)
    }
}

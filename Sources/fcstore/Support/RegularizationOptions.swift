import ArgumentParser
import FCNet
import FCTraining
import Foundation

extension EarlyStopping.Monitor: ExpressibleByArgument {}

/// Options `train` and `resume` share: weight decay, dropout and early stopping. Each is
/// recorded in the run's configuration; given to `resume`, it makes a fork.
struct RegularizationOptions: ParsableArguments {
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: ArgumentHelp(
        "Weight decay lambda on the weights (not the biases): an L2 term lambda/2 |W|^2 with sgd and momentum, decoupled (AdamW) with adam (default 0).",
        valueName: "lambda"))
    var weightDecay: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Inverted dropout on the hidden layers while training: drop each unit with probability p (default 0).",
        valueName: "p"))
    var dropout: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Early stopping: stop after N epochs without improvement of the monitored metric.", valueName: "n"))
    var patience: Int?

    @Option(name: .customLong("min-delta"), parsing: .unconditional, help: ArgumentHelp(
        "The least change of the monitored metric that counts as an improvement (default 0).", valueName: "delta"))
    var minDelta: Double?

    @Option(help: ArgumentHelp("The metric early stopping watches (default val_loss).", valueName: "metric"))
    var monitor: EarlyStopping.Monitor?

    func validate() throws {
        if let weightDecay, !(weightDecay >= 0 && weightDecay.isFinite) {
            throw ValidationError("--weight-decay must be a number of at least 0 (got \(String(format: "%g", weightDecay))).")
        }
        if let dropout, !(dropout >= 0 && dropout < 1) {
            throw ValidationError("--dropout must be at least 0 and below 1 (got \(String(format: "%g", dropout))).")
        }
        if let patience, !(0...EarlyStopping.maximumPatience).contains(patience) {
            throw ValidationError("--patience must be from 0 to \(EarlyStopping.maximumPatience) epochs (got \(patience)).")
        }
        if let minDelta, !(minDelta >= 0 && minDelta.isFinite) {
            throw ValidationError("--min-delta must be a number of at least 0 (got \(String(format: "%g", minDelta))).")
        }
    }

    /// The early stopping of a new run (nil without --patience).
    /// - Throws: `ValidationError` when --min-delta or --monitor come without --patience.
    func earlyStopping() throws -> EarlyStopping? {
        guard let patience else {
            if minDelta != nil || monitor != nil {
                throw ValidationError("--min-delta and --monitor set up early stopping: pass --patience N too.")
            }
            return nil
        }
        return EarlyStopping(monitor: monitor ?? .valLoss, patience: patience, minDelta: minDelta ?? 0)
    }

    /// Copies the options given into `resume`'s overrides.
    func apply(to overrides: inout Workflow.Overrides) {
        overrides.weightDecay = weightDecay
        overrides.dropout = dropout
        overrides.patience = patience
        overrides.minDelta = minDelta
        overrides.monitor = monitor
    }
}

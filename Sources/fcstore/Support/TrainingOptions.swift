import ArgumentParser
import FCCore
import Foundation
import FCNet
import FCTraining

extension Activation: ExpressibleByArgument {}

/// `--activation`: a hidden layer's activation. Help lists the values a hidden
/// layer takes; `softmax` still parses, so that validation can point to
/// `--output-activation`.
struct HiddenActivation: ExpressibleByArgument {
    var activation: Activation

    init?(argument: String) {
        guard let activation = Activation(rawValue: argument) else { return nil }
        self.activation = activation
    }

    static var allValueStrings: [String] { Activation.allCases.filter { $0 != .softmax }.map(\.rawValue) }
}

/// `--seed`: a whole number from 0 to 2^64 - 1; anything else is refused by
/// name, with the range (the parser alone would only say the value is invalid).
struct SeedArgument: ExpressibleByArgument {
    var value: UInt64
    /// The text given, when it is not a seed.
    var invalid: String?

    init(_ value: UInt64) { self.value = value }

    init?(argument: String) {
        value = UInt64(argument) ?? 0
        invalid = UInt64(argument) == nil ? argument : nil
    }

    var defaultValueDescription: String { "\(value)" }

    /// - Throws: `ValidationError` for a value that is not a seed.
    func validate() throws {
        if let invalid {
            throw ValidationError("--seed takes a whole number from 0 to \(UInt64.max) (got \(invalid)).")
        }
    }
}
extension Loss: ExpressibleByArgument {}
extension OptimizerConfig.Kind: ExpressibleByArgument {}
extension Normalizer.Kind: ExpressibleByArgument {}

/// A step-decay schedule `EVERY:FACTOR` (e.g. `10:0.5` halves the rate every 10 epochs), or `constant`.
struct ScheduleArgument: ExpressibleByArgument {
    var schedule: LearningRateSchedule

    init?(argument: String) {
        if argument == "constant" {
            schedule = .constant
            return
        }
        let parts = argument.split(separator: ":")
        guard parts.count == 2, let every = Int(parts[0]), every > 0, let factor = Double(parts[1]), factor > 0 else {
            return nil
        }
        schedule = .stepDecay(every: every, factor: factor)
    }
}

/// Options `train` and `resume` share: the optimizer and the batch schedule.
struct OptimizerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The optimizer (default \(TrainingDefaults.optimizer.rawValue)).", valueName: "name"))
    var optimizer: OptimizerConfig.Kind?

    @Option(name: .customLong("learning-rate"), parsing: .unconditional, help: ArgumentHelp("The learning rate eta.", valueName: "rate"))
    var learningRate: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("The momentum mu (momentum optimizer; default \(TrainingDefaults.momentum)).", valueName: "mu"))
    var momentum: Double?

    @Option(name: .customLong("lr-schedule"), help: ArgumentHelp(
        "constant, or EVERY:FACTOR for step decay (10:0.5 halves the rate every 10 epochs).", valueName: "schedule"))
    var schedule: ScheduleArgument?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: ArgumentHelp(
        "Samples per update: 1 is SGD, M is mini-batch.", valueName: "M"))
    var batchSize: Int?

    @Flag(name: .customLong("full-batch"), help: "Gradient descent on the whole training set: one update per epoch.")
    var fullBatch = false

    func validate() throws {
        if fullBatch && batchSize != nil {
            throw ValidationError("--batch-size and --full-batch exclude each other; pass one.")
        }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1 (got \(batchSize)).") }
        if let batchSize, batchSize > RunConfig.maximumBatchSize {
            throw ValidationError("--batch-size can be at most \(RunConfig.maximumBatchSize) (got \(batchSize)).")
        }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--learning-rate must be a positive number (got \(String(format: "%g", learningRate))).")
        }
        if let momentum, !(momentum >= 0 && momentum < 1) {
            throw ValidationError("--momentum must be at least 0 and below 1 (got \(String(format: "%g", momentum))).")
        }
    }

    /// The batch size as the engine takes it: nil = full batch; `.none` when not given.
    var batch: Int?? {
        if fullBatch { return .some(nil) }
        if let batchSize { return .some(batchSize) }
        return .none
    }
}

import Foundation

/// Which of a run's data files an error is about: the training data (CSV or IDX
/// images), the IDX labels, or the validation file. The CLI names the option that sets each.
public enum DataFile: String, Equatable, Sendable {
    case training, labels, validation

    /// "training data", "labels", "validation file".
    public var noun: String {
        switch self {
        case .training: return "training data"
        case .labels: return "label file"
        case .validation: return "validation file"
        }
    }
}

/// Errors of the train / resume / import workflow, with the facts (run, epoch, path,
/// limit). `description` is a library-neutral sentence; the CLI words each case for its
/// users, naming the flags and commands to use (the library knows none).
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// `field`: where decoding failed (`training.spec.layerSizes[0]`), when known.
    case unreadableConfig(run: String, field: String? = nil)
    /// An imported run: no training data is recorded to continue from.
    case noData(run: String)
    /// The data at `path` has another fingerprint than the run's; `file` says which
    /// of the run's files it stands for.
    case dataChanged(path: String, run: String, file: DataFile = .training)
    /// `leaseExpiresAt`: when the owner is on another host, the end of its lease.
    case busy(run: String, owner: String, leaseExpiresAt: Date? = nil)
    /// The run is at `epoch` already; `target` was asked for.
    case nothingToDo(run: String, epoch: Int, target: Int)
    /// A stored configuration's value is out of its range (`reason` says which): the
    /// store may have been changed.
    case configOutOfRange(run: String, reason: String)
    /// A stored checkpoint's optimizer state is out of range or disagrees with its row
    /// (`reason` completes "Checkpoint RUN@EPOCH has ..."): the store may have been changed.
    case storedStateInvalid(run: String, epoch: Int, reason: String)
    /// The data file (or the model's input file) does not exist. `recordedBy`: the run
    /// whose recorded path this is (the user gave no path for it); nil for a path given.
    case dataMissing(path: String, file: DataFile = .training, recordedBy: String? = nil)
    /// The data path is a folder.
    case dataIsFolder(path: String, file: DataFile = .training)
    /// An IDX image file whose label file was neither given nor found beside it.
    case idxLabelsMissing(file: String)
    /// Replay of epoch 0, which no training produced.
    case replayOfInitialState
    /// Layer sizes were given that differ from the initial model's.
    case layersDifferFromInitialModel(given: [Int], model: [Int])
    /// A new run without an initial model needs its layer sizes.
    case layersRequired
    /// The data's feature count differs from the initial model's input size.
    case dataWidthDiffersFromInitialModel(file: String, columns: Int, inputs: Int)
    /// Both a validation file and a validation fraction were given.
    case validationSourcesConflict
    /// The validation fraction is not strictly between 0 and 1.
    case validationSplitOutOfRange(Double)
    case negativeEpochs
    /// The epoch target is above `limit`.
    case tooManyEpochs(requested: Int, limit: Int)
    /// A batch size below 1.
    case batchSizeTooSmall
    /// A moved validation file was given for a run that has none (`heldOut`: its
    /// validation set is a fraction of the training data).
    case noValidationFile(run: String, heldOut: Bool)
    /// While a resume from `from` was starting, another trainer continued the run to `now`.
    case movedOn(run: String, from: Int, now: Int)
    /// A moved label file was given for a run whose training data is not IDX.
    case noLabelsFile(run: String)
    /// A run from a bundle (`via`: through this ancestor) records a data path written
    /// on another machine: a hint, not opened until the user names the file.
    case recordedPathIsHint(run: String, via: String?, path: String, fingerprint: String, validation: Bool)
    /// Early stopping on a validation metric for a run without a validation set.
    case monitorNeedsValidation(monitor: String)
    /// Early-stopping settings other than the patience for a run that has no early stopping
    /// and no patience given.
    case earlyStoppingNeedsPatience
    /// The run's latest checkpoint is an early stop (at `epoch`, best at `bestEpoch`); it
    /// continues only towards an epoch target given explicitly.
    case stoppedEarly(run: String, epoch: Int, bestEpoch: Int)
    /// The connection to the store (`store`: its location without a password) was lost
    /// while training and could not be made again within the retry window (`reason`: the
    /// last failure). `lastEpoch`: the run's last epoch known committed (nil: none).
    case connectionLost(run: String, store: String, lastEpoch: Int?, reason: String)
    case invalid(String)
    case incompatible(String)

    public var description: String {
        switch self {
        case let .unreadableConfig(run, field):
            return "Run \(run) has a configuration this version of fcstore cannot read\(field.map { " (at \($0))" } ?? "")."
        case let .noData(run):
            return "Run \(run) has no training data recorded (it was imported); start a new run from it instead."
        case let .dataChanged(path, run, file):
            return "\(path) is not the \(file.noun) run \(run) was trained on (its fingerprint differs)."
        case let .busy(run, owner, expiry):
            if let expiry {
                return "Run \(run) is being trained on another host (\(owner)); its lease runs until \(expiry.formatted(.iso8601)), and it can be taken over once that has passed without a renewal."
            }
            return "Run \(run) is being trained by another process (\(owner)); wait for it to finish or stop it first."
        case let .movedOn(run, from, now):
            return "Run \(run) moved on from epoch \(from) to \(now) while this resume was starting (another trainer continued it); nothing was written."
        case let .noLabelsFile(run):
            return "Run \(run)'s training data is a CSV file, which has no separate label file."
        case let .nothingToDo(run, epoch, target):
            return "Run \(run) is already at epoch \(epoch); asked for \(target), give a target above \(epoch) to train further."
        case let .configOutOfRange(run, reason):
            return "Run \(run)'s stored configuration cannot be used: \(reason). Verify the store to see whether it was changed."
        case let .storedStateInvalid(run, epoch, reason):
            return "Checkpoint \(run)@\(epoch) has \(reason). Verify the store to see whether it was changed."
        case let .dataMissing(path, file, recordedBy):
            return "\(path) does not exist\(recordedBy.map { " (the \(file.noun) run \($0) recorded)" } ?? "")."
        case let .dataIsFolder(path, file):
            return "\(path) is a folder; the \(file.noun) is a \(file == .labels ? "IDX" : "CSV or IDX") file."
        case let .idxLabelsMissing(file):
            return "\(file) is an IDX image file and no label file was given or found beside it."
        case .replayOfInitialState:
            return "Epoch 0 is the initial state; replay needs an epoch of at least 1."
        case let .layersDifferFromInitialModel(given, model):
            return "The layers \(Self.list(given)) do not match the initial model's layers \(Self.list(model))."
        case .layersRequired:
            return "The hidden and output layer sizes are required for a new run."
        case let .dataWidthDiffersFromInitialModel(file, columns, inputs):
            return "\(file) has \(columns) feature columns but the initial model takes \(inputs) inputs."
        case .validationSourcesConflict:
            return "A validation file and a validation fraction exclude each other."
        case let .validationSplitOutOfRange(fraction):
            return "The validation fraction must be between 0 and 1 (got \(fraction))."
        case .negativeEpochs:
            return "The epoch target cannot be negative."
        case let .tooManyEpochs(requested, limit):
            return "The epoch target can be at most \(limit) (got \(requested))."
        case .batchSizeTooSmall:
            return "The batch size must be at least 1."
        case let .noValidationFile(run, heldOut):
            return "Run \(run) has no validation file (\(heldOut ? "its validation set is held out of the training data" : "it has no validation set"))."
        case let .recordedPathIsHint(run, via, path, fingerprint, validation):
            return "Run \(run) came from a bundle\(via.map { " (through run \($0))" } ?? ""): its recorded \(validation ? "validation" : "data") path \(path) is only a hint, so it is not opened; give the file it was trained on (fingerprint \(fingerprint.prefix(16)))."
        case let .monitorNeedsValidation(monitor):
            return "Early stopping on \(monitor) needs a validation set."
        case .earlyStoppingNeedsPatience:
            return "Early stopping needs a patience."
        case let .stoppedEarly(run, epoch, bestEpoch):
            return "Run \(run) stopped early at epoch \(epoch) (best epoch \(bestEpoch)); give an epoch target above \(epoch) to train further."
        case let .connectionLost(run, store, lastEpoch, reason):
            return "Lost the connection to the store (\(store)): \(reason); run \(run) has \(lastEpoch.map { "epochs up to \($0)" } ?? "no epoch") committed."
        case let .invalid(message), let .incompatible(message):
            return message
        }
    }

    /// `32,10`: layer sizes as the CLI takes them.
    public static func list(_ sizes: [Int]) -> String { sizes.map(String.init).joined(separator: ",") }
}

import FCFormats
import FCNet
import FCTraining

/// The CLI's wording of the libraries' typed errors: the only place that names the
/// flags and commands a user can act on. Errors without a case here print their own
/// `description`.
enum ErrorText {
    /// What follows an error that a changed store can cause.
    static let verifyHint = "Run 'fcstore verify' to see whether the store was changed."

    static func message(for error: Error) -> String {
        switch error {
        case let error as TrainingError: return message(for: error)
        case let error as FileReadError: return message(for: error)
        case FCNetError.blasUnavailable(let description):
            return BLAS.loadFailure.map(message(for:)) ?? description
        default: return StoreMessages.text(for: error)
        }
    }

    static func message(for error: TrainingError) -> String {
        switch error {
        case let .noData(run):
            return "Run \(run) has no training data recorded (it was imported); train a new run from it with 'fcstore train --init \(run) --data FILE'."
        case let .dataChanged(path, run, file):
            let what = file == .training ? "data" : file.noun
            return "\(path) is not the \(what) run \(run) was trained on (its fingerprint differs); pass the original file with \(option(file)), or start a new run with 'fcstore train --init \(run)'."
        case let .nothingToDo(run, epoch, target):
            return "Run \(run) is already at epoch \(epoch); pass --epochs with a number above \(epoch) to train further (asked for \(target))."
        case let .configOutOfRange(run, reason):
            return "Run \(run)'s stored configuration cannot be used: \(reason). \(verifyHint)"
        case let .storedStateInvalid(run, epoch, reason):
            return "Checkpoint \(run)@\(epoch) has \(reason). \(verifyHint)"
        case let .dataMissing(path, file, recordedBy: nil):
            return "\(path) does not exist; check the path given with \(option(file))."
        case let .dataMissing(path, file, recordedBy: run?):
            return "\(path) does not exist: it is where run \(run)'s \(file.noun) was recorded. If the file has moved, pass the copy with \(option(file)) FILE."
        case let .dataIsFolder(path, file):
            return "\(path) is a folder; \(option(file)) takes \(file == .labels ? "an IDX label file" : "a CSV or IDX file")."
        case let .movedOn(run, from, now):
            return "Run \(run) moved on from epoch \(from) to \(now) while this resume was starting (another trainer continued it); nothing was written. Run 'fcstore resume \(run)' again to continue from epoch \(now)."
        case let .connectionLost(run, store, lastEpoch?, reason):
            return "Lost the connection to the store (\(store)): \(reason); run \(run) has epochs up to \(lastEpoch) committed; 'fcstore resume \(run)' continues from there."
        case let .connectionLost(run, store, nil, reason):
            return "Lost the connection to the store (\(store)): \(reason); run \(run) has no epoch committed."
        case let .noLabelsFile(run):
            return "Run \(run)'s training data is a CSV file, which has no separate label file; leave out --labels."
        case let .busy(run, owner, expiry?):
            return "Run \(run) is being trained on another host (\(owner)); its lease runs until \(Format.timestamp(expiry)). 'fcstore resume \(run)' takes it over once the lease has expired without a renewal."
        case let .idxLabelsMissing(file):
            return "\(file) is an IDX image file; pass its label file with --labels."
        case .replayOfInitialState:
            return "Epoch 0 is the initial state; --replay needs an epoch of at least 1."
        case let .layersDifferFromInitialModel(given, model):
            return "--layers \(TrainingError.list(given)) does not match the --init model's layers \(TrainingError.list(model)); leave --layers out to use the model's."
        case .layersRequired:
            return "--layers is required: the hidden and output sizes, e.g. --layers 32,10."
        case let .dataWidthDiffersFromInitialModel(file, columns, inputs):
            return "\(file) has \(columns) feature columns but the --init model takes \(inputs) inputs."
        case .validationSourcesConflict:
            return "--validation and --validation-split exclude each other; pass one."
        case let .validationSplitOutOfRange(fraction):
            return "--validation-split must be between 0 and 1 (got \(fraction))."
        case .negativeEpochs:
            return "--epochs cannot be negative."
        case let .tooManyEpochs(requested, limit):
            return "--epochs can be at most \(limit) (got \(requested))."
        case .batchSizeTooSmall:
            return "--batch-size must be at least 1."
        case let .noValidationFile(run, heldOut):
            return "Run \(run) has no validation file (\(heldOut ? "its validation set is held out of the training data" : "it has no validation set")); leave out --validation."
        case let .recordedPathIsHint(run, via, path, fingerprint, validation):
            let through = via.map { " (through run \($0))" } ?? ""
            let option = validation ? "--validation FILE with the validation data" : "--data FILE with the data"
            return "Run \(run) came from a bundle\(through): its recorded \(validation ? "validation" : "data") path \(path) is only a hint, so it is not opened; pass \(option) it was trained on (fingerprint \(fingerprint.prefix(16)))."
        case let .monitorNeedsValidation(monitor):
            return "--monitor \(monitor) needs a validation set; the run has none (use --monitor train_loss)."
        case .earlyStoppingNeedsPatience:
            return "--min-delta and --monitor need --patience N: the run has no early stopping."
        case let .stoppedEarly(run, epoch, bestEpoch):
            return "Run \(run) stopped early at epoch \(epoch) (its best epoch is \(bestEpoch)); pass --epochs with a number above \(epoch) to train it further."
        case .unreadableConfig, .busy, .invalid, .incompatible:
            return error.description
        }
    }

    /// The option that names each of a run's data files.
    static func option(_ file: DataFile) -> String {
        switch file {
        case .training: return "--data"
        case .labels: return "--labels"
        case .validation: return "--validation"
        }
    }

    /// OpenBLAS that could not be loaded, naming `FCSTORE_OPENBLAS` (which the CLI reads).
    static func message(for failure: BLAS.LoadFailure) -> String {
        if let symbol = failure.missingSymbol {
            return "OpenBLAS was loaded from \(failure.path ?? "the system library") but has no symbol \(symbol); \(failure.installHint)."
        }
        if let path = failure.path {
            return "Could not load OpenBLAS from FCSTORE_OPENBLAS=\(path) (\(failure.reason)); fix or unset the variable."
        }
        return "Could not load OpenBLAS (\(failure.reason)); \(failure.installHint) or set FCSTORE_OPENBLAS to the library's path."
    }

    static func message(for error: FileReadError) -> String {
        switch error {
        case let .tooLarge(path, size, limit):
            return "\(path) is \(Format.bytes(Int64(size))); fcstore refuses model files over \(Format.bytes(Int64(limit)))."
        case let .jsonTooLarge(path, size, limit):
            return "\(path) is \(Format.bytes(Int64(size))); fcstore refuses JSON models over \(Format.bytes(Int64(limit))). Export the model as safetensors instead."
        case .unreadable, .notRegularFile, .changedWhileRead:
            return error.description
        }
    }
}

import ArgumentParser
import FCCore
import FCNet
import FCStorage
import FCTraining
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a new run, committing a checkpoint every epoch.",
        discussion: """
            Epoch 0 (the initial weights) and then every epoch are committed to the store before \
            the next epoch's first update. Progress goes to stderr; the run id is the last line on \
            stdout. Ctrl-C stops cleanly after dropping the epoch in progress; continue with \
            'fcstore resume RUN'.
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: ArgumentHelp("Training data: a CSV file with a header row, or an MNIST IDX image file.", valueName: "file"))
    var data: String

    @Option(help: ArgumentHelp("The IDX label file (default: found next to the image file).", valueName: "file"))
    var labels: String?

    @Option(help: ArgumentHelp("A validation CSV file, evaluated after every epoch.", valueName: "file"))
    var validation: String?

    @Option(name: .customLong("validation-split"), parsing: .unconditional, help: ArgumentHelp(
        "Hold out this fraction of the data for validation (seeded).", valueName: "fraction"))
    var validationSplit: Double?

    @Option(help: ArgumentHelp(
        "The label column: a name or 0-based index (default: the column named 'label', else the last).", valueName: "column"))
    var label: String?

    @Option(help: ArgumentHelp("Hidden and output layer sizes, e.g. 32,10; the input size comes from the data.", valueName: "sizes"))
    var layers: String?

    @Option(help: ArgumentHelp("Hidden activation (default \(TrainingDefaults.hiddenActivation.rawValue)).", valueName: "name"))
    var activation: HiddenActivation?

    @Option(name: .customLong("output-activation"), help: ArgumentHelp(
        "Output activation (default: softmax for several classes, sigmoid for one output, identity for mse; another needs --loss mse).",
        valueName: "name"))
    var outputActivation: Activation?

    @Option(help: ArgumentHelp("Loss (default: to suit the output).", valueName: "name"))
    var loss: Loss?

    @OptionGroup var optimizerOptions: OptimizerOptions

    @OptionGroup var regularization: RegularizationOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("The epoch to train to.", valueName: "n"))
    var epochs: Int = TrainingDefaults.epochs

    @Option(parsing: .unconditional, help: ArgumentHelp("Fixes weight initialisation, shuffling and the validation split.", valueName: "n"))
    var seed: SeedArgument = SeedArgument(TrainingDefaults.seed)

    @Option(help: ArgumentHelp("A name for the run (unique in the store).", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp(
        "Input normalisation (default standard, or the --init model's own).", valueName: "kind"))
    var normalize: Normalizer.Kind?

    @Option(help: ArgumentHelp(
        "After each committed epoch, push the run to this store in the background (as 'fcstore push DEST RUN').",
        valueName: "dest"))
    var push: String?

    @Option(name: .customLong("init"), help: ArgumentHelp(
        "Start from this checkpoint's weights instead of random ones; the architecture comes from it.", valueName: "ref"))
    var initFrom: CheckpointRef?

    func validate() throws {
        try seed.validate()
        if epochs < 0 { throw ValidationError("--epochs cannot be negative (got \(epochs)).") }
        if layers == nil && initFrom == nil {
            throw ValidationError("Pass --layers with the hidden and output sizes (e.g. --layers 32,10), or --init REF.")
        }
        if let layers, parsedLayers(layers) == nil {
            throw ValidationError("--layers takes positive sizes separated by commas, e.g. 32,10 (got \"\(layers)\").")
        }
        if validation != nil && validationSplit != nil {
            throw ValidationError("--validation and --validation-split exclude each other; pass one.")
        }
        if let validationSplit, !(validationSplit > 0 && validationSplit < 1) {
            throw ValidationError("--validation-split must be between 0 and 1 (got \(validationSplit)).")
        }
        if activation?.activation == .softmax {
            throw ValidationError("softmax is an output activation; use --output-activation softmax.")
        }
        if let name { do { try RunName.validate(name) } catch { throw ValidationError(String(describing: error)) } }
        if let rule = try regularization.earlyStopping(), rule.monitor.needsValidation, validation == nil, validationSplit == nil {
            throw ValidationError("--monitor \(rule.monitor.rawValue) needs a validation set: pass --validation FILE or --validation-split F, or use --monitor train_loss.")
        }
    }

    func parsedLayers(_ text: String) -> [Int]? {
        let sizes = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return sizes.compactMap { $0 }
    }

    func run() throws {
        var optimizer = TrainingDefaults.optimizer(kind: optimizerOptions.optimizer, learningRate: optimizerOptions.learningRate,
                                                   momentum: optimizerOptions.momentum, schedule: optimizerOptions.schedule?.schedule)
        optimizer.weightDecay = regularization.weightDecay.flatMap { $0 == 0 ? nil : $0 }

        var request = Workflow.TrainRequest(dataPath: data, optimizer: optimizer, epochs: epochs, seed: seed.value)
        request.labelsPath = labels
        request.labelColumn = label
        request.validationPath = validation
        request.validationSplit = validationSplit
        request.layers = layers.flatMap(parsedLayers)
        request.hiddenActivation = activation?.activation
        request.outputActivation = outputActivation
        request.loss = loss
        request.batchSize = optimizerOptions.batch ?? TrainingDefaults.batchSize
        request.dropout = regularization.dropout.flatMap { $0 == 0 ? nil : $0 }
        request.earlyStopping = try regularization.earlyStopping()
        request.name = name
        request.normalization = normalize
        request.initFrom = initFrom.map { ($0.run, $0.selector) }

        // The first train creates the store; if the run cannot even start (bad data,
        // say), take the new empty store back rather than leave a stray file.
        let signingKey = try SigningKeys.load()
        let lease = try LeaseSetting.settings(storePath: self.store.path)
        if let push, StoreLocation.sameFile(self.store.path, push) {
            throw CLIError("--push \(Store.displayLocation(push)) is the store itself; push to another store.")
        }
        let created = !self.store.isPostgres && !FileManager.default.fileExists(atPath: self.store.path)
        let trainer: RunTrainer
        do {
            let store = try self.store.open()
            store.signingKey = signingKey
            trainer = try Workflow.startRun(store, request, owner: Owner.current, lease: lease,
                                            observer: CLITrainingObserver())
        } catch {
            if created {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: self.store.path + suffix) }
            }
            throw error
        }
        let pusher = push.map { BackgroundPush(location: $0, localOptions: store, runID: trainer.run.id) }
        try TrainingDriver.run(trainer, verb: "training", push: pusher)
    }
}

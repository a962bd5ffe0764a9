import FCCore
import FCNet
import FCStorage
import Foundation

/// A resolved checkpoint reference: `RUN`, `RUN@EPOCH` or `RUN@best`.
public enum EpochSelector: Equatable, Sendable {
    case latest
    case best
    case number(Int)
}

/// The train / resume / load workflows that join the engine and the store.
public enum Workflow {
    /// What `train` was asked for.
    public struct TrainRequest {
        public var dataPath: String
        public var labelsPath: String?
        public var labelColumn: String?
        public var validationPath: String?
        public var validationSplit: Double?
        /// Hidden and output sizes; nil with `initFrom` (the architecture comes from it).
        public var layers: [Int]?
        public var hiddenActivation: Activation?
        public var outputActivation: Activation?
        public var loss: Loss?
        public var optimizer: OptimizerConfig
        public var batchSize: Int?
        /// Dropout probability of the hidden layers (nil: none).
        public var dropout: Double?
        public var earlyStopping: EarlyStopping?
        public var epochs: Int
        public var seed: UInt64
        public var name: String?
        /// nil for the default: `standard`, or the `--init` model's own normalisation.
        public var normalization: Normalizer.Kind?
        public var initFrom: (run: String, epoch: EpochSelector)?

        public init(dataPath: String, optimizer: OptimizerConfig, epochs: Int, seed: UInt64) {
            self.dataPath = dataPath
            self.optimizer = optimizer
            self.epochs = epochs
            self.seed = seed
        }
    }

    // MARK: Loading checkpoints

    /// Resolves `run` and an epoch selector to a stored checkpoint.
    /// `best` is the lowest `val_loss`, else the lowest `train_loss`.
    public static func checkpoint(_ store: Store, run text: String, epoch: EpochSelector) throws -> (run: RunRecord, checkpoint: LoadedCheckpoint) {
        let run = try store.resolveRun(text)
        return (run, try checkpoint(store, run: run, epoch: epoch) { $0 })
    }

    /// What `decode` makes of the checkpoint `epoch` picks of `run`, once every tensor
    /// matched its SHA-256 (see `Store.loadCheckpoint(runID:epoch:decoding:)`).
    static func checkpoint<T>(_ store: Store, run: RunRecord, epoch: EpochSelector,
                              decoding decode: (LoadedCheckpoint) throws -> T) throws -> T {
        let number: Int
        switch epoch {
        case .latest:
            number = try store.latestEpoch(runID: run.id)
        case .number(let value):
            number = value
        case .best:
            let summaries = try store.checkpoints(runID: run.id)
            let rule = (try? RunConfig.decode(run.config, run: run.shortID))?.training.earlyStopping
            guard let best = select(.best, in: summaries, earlyStopping: rule) else { throw noBestEpoch(run, summaries) }
            number = best.epoch
        }
        return try store.loadCheckpoint(runID: run.id, epoch: number, decoding: decode)
    }

    /// The listing entry an epoch selector picks among a run's checkpoints, without
    /// loading any tensor (for `show`; `checkpoint(_:run:epoch:)` picks the same).
    ///
    /// `best` is the one rule for a run's best epoch: among the run's own epochs
    /// (a fork's are those after its fork point; the fork point and earlier are
    /// its parent's results), the lowest `val_loss` if any own epoch has one, else
    /// the lowest `train_loss`; the earliest epoch on ties; NaN ignored. Nil when
    /// there is none (a fork that has not trained yet, a run without metrics).
    ///
    /// A run with early stopping (`earlyStopping`) has the monitored best instead: among its
    /// own trained epochs (epoch 0 is not monitored), the last one that improved on the best
    /// before it by more than the least improvement (`EarlyStopping.bestEpoch`), the epoch an
    /// early stop names.
    public static func select(_ epoch: EpochSelector, in summaries: [CheckpointSummary],
                              earlyStopping: EarlyStopping? = nil) -> CheckpointSummary? {
        switch epoch {
        case .latest:
            return summaries.last
        case .number(let number):
            return summaries.first { $0.epoch == number }
        case .best:
            let own = summaries.filter { !$0.inherited }
            if let rule = earlyStopping {
                let values = own.compactMap { summary in
                    summary.epoch >= 1 ? summary.metrics[rule.monitor.rawValue].map { (epoch: summary.epoch, value: $0) } : nil
                }
                guard let best = rule.bestEpoch(values) else { return nil }
                return own.first { $0.epoch == best.epoch }
            }
            func value(_ summary: CheckpointSummary, _ metric: String) -> Double? {
                summary.metrics[metric].flatMap { $0.isNaN ? nil : $0 }
            }
            let metric = own.contains { value($0, "val_loss") != nil } ? "val_loss" : "train_loss"
            // The store's one rule (BestEpoch) over the chosen metric.
            let candidates = own.compactMap { summary in value(summary, metric).map { (epoch: summary.epoch, value: $0) } }
            guard let best = BestEpoch.pick(candidates) else { return nil }
            return own.first { $0.epoch == best.epoch }
        }
    }

    /// Why `RUN@best` names no checkpoint, as a sentence.
    public static func noBestEpoch(_ run: RunRecord, _ summaries: [CheckpointSummary]) -> TrainingError {
        if let parent = run.parent, !summaries.contains(where: { !$0.inherited }) {
            return .invalid("Run \(run.shortID) has no epoch of its own yet (it forks from \(parent.runID.prefix(8))@\(parent.epoch)), and @best considers only a run's own epochs; use \(run.shortID)@\(parent.epoch) for the fork point.")
        }
        return .invalid("Run \(run.shortID) has no epoch with a train_loss or val_loss, so it has no best epoch; use \(run.shortID)@EPOCH.")
    }

    /// The run's configuration and a runnable model of one of its checkpoints.
    public static func model(_ store: Store, run text: String, epoch: EpochSelector) throws -> (run: RunRecord, config: RunConfig, checkpoint: LoadedCheckpoint, model: Model) {
        let (run, checkpoint) = try checkpoint(store, run: text, epoch: epoch)
        let config = try RunConfig.decode(run.config, run: run.shortID)
        let model = try model(of: checkpoint, config: config)
        return (run, config, checkpoint, model)
    }

    static func model(of checkpoint: LoadedCheckpoint, config: RunConfig) throws -> Model {
        let spec = config.spec
        var weights: [[Float]] = [], biases: [[Float]] = []
        for layer in 1...spec.layerCount {
            guard let w = checkpoint.tensor(layer: layer, role: TensorRole.weight), let b = checkpoint.tensor(layer: layer, role: TensorRole.bias) else {
                throw TrainingError.incompatible("Checkpoint \(checkpoint.runID.prefix(8))@\(checkpoint.epoch) lacks the weights of layer \(layer).")
            }
            weights.append(w.values)
            biases.append(b.values)
        }
        let normalizer = try CheckpointCoding.normalizer(checkpoint, kind: config.normalization, width: spec.inputSize)
        return try Model(spec: spec, weights: weights, biases: biases, normalizer: normalizer)
    }

    // MARK: train

    /// Creates a run for `request` and returns its trainer, ready to write epoch 0.
    /// - Parameter lease: how the trainer holds the run (nil: no lease, no heartbeat).
    public static func startRun(_ store: Store, _ request: TrainRequest, owner: String, lease: LeaseSettings? = nil,
                                observer: (any TrainingObserver)? = nil) throws -> RunTrainer {
        try BLAS.load()
        var initial: (run: RunRecord, checkpoint: LoadedCheckpoint, config: RunConfig, model: Model)?
        if let source = request.initFrom {
            let (run, config, checkpoint, model) = try model(store, run: source.run, epoch: source.epoch)
            initial = (run, checkpoint, config, model)
        }

        // The architecture: from --layers, or from the --init checkpoint.
        let spec: NetworkSpec
        if let initial {
            var initSpec = initial.config.spec
            if let layers = request.layers, layers != initSpec.layerSizes {
                throw TrainingError.layersDifferFromInitialModel(given: layers, model: initSpec.layerSizes)
            }
            if let activation = request.hiddenActivation { initSpec.hiddenActivation = activation }
            if let activation = request.outputActivation { initSpec.outputActivation = activation }
            if let loss = request.loss { initSpec.loss = loss }
            spec = initSpec
        } else {
            guard let layers = request.layers, !layers.isEmpty else {
                throw TrainingError.layersRequired
            }
            let output = request.outputActivation ?? TrainingDefaults.outputActivation(for: request.loss, outputs: layers.last ?? 0)
            spec = NetworkSpec(inputSize: 0, layerSizes: layers,
                               hiddenActivation: request.hiddenActivation ?? TrainingDefaults.hiddenActivation,
                               outputActivation: output,
                               loss: request.loss ?? TrainingDefaults.loss(for: output))
            // Layer sizes and weight matrices between hidden layers are checked before the
            // data is read (the input size is known only after).
            var early = spec
            early.inputSize = 1
            try early.validate()
        }
        let task: Dataset.Task = spec.outputSize == 1 && spec.loss == .mse ? .regression : .classification
        let classes = task == .classification && spec.outputSize > 1 ? spec.outputSize : (task == .classification ? 2 : nil)

        // Data, split, validation.
        let (full, source) = try observingLoading(observer) {
            try DataLoading.load(path: request.dataPath, labels: request.labelsPath,
                                 labelColumn: request.labelColumn, task: task, classes: classes)
        }
        var finalSpec = spec
        if initial == nil { finalSpec.inputSize = full.width }
        guard full.width == finalSpec.inputSize else {
            throw TrainingError.dataWidthDiffersFromInitialModel(file: (request.dataPath as NSString).lastPathComponent, columns: full.width, inputs: finalSpec.inputSize)
        }
        let validationSource: ValidationSource?
        var trainRaw = full, validationRaw: Dataset?
        if let path = request.validationPath {
            guard request.validationSplit == nil else {
                throw TrainingError.validationSourcesConflict
            }
            let (data, vsource) = try observingLoading(observer) {
                try DataLoading.load(path: path, labelColumn: request.labelColumn, task: task, classes: classes, file: .validation)
            }
            guard data.width == full.width else {
                throw TrainingError.incompatible("\((path as NSString).lastPathComponent) has \(data.width) feature columns but the training data has \(full.width).")
            }
            // Validation rows are read by position, as the training rows: the names must agree.
            if source.kind == .csv, vsource.kind == .csv,
               let i = data.featureNames.indices.first(where: { data.featureNames[$0] != full.featureNames[$0] }) {
                throw TrainingError.incompatible("\((path as NSString).lastPathComponent): feature column \(i + 1) is \(ModelColumns.quoted(data.featureNames[i])) where \((request.dataPath as NSString).lastPathComponent) has \(ModelColumns.quoted(full.featureNames[i])); a validation file needs the training data's feature columns in the same order.")
            }
            validationRaw = data
            validationSource = .file(vsource)
        } else if let fraction = request.validationSplit {
            guard fraction > 0, fraction < 1 else {
                throw TrainingError.validationSplitOutOfRange(fraction)
            }
            let parts = try full.split(validationFraction: fraction, seed: request.seed)
            trainRaw = parts.train
            validationRaw = parts.validation
            validationSource = .split(fraction: fraction)
        } else {
            validationSource = nil
        }

        // Normalisation: fitted on the training part, or the --init model's own.
        let normalizer: Normalizer
        if let kind = request.normalization {
            normalizer = Normalizer.fit(kind, to: trainRaw)
        } else if let initial, initial.model.normalizer.kind != .none {
            normalizer = initial.model.normalizer
        } else {
            normalizer = Normalizer.fit(.standard, to: trainRaw)
        }
        let train = try normalizer.applied(to: trainRaw)
        let validation = try validationRaw.map { try normalizer.applied(to: $0) }

        let training = TrainingConfig(spec: finalSpec, optimizer: request.optimizer, batchSize: request.batchSize, seed: request.seed,
                                      dropout: request.dropout, earlyStopping: request.earlyStopping)
        if let rule = request.earlyStopping, rule.monitor.needsValidation, validation == nil {
            throw TrainingError.monitorNeedsValidation(monitor: rule.monitor.rawValue)
        }
        try finalSpec.validate()
        try request.optimizer.validate()
        guard request.epochs >= 0 else { throw TrainingError.negativeEpochs }
        guard request.epochs <= StoreLimits.epochs.upperBound else {
            throw TrainingError.tooManyEpochs(requested: request.epochs, limit: StoreLimits.epochs.upperBound)
        }
        let initRef = initial.map { "\($0.run.id)@\($0.checkpoint.epoch)" }
        let signature = try ModelColumns.signature(for: full, source: source, spec: finalSpec)
        let config = RunConfig(training: training, epochs: request.epochs, data: source, validation: validationSource,
                               normalization: normalizer.kind, initializedFrom: initRef,
                               blasCore: BLAS.coreName, blasThreads: BLAS.maxThreads, signature: signature)
        let start: TrainingStart = initial.map { .weights(weights: Array($0.model.weights), biases: Array($0.model.biases)) } ?? .random
        let trainer = try Trainer(config: training, train: train, validation: validation, start: start)
        // The run and its epoch 0 are committed together: a crash cannot leave a run without epoch 0.
        let (run, initialRecord) = try store.createRun(
            name: request.name, config: try config.json(), seed: request.seed, status: .running, owner: owner,
            initialCheckpoint: CheckpointCoding.input(trainer.state, normalizer: normalizer))
        if let lease { try store.renewLease(runID: run.id, owner: owner, until: Date().addingTimeInterval(lease.duration)) }
        let validationFile: DataSource? = if case .file(let file)? = validationSource { file } else { nil }
        return RunTrainer(store: store, run: run, config: config, normalizer: normalizer, trainer: trainer,
                          trainingSamples: train.count, startEpoch: 0, writesInitialCheckpoint: true, initialRecord: initialRecord,
                          owner: owner, lease: lease,
                          segment: segment(firstEpoch: 0, owner: owner, data: source, labels: source.labels, validation: validationFile))
    }

    // MARK: resume

    public struct ResumePlan {
        public var trainer: RunTrainer
        /// True when the run itself continues; false when a fork was created.
        public var inPlace: Bool
        public var from: (run: RunRecord, epoch: Int)
        /// The setting the resumed epoch was trained with, when this process's differs in a
        /// way that changes bits (empty when the same, or when nothing was recorded): the new
        /// epochs are then not bit for bit those an uninterrupted run would have given.
        public var engineChanges: [EngineChange] = []
        public var recordedEngine: EngineSetting?
    }

    /// Continues a run from a checkpoint. The latest checkpoint of a run, without
    /// changed hyper-parameters, continues that run; anything else forks a new
    /// run whose parent is the checkpoint (history is never rewritten).
    /// - Parameters:
    ///   - epochs: the epoch to train to; nil for the run's configured target.
    ///   - dataPath: where the training data is now, if it moved (same fingerprint).
    ///   - validationPath: where the run's validation file is now, if it moved (same fingerprint).
    ///   - labelsPath: the IDX label file of the training data, if it moved (else the recorded
    ///     one, or the one beside moved images).
    ///   - owner: `host:pid:start` of this process; `host` decides which takeover rule applies.
    ///   - isAlive: tells whether a recorded owner process on this host still runs.
    ///   - lease: how this trainer holds the run; another host's owner is displaced only
    ///     once its lease has expired (see `TakeoverRule`).
    public static func resume(
        _ store: Store, run text: String, epoch selector: EpochSelector, epochs: Int?, overrides: Overrides,
        fork forceFork: Bool, dataPath: String?, labelsPath: String? = nil, validationPath: String? = nil,
        owner: String, isAlive: @escaping (String) -> Bool, lease: LeaseSettings? = nil,
        observer: (any TrainingObserver)? = nil
    ) throws -> ResumePlan {
        let run = try store.resolveRun(text)
        // The engine's state is decoded from the verified checkpoint, whose tensors are then
        // freed (their memory serves the data); errors of the configuration and of decoding
        // are raised below, in their turn.
        let decodedConfig = Result { try RunConfig.decode(run.config, run: run.shortID) }
        let (epoch, decodedState) = try checkpoint(store, run: run, epoch: selector) { checkpoint in
            (checkpoint.epoch, Result { try CheckpointCoding.state(checkpoint, spec: decodedConfig.get().spec) })
        }
        observer?.phaseEnded(.checkpointLoaded)
        var config = try decodedConfig.get()
        guard let data = config.data else { throw TrainingError.noData(run: run.shortID) }
        var validationFile: DataSource?
        if case .file(let source)? = config.validation { validationFile = source }
        if validationPath != nil, validationFile == nil {
            throw TrainingError.noValidationFile(run: run.shortID, heldOut: config.validation != nil)
        }
        if labelsPath != nil, data.kind != .idx {
            throw TrainingError.noLabelsFile(run: run.shortID)
        }
        // A bundle must not decide which local file resume opens: its paths are hints.
        if let imported = try store.bundleImportedRun(inLineageOf: run.id) {
            let via = imported == run.id ? nil : String(imported.prefix(8))
            if dataPath == nil {
                throw TrainingError.recordedPathIsHint(run: run.shortID, via: via, path: data.path, fingerprint: data.fingerprint, validation: false)
            }
            if let validationFile, validationPath == nil {
                throw TrainingError.recordedPathIsHint(run: run.shortID, via: via, path: validationFile.path,
                                                       fingerprint: validationFile.fingerprint, validation: true)
            }
        }
        let latest = try store.checkpoints(runID: run.id).last?.epoch ?? epoch
        // `resume RUN` means the run itself, even if another process appended an
        // epoch between the two reads above: deciding by the epochs alone would
        // quietly fork from a stale epoch instead of meeting that process's claim.
        let inPlace = (selector == .latest || epoch == latest) && !overrides.changesTraining && !forceFork
        let target = epochs ?? config.epochs
        guard target <= StoreLimits.epochs.upperBound else {
            throw TrainingError.tooManyEpochs(requested: target, limit: StoreLimits.epochs.upperBound)
        }
        guard target > epoch else {
            // A process killed after committing its last epoch, before marking the run
            // completed, leaves it "running" with a dead owner: settle that now.
            if inPlace, run.status == .running, epoch >= config.epochs, !(run.owner.map(isAlive) ?? false) {
                try store.setStatus(runID: run.id, .completed)
            }
            throw TrainingError.nothingToDo(run: run.shortID, epoch: epoch, target: target)
        }

        // The new recipe: overrides apply to the fork; the target is recorded too.
        try overrides.apply(to: &config.training)
        if let size = config.training.batchSize, size < 1 { throw TrainingError.batchSizeTooSmall }
        if let rule = config.training.earlyStopping, rule.monitor.needsValidation, config.validation == nil {
            throw TrainingError.monitorNeedsValidation(monitor: rule.monitor.rawValue)
        }
        // A fork records the new target; a run continued in place keeps the recipe it
        // was created with (its config is covered by the run's digest) and trains to
        // `target` all the same.
        config.epochs = target

        let (state, normalizer) = try decodedState.get()
        // Training continues from the state's epoch and appends after the row's: they must agree.
        guard state.epoch == epoch else {
            throw TrainingError.storedStateInvalid(run: run.shortID, epoch: epoch, reason: "an optimizer state for epoch \(state.epoch)")
        }
        // An early stop is where the run ended: it trains further only towards a target given.
        if inPlace, epochs == nil, let marker = state.metrics[Trainer.earlyStopMetric] {
            let best = Int(exactly: marker) ?? epoch
            if run.status == .running, !(run.owner.map(isAlive) ?? false) {
                try store.setStatus(runID: run.id, .completed)
            }
            throw TrainingError.stoppedEarly(run: run.shortID, epoch: epoch, bestEpoch: best)
        }
        observer?.phaseEnded(.dataBegin)
        let (train, validation) = try observingLoading(observer) {
            try recordedData(config, data: data, movedTo: dataPath, labelsMovedTo: labelsPath, validationMovedTo: validationPath,
                             run: run.shortID, normalizer: normalizer)
        }
        observer?.phaseEnded(.dataEnd)
        let trainer = try Trainer(config: config.training, train: train, validation: validation, start: .state(state))
        observer?.phaseEnded(.trainerReady)

        let targetRun: RunRecord
        let leaseUntil = lease.map { Date().addingTimeInterval($0.duration) }
        if inPlace {
            let host = TakeoverRule.host(of: owner)
            let kept: RunClaim?
            do {
                kept = try store.claimRun(runID: run.id, newOwner: owner, leaseUntil: leaseUntil, lastEpoch: epoch, mayTakeOver: { claim in
                    TakeoverRule.mayTakeOver(claim, owner: owner, host: host, now: Date(), isAlive: isAlive)
                })
            } catch StoreError.epochOutOfOrder(_, let expected, _) {
                throw TrainingError.movedOn(run: run.shortID, from: epoch, now: expected - 1)
            }
            if let kept {
                throw TrainingError.busy(run: run.shortID, owner: kept.owner ?? "unknown",
                                         leaseExpiresAt: TakeoverRule.host(of: kept.owner ?? "") == host ? nil : kept.leaseExpiresAt)
            }
            targetRun = try store.run(id: run.id)
        } else {
            targetRun = try store.forkRun(from: run.id, atEpoch: epoch, name: overrides.name,
                                           config: try config.json(), seed: config.training.seed, status: .running, owner: owner)
            if let leaseUntil { try store.renewLease(runID: targetRun.id, owner: owner, until: leaseUntil) }
        }
        observer?.phaseEnded(.runClaimed)
        // Where this segment read its data, and the setting the resumed epoch was trained with.
        let readPath = dataPath ?? data.path
        let labels: String? = data.kind != .idx ? nil
            : labelsPath ?? (dataPath == nil ? data.labels : try? DataLoading.siblingLabels(of: DataLoading.absolutePath(readPath)))
        var validationRead = validationFile
        if let path = validationPath { validationRead?.path = path }
        var readData = data
        readData.path = readPath
        let segment = segment(firstEpoch: epoch + 1, owner: owner, data: readData, labels: labels, validation: validationRead)
        let recorded = try store.segment(runID: run.id, epoch: epoch).map { EngineSetting($0.input) } ?? EngineSetting(config)
        let runTrainer = RunTrainer(store: store, run: targetRun, config: config, normalizer: normalizer, trainer: trainer,
                                    trainingSamples: train.count, startEpoch: epoch, writesInitialCheckpoint: false,
                                    owner: owner, lease: lease, segment: segment)
        var plan = ResumePlan(trainer: runTrainer, inPlace: inPlace, from: (run, epoch))
        if let recorded, epoch > 0 {
            plan.recordedEngine = recorded
            plan.engineChanges = recorded.changes(to: .current)
        }
        return plan
    }
}

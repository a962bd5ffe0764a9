import ArgumentParser
import FCStorage
import FCTraining

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue training from a checkpoint.",
        discussion: """
            From a run's latest checkpoint, with no changed hyper-parameters, the run itself \
            continues (an interrupted or crashed run is completed in place). From an earlier epoch, \
            with changed hyper-parameters, or with --fork, a new run is created whose parent is REF: \
            history is never rewritten. Training continues bit for bit as if it had never stopped. \
            Prints the run id last on stdout.
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("A run, RUN@EPOCH or RUN@best.", valueName: "ref"))
    var ref: CheckpointRef

    @Option(parsing: .unconditional, help: ArgumentHelp("The epoch to train to (default: the run's --epochs).", valueName: "n"))
    var epochs: Int?

    @OptionGroup var optimizerOptions: OptimizerOptions

    @OptionGroup var regularization: RegularizationOptions

    @Option(help: ArgumentHelp("The training data, if it has moved (it must be the same data).", valueName: "file"))
    var data: String?

    @Option(help: ArgumentHelp("The IDX label file of the training data, if it has moved (default: the recorded one, or the one beside --data).", valueName: "file"))
    var labels: String?

    @Option(help: ArgumentHelp("The validation file, if it has moved (it must be the same data).", valueName: "file"))
    var validation: String?

    @Option(help: ArgumentHelp("A name for the new run, when a fork is created.", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp(
        "After each committed epoch, push the run to this store in the background (as 'fcstore push DEST RUN').",
        valueName: "dest"))
    var push: String?

    @Flag(help: "Create a new run even when continuing the latest checkpoint.")
    var fork = false

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1 (got \(epochs)).") }
        if let name { do { try RunName.validate(name) } catch { throw ValidationError(String(describing: error)) } }
    }

    func run() throws {
        var overrides = Workflow.Overrides()
        overrides.learningRate = optimizerOptions.learningRate
        overrides.momentum = optimizerOptions.momentum
        overrides.optimizer = optimizerOptions.optimizer
        overrides.schedule = optimizerOptions.schedule?.schedule
        overrides.batchSize = optimizerOptions.batch
        regularization.apply(to: &overrides)
        overrides.name = name
        let signingKey = try SigningKeys.load()
        let lease = try LeaseSetting.settings(storePath: self.store.path)
        if let push, StoreLocation.sameFile(self.store.path, push) {
            throw CLIError("--push \(Store.displayLocation(push)) is the store itself; push to another store.")
        }
        let store = try self.store.openExisting()
        store.signingKey = signingKey
        let plan = try Workflow.resume(
            store, run: ref.run, epoch: ref.selector, epochs: epochs, overrides: overrides,
            fork: fork || name != nil, dataPath: data, labelsPath: labels, validationPath: validation,
            owner: Owner.current, isAlive: Owner.isAlive, lease: lease,
            observer: CLITrainingObserver())
        let from = "\(plan.from.run.shortID)@\(plan.from.epoch)"
        if let recorded = plan.recordedEngine, !plan.engineChanges.isEmpty {
            Console.err(Self.engineWarning(from: from, recorded: recorded, changes: plan.engineChanges))
        }
        let verb = plan.inPlace ? "resuming \(from):" : "forking from \(from):"
        let pusher = push.map { BackgroundPush(location: $0, localOptions: self.store, runID: plan.trainer.run.id) }
        try TrainingDriver.run(plan.trainer, verb: verb, push: pusher)
    }

    /// One line: the setting that changed, and that the new epochs are not bit for bit
    /// those of an uninterrupted run.
    static func engineWarning(from: String, recorded: EngineSetting, changes: [EngineChange]) -> String {
        let what = changes.map { change -> String in
            switch change {
            case let .blasThreads(was, now):
                return "OpenBLAS threads \(was) -> \(now) (set OPENBLAS_NUM_THREADS=\(was) to keep them)"
            case let .blasCore(was, now):
                return "OpenBLAS core \(was) -> \(now) (set OPENBLAS_CORETYPE=\(was) to keep it)"
            case let .version(was, now):
                return "fcstore \(was) -> \(now)"
            }
        }
        return "warning: \(from) was trained with \(recorded.summary); this resume runs with \(what.joined(separator: ", ")), so bit-exactness against the earlier segments no longer holds."
    }
}

import FCStorage
import FCTraining
import Foundation

/// Runs a `RunTrainer` the way the CLI does for `train` and `resume`: progress
/// on stderr, SIGINT / SIGTERM turned into a clean stop, the run id last on
/// stdout, and an exit status that says how training ended.
enum TrainingDriver {
    /// - Parameter push: `--push DEST`'s background pusher, started here; its line ends stderr.
    static func run(_ trainer: RunTrainer, verb: String, push: BackgroundPush? = nil) throws {
        Interruption.install()
        // How long a commit keeps reconnecting to a PostgreSQL store that went away (tests shorten it).
        if let text = ProcessInfo.processInfo.environment["FCSTORE_RECONNECT_SECONDS"], let seconds = Double(text),
           seconds.isFinite, seconds >= 0 {
            trainer.reconnectWindow = seconds
        }
        let progress = ProgressReporter(totalEpochs: trainer.config.epochs, startEpoch: trainer.startEpoch,
                                        samplesPerEpoch: trainer.trainingSamples)
        let run = trainer.run
        Console.err("\(verb) run \(run.shortID)\(run.name.map { " (\($0))" } ?? "") to epoch \(trainer.config.epochs) on \(Format.count(trainer.trainingSamples, "sample")), \(Format.count(trainer.batchesPerEpoch, "batch", plural: "batches")) per epoch")
        var batchesSeen = 0
        var epoch = trainer.startEpoch + 1
        push?.start()
        progress.epochStarted()
        let outcome: RunTrainer.Outcome
        do {
            outcome = try trainer.train(
                shouldStop: {
                    // Polled before each batch: it doubles as the batch counter for the progress bar.
                    // The first poll comes right before the first epoch's shuffle and first batch.
                    if batchesSeen == 0, epoch == trainer.startEpoch + 1 { PhaseTimings.mark("training-started") }
                    batchesSeen += 1
                    let (samples, loss) = trainer.epochProgress
                    progress.batch(epoch: epoch, batch: batchesSeen - 1, batches: trainer.batchesPerEpoch,
                                   samples: samples, loss: loss)
                    return Interruption.requested
                },
                committed: { record, state in
                    progress.epochCommitted(epoch: record.epoch, metrics: state.metrics)
                    push?.epochCommitted()
                    if let push, let failure = push.newFailure() {
                        Console.err("push to \(push.shown) failed: \(failure); training goes on, and the push is retried after each epoch")
                    }
                    batchesSeen = 0
                    epoch = record.epoch + 1
                    progress.epochStarted()
                })
        } catch {
            progress.finish()
            if let push { Console.err(push.finish(localEpoch: trainer.lastCommittedEpoch)) }
            // A lost store names its last committed epoch itself.
            if case TrainingError.connectionLost = error { throw CLIError(ErrorText.message(for: error)) }
            let committed = trainer.lastCommittedEpoch.map { "epochs up to \($0) are committed" } ?? "no epoch was committed"
            throw CLIError("\(ErrorText.message(for: error)) Training of run \(run.shortID) stopped; \(committed).")
        }
        progress.finish()
        let pushLine = push?.finish(localEpoch: trainer.lastCommittedEpoch)
        switch outcome {
        case .completed(let last):
            Console.err("run \(run.shortID) completed: epoch \(last) committed")
            if let pushLine { Console.err(pushLine) }
            Console.out(run.id)
        case .interrupted(let last):
            let signal = Interruption.caughtSignal ?? SIGINT
            Console.err("interrupted: run \(run.shortID) stopped after epoch \(last), the last committed epoch; continue with 'fcstore resume \(run.shortID)'")
            if let pushLine { Console.err(pushLine) }
            Console.out(run.id)
            exit(ExitStatus.interrupted(by: signal))
        case let .stoppedEarly(last, best):
            let monitor = trainer.config.training.earlyStopping?.monitor.rawValue ?? "the monitored metric"
            Console.err("stopped early: run \(run.shortID) stopped after epoch \(last), \(monitor) was best at epoch \(best) (\(run.shortID)@best); train further with 'fcstore resume \(run.shortID) --epochs N'")
            Console.out(run.id)
        case .diverged(let last):
            Console.err("diverged: the loss of run \(run.shortID) became NaN or infinite after epoch \(last); epoch \(last), the last finite one, is kept. Try a smaller --learning-rate.")
            if let pushLine { Console.err(pushLine) }
            Console.out(run.id)
            exit(ExitStatus.diverged)
        }
    }
}

/// An error the CLI itself raises: its message is printed as it is.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

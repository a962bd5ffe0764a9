import Foundation
import XCTest
@testable import FCStorage

/// Early stopping, weight decay and dropout through the built binary.
final class RegularizationCLITests: XCTestCase {
    /// An overfitting recipe: 200 digits (140 to train), a 64-256-10 network, a large step.
    static func overfitting(_ data: String, extra: [String] = []) -> [String] {
        ["train", "--data", data, "--layers", "256,10", "--learning-rate", "0.5", "--validation-split", "0.3",
         "--epochs", "100", "--seed", "1", "--patience", "3"] + extra
    }

    /// The metrics of every epoch `show --json` lists, in order.
    static func epochs(_ workspace: Workspace, _ run: String) throws -> [(epoch: Int, metrics: [String: Double])] {
        let epochs = try XCTUnwrap(try workspace.show(run)["epochs"] as? [[String: Any]])
        return try epochs.map { (try XCTUnwrap($0["epoch"] as? Int), try XCTUnwrap($0["metrics"] as? [String: Double])) }
    }

    /// Training stops exactly `patience` epochs after the epoch with the lowest val_loss (the
    /// Keras rule with min_delta 0, computed here from the recorded metrics); every epoch is
    /// stored; show, runs and their --json say so; @best is that epoch; the status is completed.
    func testEarlyStoppingStopsPatienceEpochsAfterTheBestAndSaysSo() throws {
        let workspace = try Workspace()
        let data = try Reliability.digits(rows: 200, in: workspace.directory)
        let result = try workspace.ok(Self.overfitting(data))
        let run = try XCTUnwrap(result.lastLine)
        let epochs = try Self.epochs(workspace, run)
        let trained = try epochs.dropFirst().map { ($0.epoch, try XCTUnwrap($0.metrics["val_loss"])) }
        let best = try XCTUnwrap(trained.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }).0
        let last = try XCTUnwrap(epochs.last?.epoch)
        XCTAssertEqual(epochs.map(\.epoch), Array(0...last), "every epoch is stored")
        XCTAssertEqual(last, best + 3, "stops after exactly 3 epochs without improvement")
        XCTAssertLessThan(last, 100)
        XCTAssertTrue(result.stderr.contains("stopped early: run \(run.prefix(8)) stopped after epoch \(last), val_loss was best at epoch \(best)"), result.stderr)

        let shown = try workspace.show(run)
        XCTAssertEqual(shown["status"] as? String, "completed")
        let stop = try XCTUnwrap(shown["early_stop"] as? [String: Any])
        XCTAssertEqual(stop["stopped_epoch"] as? Int, last)
        XCTAssertEqual(stop["best_epoch"] as? Int, best)
        XCTAssertEqual(stop["monitor"] as? String, "val_loss")
        let listed = try workspace.run(id: run)
        XCTAssertEqual((listed["early_stop"] as? [String: Any])?["best_epoch"] as? Int, best)
        XCTAssertTrue(try workspace.ok(["runs"]).stdout.contains("completed (stopped early)"))
        XCTAssertTrue(try workspace.ok(["show", run]).stdout.contains(
            "status     completed  (stopped early after epoch \(last), val_loss best at epoch \(best))"))
        XCTAssertEqual(try workspace.show("\(run)@best")["selected_epoch"] as? Int, best)
        let config = try XCTUnwrap((shown["config"] as? [String: Any])?["training"] as? [String: Any])
        let rule = try XCTUnwrap(config["early_stopping"] as? [String: Any])
        XCTAssertEqual(rule["patience"] as? Int, 3)
        XCTAssertEqual(rule["monitor"] as? String, "val_loss")
        try workspace.ok(["verify", "--replay", "\(run)@\(last)"])

        // Resuming needs an explicit target; with one, the run itself continues.
        let refused = try workspace.run(["resume", run])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr, "error: Run \(run.prefix(8)) stopped early at epoch \(last) (its best epoch is \(best)); pass --epochs with a number above \(last) to train it further.\n")
        let further = try workspace.ok(["resume", run, "--epochs", "\(last + 2)"])
        XCTAssertEqual(further.lastLine, run, "continued in place")
        XCTAssertEqual(try Self.epochs(workspace, run).last?.epoch, last + 2)
        XCTAssertNil(try workspace.show(run)["early_stop"] as? [String: Any], "two epochs of a fresh patience do not stop")
    }

    /// `--monitor val_*` without a validation set is one usage line; a resume of such a run
    /// is refused naming the option.
    func testValidationMonitorWithoutValidationIsRefused() throws {
        let workspace = try Workspace()
        let usage = try workspace.run(["train", "--data", CLI.digits, "--layers", "10", "--patience", "2"])
        XCTAssertEqual(usage.status, 64)
        XCTAssertEqual(usage.stderr, "error: --monitor val_loss needs a validation set: pass --validation FILE or --validation-split F, or use --monitor train_loss. Run 'fcstore train --help' for usage.\n")
        let lone = try workspace.run(["train", "--data", CLI.digits, "--layers", "10", "--min-delta", "0.1"])
        XCTAssertEqual(lone.status, 64)
        XCTAssertTrue(lone.stderr.hasPrefix("error: --min-delta and --monitor set up early stopping: pass --patience N too."), lone.stderr)
        let run = try workspace.train([], layers: "10", epochs: 1)
        let resumed = try workspace.run(["resume", run, "--epochs", "2", "--patience", "1", "--monitor", "val_accuracy"])
        XCTAssertEqual(resumed.status, 1)
        XCTAssertEqual(resumed.stderr, "error: --monitor val_accuracy needs a validation set; the run has none (use --monitor train_loss).\n")
        for (option, value) in [("--dropout", "1"), ("--weight-decay", "-0.1"), ("--patience", "-1")] {
            let bad = try workspace.run(["train", "--data", CLI.digits, "--layers", "10", option, value])
            XCTAssertEqual(bad.status, 64, "\(option) \(value): \(bad.stderr)")
            XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        }
    }

    /// SIGKILL during training with dropout, weight decay and early stopping, then `resume`:
    /// the run stops at the same epoch as an uninterrupted one, every epoch with the same bits
    /// (weights, momentum, the generator that draws the masks, the patience state).
    func testSIGKILLThenResumeStopsAtTheSameEpochWithTheSameBits() throws {
        let workspace = try Workspace()
        let data = try Reliability.digits(rows: 200, in: workspace.directory)
        let recipe = Self.overfitting(data, extra: ["--dropout", "0.2", "--weight-decay", "0.001", "--optimizer", "momentum",
                                                   "--learning-rate", "0.05", "--batch-size", "8"])
        let referenceStore = workspace.path("reference.db")
        let reference = try workspace.ok(["--store", referenceStore] + recipe)
        let referenceRun = try XCTUnwrap(reference.lastLine)
        let referenceLast = try XCTUnwrap(Reliability.committedEpochs(reference.stderr).last)
        XCTAssertTrue(reference.stderr.contains("stopped early"), reference.stderr)

        let store = workspace.path("killed.db")
        var runID: String?
        var kills = 0
        for attempt in 0..<4 where kills < 2 {
            let process = try workspace.start(["--store", store] + (runID.map { ["resume", $0] } ?? recipe))
            _ = waitFor(120, every: 0.002) {
                !process.process.isRunning || Reliability.committedEpochs(process.stderrSoFar).count >= 2 + attempt
            }
            let wasRunning = process.process.isRunning
            if wasRunning { kill(process.process.processIdentifier, SIGKILL) }
            let result = process.wait()
            if wasRunning { kills += 1 }
            if runID == nil, let line = result.stderr.split(separator: "\n").first(where: { $0.hasPrefix("training run ") }) {
                runID = String(line.split(separator: " ")[2])
            }
            if !wasRunning { break }
        }
        XCTAssertGreaterThanOrEqual(kills, 1, "the run should have been killed mid-training")
        let run = try XCTUnwrap(runID)
        let finish = try workspace.run(["--store", store, "resume", run])
        XCTAssertTrue(finish.status == 0 || finish.stderr.contains("stopped early at epoch \(referenceLast)"), finish.stderr)

        let crashed = try Store(path: store, readOnly: true), uninterrupted = try Store(path: referenceStore, readOnly: true)
        let crashedRun = try crashed.resolveRun(run).id
        XCTAssertEqual(try crashed.latestEpoch(runID: crashedRun), referenceLast)
        for epoch in 0...referenceLast {
            let a = try uninterrupted.loadCheckpoint(runID: referenceRun, epoch: epoch)
            let b = try crashed.loadCheckpoint(runID: crashedRun, epoch: epoch)
            XCTAssertEqual(a.tensors, b.tensors, "epoch \(epoch)")
            XCTAssertEqual(a.rngState, b.rngState, "epoch \(epoch)")
            XCTAssertEqual(a.optimizerState, b.optimizerState, "epoch \(epoch)")
            XCTAssertEqual(a.metrics["early_stop.best_epoch"], b.metrics["early_stop.best_epoch"], "epoch \(epoch)")
        }
        XCTAssertTrue(try crashed.loadCheckpoint(runID: crashedRun, epoch: referenceLast).optimizerState.contains("\"patience\""))
        XCTAssertEqual(try crashed.run(id: crashedRun).status, .completed)
    }

    /// Without the new options a run's configuration has none of their keys (so runs from
    /// before them decode and digest as they did); given to resume, each makes a fork that
    /// records it, and a replay of the fork's epoch reproduces it.
    func testConfigKeysOnlyWhenSetAndResumeOverridesFork() throws {
        let workspace = try Workspace()
        let plain = try workspace.train(["--validation-split", "0.2"], epochs: 1)
        let text = try Store(path: workspace.store, readOnly: true).run(id: plain).config
        for key in ["dropout", "earlyStopping", "weightDecay", "patience"] { XCTAssertFalse(text.contains(key), "\(key) in \(text)") }
        let zero = try workspace.train(["--validation-split", "0.2", "--dropout", "0", "--weight-decay", "0"], epochs: 1)
        let zeroText = try Store(path: workspace.store, readOnly: true).run(id: zero).config
        XCTAssertFalse(zeroText.contains("dropout") || zeroText.contains("weightDecay"), zeroText)

        let fork = try XCTUnwrap(try workspace.ok(["resume", plain, "--epochs", "2", "--dropout", "0.25", "--weight-decay", "0.01",
                                                  "--patience", "4", "--monitor", "val_accuracy", "--min-delta", "0.01"]).lastLine)
        XCTAssertNotEqual(fork, plain)
        let training = try XCTUnwrap((try workspace.show(fork)["config"] as? [String: Any])?["training"] as? [String: Any])
        XCTAssertEqual(training["dropout"] as? Double, 0.25)
        XCTAssertEqual((training["optimizer"] as? [String: Any])?["weight_decay"] as? Double, 0.01)
        let rule = try XCTUnwrap(training["early_stopping"] as? [String: Any])
        XCTAssertEqual(rule["patience"] as? Int, 4)
        XCTAssertEqual(rule["monitor"] as? String, "val_accuracy")
        XCTAssertEqual(rule["min_delta"] as? Double, 0.01)
        XCTAssertTrue(try workspace.ok(["show", fork]).stdout.contains("regularize dropout 0.25  early stopping on val_accuracy, patience 4, min delta 0.01"))
        let replay = try workspace.ok(["verify", "--replay", "\(fork)@2"])
        XCTAssertTrue(replay.stdout.contains("reproduced"), replay.stdout)
        try workspace.ok(["verify"])
    }

    /// One and two full-batch steps from imported weights, with weight decay, for sgd,
    /// momentum and adam (AdamW), against Tests/interop/check_weight_decay.py's numpy
    /// implementation of PyTorch's update rules.
    func testWeightDecayMatchesNumpy() throws {
        let workspace = try Workspace()
        _ = try Python.requireVenv()
        var random = SplitMix64(seed: 5)
        var lines = ["a,b,c,d,label"]
        for row in 0..<24 {
            let values = (0..<4).map { _ in String(format: "%.3f", Double(random.next() % 4000) / 1000 - 2) }
            lines.append((values + ["\(row % 3)"]).joined(separator: ","))
        }
        let data = try workspace.write("wd.csv", lines.joined(separator: "\n") + "\n")
        let seedRun = try workspace.train(["--normalize", "none", "--seed", "3"], data: data, layers: "5,3", epochs: 0)
        try workspace.ok(["export", "\(seedRun)@0", "--format", "safetensors", "--output", workspace.path("init.safetensors")])
        try workspace.ok(["export", "\(seedRun)@0", "--format", "npz", "--output", workspace.path("init.npz")])
        try workspace.ok(["import", workspace.path("init.safetensors"), "--name", "init"])
        var runs: [String] = []
        for optimizer in ["sgd", "momentum", "adam"] {
            let run = try workspace.train(["--init", "init", "--full-batch", "--optimizer", optimizer, "--learning-rate", "0.1",
                                           "--weight-decay", "0.05", "--normalize", "none"], data: data, layers: "5,3", epochs: 2)
            for epoch in [1, 2] {
                try workspace.ok(["export", "\(run)@\(epoch)", "--format", "npz", "--output", workspace.path("\(optimizer)-\(epoch).npz")])
            }
            runs.append("\(optimizer)=\(workspace.path("\(optimizer)-1.npz")),\(workspace.path("\(optimizer)-2.npz"))")
        }
        try Python.run("check_weight_decay.py", [data, workspace.path("init.npz"), "0.1", "0.05", "0.9"] + runs)
    }
}

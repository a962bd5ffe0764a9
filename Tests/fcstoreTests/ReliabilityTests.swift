import Foundation
import XCTest
@testable import FCStorage

/// Fast versions of the reliability campaigns in Tests/reliability (crash,
/// concurrency, resources, divergence), run against the built binary.
final class ReliabilityTests: XCTestCase {
    /// XCTest makes a new instance for every test, so every test has its own folder.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fcstore-cli-\(UUID().uuidString)")

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        chmod(directory.path, 0o777)
    }

    override func tearDownWithError() throws {
        chmod(directory.path, 0o755)
        try? FileManager.default.removeItem(at: directory)
    }

    private var store: String { directory.appendingPathComponent("store.db").path }

    private func trainArguments(_ data: String, epochs: Int) -> [String] {
        ["train", "--data", data, "--layers", "256,256,10", "--optimizer", "adam", "--batch-size", "64",
         "--epochs", "\(epochs)", "--seed", "5"]
    }

    // MARK: Crash

    /// SIGKILL at random instants; after each kill the store verifies, every
    /// epoch reported committed loads, and resuming ends bit-identical (every
    /// tensor of every epoch, Adam moments included) to an uninterrupted run.
    func testSIGKILLLosesNoReportedEpochAndResumeIsBitIdentical() throws {
        let data = try Reliability.digits(rows: 128, in: directory)
        let epochs = 16
        let referenceStore = directory.appendingPathComponent("reference.db").path
        let reference = try Reliability.run(["--store", referenceStore] + trainArguments(data, epochs: epochs), in: directory)
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let referenceRun = reference.stdout.split(separator: "\n").last.map(String.init) ?? ""

        var random = SplitMix64(seed: 42)
        var runID: String?
        var reported = Set<Int>()
        var kills = 0
        for _ in 0..<12 where kills < 4 {
            let arguments = runID.map { ["resume", $0] } ?? trainArguments(data, epochs: epochs)
            let process = try CLI.start(["--store", store] + arguments, in: directory)
            let target = Int.random(in: 0...1, using: &random)
            _ = waitFor(60, every: 0.002) {
                !process.process.isRunning || Reliability.committedEpochs(process.stderrSoFar).count > target
            }
            usleep(UInt32.random(in: 0...60_000, using: &random))
            let wasRunning = process.process.isRunning
            if wasRunning { kill(process.process.processIdentifier, SIGKILL) }
            let result = process.wait()
            if wasRunning {
                kills += 1
                XCTAssertEqual(result.status, SIGKILL, "killed process status \(result.status)")
            } else if !result.stderr.contains("is already at epoch \(epochs)") {
                // (A kill after the last commit leaves nothing to resume: that is fine.)
                XCTAssertEqual(result.status, 0, result.stderr)
            }
            if runID == nil, let line = result.stderr.split(separator: "\n").first(where: { $0.hasPrefix("training run ") }) {
                runID = String(line.split(separator: " ")[2])
            }
            reported.formUnion(Reliability.committedEpochs(result.stderr))
            let verify = try Reliability.run(["--store", store, "verify"], in: directory)
            XCTAssertEqual(verify.status, 0, "after kill \(kills): \(verify.stdout) \(verify.stderr)")
            guard let runID else { continue }
            let listed = try XCTUnwrap(Reliability.listedEpochs(store, run: runID, in: directory))
            XCTAssertTrue(reported.isSubset(of: Set(listed)), "reported \(reported.sorted()) but listed \(listed)")
            if let last = reported.max() {
                XCTAssertEqual(try Reliability.run(["--store", store, "show", "\(runID)@\(last)"], in: directory).status, 0)
            }
            if listed.last == epochs { break }
        }
        XCTAssertGreaterThanOrEqual(kills, 3)
        let runPrefix = try XCTUnwrap(runID)
        let finish = try Reliability.run(["--store", store, "resume", runPrefix], in: directory)
        XCTAssertTrue(finish.status == 0 || finish.stderr.contains("already at epoch \(epochs)"), finish.stderr)

        let crashed = try Store(path: store, readOnly: true)
        let uninterrupted = try Store(path: referenceStore, readOnly: true)
        let crashedRun = try crashed.resolveRun(runPrefix).id
        for epoch in 0...epochs {
            let a = try uninterrupted.loadCheckpoint(runID: referenceRun, epoch: epoch)
            let b = try crashed.loadCheckpoint(runID: crashedRun, epoch: epoch)
            XCTAssertEqual(a.tensors, b.tensors, "epoch \(epoch) differs from the uninterrupted run")
            XCTAssertEqual(a.rngState, b.rngState, "epoch \(epoch)")
            XCTAssertEqual(a.optimizerState, b.optimizerState, "epoch \(epoch)")
        }
    }

    // MARK: Concurrency

    /// Readers in a loop for ~5 s while a training process commits: no reader
    /// fails, and every epoch `show --json` lists loads.
    func testReadersWhileTrainingSeeOnlyWholeCheckpoints() throws {
        let data = try Reliability.digits(rows: 256, in: directory)
        // More epochs than 5 s can train (about 400 here), so the SIGINT below always finds it training.
        let training = try CLI.start(["--store", store] + trainArguments(data, epochs: 100_000), in: directory)
        XCTAssertTrue(waitFor(60, every: 0.002) { Reliability.committedEpochs(training.stderrSoFar).count >= 2 })
        let run = try XCTUnwrap(training.stderrSoFar.split(separator: "\n").first { $0.hasPrefix("training run ") }?
            .split(separator: " ")[2]).description
        let export = directory.appendingPathComponent("model.npz").path
        var reads = 0, errors: [String] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, training.process.isRunning {
            let epochs = try Reliability.listedEpochs(store, run: run, in: directory) ?? []
            let last = epochs.last ?? 0
            for arguments in [["runs", "--json"], ["show", "\(run)@\(last)"], ["diff", "\(run)@0", "\(run)@\(last)", "--json"],
                              ["export", "\(run)@\(last)", "--format", "npz", "--output", export]] {
                try? FileManager.default.removeItem(atPath: export)
                let outcome = try Reliability.run(["--store", store] + arguments, in: directory)
                reads += 1
                if outcome.status != 0 { errors.append("\(arguments.joined(separator: " ")): \(outcome.stderr)") }
            }
        }
        kill(training.process.processIdentifier, SIGINT)
        let result = training.wait()
        XCTAssertEqual(result.status, 130, result.stderr)
        XCTAssertEqual(errors, [], "\(errors.count) of \(reads) reads failed")
        XCTAssertGreaterThan(reads, 8)
        XCTAssertEqual(try Reliability.run(["--store", store, "verify"], in: directory).status, 0)
    }

    /// Two `train` processes on one store both finish, and the store verifies.
    func testTwoTrainingProcessesShareAStore() throws {
        let data = try Reliability.digits(rows: 128, in: directory)
        let first = try CLI.start(["--store", store] + trainArguments(data, epochs: 6), in: directory)
        let second = try CLI.start(["--store", store] + trainArguments(data, epochs: 6) + ["--seed", "6"], in: directory)
        let results = [first.wait(), second.wait()]
        for result in results { XCTAssertEqual(result.status, 0, result.stderr) }
        XCTAssertEqual(try Reliability.run(["--store", store, "verify"], in: directory).status, 0)
    }

    /// Two `resume` of the same interrupted run at once: one trains, the other
    /// refuses with one line naming the owner; the run completes once.
    func testTwoResumesOfOneRunOnlyOneTrains() throws {
        let data = try Reliability.digits(rows: 256, in: directory)
        let training = try CLI.start(["--store", store] + trainArguments(data, epochs: 30), in: directory)
        XCTAssertTrue(waitFor(60, every: 0.002) { Reliability.committedEpochs(training.stderrSoFar).count >= 2 })
        kill(training.process.processIdentifier, SIGKILL)
        let killed = training.wait()
        let run = try XCTUnwrap(killed.stderr.split(separator: "\n").first { $0.hasPrefix("training run ") }?
            .split(separator: " ")[2]).description
        let a = try CLI.start(["--store", store, "resume", run], in: directory)
        let b = try CLI.start(["--store", store, "resume", run], in: directory)
        let results = [a.wait(), b.wait()]
        let succeeded = results.filter { $0.status == 0 }
        let refused = results.filter { $0.status != 0 }
        XCTAssertEqual(succeeded.count, 1, results.map(\.stderr).joined(separator: "\n---\n"))
        XCTAssertEqual(refused.count, 1)
        if let refusal = refused.first {
            XCTAssertEqual(refusal.status, 1)
            let lines = refusal.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, refusal.stderr)
            XCTAssertTrue(refusal.stderr.contains("is being trained by another process"), refusal.stderr)
        }
        XCTAssertEqual(try Reliability.run(["--store", store, "verify"], in: directory).status, 0)
        XCTAssertEqual(try Reliability.listedEpochs(store, run: run, in: directory), Array(0...30))
        let runs = try Reliability.run(["--store", store, "runs", "--json"], in: directory)
        XCTAssertFalse(runs.stdout.contains("\"parent\" : {"), "a resume forked instead of refusing: \(runs.stdout)")
    }

    // MARK: Resources

    /// A file-size limit hit while a checkpoint is written (the CI-portable
    /// stand-in for a full disk; Tests/reliability/resources.py uses a real
    /// tmpfs): not killed by SIGXFSZ (the shell leaves it at its default), one
    /// error line naming the limit, exit 1, earlier epochs intact and loadable.
    func testDiskLimitDuringCheckpointKeepsEarlierEpochs() throws {
        let data = try Reliability.digits(rows: 200, in: directory)
        let wrapper = ["/bin/sh", "-c", "ulimit -f 8000; exec \"$0\" \"$@\""]
        let outcome = try Reliability.run(["--store", store, "train", "--data", data, "--layers", "256,10", "--epochs", "60"],
                                          in: directory, wrapper: wrapper)
        let committed = Reliability.committedEpochs(outcome.stderr)
        XCTAssertEqual(outcome.status, 1, outcome.stderr)
        XCTAssertFalse(outcome.signalled)
        XCTAssertEqual(outcome.stderrLines.filter { $0.hasPrefix("error: ") }.count, 1, outcome.stderr)
        XCTAssertTrue(outcome.stderrLines.last?.hasPrefix(
            "error: The store could not grow: this process may not write files past its size limit (ulimit -f)") ?? false,
            outcome.stderr)
        XCTAssertFalse(committed.isEmpty, "expected some epochs before the limit: \(outcome.stderr)")
        XCTAssertLessThan(committed.count, 61)
        XCTAssertEqual(try Reliability.run(["--store", store, "verify"], in: directory).status, 0)
        let run = try XCTUnwrap(outcome.stderr.split(separator: "\n").first { $0.hasPrefix("training run ") }?
            .split(separator: " ")[2]).description
        for epoch in committed {
            XCTAssertEqual(try Reliability.run(["--store", store, "show", "\(run)@\(epoch)"], in: directory).status, 0)
        }
    }

    /// A store the user cannot write (file 0444; a folder without write
    /// permission) is readable, and writes are refused in one line.
    func testReadOnlyStoreIsReadableAndRefusesWrites() throws {
        let data = try Reliability.digits(rows: 64, in: directory)
        let folder = directory.appendingPathComponent("ro")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("store.db").path
        let trained = try Reliability.run(["--store", path, "train", "--data", data, "--layers", "8,10", "--epochs", "2"], in: directory)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        _ = try Reliability.run(["--store", path, "runs"], in: directory)  // checkpoints the WAL away
        let run = String(trained.stdout.split(separator: "\n").last ?? "").prefix(8)
        // Root ignores file permissions: run the binary as nobody when we are root.
        var wrapper: [String] = []
        if getuid() == 0 {
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { throw XCTSkip("root without setpriv") }
            wrapper = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        }
        chmod(path, 0o444)
        for folderMode in [mode_t(0o777), 0o555] {
            chmod(folder.path, folderMode)
            defer { chmod(folder.path, 0o755) }
            let before = try Reliability.fingerprint(path, in: directory)
            let label = "folder \(String(folderMode, radix: 8))"
            for arguments in [["runs"], ["show", String(run)], ["show", "\(run)@1", "--json"], ["verify"]] {
                let outcome = try Reliability.run(["--store", path] + arguments, in: directory, wrapper: wrapper)
                XCTAssertEqual(outcome.status, 0, "\(label) \(arguments): \(outcome.stderr)")
            }
            let train = try Reliability.run(["--store", path, "train", "--data", data, "--layers", "8,10", "--epochs", "1"],
                                            in: directory, wrapper: wrapper)
            Reliability.assertRefused(train, "\(label) train")
            XCTAssertTrue(train.stderr.contains("read-only"), train.stderr)
            Reliability.assertRefused(try Reliability.run(["--store", path, "rm", String(run)], in: directory, wrapper: wrapper),
                                      "\(label) rm")
            XCTAssertEqual(try Reliability.fingerprint(path, in: directory), before, label)
        }
    }

    /// A folder or a file that is not a store is refused in one line.
    func testNotAStoreIsRefusedInOneLine() throws {
        let folder = directory.appendingPathComponent("folder.db")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let text = directory.appendingPathComponent("notes.db")
        try "hello\n".write(to: text, atomically: true, encoding: .utf8)
        let data = try Reliability.digits(rows: 16, in: directory)
        for path in [folder.path, text.path] {
            for arguments in [["runs"], ["train", "--data", data, "--layers", "4,10", "--epochs", "1"]] {
                let outcome = try Reliability.run(["--store", path] + arguments, in: directory)
                Reliability.assertRefused(outcome, "\(path) \(arguments[0])")
                XCTAssertTrue(outcome.stderr.contains(path == folder.path ? "is a folder" : "is not an fcstore store"), outcome.stderr)
            }
        }
        XCTAssertEqual(try String(contentsOf: text, encoding: .utf8), "hello\n")
    }

    // MARK: Divergence

    /// A learning rate that overflows stops the run as diverged (exit 3) and
    /// keeps the last finite epoch intact and loadable.
    func testDivergenceStopsWithExit3AndKeepsLastFiniteEpoch() throws {
        let csv = directory.appendingPathComponent("regression.csv").path
        var text = "x1,x2,y\n"
        for i in 0..<64 { text += "\(i % 7),\(i % 5),\(Double(i) * 3.5)\n" }
        try text.write(toFile: csv, atomically: true, encoding: .utf8)
        let outcome = try Reliability.run(["--store", store, "train", "--data", csv, "--layers", "16,1", "--loss", "mse",
                                           "--activation", "relu", "--learning-rate", "1e6", "--epochs", "20"], in: directory)
        XCTAssertEqual(outcome.status, 3, outcome.stderr)
        XCTAssertTrue(outcome.stderr.contains("diverged"), outcome.stderr)
        let run = String(outcome.stdout.split(separator: "\n").last ?? "")
        let shown = try Reliability.run(["--store", store, "runs", "--json"], in: directory)
        XCTAssertTrue(shown.stdout.contains("\"diverged\""), shown.stdout)
        let epochs = try XCTUnwrap(Reliability.listedEpochs(store, run: run, in: directory))
        let last = try XCTUnwrap(epochs.last)
        XCTAssertEqual(try Reliability.run(["--store", store, "show", "\(run.prefix(8))@\(last)"], in: directory).status, 0)
        let checkpoint = try Store(path: store, readOnly: true).loadCheckpoint(runID: run, epoch: last)
        XCTAssertTrue(checkpoint.tensors.allSatisfy { $0.value.values.allSatisfy(\.isFinite) }, "epoch \(last) is not finite")
        XCTAssertEqual(try Reliability.run(["--store", store, "verify"], in: directory).status, 0)
    }
}

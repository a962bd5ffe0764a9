import Foundation
import XCTest

/// Issue #18: resume on any machine. Two stores in different folders stand in for two
/// machines (a bundle carries the run between them, in place of push / pull), and the
/// data moves to another path in between.
final class ResumeAnywhereCLITests: XCTestCase {
    /// iris split into a training file (120 rows) and a validation file (30 rows) in `workspace`.
    private func irisFiles(in workspace: Workspace, prefix: String = "") throws -> (train: String, validation: String) {
        let lines = try String(contentsOfFile: CLI.iris, encoding: .utf8).split(separator: "\n").map(String.init)
        let train = try workspace.write(prefix + "train.csv", ([lines[0]] + lines[1...120]).joined(separator: "\n") + "\n")
        let validation = try workspace.write(prefix + "val.csv", ([lines[0]] + lines[121...]).joined(separator: "\n") + "\n")
        return (train, validation)
    }

    private func segments(_ workspace: Workspace, _ ref: String) throws -> [[String: Any]] {
        try XCTUnwrap(try workspace.show(ref)["segments"] as? [[String: Any]])
    }

    func testResumeOnAnotherMachineWithMovedDataEqualsAnUninterruptedRun() throws {
        let a = try Workspace(), b = try Workspace()
        let files = try irisFiles(in: a)
        let common = ["--validation", files.validation, "--seed", "3", "--batch-size", "16"]
        _ = try a.train(common + ["--name", "moving"], data: files.train, layers: "5,3", epochs: 5)
        _ = try a.train(common + ["--name", "straight"], data: files.train, layers: "5,3", epochs: 10)
        try a.ok(["export", "moving", "--format", "bundle", "--output", "moving.fcbundle"])

        // Machine B: the bundle, and the data at other paths; A's files are gone.
        try FileManager.default.createDirectory(atPath: b.path("data"), withIntermediateDirectories: true)
        let movedTrain = b.path("data/train-copy.csv"), movedValidation = b.path("data/val-copy.csv")
        try FileManager.default.moveItem(atPath: files.train, toPath: movedTrain)
        try FileManager.default.moveItem(atPath: files.validation, toPath: movedValidation)
        try FileManager.default.copyItem(atPath: a.path("moving.fcbundle"), toPath: b.path("moving.fcbundle"))
        try b.ok(["import", "moving.fcbundle"])
        try b.ok(["resume", "moving", "--epochs", "10", "--data", movedTrain, "--validation", movedValidation])

        // show records where each segment read its data.
        let shown = try segments(b, "moving")
        XCTAssertEqual(shown.map { $0["first_epoch"] as? Int }, [0, 6])
        XCTAssertEqual(shown.map { $0["last_epoch"] as? Int }, [5, 10])
        XCTAssertEqual(shown.map { $0["data"] as? String }, [files.train, movedTrain])
        XCTAssertEqual(shown.map { $0["validation"] as? String }, [files.validation, movedValidation])
        XCTAssertEqual(Set(shown.compactMap { $0["data_fingerprint"] as? String }).count, 1)
        let text = try b.ok(["show", "moving"]).stdout
        XCTAssertTrue(text.contains("epochs 6-10  host "), text)
        XCTAssertTrue(text.contains("data \(movedTrain)  validation \(movedValidation)"), text)

        // B@10 back on A (the bundle extends A's run), compared with the uninterrupted run.
        try b.ok(["export", "moving", "--format", "bundle", "--output", "back.fcbundle"])
        try FileManager.default.copyItem(atPath: b.path("back.fcbundle"), toPath: a.path("back.fcbundle"))
        try a.ok(["import", "back.fcbundle"])
        try a.assertIdentical("moving@10", "straight@10")
        XCTAssertEqual(try segments(a, "moving").map { $0["data"] as? String }, [files.train, movedTrain])
        try a.ok(["verify"])
    }

    /// The same with a copied store file in place of a bundle: its recorded paths are gone,
    /// and the moved copies are named.
    func testResumeInACopiedStoreWithMovedDataEqualsAnUninterruptedRun() throws {
        let a = try Workspace(), b = try Workspace()
        let files = try irisFiles(in: a)
        let common = ["--validation", files.validation, "--seed", "4", "--batch-size", "8"]
        _ = try a.train(common + ["--name", "moving"], data: files.train, layers: "6,3", epochs: 5)
        _ = try a.train(common + ["--name", "straight"], data: files.train, layers: "6,3", epochs: 10)
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: a.store + suffix) {
            try FileManager.default.copyItem(atPath: a.store + suffix, toPath: b.store + suffix)
        }
        let movedTrain = b.path("t.csv"), movedValidation = b.path("v.csv")
        try FileManager.default.moveItem(atPath: files.train, toPath: movedTrain)
        try FileManager.default.moveItem(atPath: files.validation, toPath: movedValidation)
        let short = try XCTUnwrap((try b.show("moving")["id"] as? String)?.prefix(8))
        assertError(try b.run(["resume", "moving", "--epochs", "10", "--data", movedTrain]),
                    "\(files.validation) does not exist: it is where run \(short)'s validation file was recorded. If the file has moved, pass the copy with --validation FILE.",
                    status: 1)
        try b.ok(["resume", "moving", "--epochs", "10", "--data", movedTrain, "--validation", movedValidation])
        try b.assertIdentical("moving@10", "straight@10")
        XCTAssertEqual(try segments(b, "moving").map { $0["validation"] as? String }, [files.validation, movedValidation])
    }

    /// The user's report: trained with --validation, files moved, resumed with --data only.
    func testAMissingFileNamesTheOptionThatSetsIt() throws {
        let workspace = try Workspace()
        let files = try irisFiles(in: workspace)
        let id = try workspace.train(["--validation", files.validation, "--name", "kept"], data: files.train, layers: "4,3", epochs: 2)
        let short = String(id.prefix(8))
        let movedTrain = workspace.path("moved-train.csv"), movedValidation = workspace.path("moved-val.csv")
        try FileManager.default.moveItem(atPath: files.train, toPath: movedTrain)
        try FileManager.default.moveItem(atPath: files.validation, toPath: movedValidation)

        assertError(try workspace.run(["resume", "kept", "--epochs", "3", "--data", movedTrain]),
                    "\(files.validation) does not exist: it is where run \(short)'s validation file was recorded. If the file has moved, pass the copy with --validation FILE.",
                    status: 1)
        assertError(try workspace.run(["resume", "kept", "--epochs", "3"]),
                    "\(files.train) does not exist: it is where run \(short)'s training data was recorded. If the file has moved, pass the copy with --data FILE.",
                    status: 1)
        assertError(try workspace.run(["resume", "kept", "--epochs", "3", "--data", movedTrain, "--validation", "nope.csv"]),
                    "nope.csv does not exist; check the path given with --validation.", status: 1)
        assertError(try workspace.run(["resume", "kept", "--epochs", "3", "--data", movedTrain, "--labels", movedValidation]),
                    "Run \(short)'s training data is a CSV file, which has no separate label file; leave out --labels.", status: 1)
        assertError(try workspace.run(["train", "--data", movedTrain, "--validation", "nope.csv", "--layers", "3"]),
                    "nope.csv does not exist; check the path given with --validation.", status: 1)
        XCTAssertEqual(try workspace.digests("kept").keys.sorted(), [0, 1, 2], "a refused resume adds no epoch")
        try workspace.ok(["resume", "kept", "--epochs", "3", "--data", movedTrain, "--validation", movedValidation])
    }

    func testDifferentDataIsRefusedNamingTheFileThatDiffers() throws {
        let workspace = try Workspace()
        let files = try irisFiles(in: workspace)
        let id = try workspace.train(["--validation", files.validation], data: files.train, layers: "4,3", epochs: 1)
        let short = String(id.prefix(8))
        assertError(try workspace.run(["resume", id, "--epochs", "2", "--data", files.validation]),
                    "\(files.validation) is not the data run \(short) was trained on (its fingerprint differs); pass the original file with --data, or start a new run with 'fcstore train --init \(short)'.",
                    status: 1)
        assertError(try workspace.run(["resume", id, "--epochs", "2", "--validation", files.train]),
                    "\(files.train) is not the validation file run \(short) was trained on (its fingerprint differs); pass the original file with --validation, or start a new run with 'fcstore train --init \(short)'.",
                    status: 1)

        // IDX: images and labels are two files; a moved copy with other labels names the label file.
        let rows = try String(contentsOfFile: CLI.digits, encoding: .utf8).split(whereSeparator: \.isNewline).dropFirst().prefix(100)
        var images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, UInt8(rows.count), 0, 0, 0, 8, 0, 0, 0, 8]
        var labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, UInt8(rows.count)]
        for row in rows {
            let cells = row.split(separator: ",").compactMap { UInt8($0) }
            images += cells.prefix(64)
            labels.append(cells[64])
        }
        try Data(images).write(to: URL(fileURLWithPath: workspace.path("train-images-idx3-ubyte")))
        try Data(labels).write(to: URL(fileURLWithPath: workspace.path("train-labels-idx1-ubyte")))
        var shuffled = labels
        shuffled.swapAt(8, 9)
        XCTAssertNotEqual(shuffled, labels)
        try Data(shuffled).write(to: URL(fileURLWithPath: workspace.path("other-labels")))
        try Data(labels).write(to: URL(fileURLWithPath: workspace.path("same-labels")))
        var otherImages = images
        otherImages[20] ^= 1
        try Data(otherImages).write(to: URL(fileURLWithPath: workspace.path("other-images")))
        let idx = try workspace.train(data: workspace.path("train-images-idx3-ubyte"), layers: "10", epochs: 1)
        let idxShort = String(idx.prefix(8))
        assertError(try workspace.run(["resume", idx, "--epochs", "2", "--labels", workspace.path("other-labels")]),
                    "\(workspace.path("other-labels")) is not the label file run \(idxShort) was trained on (its fingerprint differs); pass the original file with --labels, or start a new run with 'fcstore train --init \(idxShort)'.",
                    status: 1)
        assertError(try workspace.run(["resume", idx, "--epochs", "2", "--data", workspace.path("other-images"),
                                       "--labels", workspace.path("same-labels")]),
                    "\(workspace.path("other-images")) is not the data run \(idxShort) was trained on (its fingerprint differs); pass the original file with --data, or start a new run with 'fcstore train --init \(idxShort)'.",
                    status: 1)
        assertError(try workspace.run(["resume", idx, "--epochs", "2", "--labels", workspace.path("missing-labels")]),
                    "\(workspace.path("missing-labels")) does not exist; check the path given with --labels.", status: 1)
        try workspace.ok(["resume", idx, "--epochs", "2", "--data", workspace.path("train-images-idx3-ubyte"),
                          "--labels", workspace.path("same-labels")])
        XCTAssertEqual(try segments(workspace, idx).last?["labels"] as? String, workspace.path("same-labels"))
    }

    /// A resume under another OpenBLAS thread count says in one line that bit-exactness no
    /// longer holds; `verify --replay` replays each epoch under its segment's thread count,
    /// and names the setting it cannot restore (the OpenBLAS core).
    func testTheEngineSettingTravelsWithTheRun() throws {
        let workspace = try Workspace()
        func run(_ arguments: [String], threads: Int, core: String? = nil) throws -> CLIResult {
            var environment = ["OPENBLAS_NUM_THREADS": "\(threads)"]
            if let core { environment["OPENBLAS_CORETYPE"] = core }
            return try CLI.run(arguments, in: workspace.directory, environment: environment)
        }
        // Batches of 512 rows are split over the threads: the thread count changes the bits.
        let train = ["train", "--data", CLI.digits, "--layers", "32,10", "--batch-size", "512", "--epochs", "3"]
        XCTAssertEqual(try run(train + ["--name", "moved"], threads: 2).status, 0)
        XCTAssertEqual(try run(["resume", "moved", "--epochs", "6"], threads: 2).status, 0)
        XCTAssertEqual(try run(Array(train.dropLast()) + ["6", "--name", "straight"], threads: 2).status, 0)
        let shown = try workspace.show("moved")
        let core = try XCTUnwrap((shown["config"] as? [String: Any])?["blas_core"] as? String)
        let short = try XCTUnwrap((shown["id"] as? String)?.prefix(8))

        // Back to epoch 3 in a fork trained with one thread: one warning line.
        let fork = try run(["resume", "moved@3", "--epochs", "6", "--fork", "--name", "single"], threads: 1)
        XCTAssertEqual(fork.status, 0, fork.stderr)
        XCTAssertEqual(fork.stderrLines.filter { $0.hasPrefix("warning:") }, [
            "warning: \(short)@3 was trained with fcstore 0.2.0, OpenBLAS core \(core), 2 threads; this resume runs with OpenBLAS threads 2 -> 1 (set OPENBLAS_NUM_THREADS=2 to keep them), so bit-exactness against the earlier segments no longer holds.",
        ])
        let differ = try workspace.diff("single@6", "moved@6")
        XCTAssertEqual(differ["identical"] as? Bool, false, "the thread count changes the bits of these epochs")
        try workspace.assertIdentical("moved@6", "straight@6")
        XCTAssertEqual(try segments(workspace, "single").map { $0["blas_threads"] as? Int }, [2, 1])
        // The same setting again: no warning.
        let again = try run(["resume", "single", "--epochs", "7"], threads: 1)
        XCTAssertEqual(again.stderrLines.filter { $0.hasPrefix("warning:") }, [], again.stderr)

        // Replays under 2 threads of an epoch trained with 1 (and the reverse) reproduce it.
        for (ref, threads) in [("single@5", 2), ("moved@5", 1)] {
            let replay = try run(["verify", "--replay", ref, "--json"], threads: threads)
            XCTAssertEqual(replay.status, 0, replay.stdout + replay.stderr)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as? [String: Any])
            let result = try XCTUnwrap(object["replay"] as? [String: Any])
            XCTAssertEqual(result["identical"] as? Bool, true, replay.stdout)
            XCTAssertEqual(result["changed_settings"] as? [String], [])
        }
        // Another OpenBLAS core cannot be switched to inside a process: the replay names it.
        let other = core == "Prescott" ? "Core2" : "Prescott"
        let replay = try run(["verify", "--replay", "single@5"], threads: 2, core: other)
        XCTAssertEqual(replay.status, 2, replay.stdout + replay.stderr)
        XCTAssertTrue(replay.stdout.contains("epoch 5 was trained with fcstore 0.2.0, OpenBLAS core \(core), 1 thread and this replay ran with fcstore 0.2.0, OpenBLAS core \(other), 1 thread"),
                      replay.stdout)
    }
}

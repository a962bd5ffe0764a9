import Foundation
import XCTest

/// A run from a bundle opens no path the bundle recorded: `resume` asks for the
/// training data (`--data`) and the validation file (`--validation`), and checks
/// each against its recorded fingerprint.
final class MovedDataCLITests: XCTestCase {
    func testResumeOfABundledRunAsksForItsValidationFileAndChecksIt() throws {
        let origin = try Workspace()
        let lines = try String(contentsOfFile: CLI.iris, encoding: .utf8).split(separator: "\n").map(String.init)
        let header = lines[0]
        let train = try origin.write("train.csv", ([header] + lines[1...120]).joined(separator: "\n") + "\n")
        let validation = try origin.write("val.csv", ([header] + lines[121...]).joined(separator: "\n") + "\n")
        let id = try origin.train(["--validation", validation, "--name", "moved"], data: train, layers: "4,3", epochs: 2)
        try origin.ok(["export", id, "--format", "bundle", "--output", "moved.fcbundle"])

        // The other machine: the bundle and copies of the data at other paths.
        let target = try Workspace()
        for name in ["moved.fcbundle", "train.csv", "val.csv"] {
            try FileManager.default.copyItem(atPath: origin.path(name), toPath: target.path("copy-" + name))
        }
        try target.ok(["import", "copy-moved.fcbundle"])
        let movedTrain = target.path("copy-train.csv"), movedValidation = target.path("copy-val.csv")

        let asked = try target.run(["resume", "moved", "--epochs", "3", "--data", movedTrain])
        XCTAssertEqual(asked.status, 1, asked.stderr)
        XCTAssertEqual(asked.stderrLines.count, 1, asked.stderr)
        XCTAssertTrue(asked.stderr.contains("its recorded validation path \(validation) is only a hint, so it is not opened; pass --validation FILE"),
                      asked.stderr)

        // Other data as the validation file: refused, naming that file.
        let wrong = try target.write("wrong.csv", ([header] + lines[1...30]).joined(separator: "\n") + "\n")
        let refused = try target.run(["resume", "moved", "--epochs", "3", "--data", movedTrain, "--validation", wrong])
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains(wrong), refused.stderr)
        XCTAssertEqual(try target.digests("moved").keys.sorted(), [0, 1, 2], "a refused resume adds no epoch")

        // The moved copies: the run continues, and epoch 3 is the one the origin trains.
        try target.ok(["resume", "moved", "--epochs", "3", "--data", movedTrain, "--validation", movedValidation])
        try origin.ok(["resume", "moved", "--epochs", "3"])
        // Digests differ (they cover each machine's commit time); the epoch's metrics,
        // weight and gradient norms included, are the same numbers.
        func metrics(_ workspace: Workspace) throws -> [String: Double] {
            let epochs = try XCTUnwrap(try workspace.show("moved")["epochs"] as? [[String: Any]])
            var found = try XCTUnwrap(epochs.first { $0["epoch"] as? Int == 3 }?["metrics"] as? [String: Double])
            for key in ["wall_time_s", "samples_per_s"] { found[key] = nil }
            return found
        }
        let moved = try metrics(target)
        XCTAssertEqual(moved, try metrics(origin))
        XCTAssertNotNil(moved["val_loss"], "the moved validation file was used")
    }

    func testValidationIsRefusedForARunWithoutAValidationFile() throws {
        let workspace = try Workspace()
        _ = try workspace.train(["--validation-split", "0.2", "--name", "split"], data: CLI.iris, layers: "3", epochs: 1)
        let result = try workspace.run(["resume", "split", "--epochs", "2", "--validation", CLI.iris])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertEqual(result.stderrLines, [
            "error: Run \(try XCTUnwrap(workspace.runs().first?["short_id"] as? String)) has no validation file (its validation set is held out of the training data); leave out --validation.",
        ])
    }
}

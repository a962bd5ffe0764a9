import Foundation
import XCTest

/// Issue 5 through the CLI: export, import, bundles, malformed files, prune/gc, verify.
final class SharingCLITests: XCTestCase {
    /// The first `count` rows of digits (header and label column kept).
    func digitRows(_ workspace: Workspace, count: Int = 40) throws -> String {
        let lines = try String(contentsOfFile: CLI.digits, encoding: .utf8).split(separator: "\n").prefix(count + 1)
        return try workspace.write("rows.csv", lines.joined(separator: "\n") + "\n")
    }

    func testExportsReadInNumpySafetensorsAndONNXRuntime() throws {
        _ = try Python.requireVenv()
        let workspace = try Workspace()
        let id = try workspace.train(["--validation-split", "0.2"], epochs: 3)
        for format in ["json", "safetensors", "npz", "onnx"] {
            let result = try workspace.ok(["export", id, "--format", format, "--output", "model.\(format)"])
            XCTAssertEqual(result.stdout, "")
            XCTAssertEqual(result.stderrLines.count, 1)
            XCTAssertTrue(result.stderr.hasPrefix("wrote model.\(format): \(format), \(id.prefix(8))@3, 64-16-10, "), result.stderr)
        }
        let rows = try digitRows(workspace)
        try workspace.ok(["predict", id, "--data", rows, "--json"]).stdout.write(toFile: workspace.path("predict.json"), atomically: true, encoding: .utf8)
        try Python.run("cli_check_exports.py", [workspace.directory.path])

        // A safetensors file numpy wrote, with the documented layout, imports and predicts as numpy does.
        let imported = try workspace.ok(["import", "from_python.safetensors", "--name", "numpy-model"])
        let importedID = try XCTUnwrap(imported.lastLine)
        XCTAssertEqual(imported.stderrLines, ["imported from_python.safetensors (safetensors, 64-12-10) as run \(importedID.prefix(8)) (numpy-model)"])
        let show = try workspace.show("numpy-model")
        XCTAssertEqual(show["status"] as? String, "imported")
        XCTAssertEqual(show["activations"] as? [String], ["tanh", "softmax"])
        let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: workspace.bytes("from_python.json")) as? [String: Any])["outputs"] as? [[Double]]
        let actual = try workspace.predictions("numpy-model", data: rows)
        XCTAssertEqual(actual.count, try XCTUnwrap(expected).count)
        for (a, e) in zip(actual, try XCTUnwrap(expected)) {
            XCTAssertEqual(a.count, e.count)
            for (x, y) in zip(a, e) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        }
    }

    func testImportOfEachFormatPredictsLikeTheSource() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--normalize", "minmax"], epochs: 2)
        let rows = try digitRows(workspace, count: 25)
        let source = try workspace.predictions(id, data: rows)
        for format in ["safetensors", "npz", "json"] {
            try workspace.ok(["export", "\(id)@2", "--format", format, "--output", "m.\(format)"])
        }
        for format in ["safetensors", "npz", "json"] {
            let imported = try workspace.ok(["import", "m.\(format)", "--name", "from-\(format)"])
            let run = try workspace.run(id: try XCTUnwrap(imported.lastLine))
            XCTAssertEqual(run["status"] as? String, "imported")
            XCTAssertEqual(run["last_epoch"] as? Int, 0)
            XCTAssertEqual(try workspace.predictions("from-\(format)", data: rows), source, format)
            // The import's model exports to the same weights.
            try workspace.ok(["export", "from-\(format)", "--format", "json", "--output", "again-\(format).json"])
            XCTAssertEqual(try layers(workspace, "again-\(format).json"), try layers(workspace, "m.json"), format)
        }
        // The ONNX export is for inference elsewhere; importing it is refused clearly.
        try workspace.ok(["export", id, "--format", "onnx", "--output", "m.onnx"])
        assertError(try workspace.run(["import", "m.onnx"]),
                    "m.onnx looks like an ONNX model; fcstore exports ONNX but imports safetensors, npz, json and bundles.", status: 1)
        // An imported model trains further with --init.
        let trained = try workspace.train(["--init", "from-json"], layers: "16,10", epochs: 1)
        let config = try XCTUnwrap(try workspace.show(trained)["config"] as? [String: Any])
        XCTAssertEqual((config["initialized_from"] as? String)?.hasSuffix("@0"), true, "\(config)")
    }

    /// The weights and normalisation of a JSON export, compared as parsed numbers
    /// (shortest round-trip floats, so equal numbers are equal float32 values).
    func layers(_ workspace: Workspace, _ file: String) throws -> NSDictionary {
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: workspace.bytes(file)) as? [String: Any])
        return ["layers": object["layers"] ?? NSNull(), "normalization": object["normalization"] ?? NSNull(),
                "activations": object["activations"] ?? NSNull()] as NSDictionary
    }

    func testBundleMovesRunsToAnotherStoreAndResumesBitExactly() throws {
        let origin = try Workspace()
        let root = try origin.train(["--name", "root", "--validation-split", "0.2"], epochs: 3)
        let fork = try XCTUnwrap(try origin.ok(["resume", "root@1", "--epochs", "3", "--learning-rate", "0.05"]).lastLine)
        try origin.ok(["export", "root", fork, "--format", "bundle", "--output", "runs.bundle"])

        let target = try Workspace()
        try FileManager.default.copyItem(atPath: origin.path("runs.bundle"), toPath: target.path("runs.bundle"))
        let imported = try target.ok(["import", "runs.bundle"])
        XCTAssertEqual(Set(imported.stdout.split(separator: "\n").map(String.init)), [root, fork])
        XCTAssertTrue(imported.stderr.hasPrefix("imported runs.bundle: 2 runs added, 0 extended, 0 already present; 6 checkpoints and "),
                      imported.stderr)
        // One of each, in the singular.
        let other = try Workspace(), single = try Workspace()
        _ = try other.train(["--name", "single"], epochs: 0)
        try other.ok(["export", "single", "--format", "bundle", "--output", "root.bundle"])
        try FileManager.default.copyItem(atPath: other.path("root.bundle"), toPath: single.path("root.bundle"))
        XCTAssertTrue(try single.ok(["import", "root.bundle"]).stderr
            .hasPrefix("imported root.bundle: 1 run added, 0 extended, 0 already present; 1 checkpoint and "))

        func listing(_ workspace: Workspace) throws -> [[String: String]] {
            try workspace.runs().map { run in
                ["id": "\(run["id"] ?? "")", "name": "\(run["name"] ?? "")", "status": "\(run["status"] ?? "")",
                 "epochs": "\(run["first_epoch"] ?? "")-\(run["last_epoch"] ?? "")/\(run["epochs"] ?? "")",
                 "parent": "\(((run["parent"] as? [String: Any])?["run"]) ?? "")@\(((run["parent"] as? [String: Any])?["epoch"]) ?? "")"]
            }
        }
        XCTAssertEqual(try listing(target), try listing(origin))
        for run in [root, fork] {
            let a = try origin.show(run), b = try target.show(run)
            XCTAssertEqual(try origin.digests(run), try target.digests(run))
            XCTAssertEqual((a["epochs"] as? NSArray), (b["epochs"] as? NSArray), "metrics, digests, flags")
            XCTAssertEqual(a["parent"] as? NSDictionary, b["parent"] as? NSDictionary)
        }
        XCTAssertEqual(try target.run(["verify"]).status, 0)

        // Importing again changes nothing.
        let storeBytes = try target.bytes("fcstore.db")
        let again = try target.ok(["import", "runs.bundle"])
        XCTAssertEqual(again.stdout, "")
        XCTAssertEqual(again.stderrLines, ["nothing to import: the store already holds every run and checkpoint of runs.bundle"])
        XCTAssertEqual(try target.bytes("fcstore.db"), storeBytes)

        // Resuming in either store gives the same weights. The imported run's data
        // path is only a hint: resume opens the data named with --data.
        let hint = try target.run(["resume", "root", "--epochs", "5"])
        XCTAssertEqual(hint.status, 1)
        XCTAssertTrue(hint.stderr.contains("came from a bundle: its recorded data path"), hint.stderr)
        for workspace in [origin, target] {
            try workspace.ok(["resume", "root", "--epochs", "5", "--data", CLI.digits])
            try workspace.ok(["export", "root", "--format", "json", "--output", "resumed.json"])
        }
        XCTAssertEqual(try layers(target, "resumed.json"), try layers(origin, "resumed.json"))
        XCTAssertEqual(try target.digests("root").count, 6)
        // And the resumed imported run equals a fork in that store trained from the same epoch.
        let check = try XCTUnwrap(try target.ok(["resume", "root@3", "--epochs", "5", "--fork", "--data", CLI.digits]).lastLine)
        try target.assertIdentical("root", check)
    }

    func testMalformedFilesAreRefusedAndLeaveTheStoreAsItWas() throws {
        let workspace = try Workspace()
        let id = try workspace.train(epochs: 2)
        try workspace.ok(["export", id, "--format", "safetensors", "--output", "good.safetensors"])
        try workspace.ok(["export", id, "--format", "bundle", "--output", "good.bundle"])
        let safetensors = try workspace.bytes("good.safetensors")
        try safetensors.prefix(safetensors.count - 100).write(to: URL(fileURLWithPath: workspace.path("truncated.safetensors")))
        var random = SystemRandomNumberGenerator()
        // Random bytes after 0xFF, which starts no format fcstore knows.
        try Data([0xFF] + (0..<299).map { _ in UInt8.random(in: 0...255, using: &random) }).write(to: URL(fileURLWithPath: workspace.path("garbage.bin")))
        try workspace.write("short.bin", "abc")
        try workspace.write("broken.json", "{\"format\": \"fcstore-model\", \"layers\": [")

        // Another store's bundle (so every run in it is new here), with one tensor byte flipped.
        let other = try Workspace()
        let foreign = try other.train(["--seed", "9"], epochs: 2)
        try other.ok(["export", foreign, "--format", "bundle", "--output", "flipped.bundle"])
        try SQLite.flipBlobByte(in: other.path("flipped.bundle"), where: "t.layer = 1 AND t.role = 'weight'")
        try FileManager.default.copyItem(atPath: other.path("flipped.bundle"), toPath: workspace.path("flipped.bundle"))

        let runsBefore = try workspace.runs()
        let bytesBefore = try workspace.bytes("fcstore.db")
        let cases: [(String, (String) -> Bool)] = [
            ("garbage.bin", { $0 == "garbage.bin is not a model file or bundle (binary data of no known kind); fcstore imports safetensors, npz and json models and bundles." }),
            ("truncated.safetensors", { $0.contains("truncated") }),
            ("short.bin", { $0 == "short.bin is not a model file or bundle (looks like text); fcstore imports safetensors, npz and json models and bundles." }),
            ("broken.json", { $0 == "The JSON model is not valid JSON: unexpected end of JSON (line 1, column 40)." }),
            ("flipped.bundle", { $0.hasPrefix("The bundle flipped.bundle was refused: ") && $0.hasSuffix(". Nothing was imported.") }),
            ("missing.safetensors", { $0 == "missing.safetensors does not exist." }),
        ]
        for (file, check) in cases {
            let result = try workspace.run(["import", file])
            XCTAssertEqual(result.status, 1, file)
            XCTAssertEqual(result.stdout, "", file)
            XCTAssertEqual(result.stderrLines.count, 1, "\(file): \(result.stderr)")
            let line = result.stderrLines.first ?? ""
            XCTAssertTrue(line.hasPrefix("error: ") && check(String(line.dropFirst(7))), "\(file): \(line)")
            XCTAssertEqual(try workspace.runs().map { $0["id"] as? String }, runsBefore.map { $0["id"] as? String }, file)
            XCTAssertEqual(try workspace.bytes("fcstore.db"), bytesBefore, "\(file) left the store file unchanged")
        }
        // The untouched bundle of the same store: nothing to import.
        XCTAssertEqual(try workspace.ok(["import", "good.bundle"]).stderrLines.first,
                       "nothing to import: the store already holds every run and checkpoint of good.bundle")
    }

    func testPruneGCVerifyAndWhatPrunedEpochsStillShow() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--validation-split", "0.2"], epochs: 5)
        let short = String(id.prefix(8))
        let digestsBefore = try workspace.digests(id)
        let pruned = try workspace.ok(["prune", short, "--keep-last", "2"])
        XCTAssertTrue(pruned.stdout.hasPrefix("\(short): pruned epochs 1-3; kept 0, 4-5; up to "), pruned.stdout)
        try workspace.ok(["gc"])
        let verified = try workspace.ok(["verify"])
        XCTAssertTrue(verified.stdout.hasPrefix("ok: "), verified.stdout)

        // show lists every epoch, the pruned ones marked, with their digests and metrics.
        let show = try workspace.show(id)
        let epochs = try XCTUnwrap(show["epochs"] as? [[String: Any]])
        XCTAssertEqual(epochs.map { $0["pruned"] as? Bool }, [false, true, true, true, false, false])
        XCTAssertEqual(try workspace.digests(id), digestsBefore)
        XCTAssertNotNil((epochs[2]["metrics"] as? [String: Double])?["train_loss"])
        let text = try workspace.ok(["show", id]).stdout
        XCTAssertEqual(text.split(separator: "\n").filter { $0.hasSuffix("pruned") }.count, 3, text)
        // A pruned epoch can still be shown (metrics and digest are kept).
        let selected = try workspace.show("\(short)@2")
        XCTAssertEqual(selected["selected_epoch"] as? Int, 2)

        // Anything that needs its tensors says it was pruned.
        let sentence = "Epoch 2 of run \(short) was pruned; kept epochs: 0, 4, 5."
        assertError(try workspace.run(["diff", "\(short)@2", short]), sentence, status: 1)
        assertError(try workspace.run(["export", "\(short)@2", "--format", "json", "--output", "x.json"]), sentence, status: 1)
        assertError(try workspace.run(["predict", "\(short)@2", "--data", CLI.digits]), sentence, status: 1)
        assertError(try workspace.run(["resume", "\(short)@2", "--epochs", "6"]), sentence, status: 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.path("x.json")))
        // The kept epochs still work, and replay needs the epoch before.
        try workspace.assertIdentical("\(short)@4", "\(short)@4")
        XCTAssertEqual(try workspace.run(["verify", "--replay", "\(short)@5"]).status, 0)
        assertError(try workspace.run(["verify", "--replay", "\(short)@4"]),
                    "Replaying \(short)@4 starts from epoch 3, which was pruned; replay an epoch that follows a kept one (kept epochs: 0, 4, 5).",
                    status: 1)
        assertError(try workspace.run(["verify", "--replay", "\(short)@2"]), sentence, status: 1)
    }

    func testVerifyFindsAFlippedByteAndReplayPasses() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--validation-split", "0.2", "--optimizer", "adam"], epochs: 4)
        let short = String(id.prefix(8))
        let clean = try workspace.ok(["verify"])
        XCTAssertEqual(clean.stdout, "ok: the store verified (integrity, schema, tensor hashes, digest chains, run heads)\n")
        let replay = try workspace.ok(["verify", "--replay", "\(short)@3"])
        XCTAssertTrue(replay.stdout.contains("ok: replaying \(short)@3 reproduced every stored tensor bit for bit\n"), replay.stdout)
        let replayJSON = try workspace.json(["verify", "--replay", "\(short)@3"])
        XCTAssertEqual(replayJSON["ok"] as? Bool, true)
        XCTAssertEqual((replayJSON["replay"] as? [String: Any])?["identical"] as? Bool, true)

        // Epoch 4's layer-2 bias (unique to that epoch) gets one flipped byte.
        try SQLite.flipBlobByte(in: workspace.store, where: """
            t.layer = 2 AND t.role = 'bias' AND t.checkpoint_id = (SELECT id FROM checkpoints WHERE epoch = 4)
            """)
        let tampered = try workspace.run(["verify"])
        XCTAssertEqual(tampered.status, 2)
        XCTAssertEqual(tampered.stdout, "\(short)@4: layer 2 bias does not match its SHA-256\n")
        XCTAssertEqual(tampered.stderrLines, ["1 problem found in the store"])
        let json = try workspace.run(["verify", "--json"])
        XCTAssertEqual(json.status, 2)
        // Loading the tampered checkpoint is refused too, by diff and by resume.
        assertError(try workspace.run(["diff", "\(short)@3", short]),
                    "Checkpoint \(short)@4 is corrupt: layer 2 bias does not match its SHA-256.", status: 1)
        assertError(try workspace.run(["resume", short, "--epochs", "6"]),
                    "Checkpoint \(short)@4 is corrupt: layer 2 bias does not match its SHA-256.", status: 1)
    }
}

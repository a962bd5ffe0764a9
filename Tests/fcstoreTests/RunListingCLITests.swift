import FCCore
import Foundation
import XCTest
@testable import FCStorage
import FCSQLite

/// What `runs`, `show` and `diff` report: a run's best epoch among its own
/// epochs, imported models, JSON key names, the cosine's range.
final class RunListingCLITests: XCTestCase {
    /// A store whose runs have chosen metrics: the configuration and tensors of a
    /// real trained run (iris, 4-3-3), copied into runs written through the store.
    private func craftedStore() throws -> (workspace: Workspace, root: RunRecord, fork: RunRecord, leaf: RunRecord) {
        let workspace = try Workspace()
        let trained = try workspace.train(data: CLI.iris, layers: "3,3", epochs: 0)
        let store = try Store(path: workspace.store)
        let config = try store.run(id: trained).config
        let weights = try store.loadCheckpoint(runID: trained, epoch: 0)
        func input(_ epoch: Int, _ valLoss: Double, bump: Float) throws -> CheckpointInput {
            // Each epoch's weights differ a little, so that checkpoints are distinguishable.
            let tensors = try weights.tensors.map { tensor in
                tensor.layer == 0 ? tensor : CheckpointTensor(
                    layer: tensor.layer, role: tensor.role,
                    value: try TensorValue(shape: tensor.value.shape, values: tensor.value.values.map { $0 + bump }))
            }
            return CheckpointInput(epoch: epoch, tensors: tensors, metrics: ["train_loss": 1, "val_loss": valLoss],
                                   optimizerState: weights.optimizerState, rngState: weights.rngState)
        }
        // The root's best is epoch 1, before the fork point 3.
        let root = try store.createRun(name: "root", config: config, seed: 1)
        for (epoch, loss) in [2.0, 0.1, 0.5, 0.7, 0.9].enumerated() {
            try store.appendCheckpoint(runID: root.id, input(epoch, loss, bump: Float(epoch) / 8))
        }
        try store.setStatus(runID: root.id, .completed)
        // The fork's own epochs are all worse than the root's epoch 1.
        let fork = try store.forkRun(from: root.id, atEpoch: 3, name: "fork", config: config, seed: 2)
        for (epoch, loss) in [(4, 0.8), (5, 0.6), (6, 0.6)] {
            try store.appendCheckpoint(runID: fork.id, input(epoch, loss, bump: -Float(epoch) / 8))
        }
        try store.setStatus(runID: fork.id, .completed)
        // A fork that has not trained: no epoch of its own.
        let leaf = try store.forkRun(from: fork.id, atEpoch: 5, name: "leaf", config: config, seed: 3)
        try store.setStatus(runID: leaf.id, .interrupted)
        return (workspace, root, fork, leaf)
    }

    /// The cells of `runs`' text row for a run.
    private func runsRow(_ workspace: Workspace, _ shortID: String) throws -> [String] {
        let line = try XCTUnwrap(try workspace.ok(["runs"]).stdout.split(separator: "\n").first { $0.hasPrefix(shortID) })
        return line.split(separator: " ").map(String.init)
    }

    func testTheBestEpochOfAForkNeverLiesBeforeItsForkPoint() throws {
        let (workspace, root, fork, leaf) = try craftedStore()
        // show REF@best: the root's best is its epoch 1; the fork's is its own epoch 5
        // (0.6, the earlier of two equal values), not the root's epoch 1 it inherits.
        XCTAssertEqual(try workspace.show("root@best")["selected_epoch"] as? Int, 1)
        let selected = try XCTUnwrap(try workspace.show("fork@best")["selected_epoch"] as? Int)
        XCTAssertEqual(selected, 5)
        XCTAssertGreaterThan(selected, try XCTUnwrap(fork.parent?.epoch))
        // Commands that load the checkpoint pick the same epoch.
        let diff = try workspace.diff("fork@best", "fork@5")
        XCTAssertEqual(diff["b"] as? String, "\(fork.shortID)@5")
        XCTAssertEqual(diff["a"] as? String, "\(fork.shortID)@5")
        XCTAssertEqual(diff["identical"] as? Bool, true)

        // runs, JSON and text.
        let listed = try workspace.run(id: fork.id)
        XCTAssertEqual(listed["best_val_epoch"] as? Int, 5)
        XCTAssertEqual(listed["best_val_loss"] as? Double, 0.6)
        XCTAssertEqual(try workspace.run(id: root.id)["best_val_epoch"] as? Int, 1)
        XCTAssertTrue(try workspace.run(id: leaf.id)["best_val_epoch"] is NSNull)
        // Columns: ID NAME PARENT STATUS EPOCHS BEST CREATED.
        XCTAssertEqual(try runsRow(workspace, fork.shortID).prefix(6), [fork.shortID, "fork", "\(root.shortID)@3", "completed", "0-6", "0.6000@5"])
        XCTAssertEqual(try runsRow(workspace, leaf.shortID).prefix(6), [leaf.shortID, "leaf", "\(fork.shortID)@5", "interrupted", "0-5", "-"])

        // A fork with no epoch of its own has no best: said in one line, with the way out.
        for command in [["show", "leaf@best"], ["diff", "leaf@best", "leaf"]] {
            assertError(try workspace.run(command),
                        "Run \(leaf.shortID) has no epoch of its own yet (it forks from \(fork.shortID)@5), and @best considers only a run's own epochs; use \(leaf.shortID)@5 for the fork point.",
                        status: 1)
        }
        // The audit view agrees.
        let db = try Database(path: workspace.store, readOnly: true, busyTimeoutMilliseconds: 1000)
        XCTAssertEqual(try db.scalar("SELECT best_val_loss FROM run_summary WHERE name = 'fork'"), .real(0.6))
    }

    func testAnImportedModelShowsImportedInsteadOfATrainingConfiguration() throws {
        let workspace = try Workspace()
        let id = try workspace.train(data: CLI.iris, layers: "3,3", epochs: 1)
        try workspace.ok(["export", id, "--format", "safetensors", "--output", "m.safetensors"])
        try workspace.ok(["import", "m.safetensors", "--name", "imp"])
        let text = try workspace.ok(["show", "imp"]).stdout
        XCTAssertTrue(text.contains("""
            optimizer  imported (not trained in fcstore: no optimizer, batch size or seed recorded)
            training   imported  normalize standard
            data       none recorded (imported model)

            """), text)
        XCTAssertFalse(text.contains("learning rate"), text)
        XCTAssertFalse(text.contains("seed 0"), text)
        let json = try workspace.show("imp")
        XCTAssertEqual(json["status"] as? String, "imported")
        XCTAssertTrue(json["seed"] is NSNull)
        let config = try XCTUnwrap(json["config"] as? [String: Any])
        XCTAssertTrue(config["epochs"] is NSNull)
        let training = try XCTUnwrap(config["training"] as? [String: Any])
        for key in ["optimizer", "batch_size", "seed"] { XCTAssertTrue(training[key] is NSNull, key) }
        XCTAssertEqual((training["spec"] as? [String: Any])?["layer_sizes"] as? [Int], [3, 3])
        // runs says so in its status column.
        let imported = try XCTUnwrap(json["id"] as? String)
        XCTAssertEqual(try runsRow(workspace, String(imported.prefix(8))).prefix(6),
                       [String(imported.prefix(8)), "imp", "-", "imported", "0-0", "-"])
        // It has no metrics, so no best epoch.
        assertError(try workspace.run(["show", "imp@best"]),
                    "Run \(imported.prefix(8)) has no epoch with a train_loss or val_loss, so it has no best epoch; use \(imported.prefix(8))@EPOCH.",
                    status: 1)
        // A trained run keeps its real settings.
        XCTAssertTrue(try workspace.ok(["show", id]).stdout.contains("optimizer  sgd  learning rate 0.1\n"))
    }

    /// Every key of `show --json`, at every depth, is snake_case (the imported
    /// file's own metadata under config.provenance excepted).
    func testShowJSONKeysAreSnakeCaseThroughout() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--validation-split", "0.2", "--optimizer", "momentum", "--lr-schedule", "2:0.5"],
                                     data: CLI.iris, layers: "4,3", epochs: 2)
        let fork = try workspace.ok(["resume", "\(id)@1", "--fork", "--learning-rate", "0.05"]).lastLine
        var keys: Set<String> = []
        func collect(_ value: Any, under parent: String?) {
            if let object = value as? [String: Any] {
                for (key, member) in object {
                    if parent != "provenance" && parent != "metrics" { keys.insert(key) }
                    collect(member, under: key)
                }
            } else if let array = value as? [Any] {
                for member in array { collect(member, under: parent) }
            }
        }
        for ref in [id, try XCTUnwrap(fork)] { collect(try workspace.show(ref), under: nil) }
        XCTAssertEqual(keys.filter { $0.contains(where: \.isUppercase) }, [])
        for key in ["learning_rate", "batch_size", "layer_sizes", "hidden_activation", "output_activation",
                    "input_size", "fcstore_version", "blas_core", "blas_threads", "selected_epoch", "created_at"] {
            XCTAssertTrue(keys.contains(key), "\(key) in \(keys.sorted())")
        }
        let config = try XCTUnwrap(try workspace.show(id)["config"] as? [String: Any])
        let optimizer = try XCTUnwrap((config["training"] as? [String: Any])?["optimizer"] as? [String: Any])
        XCTAssertEqual(optimizer["learning_rate"] as? Double, 0.1)
        XCTAssertEqual(optimizer["kind"] as? String, "momentum")
        // The stored configuration keeps Swift's camelCase (the README says so).
        let db = try Database(path: workspace.store, readOnly: true, busyTimeoutMilliseconds: 1000)
        XCTAssertEqual(try db.scalar("SELECT json_extract(config, '$.training.optimizer.learningRate') FROM runs WHERE id = '\(id)'"),
                       .real(0.1))
    }

    /// A tensor whose norms round so that ⟨A, A⟩ / (‖A‖ ‖A‖) is 1.0000000000000002
    /// ([1, 1, 1]: √3 · √3 = 2.9999999999999996) still has a cosine of exactly 1.
    func testDiffCosineStaysWithinMinusOneAndOne() throws {
        let workspace = try Workspace()
        let store = try Store(path: workspace.store)
        let run = try store.createRun(name: "c", config: "{}", seed: 1)
        for (epoch, sign) in [(0, Float(1)), (1, 1), (2, -1)] {
            let tensors = [
                CheckpointTensor(layer: 1, role: "weight", value: try TensorValue(shape: [3, 1], values: [1, 1, 1].map { $0 * sign })),
                CheckpointTensor(layer: 1, role: "bias", value: try TensorValue(shape: [3], values: [1, 1, 1].map { $0 * sign })),
            ]
            try store.appendCheckpoint(runID: run.id, CheckpointInput(epoch: epoch, tensors: tensors, metrics: [:],
                                                                      optimizerState: "{}", rngState: []))
        }
        XCTAssertEqual(3.0.squareRoot() * 3.0.squareRoot(), 2.9999999999999996, "the rounding this test relies on")
        for (b, expected) in [("c@1", 1.0), ("c@2", -1.0)] {
            let layers = try XCTUnwrap(try workspace.diff("c@0", b)["layers"] as? [[String: Any]])
            XCTAssertEqual(layers.compactMap { $0["cosine"] as? Double }, [expected, expected], b)
            let raw = try workspace.ok(["diff", "c@0", b, "--json"]).stdout
            XCTAssertFalse(raw.contains("1.0000000000000002"), raw)
        }
    }
}

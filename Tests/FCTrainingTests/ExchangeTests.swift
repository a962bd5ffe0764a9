import FCCore
import FCFormats
import FCNet
import FCStorage
@testable import FCTraining
import Foundation
import XCTest

final class CheckpointCodingTests: XCTestCase {
    /// state → CheckpointInput → store → LoadedCheckpoint → state: equal, normaliser at layer 0.
    func testRoundTripThroughTheStore() throws {
        for kind in [OptimizerConfig.Kind.sgd, .adam] {
            let fixture = try TrainingFixture()
            let trainer = try Workflow.startRun(fixture.store, fixture.request(epochs: 2, optimizer: kind), owner: "test")
            var states: [TrainingState] = []
            _ = try trainer.train(committed: { _, state in states.append(state) })
            let state = try XCTUnwrap(states.last)
            let normalizer = trainer.normalizer
            XCTAssertEqual(normalizer.kind, .standard)

            let input = try CheckpointCoding.input(state, normalizer: normalizer)
            let shift = try XCTUnwrap(input.tensors.first { $0.role == CheckpointCoding.shiftRole })
            let scale = try XCTUnwrap(input.tensors.first { $0.role == CheckpointCoding.scaleRole })
            XCTAssertEqual(shift.layer, 0)
            XCTAssertEqual(scale.layer, 0)
            XCTAssertEqual(shift.value.values, normalizer.shift)
            XCTAssertEqual(scale.value.values, normalizer.scale)

            let copy = try fixture.store.createRun(name: nil, config: trainer.run.config, seed: 7, status: .completed)
            var renumbered = input
            renumbered.epoch = 0
            try fixture.store.appendCheckpoint(runID: copy.id, renumbered)
            let loaded = try fixture.store.loadCheckpoint(runID: copy.id, epoch: 0)
            var (decoded, decodedNormalizer) = try CheckpointCoding.state(loaded, spec: state.spec)
            decoded.epoch = state.epoch  // the scalars JSON keeps the original epoch; the row is renumbered
            XCTAssertEqual(decoded, state, "\(kind)")
            XCTAssertEqual(decodedNormalizer, normalizer)
            // And the checkpoint the trainer committed decodes to the same state.
            let stored = try fixture.store.loadCheckpoint(runID: trainer.run.id, epoch: 2)
            XCTAssertEqual(try CheckpointCoding.state(stored, spec: state.spec).state, state)
        }
    }

    func testWithoutNormalisationNothingIsStoredAtLayerZero() throws {
        let fixture = try TrainingFixture()
        var request = fixture.request(epochs: 1)
        request.normalization = Normalizer.Kind.none
        let trainer = try Workflow.startRun(fixture.store, request, owner: "test")
        _ = try trainer.train()
        let loaded = try fixture.store.latestCheckpoint(runID: trainer.run.id)
        XCTAssertFalse(loaded.tensors.contains { $0.layer == 0 })
        let (_, normalizer) = try CheckpointCoding.state(loaded, spec: trainer.config.spec)
        XCTAssertEqual(normalizer, .identity(width: 4))
    }

    func testAnUnreadableOptimizerStateIsRefused() throws {
        let fixture = try TrainingFixture()
        let run = try fixture.train(fixture.request(epochs: 1))
        var loaded = try fixture.store.latestCheckpoint(runID: run.id)
        loaded.optimizerState = "{}"
        let spec = try RunConfig.decode(run.config, run: run.shortID).spec
        XCTAssertThrowsError(try CheckpointCoding.state(loaded, spec: spec)) { error in
            XCTAssertEqual(error as? TrainingError,
                           .incompatible("Checkpoint \(run.shortID)@1 has an optimizer state this version cannot read."))
        }
    }
}

final class ModelExchangeTests: XCTestCase {
    func testModelFileImportsAsARunThatPredictsIdentically() throws {
        let fixture = try TrainingFixture()
        let source = try fixture.train(fixture.request(epochs: 3))
        let (run, config, checkpoint, model) = try Workflow.model(fixture.store, run: source.id, epoch: .latest)
        let file = try ModelExchange.modelFile(run: run, config: config, checkpoint: checkpoint)
        XCTAssertEqual(file.architecture, [4, 5, 3])
        XCTAssertEqual(file.layers.map(\.activation), ["sigmoid", "softmax"])
        XCTAssertEqual(file.normalization?.kind, "standard")
        XCTAssertEqual(file.metadata["fcstore.source_run"], source.id)
        XCTAssertEqual(file.metadata["fcstore.source_epoch"], "3")

        let result = try ModelExchange.importModel(file, into: fixture.store, name: "copy", provenance: ["note": "test"])
        XCTAssertTrue(result.isNew)
        let imported = result.run
        XCTAssertEqual(imported.status, .imported)
        XCTAssertEqual(imported.name, "copy")
        let copy = try Workflow.model(fixture.store, run: "copy", epoch: .latest)
        XCTAssertEqual(copy.checkpoint.epoch, 0)
        XCTAssertEqual(copy.config.provenance?["note"], "test")
        XCTAssertNil(copy.config.data)

        let (data, _) = try DataLoading.load(path: fixture.dataPath)
        let expected = try model.predict(features: data.features, count: data.count)
        let actual = try copy.model.predict(features: data.features, count: data.count)
        XCTAssertEqual(actual.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(copy.model, model)

        // An imported model has no data to resume on.
        XCTAssertThrowsError(try fixture.resume(imported.id, to: 1)) { error in
            XCTAssertEqual(error as? TrainingError, .noData(run: imported.shortID))
        }
    }

    /// The rule: the SHA-256 of the file's bytes, recorded in the provenance.
    func testImportOfTheSameBytesIsTheSameRunAndNonFiniteWeightsAreRefused() throws {
        let fixture = try TrainingFixture()
        let model = ModelFile(layers: [
            .init(weight: try TensorValue(shape: [2, 2], values: [1, 0, 0, 1]), bias: try TensorValue(shape: [2], values: [0, 0]), activation: "softmax"),
        ])
        let provenance = [ModelExchange.importedSHA256Key: String(repeating: "ab", count: 32)]
        let first = try ModelExchange.importModel(model, into: fixture.store, name: "one", provenance: provenance)
        XCTAssertTrue(first.isNew)
        let again = try ModelExchange.importModel(model, into: fixture.store, name: nil, provenance: provenance)
        XCTAssertFalse(again.isNew)
        XCTAssertEqual(again.run.id, first.run.id)
        let other = try ModelExchange.importModel(model, into: fixture.store, name: nil,
                                                  provenance: [ModelExchange.importedSHA256Key: String(repeating: "cd", count: 32)])
        XCTAssertTrue(other.isNew)
        XCTAssertEqual(try fixture.store.runs().count, 2)

        var nan = model
        nan.layers[0].weight.values[3] = .nan
        XCTAssertThrowsError(try ModelExchange.importModel(nan, into: fixture.store, name: nil, provenance: [:])) { error in
            XCTAssertEqual((error as? ModelFormatError)?.message,
                           "Tensor \"layers.1.weight\" holds NaN at flat index 3; fcstore refuses weights that are not finite numbers.")
        }
        XCTAssertEqual(try fixture.store.runs().count, 2)
    }

    func testImportRefusesMixedHiddenActivations() throws {
        let fixture = try TrainingFixture()
        let model = ModelFile(layers: [
            .init(weight: try TensorValue(shape: [2, 2], values: [1, 0, 0, 1]), bias: try TensorValue(shape: [2], values: [0, 0]), activation: "tanh"),
            .init(weight: try TensorValue(shape: [2, 2], values: [1, 0, 0, 1]), bias: try TensorValue(shape: [2], values: [0, 0]), activation: "relu"),
            .init(weight: try TensorValue(shape: [1, 2], values: [1, 1]), bias: try TensorValue(shape: [1], values: [0]), activation: "sigmoid"),
        ])
        XCTAssertThrowsError(try ModelExchange.importModel(model, into: fixture.store, name: nil, provenance: [:])) { error in
            XCTAssertEqual(error as? TrainingError, .incompatible(
                "The model's hidden layers use different activations (tanh,relu); fcstore networks use one hidden activation."))
        }
        XCTAssertEqual(try fixture.store.runs().count, 0, "nothing half-imported")
    }
}

final class JSONModelTests: XCTestCase {
    func model() throws -> ModelFile {
        ModelFile(
            layers: [
                .init(weight: try TensorValue(shape: [3, 2], values: [0.1, -0.2, 1e-8, 3.5, -7, Float.leastNonzeroMagnitude]),
                      bias: try TensorValue(shape: [3], values: [0, -0.5, 0.25]), activation: "tanh"),
                .init(weight: try TensorValue(shape: [2, 3], values: [1.0 / 3, 2.0 / 3, -1, 0.125, Float.pi, -Float.ulpOfOne]),
                      bias: try TensorValue(shape: [2], values: [0.75, -0.75]), activation: "softmax"),
            ],
            normalization: .init(kind: "minmax", shift: [1, 2], scale: [0.5, 0.25]),
            loss: "cross-entropy",
            metadata: ["note": "round trip"])
    }

    func testRoundTrip() throws {
        let original = try model()
        let bytes = try JSONModel.encode(original)
        XCTAssertEqual(bytes.last, 0x0A)
        let decoded = try JSONModel.decode(bytes)
        XCTAssertEqual(decoded, original)
        for (a, b) in zip(decoded.layers, original.layers) {
            XCTAssertEqual(a.weight.values.map(\.bitPattern), b.weight.values.map(\.bitPattern))
        }
        // Stable: encoding again gives the same bytes.
        XCTAssertEqual(try JSONModel.encode(decoded), bytes)
    }

    /// The 1-based column of the first occurrence of `needle` in one-line ASCII `text`.
    func column(of needle: String, in text: String) -> Int {
        guard let range = text.range(of: needle) else { return -1 }
        return text.distance(from: text.startIndex, to: range.lowerBound) + 1
    }

    func testMalformedDocumentsAreRefused() throws {
        let valid = String(decoding: try JSONModel.encode(try model()), as: UTF8.self)
        let uneven = valid.replacingOccurrences(of: "[0.1,-0.2]", with: "[0.1]")
        let cases: [(String, String)] = [
            ("not json at all",
             "The JSON model is not valid JSON: expected 'u' (line 1, column 2)."),
            ("{\"format\": \"fcstore-model\"}",
             "The file is not an fcstore JSON model: it has no \"version\" (a model needs format, version, architecture, activations and layers) (line 1, column 1)."),
            (valid.replacingOccurrences(of: "\"version\":1", with: "\"version\":2"),
             "The JSON model has format \"fcstore-model\" version 2; fcstore reads fcstore-model version 1."),
            (valid.replacingOccurrences(of: "\"architecture\":[2,3,2]", with: "\"architecture\":[2,4,2]"),
             "The JSON model's architecture 2-4-2 does not match its weights (2-3-2)."),
            (valid.replacingOccurrences(of: "\"activations\":[\"tanh\",\"softmax\"]", with: "\"activations\":[\"tanh\"]"),
             "The JSON model lists 1 activations and 3 sizes for 2 layers."),
            (uneven,
             "The file is not an fcstore JSON model: layer 1's weight rows have different lengths (row 1 has 2 values, row 0 has 1) (line 1, column \(column(of: "[1e-08", in: uneven)))."),
        ]
        for (text, message) in cases {
            XCTAssertNotEqual(text, valid, "the edit applied: \(message)")
            XCTAssertThrowsError(try JSONModel.decode(Array(text.utf8))) { error in
                XCTAssertEqual((error as? ModelFormatError)?.message, message)
            }
        }
    }
}

final class ReplayTests: XCTestCase {
    func testReplayReproducesAStoredEpoch() throws {
        let fixture = try TrainingFixture()
        let run = try fixture.train(fixture.request(epochs: 3, optimizer: .momentum))
        for epoch in 1...3 {
            let result = try Replay.run(fixture.store, run: run.id, epoch: .number(epoch))
            XCTAssertEqual(result.checkpoint, "\(run.shortID)@\(epoch)")
            XCTAssertEqual(result.differences, [])
        }
        // An inherited epoch is replayed with the recipe of the run that owns it.
        let fork = try fixture.resume(run.id, from: .number(1), to: 3, fork: true)
        _ = try fork.trainer.train()
        XCTAssertEqual(try Replay.run(fixture.store, run: fork.trainer.run.id, epoch: .number(1)).differences, [])
        XCTAssertEqual(try Replay.run(fixture.store, run: fork.trainer.run.id, epoch: .number(3)).differences, [])
    }

    func testReplayOfEpochZeroIsRefused() throws {
        let fixture = try TrainingFixture()
        let run = try fixture.train(fixture.request(epochs: 1))
        XCTAssertThrowsError(try Replay.run(fixture.store, run: run.id, epoch: .number(0))) { error in
            XCTAssertEqual(error as? TrainingError, .replayOfInitialState)
        }
    }

    func testReplayDetectsSwappedData() throws {
        let fixture = try TrainingFixture()
        let run = try fixture.train(fixture.request(epochs: 2))
        try swapData(fixture.dataPath)
        XCTAssertThrowsError(try Replay.run(fixture.store, run: run.id, epoch: .number(2))) { error in
            XCTAssertEqual(error as? TrainingError, .dataChanged(path: fixture.dataPath, run: run.shortID))
        }
    }

    /// A tampered checkpoint whose hashes were recomputed (so `verify` alone
    /// would pass) still differs from what training produces.
    func testReplayReportsADifferentStoredEpoch() throws {
        let fixture = try TrainingFixture()
        let run = try fixture.train(fixture.request(epochs: 2))
        // A second run with another learning rate on the same data; splice its
        // epoch 2 under run's epoch 1 by forking run@1 and appending it.
        var other = fixture.request(epochs: 2)
        other.optimizer.learningRate = 0.5
        let different = try fixture.train(other)
        let stranger = try fixture.store.loadCheckpoint(runID: different.id, epoch: 2)
        let fork = try fixture.store.forkRun(from: run.id, atEpoch: 1, name: nil, config: run.config, seed: 7, status: .completed)
        try fixture.store.appendCheckpoint(runID: fork.id, CheckpointInput(
            epoch: 2, tensors: stranger.tensors, metrics: stranger.metrics,
            optimizerState: stranger.optimizerState, rngState: stranger.rngState))
        let result = try Replay.run(fixture.store, run: fork.id, epoch: .number(2))
        XCTAssertTrue(result.differences.contains("layer 1 weight: 20 of 20 values differ"), "\(result.differences)")
        XCTAssertTrue(result.differences.contains { $0.hasPrefix("train_loss differs") }, "\(result.differences)")
        XCTAssertFalse(result.differences.contains { $0.hasPrefix("the run was trained with") },
                       "same build, kernel and threads: no engine note")
    }

    /// A replay that differs says when the epoch came from another build, kernel or thread
    /// setting, since bits are only promised for the same ones.
    func testReplayNamesADifferentEngine() throws {
        let fixture = try TrainingFixture()
        let run = try fixture.train(fixture.request(epochs: 1))
        var config = try RunConfig.decode(run.config, run: run.shortID)
        XCTAssertNil(Replay.engineDifference(config))
        config.fcstoreVersion = "0.1.0"
        config.blasThreads = BLAS.maxThreads + 1
        XCTAssertEqual(
            Replay.engineDifference(config),
            "the run was trained with fcstore 0.1.0, OpenBLAS core \(BLAS.coreName), \(BLAS.maxThreads + 1) threads and this replay ran with fcstore \(FCStoreVersion.current), OpenBLAS core \(BLAS.coreName), \(BLAS.maxThreads) threads; results are bit for bit only for the same build, kernel and thread setting")
    }
}

final class DataLoadingTests: XCTestCase {
    func testLoadForModelWithAndWithoutALabelColumn() throws {
        let fixture = try TrainingFixture()
        let (labelled, hasLabels) = try DataLoading.loadForModel(path: fixture.dataPath, inputSize: 4, task: .classification)
        XCTAssertTrue(hasLabels)
        XCTAssertEqual(labelled.count, 150)
        XCTAssertEqual(labelled.width, 4)
        XCTAssertEqual(Set(labelled.labels), [0, 1, 2])

        // The same rows without the label column.
        let lines = try String(contentsOfFile: fixture.dataPath, encoding: .utf8).split(separator: "\n")
        let stripped = lines.map { $0.split(separator: ",").dropLast().joined(separator: ",") }.joined(separator: "\n") + "\n"
        let path = fixture.directory.appendingPathComponent("features.csv").path
        try stripped.write(toFile: path, atomically: true, encoding: .utf8)
        let (features, featuresLabelled) = try DataLoading.loadForModel(path: path, inputSize: 4, task: .classification)
        XCTAssertFalse(featuresLabelled)
        XCTAssertEqual(features.count, 150)
        XCTAssertEqual(features.features, labelled.features)

        // A label column chosen by name, not the last one.
        let moved = lines.map { line -> String in
            var cells = line.split(separator: ",").map(String.init)
            cells.insert(cells.removeLast(), at: 0)
            return cells.joined(separator: ",")
        }.joined(separator: "\n") + "\n"
        let movedPath = fixture.directory.appendingPathComponent("moved.csv").path
        try moved.write(toFile: movedPath, atomically: true, encoding: .utf8)
        let (byName, byNameLabelled) = try DataLoading.loadForModel(path: movedPath, labelColumn: "label", inputSize: 4, task: .classification)
        XCTAssertTrue(byNameLabelled)
        XCTAssertEqual(byName.features, labelled.features)
        XCTAssertEqual(byName.labels, labelled.labels)
    }

    func testLoadForModelRefusesAnotherWidthAndMissingFiles() throws {
        let fixture = try TrainingFixture()
        XCTAssertThrowsError(try DataLoading.loadForModel(path: fixture.dataPath, inputSize: 64, task: .classification)) { error in
            XCTAssertEqual(error as? TrainingError, .incompatible("iris.csv: expected 64 features, found 4."))
        }
        let missing = fixture.directory.appendingPathComponent("nope.csv").path
        XCTAssertThrowsError(try DataLoading.loadForModel(path: missing, inputSize: 4, task: .classification)) { error in
            XCTAssertEqual(error as? TrainingError, .dataMissing(path: missing))
        }
    }
}

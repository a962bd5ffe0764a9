import FCNet  // not @testable: only the public API, as the CLI sees it
import XCTest

final class UsageExampleTests: XCTestCase {
    /// The README's usage example, verbatim.
    func testReadmeUsageExample() throws {
        let path = try TrainingTests.fixture("iris.csv")
        // --- README example begins ---
        let raw = try CSVLoader(label: .automatic).load(path: path)                 // throws FCNetError.data("iris.csv:14:3: ...")
        let (trainRaw, valRaw) = try raw.split(validationFraction: 0.2, seed: 42)
        let normalizer = Normalizer.fit(.standard, to: trainRaw)                     // store it with the run
        let train = try normalizer.applied(to: trainRaw), val = try normalizer.applied(to: valRaw)
        let spec = NetworkSpec(inputSize: train.width, layerSizes: [16, 3], hiddenActivation: .tanh,
                               outputActivation: .softmax, loss: .crossEntropy)
        let config = TrainingConfig(spec: spec, optimizer: OptimizerConfig(kind: .adam, learningRate: 0.01),
                                    batchSize: 16, seed: 42)
        let trainer = try Trainer(config: config, train: train, validation: val, start: .random)
        var saved: [Int: ([NamedTensor], TrainingScalars, [String: Double])] = [:]   // stand-in for the store
        let outcome = try trainer.train(epochs: 20, shouldStop: { false }) { state in   // epoch 0, 1, ..., 20
            saved[state.epoch] = (state.namedTensors(), state.scalars, state.metrics)
        }
        let (tensors, scalars, metrics) = try XCTUnwrap(saved[10])                   // resume from epoch 10
        let resumed = try Trainer(config: config, train: train, validation: val,
                                  start: .state(TrainingState(spec: spec, scalars: scalars, tensors: tensors, metrics: metrics)))
        try resumed.train(epochs: 10) { _ in }
        let model = try Model(state: resumed.state, normalizer: normalizer)
        let probabilities = try model.predict(features: valRaw.features, count: valRaw.count)  // count × 3
        let report = try model.evaluate(valRaw)                                      // loss, accuracy, confusion
        // --- README example ends ---
        XCTAssertEqual(outcome, .completed)
        XCTAssertEqual(saved.keys.sorted(), Array(0...20))
        XCTAssertEqual(resumed.state.parameters, trainer.state.parameters)
        XCTAssertEqual(probabilities.count, valRaw.count * 3)
        XCTAssertGreaterThan(try XCTUnwrap(report.accuracy), 0.85)
        XCTAssertFalse(BLAS.coreName.isEmpty)
    }
}

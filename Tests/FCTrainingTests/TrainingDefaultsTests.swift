import FCCore
import FCNet
import FCTraining
import XCTest

/// The defaults of a new run, where the CLI's `train` takes them from.
final class TrainingDefaultsTests: XCTestCase {
    func testOptimizerDefaultsByKind() {
        XCTAssertEqual(TrainingDefaults.optimizer(kind: nil, learningRate: nil, momentum: nil, schedule: nil),
                       OptimizerConfig(kind: .sgd, learningRate: 0.1, momentum: 0.9))
        XCTAssertEqual(TrainingDefaults.optimizer(kind: .adam, learningRate: nil, momentum: nil, schedule: nil).learningRate, 0.001)
        XCTAssertEqual(TrainingDefaults.optimizer(kind: .momentum, learningRate: nil, momentum: nil, schedule: nil).learningRate, 0.1)
        let given = TrainingDefaults.optimizer(kind: .adam, learningRate: 0.5, momentum: 0.25, schedule: .stepDecay(every: 3, factor: 0.5))
        XCTAssertEqual(given, OptimizerConfig(kind: .adam, learningRate: 0.5, momentum: 0.25, schedule: .stepDecay(every: 3, factor: 0.5)))
        XCTAssertEqual([TrainingDefaults.batchSize, TrainingDefaults.epochs], [32, 10])
        XCTAssertEqual(TrainingDefaults.seed, 1)
    }

    func testOutputActivationAndLossSuitTheTask() {
        XCTAssertEqual(TrainingDefaults.outputActivation(for: nil, outputs: 10), .softmax)
        XCTAssertEqual(TrainingDefaults.outputActivation(for: nil, outputs: 1), .sigmoid)
        XCTAssertEqual(TrainingDefaults.outputActivation(for: .mse, outputs: 10), .identity)
        XCTAssertEqual(TrainingDefaults.outputActivation(for: .binaryCrossEntropy, outputs: 3), .sigmoid)
        XCTAssertEqual(TrainingDefaults.outputActivation(for: .crossEntropy, outputs: 3), .softmax)
        XCTAssertEqual(Activation.allCases.map(TrainingDefaults.loss(for:)),
                       [.binaryCrossEntropy, .mse, .mse, .mse, .mse, .crossEntropy])
        XCTAssertEqual(TrainingDefaults.hiddenActivation, .sigmoid)
    }
}

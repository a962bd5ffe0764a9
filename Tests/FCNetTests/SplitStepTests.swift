import XCTest
@testable import FCNet

/// The data-parallel step (`SplitStep`): same bits on every run with the same thread
/// setting, and the same training as one thread up to float rounding.
final class SplitStepTests: XCTestCase {
    static func data(rows: Int, width: Int, seed: UInt64) throws -> Dataset {
        var rng = Xoshiro256(seed: seed)
        var x = [Float](repeating: 0, count: rows * width), y = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let c = Int(rng.next() % 4)
            y[r] = Float(c)
            for j in 0..<width { x[r * width + j] = Float(rng.nextUnit()) + (j % 4 == c ? 1 : 0) }
        }
        return try Dataset(features: x, labels: y, width: width)
    }

    func train(
        threads: Int, optimizer: OptimizerConfig, batch: Int?,
        spec: NetworkSpec = NetworkSpec(inputSize: 48, layerSizes: [64, 32, 4]), rows: Int = 1000, dropout: Double? = nil
    ) throws -> TrainingState {
        let saved = BLAS.maxThreads
        defer { BLAS.maxThreads = saved }
        try BLAS.load()
        BLAS.maxThreads = threads
        // 1000 rows × (48·64 + 64·32 + 32·4) weights ≥ 2^20 multiply-adds: split with 2 threads.
        let data = try Self.data(rows: rows, width: spec.inputSize, seed: 11)
        let trainer = try Trainer(
            config: TrainingConfig(spec: spec, optimizer: optimizer, batchSize: batch, seed: 2, dropout: dropout), train: data)
        XCTAssertEqual(try trainer.train(epochs: 3), .completed)
        return trainer.state
    }

    /// Trains twice with 2 threads and once with 1: the two-thread runs must be the same bits
    /// (parameters, loss, accuracy, gradient norm), and agree with one thread up to rounding.
    /// - Returns: the two-thread state and the one-thread state.
    @discardableResult
    func assertSameBitsAndCloseToOneThread(
        optimizer: OptimizerConfig, batch: Int?, spec: NetworkSpec = NetworkSpec(inputSize: 48, layerSizes: [64, 32, 4]),
        rows: Int = 1000, dropout: Double? = nil, file: StaticString = #filePath, line: UInt = #line
    ) throws -> (two: TrainingState, one: TrainingState) {
        let a = try train(threads: 2, optimizer: optimizer, batch: batch, spec: spec, rows: rows, dropout: dropout)
        let b = try train(threads: 2, optimizer: optimizer, batch: batch, spec: spec, rows: rows, dropout: dropout)
        let one = try train(threads: 1, optimizer: optimizer, batch: batch, spec: spec, rows: rows, dropout: dropout)
        XCTAssertEqual(a.parameters.map(\.bitPattern), b.parameters.map(\.bitPattern), "same setting, same bits",
                       file: file, line: line)
        for name in ["train_loss", "train_accuracy", "grad_norm.1"] {
            XCTAssertEqual(a.metrics[name], b.metrics[name], name, file: file, line: line)
        }
        for (p, q) in zip(a.parameters, one.parameters) { XCTAssertEqual(p, q, accuracy: 1e-4, file: file, line: line) }
        XCTAssertEqual(try XCTUnwrap(a.metrics["train_loss"]), try XCTUnwrap(one.metrics["train_loss"]), accuracy: 1e-5, file: file, line: line)
        XCTAssertEqual(try XCTUnwrap(a.metrics["train_accuracy"]), try XCTUnwrap(one.metrics["train_accuracy"]), accuracy: 1e-3, file: file, line: line)
        XCTAssertEqual(try XCTUnwrap(a.metrics["grad_norm.1"]), try XCTUnwrap(one.metrics["grad_norm.1"]), accuracy: 1e-4, file: file, line: line)
        return (a, one)
    }

    func testSplitStepIsDeterministicAndMatchesOneThread() throws {
        for (optimizer, batch) in [(OptimizerConfig(kind: .sgd, learningRate: 0.5), Int?.none),
                                   (OptimizerConfig(kind: .sgd, learningRate: 0.5), 250),
                                   (OptimizerConfig(kind: .adam, learningRate: 0.01), 500)] {
            try assertSameBitsAndCloseToOneThread(optimizer: optimizer, batch: batch)
        }
    }

    /// Weight decay (on the weight entries of each part's slice) and dropout (masks drawn
    /// before the step, applied part by part) in both split modes: the same bits with the same
    /// setting, and one thread's training up to rounding.
    func testSplitStepWithWeightDecayAndDropout() throws {
        let rowSpec = NetworkSpec(inputSize: 200, layerSizes: [128, 32, 4])
        for optimizer in [OptimizerConfig(kind: .sgd, learningRate: 0.5, weightDecay: 0.01),
                          OptimizerConfig(kind: .momentum, learningRate: 0.1, weightDecay: 0.01),
                          OptimizerConfig(kind: .adam, learningRate: 0.01, weightDecay: 0.1)] {
            try assertSameBitsAndCloseToOneThread(optimizer: optimizer, batch: 250, dropout: 0.25)
            try assertSameBitsAndCloseToOneThread(optimizer: optimizer, batch: 1200, spec: rowSpec, rows: 2400, dropout: 0.25)
        }
    }

    /// Row mode (data-parallel, chunked, with a reduction of the parts' gradients): shuffled
    /// mini-batches of 1,200 rows are 600 rows per part in chunks of 256, 256 and 88 rows.
    func testRowModeIsDeterministicAndMatchesOneThread() throws {
        let spec = NetworkSpec(inputSize: 200, layerSizes: [128, 32, 4])
        let split = SplitStep(net: Network(spec: spec, capacity: 1200, target: .oneHot), layout: ParameterLayout(spec),
                              optimizer: .init())
        XCTAssertEqual(split.chooseMode(rows: 1200, parts: 2), .rows)
        XCTAssertEqual(split.chooseMode(rows: 400, parts: 2), .neurons, "200 rows per part")
        XCTAssertEqual(split.chunkRows(), 256)
        for optimizer in [OptimizerConfig(kind: .sgd, learningRate: 0.5), OptimizerConfig(kind: .adam, learningRate: 0.01)] {
            let (two, one) = try assertSameBitsAndCloseToOneThread(optimizer: optimizer, batch: 1200, spec: spec, rows: 2400)
            XCTAssertNotEqual(two.parameters, one.parameters, "two parts sum in another order than one thread")
        }
    }

    /// Neuron mode with large layers: the forward products of layers 1 and 2 and the product
    /// giving Δ^1 are split by neurons over all rows (with barriers between), the rest by rows.
    func testNeuronSplitLayersAreDeterministicAndMatchOneThread() throws {
        let spec = NetworkSpec(inputSize: 200, layerSizes: [512, 256, 4])
        let split = SplitStep(net: Network(spec: spec, capacity: 400, target: .oneHot), layout: ParameterLayout(spec),
                              optimizer: .init())
        XCTAssertEqual(split.chooseMode(rows: 400, parts: 2), .neurons)
        split.planNeuronSplits(rows: 400, parts: 2)
        XCTAssertEqual(split.splitForward, [false, true, true, false])
        XCTAssertEqual(split.splitBackward, [false, false, true, false])
        for optimizer in [OptimizerConfig(kind: .sgd, learningRate: 0.5), OptimizerConfig(kind: .momentum, learningRate: 0.1)] {
            try assertSameBitsAndCloseToOneThread(optimizer: optimizer, batch: 400, spec: spec, rows: 800)
        }
    }

    /// Mini-batch SGD folds the update into the dW products (except in an epoch's last batch);
    /// momentum with μ = 0 takes the separate update pass and is the same rule.
    func testFusedSGDMatchesTheSeparateUpdate() throws {
        for threads in [1, 2] {
            let fused = try train(threads: threads, optimizer: .init(kind: .sgd, learningRate: 0.5), batch: 250)
            let separate = try train(threads: threads, optimizer: .init(kind: .momentum, learningRate: 0.5, momentum: 0), batch: 250)
            for (p, q) in zip(fused.parameters, separate.parameters) { XCTAssertEqual(p, q, accuracy: 1e-4) }
            XCTAssertEqual(try XCTUnwrap(fused.metrics["train_loss"]), try XCTUnwrap(separate.metrics["train_loss"]), accuracy: 1e-5)
            XCTAssertEqual(try XCTUnwrap(fused.metrics["grad_norm.1"]), try XCTUnwrap(separate.metrics["grad_norm.1"]), accuracy: 1e-4)
        }
    }

    func testPartsFollowTheThresholds() throws {
        try BLAS.load()
        let saved = BLAS.maxThreads
        defer { BLAS.maxThreads = saved }
        BLAS.maxThreads = 2
        let spec = NetworkSpec(inputSize: 48, layerSizes: [64, 32, 4])
        let split = SplitStep(net: Network(spec: spec, capacity: 1000, target: .oneHot), layout: ParameterLayout(spec),
                              optimizer: .init())
        XCTAssertEqual(split.parts(rows: 1000), 2)
        XCTAssertEqual(split.parts(rows: 1), 1)
        XCTAssertEqual(split.parts(rows: 100), 1, "below 2^20 multiply-adds")
        BLAS.maxThreads = 1
        XCTAssertEqual(split.parts(rows: 1000), 1)
    }
}

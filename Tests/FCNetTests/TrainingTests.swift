import FCTestSupport
import XCTest
@testable import FCNet

final class TrainingTests: XCTestCase {
    static func fixture(_ name: String) throws -> String {
        try XCTUnwrap(Bundle.module.path(forResource: name, ofType: nil, inDirectory: "Fixtures"), "missing fixture \(name)")
    }

    static func digits() throws -> (train: Dataset, validation: Dataset, normalizer: Normalizer, raw: (Dataset, Dataset)) {
        let all = try CSVLoader().load(path: fixture("digits.csv"))
        let (train, val) = try all.split(validationFraction: 0.2, seed: 7)
        let norm = Normalizer.fit(.minmax, to: train)
        return (try norm.applied(to: train), try norm.applied(to: val), norm, (train, val))
    }

    func testXORIsLearned() throws {
        let xor = try Dataset(features: [0, 0, 0, 1, 1, 0, 1, 1], labels: [0, 1, 1, 0], width: 2)
        let spec = NetworkSpec(inputSize: 2, layerSizes: [8, 2], hiddenActivation: .tanh, outputActivation: .softmax, loss: .crossEntropy)
        let trainer = try Trainer(
            config: TrainingConfig(spec: spec, optimizer: .init(kind: .adam, learningRate: 0.05), batchSize: nil, seed: 3),
            train: xor)
        XCTAssertEqual(try trainer.train(epochs: 300), .completed)
        XCTAssertEqual(trainer.state.metrics["train_accuracy"], 1)
        XCTAssertLessThan(try XCTUnwrap(trainer.state.metrics["train_loss"]), 0.05)
        let model = try Model(state: trainer.state)
        XCTAssertEqual(try model.classify(xor), [0, 1, 1, 0])
    }

    func testXORWithOneSigmoidOutputAndBinaryCrossEntropy() throws {
        let xor = try Dataset(features: [0, 0, 0, 1, 1, 0, 1, 1], labels: [0, 1, 1, 0], width: 2)
        let spec = NetworkSpec(inputSize: 2, layerSizes: [6, 1], hiddenActivation: .tanh, outputActivation: .sigmoid, loss: .binaryCrossEntropy)
        let trainer = try Trainer(
            config: TrainingConfig(spec: spec, optimizer: .init(kind: .momentum, learningRate: 0.1, momentum: 0.9), batchSize: 1, seed: 5),
            train: xor)
        try trainer.train(epochs: 500)
        XCTAssertEqual(trainer.state.metrics["train_accuracy"], 1)
        XCTAssertEqual(try Model(state: trainer.state).classify(xor), [0, 1, 1, 0])
    }

    /// 64-32-10 sigmoid network on a held-out fifth of digits.csv: ≥ 95% accuracy.
    func testDigitsReach95PercentOnHeldOutFifth() throws {
        let d = try Self.digits()
        XCTAssertEqual(d.train.count + d.validation.count, 1797)
        XCTAssertEqual(d.validation.count, 359)
        let spec = NetworkSpec(inputSize: 64, layerSizes: [32, 10])
        let trainer = try Trainer(
            config: TrainingConfig(spec: spec, optimizer: .init(kind: .sgd, learningRate: 1.0), batchSize: 32, seed: 1),
            train: d.train, validation: d.validation)
        var seen: [Int] = []
        let outcome = try trainer.train(epochs: 30) { seen.append($0.epoch) }
        XCTAssertEqual(outcome, .completed)
        XCTAssertEqual(seen, Array(0...30))
        let m = trainer.state.metrics
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(m["val_accuracy"]), 0.95, "\(m)")
        for key in ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate", "wall_time_s",
                    "samples_per_s", "weight_norm.1", "weight_norm.2", "grad_norm.1", "grad_norm.2"] {
            XCTAssertNotNil(m[key], key)
        }
        // The model on raw features with the normaliser gives the trainer's validation figures.
        let model = try Model(state: trainer.state, normalizer: d.normalizer)
        let e = try model.evaluate(d.raw.1)
        let accuracy = try XCTUnwrap(e.accuracy), confusion = try XCTUnwrap(e.confusion)
        XCTAssertEqual(accuracy, try XCTUnwrap(m["val_accuracy"]), accuracy: 1e-12)
        XCTAssertEqual(e.loss, try XCTUnwrap(m["val_loss"]), accuracy: 1e-9)
        XCTAssertEqual(confusion.count, 10)
        XCTAssertEqual(confusion.joined().reduce(0, +), 359)
        XCTAssertEqual((0..<10).reduce(0) { $0 + confusion[$1][$1] }, Int((accuracy * 359).rounded()))
        let p = try model.predict(d.raw.1)
        XCTAssertEqual(p.count, 359 * 10)
        XCTAssertEqual(Double(p[0..<10].reduce(0, +)), 1, accuracy: 1e-5)
    }

    // MARK: Resume

    func resumeIsBitExact(_ optimizer: OptimizerConfig, batch: Int?) throws {
        let d = try Self.digits()
        let train = d.train.subset(Array(0..<300)), val = d.validation.subset(Array(0..<100))
        let spec = NetworkSpec(inputSize: 64, layerSizes: [16, 10], hiddenActivation: .relu)
        let config = TrainingConfig(spec: spec, optimizer: optimizer, batchSize: batch, seed: 11)
        let straight = try Trainer(config: config, train: train, validation: val)
        var history: [TrainingState] = []
        XCTAssertEqual(try straight.train(epochs: 6) { history.append($0) }, .completed)
        XCTAssertEqual(history.map(\.epoch), Array(0...6))

        let first = try Trainer(config: config, train: train, validation: val)
        _ = try first.train(epochs: 3)
        XCTAssertTrue(first.state.withMetrics([:]) == history[3].withMetrics([:]), "epoch 3 differs")
        // Through the store's representation: named tensors, scalars as JSON, metrics.
        let s = first.state
        let json = try JSONEncoder().encode(s.scalars)
        let restored = try TrainingState(
            spec: spec, scalars: JSONDecoder().decode(TrainingScalars.self, from: json),
            tensors: s.namedTensors(), metrics: s.metrics)
        XCTAssertTrue(restored == s, "state does not round-trip")
        let second = try Trainer(config: config, train: train, validation: val, start: .state(restored))
        var resumed: [Int] = []
        XCTAssertEqual(try second.train(epochs: 3) { resumed.append($0.epoch) }, .completed)
        XCTAssertEqual(resumed, [4, 5, 6])
        XCTAssertTrue(second.state.parameters == history[6].parameters, "parameters differ")
        XCTAssertTrue(second.state.slots == history[6].slots, "optimizer slots differ")
        XCTAssertEqual(second.state.random, history[6].random)
        XCTAssertEqual(second.state.step, history[6].step)
        XCTAssertEqual(second.state.schedulePosition, history[6].schedulePosition)
        XCTAssertEqual(second.state.metrics["train_loss"], history[6].metrics["train_loss"])
    }

    func testResumeIsBitExactForSGD() throws {
        try resumeIsBitExact(.init(kind: .sgd, learningRate: 0.3, schedule: .stepDecay(every: 2, factor: 0.5)), batch: 32)
    }

    func testResumeIsBitExactForMomentum() throws {
        try resumeIsBitExact(.init(kind: .momentum, learningRate: 0.05, momentum: 0.9), batch: 1)
    }

    func testResumeIsBitExactForAdam() throws {
        try resumeIsBitExact(.init(kind: .adam, learningRate: 0.01, schedule: .stepDecay(every: 4, factor: 0.1)), batch: 50)
        try resumeIsBitExact(.init(kind: .adam, learningRate: 0.01), batch: nil)
    }

    func testNamedTensorsHaveTheDocumentedNamesAndShapes() throws {
        let d = try Dataset(features: [0, 1, 1, 0], labels: [0, 1], width: 2)
        let spec = NetworkSpec(inputSize: 2, layerSizes: [3, 2])
        let t = try Trainer(config: TrainingConfig(spec: spec, optimizer: .init(kind: .adam, learningRate: 0.1)), train: d)
        let names = t.state.namedTensors().map { "\($0.name) \($0.shape)" }
        XCTAssertEqual(names, [
            "layers.1.weight [3, 2]", "layers.1.bias [3]", "layers.1.weight.m [3, 2]", "layers.1.bias.m [3]",
            "layers.1.weight.v [3, 2]", "layers.1.bias.v [3]",
            "layers.2.weight [2, 3]", "layers.2.bias [2]", "layers.2.weight.m [2, 3]", "layers.2.bias.m [2]",
            "layers.2.weight.v [2, 3]", "layers.2.bias.v [2]",
        ])
        var tensors = t.state.namedTensors()
        tensors.removeLast()
        XCTAssertThrowsError(try TrainingState(spec: spec, scalars: t.state.scalars, tensors: tensors)) {
            XCTAssertEqual("\($0)", "The checkpoint lacks tensor layers.2.bias.v.")
        }
        XCTAssertEqual(try Xoshiro256(stateBytes: t.state.random.stateBytes), t.state.random)
    }

    /// Stopping between batches drops the partial epoch; continuing gives the uninterrupted result.
    func testStopBetweenBatchesDropsTheEpochAndContinuesExactly() throws {
        let d = try Self.digits()
        let train = d.train.subset(Array(0..<200))
        let config = TrainingConfig(spec: NetworkSpec(inputSize: 64, layerSizes: [12, 10]),
                                    optimizer: .init(kind: .momentum, learningRate: 0.2), batchSize: 16, seed: 9)
        let straight = try Trainer(config: config, train: train)
        _ = try straight.train(epochs: 4)

        let interrupted = try Trainer(config: config, train: train)
        _ = try interrupted.train(epochs: 2)
        var polls = 0
        let outcome = try interrupted.train(epochs: 2, shouldStop: { polls += 1; return polls == 5 })
        XCTAssertEqual(outcome, .stopped)
        XCTAssertEqual(interrupted.state.epoch, 2)
        XCTAssertEqual(try interrupted.train(epochs: 2), .completed)
        XCTAssertTrue(interrupted.state.withMetrics([:]) == straight.state.withMetrics([:]), "states differ")
    }

    func testDivergenceStopsWithTheLastFiniteState() throws {
        let x: [Float] = (0..<40).map { Float($0) }
        let d = try Dataset(features: x, labels: x.map { 3 * $0 + 1 }, width: 1, task: .regression)
        let spec = NetworkSpec(inputSize: 1, layerSizes: [4, 1], hiddenActivation: .identity, outputActivation: .identity, loss: .mse)
        let trainer = try Trainer(config: TrainingConfig(spec: spec, optimizer: .init(kind: .sgd, learningRate: 5), batchSize: 8, seed: 2), train: d)
        var epochs: [Int] = []
        let outcome = try trainer.train(epochs: 100) { epochs.append($0.epoch) }
        guard case let .diverged(last) = outcome else { return XCTFail("expected divergence, got \(outcome)") }
        XCTAssertTrue(last == trainer.state)
        XCTAssertEqual(last.epoch, epochs.last)
        XCTAssertLessThan(last.epoch, 100)
        XCTAssertTrue(last.parameters.allSatisfy(\.isFinite))
    }

    func testRegressionLearnsALine() throws {
        let x: [Float] = (0..<64).map { Float($0) / 64 }
        let d = try Dataset(features: x, labels: x.map { 3 * $0 + 1 }, width: 1, task: .regression)
        let spec = NetworkSpec(inputSize: 1, layerSizes: [1], hiddenActivation: .identity, outputActivation: .identity, loss: .mse)
        let trainer = try Trainer(config: TrainingConfig(spec: spec, optimizer: .init(kind: .adam, learningRate: 0.05), batchSize: 8, seed: 2), train: d)
        _ = try trainer.train(epochs: 200)
        XCTAssertNil(trainer.state.metrics["train_accuracy"])
        XCTAssertEqual(trainer.state.weights(layer: 1)[0], 3, accuracy: 0.02)
        XCTAssertEqual(trainer.state.biases(layer: 1)[0], 1, accuracy: 0.02)
        let y = try Model(state: trainer.state).predict(features: [0.5], count: 1)
        XCTAssertEqual(y[0], 2.5, accuracy: 0.02)
    }

    func testConfigurationAndDataMismatchesAreRefused() throws {
        let iris = try CSVLoader().load(path: Self.fixture("iris.csv"))
        XCTAssertEqual(iris.classCount, 3)
        func refuse(_ spec: NetworkSpec, _ message: String, batch: Int? = nil, data: Dataset? = nil) {
            XCTAssertThrowsError(try Trainer(config: TrainingConfig(spec: spec, batchSize: batch), train: data ?? iris)) {
                XCTAssertEqual("\($0)", message)
            }
        }
        refuse(NetworkSpec(inputSize: 4, layerSizes: [2]), "The training data (iris.csv) has labels up to 2 but the output layer only has 2 neurons.")
        refuse(NetworkSpec(inputSize: 5, layerSizes: [3]), "The training data (iris.csv) has 5 features; the network's input size is 5.".replacingOccurrences(of: "has 5 features", with: "has 4 features"))
        refuse(NetworkSpec(inputSize: 4, layerSizes: [3], outputActivation: .sigmoid), "The cross-entropy loss needs a softmax output layer.")
        refuse(NetworkSpec(inputSize: 4, layerSizes: [3]), "The batch size must be at least 1 (got 0).", batch: 0)
        refuse(NetworkSpec(inputSize: 4, layerSizes: [3], hiddenActivation: .softmax), "Softmax is only available on the output layer.")
        // A checkpoint of other data is refused unless allowed.
        let t = try Trainer(config: TrainingConfig(spec: NetworkSpec(inputSize: 4, layerSizes: [3])), train: iris)
        let other = iris.subset(Array(0..<100))
        XCTAssertThrowsError(try Trainer(config: t.config, train: other, start: .state(t.state)))
        XCTAssertNoThrow(try Trainer(config: t.config, train: other, start: .state(t.state), allowDifferentData: true))
    }

    func testInitialisationIsSeededAndScaled() throws {
        let d = try Dataset(features: [Float](repeating: 0, count: 100), labels: [Float](repeating: 0, count: 1), width: 100)
        let spec = NetworkSpec(inputSize: 100, layerSizes: [50, 10], hiddenActivation: .relu)
        let a = try Trainer(config: TrainingConfig(spec: spec, seed: 1), train: d).state
        let b = try Trainer(config: TrainingConfig(spec: spec, seed: 1), train: d).state
        let c = try Trainer(config: TrainingConfig(spec: spec, seed: 2), train: d).state
        XCTAssertTrue(a == b)
        XCTAssertTrue(a.parameters != c.parameters)
        XCTAssertTrue(a.biases.joined().allSatisfy { $0 == 0 })
        let he = (6.0 / 100).squareRoot(), glorot = (6.0 / 60).squareRoot()
        XCTAssertLessThanOrEqual(Double(try XCTUnwrap(a.weights(layer: 1).map(abs).max())), he)
        XCTAssertGreaterThan(Double(try XCTUnwrap(a.weights(layer: 1).map(abs).max())), 0.9 * he)
        XCTAssertLessThanOrEqual(Double(try XCTUnwrap(a.weights(layer: 2).map(abs).max())), glorot)
        XCTAssertNotNil(a.metrics["weight_norm.1"])
    }

    func testBLASUsesAFastCore() throws {
        try BLAS.load()
        let core = BLAS.coreName
        XCTAssertFalse(core.isEmpty)
        if let user = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], BLAS.chosenCoreType == nil {
            XCTAssertEqual(core.lowercased(), user.lowercased())
        } else if let chosen = BLAS.chosenCoreType {
            XCTAssertEqual(core.lowercased(), chosen.lowercased(), BLAS.configuration)
            XCTAssertNotEqual(core.lowercased(), "prescott")
        }
        // A product through the seam, against scalar loops, for each routing (gemm, gemv, ger).
        for (m, n, k) in [(3, 4, 5), (1, 7, 6), (7, 1, 6), (5, 6, 1), (1, 1, 3)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = (0..<(m * k)).map { Float($0 % 7) - 3 }, b = (0..<(k * n)).map { Float($0 % 5) - 2 }
                    var c = [Float](repeating: 9, count: m * n)
                    let lda = ta ? m : k, ldb = tb ? k : n
                    a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                        BLAS.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb, c: cp.baseAddress!, ldc: n)
                    } } }
                    for i in 0..<m {
                        for j in 0..<n {
                            var s: Float = 0
                            for p in 0..<k { s += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]) }
                            XCTAssertEqual(c[i * n + j], s, "\(m)x\(n)x\(k) \(ta) \(tb)")
                        }
                    }
                }
            }
        }
    }
}

extension TrainingState {
    func withMetrics(_ m: [String: Double]) -> TrainingState {
        var s = self
        s.metrics = m
        return s
    }
}

/// OpenBLAS that cannot be loaded is a thrown sentence, not a crash: checked in a child
/// process (the choice is made once per process) started with FCSTORE_OPENBLAS set wrong.
final class BLASLoadFailureTests: XCTestCase {
    func testMissingLibraryIsAClearError() throws {
        let env = ProcessInfo.processInfo.environment
        if env["FCSTORE_OPENBLAS"] == "/nonexistent/libopenblas.so.0" {
            // Child: loading the library path given (the engine reads no environment) must
            // throw, naming that path, and the engine must refuse to train.
            BLAS.use(library: env["FCSTORE_OPENBLAS"])
            XCTAssertThrowsError(try BLAS.load()) {
                XCTAssertTrue("\($0)".hasPrefix("Could not load OpenBLAS from /nonexistent/libopenblas.so.0 ("), "\($0)")
            }
            XCTAssertEqual(BLAS.loadFailure?.path, "/nonexistent/libopenblas.so.0")
            XCTAssertEqual(BLAS.coreName, "")
            let d = try Dataset(features: [0, 1], labels: [0, 1], width: 1)
            XCTAssertThrowsError(try Trainer(config: TrainingConfig(spec: NetworkSpec(inputSize: 1, layerSizes: [2])), train: d))
            XCTAssertThrowsError(try Model(spec: NetworkSpec(inputSize: 1, layerSizes: [2]), parameters: [0, 0, 0, 0]).predict(features: [1], count: 1))
            return
        }
        #if os(Linux)
        let child = try Subprocess.run(
            URL(fileURLWithPath: CommandLine.arguments[0]), ["FCNetTests.BLASLoadFailureTests/testMissingLibraryIsAClearError"],
            environment: env.merging(["FCSTORE_OPENBLAS": "/nonexistent/libopenblas.so.0"]) { $1 }, mergingOutput: true)
        XCTAssertEqual(child.status, 0, child.stdout)
        XCTAssertTrue(child.stdout.contains("Executed 1 test, with 0 failures"), child.stdout)
        #endif
    }
}

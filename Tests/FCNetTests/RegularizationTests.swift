import FCCore
import XCTest
@testable import FCNet

/// Early stopping, weight decay and dropout in the engine.
final class RegularizationTests: XCTestCase {
    // MARK: Early stopping's rule

    /// Keras' EarlyStopping on a written-out sequence: improvement means better than the best
    /// by more than min_delta; the wait counts epochs since the last improvement.
    func testPatienceFollowsKerasDefinitions() {
        let rule = EarlyStopping(monitor: .valLoss, patience: 2, minDelta: 0.1)
        var state: PatienceState?
        var log: [(Int?, Int, Bool)] = []
        // 1.0 (first: best), 0.95 (not 0.1 better), 0.85 (0.15 better: best), 0.80, 0.76 (stop).
        for (epoch, value) in [(1, 1.0), (2, 0.95), (3, 0.85), (4, 0.80), (5, 0.76)] {
            let next = PatienceState.after(state, epoch: epoch, value: value, rule: rule)
            state = next.state
            log.append((next.state.bestEpoch, next.state.wait, next.stop))
        }
        XCTAssertEqual(log.map(\.0), [1, 1, 3, 3, 3])
        XCTAssertEqual(log.map(\.1), [0, 1, 0, 1, 2])
        XCTAssertEqual(log.map(\.2), [false, false, false, false, true])
        XCTAssertEqual(state?.best, 0.85)

        let accuracy = EarlyStopping(monitor: .valAccuracy, patience: 1)
        XCTAssertTrue(accuracy.improves(0.9, on: 0.8))
        XCTAssertFalse(accuracy.improves(0.8, on: 0.8))  // equal is no improvement (min_delta 0)
        XCTAssertEqual(accuracy.bestEpoch([(1, 0.5), (2, 0.7), (3, 0.7), (4, 0.6)])?.epoch, 2)
        // patience 0: the first epoch without improvement stops.
        let impatient = EarlyStopping(monitor: .trainLoss, patience: 0)
        let first = PatienceState.after(nil, epoch: 1, value: 1, rule: impatient)
        XCTAssertFalse(first.stop)
        XCTAssertTrue(PatienceState.after(first.state, epoch: 2, value: 1, rule: impatient).stop)
    }

    /// A resumed early stop gets a full patience again; another monitor starts afresh.
    func testContinuedPatience() {
        let rule = EarlyStopping(monitor: .valLoss, patience: 3)
        let stopped = PatienceState(monitor: .valLoss, best: 0.5, bestEpoch: 4, wait: 3)
        XCTAssertEqual(Trainer.continuedPatience(stopped, rule: rule), PatienceState(monitor: .valLoss, best: 0.5, bestEpoch: 4, wait: 0))
        let waiting = PatienceState(monitor: .valLoss, best: 0.5, bestEpoch: 4, wait: 2)
        XCTAssertEqual(Trainer.continuedPatience(waiting, rule: rule), waiting)
        XCTAssertNil(Trainer.continuedPatience(waiting, rule: EarlyStopping(monitor: .trainLoss, patience: 3)))
        XCTAssertNil(Trainer.continuedPatience(waiting, rule: nil))
    }

    // MARK: Early stopping in training

    /// A 64-256-10 network on 120 digits overfits: the validation loss turns up and training
    /// stops exactly `patience` epochs after the best epoch, which the recorded metrics
    /// give independently; every epoch was handed to the observer.
    func testOverfittingRunStopsAfterExactlyPatienceEpochs() throws {
        let (train, validation) = try Self.smallDigits()
        let patience = 3
        let config = TrainingConfig(
            spec: NetworkSpec(inputSize: 64, layerSizes: [256, 10]), optimizer: .init(kind: .sgd, learningRate: 0.5),
            batchSize: 16, seed: 2, earlyStopping: EarlyStopping(monitor: .valLoss, patience: patience))
        let trainer = try Trainer(config: config, train: train, validation: validation)
        var states: [TrainingState] = []
        let outcome = try trainer.train(epochs: 200) { states.append($0) }
        guard case let .stoppedEarly(best) = outcome else { return XCTFail("expected an early stop, got \(outcome)") }
        XCTAssertEqual(states.map(\.epoch), Array(0...(best + patience)))
        // Independently: the lowest val_loss of epochs 1... (min_delta 0, first on ties).
        let losses = states.dropFirst().compactMap { state in state.metrics["val_loss"].map { (state.epoch, $0) } }
        XCTAssertEqual(losses.count, states.count - 1)
        let expected = try XCTUnwrap(losses.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) })
        XCTAssertEqual(best, expected.0)
        XCTAssertGreaterThan(states.count - 1, patience + 1, "the run should train a while before it overfits")
        XCTAssertEqual(states.last?.metrics[Trainer.earlyStopMetric], Double(best))
        XCTAssertEqual(states.last?.patience?.wait, patience)
        XCTAssertNil(states.dropLast().last?.metrics[Trainer.earlyStopMetric])

        // From a checkpoint three epochs before the end: the same stop, the same bits.
        let middle = states[states.count - 3]
        let resumed = try Trainer(config: config, train: train, validation: validation, start: .state(middle))
        var again: [TrainingState] = []
        XCTAssertEqual(try resumed.train(epochs: 200) { again.append($0) }, .stoppedEarly(bestEpoch: best))
        XCTAssertEqual(again.last?.parameters, states.last?.parameters)
        XCTAssertEqual(again.last?.patience, states.last?.patience)
    }

    func testValidationMonitorNeedsValidationData() throws {
        let (train, _) = try Self.smallDigits()
        let config = TrainingConfig(spec: NetworkSpec(inputSize: 64, layerSizes: [10]), earlyStopping: EarlyStopping(patience: 2))
        XCTAssertThrowsError(try Trainer(config: config, train: train)) { error in
            XCTAssertEqual(error as? FCNetError, .invalidConfiguration("Early stopping on val_loss needs a validation set."))
        }
    }

    // MARK: Weight decay

    /// One full-batch step: with sgd the biases are untouched by λ (bit for bit) and every
    /// weight moves by exactly −η λ W (in float, to rounding); with adam (AdamW) W is
    /// scaled by 1 − η λ before the Adam step, so the biases are again bit-identical.
    func testWeightDecayActsOnWeightsOnly() throws {
        let (train, _) = try Self.smallDigits()
        let spec = NetworkSpec(inputSize: 64, layerSizes: [16, 10])
        for kind in OptimizerConfig.Kind.allCases {
            func step(_ lambda: Double?) throws -> TrainingState {
                let optimizer = OptimizerConfig(kind: kind, learningRate: 0.1, weightDecay: lambda)
                let trainer = try Trainer(config: TrainingConfig(spec: spec, optimizer: optimizer, batchSize: nil, seed: 4), train: train)
                try trainer.train(epochs: 1)
                return trainer.state
            }
            let plain = try step(nil), decayed = try step(0.05)
            let layout = ParameterLayout(spec)
            for l in 1...2 {
                XCTAssertEqual(decayed.biases(layer: l), plain.biases(layer: l), "\(kind) layer \(l) biases")
                XCTAssertNotEqual(decayed.weights(layer: l), plain.weights(layer: l), "\(kind) layer \(l) weights")
            }
            if kind != .adam {
                // W' = W − η (g + λ W): the difference from the plain step is −η λ W.
                var random = Xoshiro256(seed: 4)
                let initial = Trainer.initialParameters(spec, layout, &random)
                for i in layout.weightRange(1) {
                    XCTAssertEqual(decayed.parameters[i] - plain.parameters[i], Float(-0.1 * 0.05) * initial[i], accuracy: 1e-6)
                }
            }
        }
    }

    // MARK: Dropout

    /// Backpropagation through a fixed dropout mask against central finite differences of a
    /// Double reference whose hidden activations are multiplied by the same mask.
    func testDropoutGradientMatchesFiniteDifferencesWithFixedMask() throws {
        try BLAS.load()
        let spec = NetworkSpec(inputSize: 3, layerSizes: [5, 4, 3], hiddenActivation: .tanh)
        let layout = ParameterLayout(spec)
        let rows = 4
        var random = Xoshiro256(seed: 11)
        let p = (0..<layout.count).map { _ in (random.nextUnit() - 0.5) }
        let x = (0..<(rows * 3)).map { _ in random.nextUnit() * 2 - 1 }
        let labels: [Float] = [0, 2, 1, 2]
        let scale: Float = 1 / (1 - 0.4)
        let masks: [[Float]] = [5, 4].map { n in (0..<(rows * n)).map { _ in random.nextUnit() < 0.4 ? 0 : scale } }
        XCTAssertTrue(masks[0].contains(0) && masks[0].contains(scale))

        let net = Network(spec: spec, capacity: rows, target: .oneHot, dropout: 0.4)
        net.setMasks(masks)
        let params = FloatBuffer(p), grads = FloatBuffer(count: p.count), xb = FloatBuffer(x), yb = FloatBuffer(labels)
        net.forward(parameters: params.p, x: xb.p, rows: rows)
        _ = net.outputDelta(labels: yb.p, rows: rows, scale: 1 / Float(rows), classify: false)
        net.backward(parameters: params.p, gradients: grads.p, x: xb.p, rows: rows)

        func loss(_ q: [Double]) -> Double {
            var total = 0.0
            for r in 0..<rows {
                var a = (0..<3).map { Double(x[r * 3 + $0]) }
                var offset = 0
                for l in 1...3 {
                    let nIn = spec.sizes[l - 1], nOut = spec.sizes[l]
                    var z = (0..<nOut).map { i in (0..<nIn).reduce(0.0) { $0 + q[offset + i * nIn + $1] * a[$1] } }
                    offset += nOut * nIn
                    for i in 0..<nOut { z[i] += q[offset + i] }
                    offset += nOut
                    a = GradientTests.sigma(spec.activation(layer: l), z)
                    if l < 3 { a = a.enumerated().map { $1 * Double(masks[l - 1][r * nOut + $0]) } }
                }
                total -= log(a[Int(labels[r])])
            }
            return total / Double(rows)
        }
        let base = p.map(Double.init)
        for i in 0..<layout.count {
            var plus = base, minus = base
            plus[i] += 1e-4; minus[i] -= 1e-4
            let numeric = (loss(plus) - loss(minus)) / 2e-4
            XCTAssertEqual(Double(grads.array[i]), numeric, accuracy: 2e-4, "parameter \(i)")
        }
    }

    /// Dropout masks come from the run's generator: a run resumed from a checkpoint ends with
    /// the same bits as the uninterrupted one, the masks change the result, and evaluation
    /// (the validation metrics, `Model.evaluate`) uses no mask: deterministic and equal.
    func testDropoutIsReproducibleOnResumeAndAbsentFromEvaluation() throws {
        let (train, validation) = try Self.smallDigits()
        for batch in [16, nil] as [Int?] {
            let config = TrainingConfig(
                spec: NetworkSpec(inputSize: 64, layerSizes: [32, 24, 10], hiddenActivation: .relu),
                optimizer: .init(kind: .momentum, learningRate: 0.05, weightDecay: 0.01), batchSize: batch, seed: 9, dropout: 0.3)
            let whole = try Trainer(config: config, train: train, validation: validation)
            var states: [TrainingState] = []
            try whole.train(epochs: 4) { states.append($0) }
            let resumed = try Trainer(config: config, train: train, validation: validation, start: .state(states[2]))
            try resumed.train(epochs: 2)
            XCTAssertEqual(resumed.state.parameters, whole.state.parameters, "batch \(String(describing: batch))")
            XCTAssertEqual(resumed.state.random, whole.state.random)
            XCTAssertEqual(resumed.state.slots, whole.state.slots)

            var plainConfig = config
            plainConfig.dropout = nil
            let plain = try Trainer(config: plainConfig, train: train, validation: validation)
            try plain.train(epochs: 4)
            XCTAssertNotEqual(plain.state.parameters, whole.state.parameters)

            let model = try Model(state: whole.state)
            let first = try model.evaluate(validation), second = try model.evaluate(validation)
            XCTAssertEqual(first, second)
            XCTAssertEqual(first.loss, try XCTUnwrap(whole.state.metrics["val_loss"]), accuracy: 1e-9)
        }
    }

    func testDropoutNeedsAHiddenLayerAndAProbabilityBelowOne() throws {
        let (train, _) = try Self.smallDigits()
        XCTAssertThrowsError(try Trainer(config: TrainingConfig(spec: NetworkSpec(inputSize: 64, layerSizes: [10]), dropout: 0.5), train: train))
        XCTAssertThrowsError(try Trainer(config: TrainingConfig(spec: NetworkSpec(inputSize: 64, layerSizes: [8, 10]), dropout: 1), train: train))
    }

    /// 120 training and 60 validation rows of digits.csv, min-max normalised.
    static func smallDigits() throws -> (Dataset, Dataset) {
        let all = try CSVLoader().load(path: TrainingTests.fixture("digits.csv"))
        let rows = 180
        let head = try Dataset(features: Array(all.features[0..<(rows * 64)]), labels: Array(all.labels[0..<rows]), width: 64)
        let (train, validation) = try head.split(validationFraction: 1.0 / 3, seed: 3)
        let norm = Normalizer.fit(.minmax, to: train)
        return (try norm.applied(to: train), try norm.applied(to: validation))
    }
}

import FCCore
import XCTest
@testable import FCNet

/// Backpropagation against central finite differences of an independent Double-precision
/// forward pass, and one GD step against values worked out from the equations.
final class GradientTests: XCTestCase {
    // MARK: Reference (Double, scalar loops, written from the README's "The training engine")

    static func sigma(_ act: Activation, _ z: [Double]) -> [Double] {
        switch act {
        case .sigmoid: return z.map { 1 / (1 + exp(-$0)) }
        case .tanh: return z.map { Foundation.tanh($0) }
        case .relu: return z.map { max($0, 0) }
        case .leakyRelu: return z.map { $0 > 0 ? $0 : 0.01 * $0 }
        case .identity: return z
        case .softmax:
            let m = z.max() ?? 0
            let e = z.map { exp($0 - m) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
    }

    /// Mean C_r over the rows, parameters flat as in the engine (W^l row-major then b^l).
    static func referenceLoss(_ spec: NetworkSpec, _ p: [Double], _ x: [[Double]], _ labels: [Double]) -> Double {
        let sizes = spec.sizes
        var total = 0.0
        for (r, row) in x.enumerated() {
            var a = row
            var offset = 0
            for l in 1..<sizes.count {
                var z = [Double](repeating: 0, count: sizes[l])
                for i in 0..<sizes[l] {
                    var s = 0.0
                    for j in 0..<sizes[l - 1] { s += p[offset + i * sizes[l - 1] + j] * a[j] }
                    z[i] = s
                }
                offset += sizes[l] * sizes[l - 1]
                for i in 0..<sizes[l] { z[i] += p[offset + i] }
                offset += sizes[l]
                a = sigma(spec.activation(layer: l), z)
            }
            let n = spec.outputSize
            let t: [Double] = n == 1 ? [labels[r]] : (0..<n).map { $0 == Int(labels[r]) ? 1 : 0 }
            switch spec.loss {
            case .mse: total += zip(a, t).reduce(0) { $0 + 0.5 * ($1.0 - $1.1) * ($1.0 - $1.1) }
            case .crossEntropy: total += -zip(a, t).reduce(0) { $0 + $1.1 * log($1.0) }
            case .binaryCrossEntropy:
                total += -zip(a, t).reduce(0) { $0 + $1.1 * log($1.0) + (1 - $1.1) * log(1 - $1.0) }
            }
        }
        return total / Double(x.count)
    }

    /// The engine's batch-mean gradient (flat) for parameters `p`.
    static func engineGradient(_ spec: NetworkSpec, _ p: [Float], _ x: [Float], _ labels: [Float]) throws -> (loss: Double, gradient: [Float]) {
        try BLAS.load()
        let rows = labels.count
        let net = Network(spec: spec, capacity: rows, target: spec.outputSize == 1 ? .scalar : .oneHot)
        let params = FloatBuffer(p), grads = FloatBuffer(count: p.count)
        let xb = FloatBuffer(x), yb = FloatBuffer(labels)
        net.forward(parameters: params.p, x: xb.p, rows: rows)
        let r = net.outputDelta(labels: yb.p, rows: rows, scale: 1 / Float(rows), classify: false)
        net.backward(parameters: params.p, gradients: grads.p, x: xb.p, rows: rows)
        return (r.loss / Double(rows), grads.array)
    }

    static var combinations: [(Activation, Activation, Loss)] {
        var out: [(Activation, Activation, Loss)] = []
        let hidden: [Activation] = [.sigmoid, .tanh, .relu, .leakyRelu, .identity]
        for h in hidden {
            out.append((h, .softmax, .crossEntropy))
            out.append((h, .sigmoid, .binaryCrossEntropy))
            for o in Activation.allCases { out.append((h, o, .mse)) }
        }
        return out
    }

    func testGradientsMatchFiniteDifferencesForEveryActivationAndLoss() throws {
        var rng = Xoshiro256(seed: 42)
        for (hidden, output, loss) in Self.combinations {
            for outputs in [3, 1] where !(outputs == 1 && output == .softmax) {
                let spec = NetworkSpec(inputSize: 4, layerSizes: [5, 4, outputs], hiddenActivation: hidden, outputActivation: output, loss: loss)
                try spec.validate()
                var p = Trainer.initialParameters(spec, ParameterLayout(spec), &rng)
                for i in p.indices { p[i] += 0.1 * (rng.nextUnit() - 0.5) }  // non-zero biases too
                let rows = 6
                let x = (0..<(rows * 4)).map { _ in 2 * rng.nextUnit() - 1 }
                let labels: [Float] = (0..<rows).map { _ in
                    outputs == 1 ? (loss == .mse ? rng.nextUnit() : Float(rng.below(2))) : Float(rng.below(outputs))
                }
                let (engineLoss, g) = try Self.engineGradient(spec, p, x, labels)
                let pd = p.map(Double.init)
                let xd = (0..<rows).map { r in (0..<4).map { Double(x[r * 4 + $0]) } }
                let ld = labels.map(Double.init)
                let ref = Self.referenceLoss(spec, pd, xd, ld)
                let label = "\(hidden.rawValue)/\(output.rawValue)/\(loss.rawValue)/\(outputs) outputs"
                XCTAssertEqual(engineLoss, ref, accuracy: 1e-5 * max(1, abs(ref)), "loss \(label)")
                let h = 1e-6
                var worst = 0.0
                for i in pd.indices {
                    var plus = pd, minus = pd
                    plus[i] += h; minus[i] -= h
                    let numeric = (Self.referenceLoss(spec, plus, xd, ld) - Self.referenceLoss(spec, minus, xd, ld)) / (2 * h)
                    let err = abs(Double(g[i]) - numeric) / max(1e-3, abs(numeric))
                    worst = max(worst, err)
                    XCTAssertEqual(Double(g[i]), numeric, accuracy: 1e-4 + 1e-3 * abs(numeric), "\(label) parameter \(i)")
                }
                XCTAssertLessThan(worst, 1e-2, label)
            }
        }
    }

    /// One full-batch GD step on a 2-3-2 sigmoid network with mse, worked out with scalar loops.
    func testOneGradientDescentStepOn232Network() throws {
        let spec = NetworkSpec(inputSize: 2, layerSizes: [3, 2], hiddenActivation: .sigmoid, outputActivation: .sigmoid, loss: .mse)
        let W1: [[Double]] = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]
        let b1: [Double] = [0.01, -0.02, 0.03]
        let W2: [[Double]] = [[0.7, -0.8, 0.9], [-0.1, 0.2, -0.3]]
        let b2: [Double] = [0.05, -0.05]
        let X: [[Double]] = [[1.0, 0.5], [-0.3, 0.8]]
        let T: [[Double]] = [[1, 0], [0, 1]]
        let eta = 0.5
        func s(_ z: Double) -> Double { 1 / (1 + exp(-z)) }
        var gW1 = [[Double]](repeating: [0, 0], count: 3), gb1 = [Double](repeating: 0, count: 3)
        var gW2 = [[Double]](repeating: [0, 0, 0], count: 2), gb2 = [Double](repeating: 0, count: 2)
        for r in 0..<2 {
            var z1 = [Double](repeating: 0, count: 3), a1 = z1
            for i in 0..<3 { z1[i] = W1[i][0] * X[r][0] + W1[i][1] * X[r][1] + b1[i]; a1[i] = s(z1[i]) }
            var z2 = [Double](repeating: 0, count: 2), a2 = z2
            for i in 0..<2 { z2[i] = b2[i]; for j in 0..<3 { z2[i] += W2[i][j] * a1[j] }; a2[i] = s(z2[i]) }
            var d2 = [Double](repeating: 0, count: 2)
            for i in 0..<2 { d2[i] = (a2[i] - T[r][i]) * a2[i] * (1 - a2[i]) }
            var d1 = [Double](repeating: 0, count: 3)
            for j in 0..<3 { var s = 0.0; for i in 0..<2 { s += W2[i][j] * d2[i] }; d1[j] = s * a1[j] * (1 - a1[j]) }
            for i in 0..<2 { gb2[i] += d2[i] / 2; for j in 0..<3 { gW2[i][j] += d2[i] * a1[j] / 2 } }
            for i in 0..<3 { gb1[i] += d1[i] / 2; for j in 0..<2 { gW1[i][j] += d1[i] * X[r][j] / 2 } }
        }
        let expectW1 = (0..<3).flatMap { i in (0..<2).map { W1[i][$0] - eta * gW1[i][$0] } }
        let expectb1 = (0..<3).map { b1[$0] - eta * gb1[$0] }
        let expectW2 = (0..<2).flatMap { i in (0..<3).map { W2[i][$0] - eta * gW2[i][$0] } }
        let expectb2 = (0..<2).map { b2[$0] - eta * gb2[$0] }

        let data = try Dataset(features: X.flatMap { $0.map(Float.init) }, labels: [0, 1], width: 2)
        let trainer = try Trainer(
            config: TrainingConfig(spec: spec, optimizer: .init(kind: .sgd, learningRate: eta), batchSize: nil, seed: 1),
            train: data,
            start: .weights(weights: [W1.flatMap { $0.map(Float.init) }, W2.flatMap { $0.map(Float.init) }],
                            biases: [b1.map(Float.init), b2.map(Float.init)]))
        XCTAssertEqual(try trainer.train(epochs: 1), .completed)
        let s1 = trainer.state
        XCTAssertEqual(s1.epoch, 1)
        XCTAssertEqual(s1.step, 1)
        for (got, want) in zip(s1.weights(layer: 1) + s1.biases(layer: 1) + s1.weights(layer: 2) + s1.biases(layer: 2),
                               expectW1 + expectb1 + expectW2 + expectb2) {
            XCTAssertEqual(Double(got), want, accuracy: 1e-6)
        }
        XCTAssertEqual(s1.weights, [s1.weights(layer: 1), s1.weights(layer: 2)])
    }
}

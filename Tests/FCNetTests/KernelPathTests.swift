import CKernels
import XCTest
@testable import FCNet

/// The three instruction-set paths of the C kernels (AVX-512F, AVX2, portable), each forced
/// with `Kernels.force`: every kernel gives the same bits on every path this CPU runs, and
/// so does a training run.
final class KernelPathTests: XCTestCase {
    override func tearDown() {
        XCTAssertNoThrow(try Kernels.force(nil))
        super.tearDown()
    }

    /// The paths this CPU runs, the portable one first.
    private var paths: [Kernels.ISA] { [.portable, .avx2, .avx512].filter(\.isSupported) }

    func testForcingChoosesThePathAndAutomaticGoesBack() throws {
        XCTAssertTrue(Kernels.ISA.portable.isSupported)
        try Kernels.force(nil)
        let automatic = Kernels.isa
        XCTAssertEqual(automatic, paths.last, "the default is the best path this CPU runs")
        for isa in paths {
            try Kernels.force(isa)
            XCTAssertEqual(Kernels.isa, isa)
            XCTAssertEqual(BLAS.elementwiseISA, isa == .avx512 ? "avx512f" : isa.rawValue)
        }
        try Kernels.force(nil)
        XCTAssertEqual(Kernels.isa, automatic)
        for isa in Kernels.ISA.allCases where !isa.isSupported {
            try Kernels.force(.portable)
            XCTAssertThrowsError(try Kernels.force(isa)) {
                XCTAssertEqual("\($0)", "This CPU cannot run the \(isa.rawValue) kernels.")
            }
            XCTAssertEqual(Kernels.isa, .portable, "a refused path changes nothing")
        }
    }

    /// Runs every kernel of CKernels.h on inputs of awkward lengths (vector tails of every size,
    /// NaN, ±0, values past the exp clamp) and returns every output's bits.
    private func kernelOutputs() -> [String: [UInt64]] {
        var rng = Xoshiro256(seed: 77)
        func values(_ n: Int, _ spread: Float = 8) -> [Float] { (0..<n).map { _ in (Float(rng.nextUnit()) * 2 - 1) * spread } }
        func bits(_ v: [Float]) -> [UInt64] { v.map { UInt64($0.bitPattern) } }
        var out: [String: [UInt64]] = [:]
        for n in [1, 7, 8, 9, 15, 16, 17, 31, 33, 100] {
            var src = values(n, 120)
            src[0] = n % 2 == 0 ? .nan : -0.0
            var dst = [Float](repeating: 0, count: n)
            fck_exp(src, &dst, n); out["exp \(n)"] = bits(dst)
            // Each value against the Swift reference too (NaN in, NaN out on every path).
            for i in 0..<n where !src[i].isNaN { XCTAssertEqual(dst[i].bitPattern, VectorMath.exp(src[i]).bitPattern, "exp(\(src[i]))") }
            fck_sigmoid(src, &dst, n); out["sigmoid \(n)"] = bits(dst)
            for i in 0..<n where !src[i].isNaN { XCTAssertEqual(dst[i].bitPattern, VectorMath.sigmoid(src[i]).bitPattern) }
            fck_tanh(src, &dst, n); out["tanh \(n)"] = bits(dst)
            for i in 0..<n where !src[i].isNaN { XCTAssertEqual(dst[i].bitPattern, VectorMath.tanh(src[i]).bitPattern) }

            let a = values(n, 1), g = values(n)
            var d = values(n)
            fck_mul_sigmoid_derivative(&d, a, n); out["sigmoid' \(n)"] = bits(d)
            fck_mul_tanh_derivative(&d, a, n); out["tanh' \(n)"] = bits(d)
            fck_add(&d, g, n); out["add \(n)"] = bits(d)
            fck_sgd(&d, g, 0.03, n); out["sgd \(n)"] = bits(d)
        }
        for (rows, cols) in [(1, 1), (3, 7), (5, 16), (4, 17), (9, 40)] {
            let bias = values(cols)
            let z0 = values(rows * cols)
            var z = z0, a = [Float](repeating: 0, count: rows * cols), logNorm = [Float](repeating: 0, count: rows)
            fck_bias_sigmoid(&z, &a, bias, rows, cols); out["bias sigmoid \(rows)x\(cols)"] = bits(z) + bits(a)
            z = z0
            fck_bias_tanh(&z, &a, bias, rows, cols); out["bias tanh \(rows)x\(cols)"] = bits(z) + bits(a)
            z = z0
            fck_bias_add(&z, bias, rows, cols); out["bias add \(rows)x\(cols)"] = bits(z)
            z = z0
            fck_bias_softmax(&z, &a, bias, rows, cols, &logNorm); out["softmax \(rows)x\(cols)"] = bits(z) + bits(a) + bits(logNorm)

            var sums = values(cols)
            fck_column_sums_acc(z0, rows, cols, cols, &sums); out["column sums acc \(rows)x\(cols)"] = bits(sums)
            fck_column_sums(z0, rows, cols, cols, &sums); out["column sums \(rows)x\(cols)"] = bits(sums)
            var c = values(rows * cols)
            let x = values(rows * 2), y = values(cols)
            fck_outer_acc(rows, cols, -0.1, x, 2, y, &c, cols); out["outer acc \(rows)x\(cols)"] = bits(c)
            fck_outer(rows, cols, 0.5, x, 2, y, &c, cols); out["outer \(rows)x\(cols)"] = bits(c)

            // Softmax + cross-entropy Δ (rows of up to 16 outputs take a vector path on AVX-512).
            let labels = (0..<rows).map { Float($0 % cols) }
            var delta = [Float](repeating: 0, count: rows * cols), rowCost = [Double](repeating: 0, count: rows)
            var hits = 0
            let total = fck_softmax_ce_delta(a, z, logNorm, labels, &delta, rows, cols, 1 / Float(rows), &hits, &rowCost)
            out["softmax ce \(rows)x\(cols)"] = bits(delta) + rowCost.map(\.bitPattern) + [total.bitPattern, UInt64(hits)]
        }
        return out
    }

    func testEveryKernelGivesTheSameBitsOnEveryPath() throws {
        let paths = self.paths
        try Kernels.force(.portable)
        let reference = kernelOutputs()
        XCTAssertEqual(reference.count, 10 * 7 + 5 * 9)
        for isa in paths.dropFirst() {
            try Kernels.force(isa)
            let outputs = kernelOutputs()
            for (name, expected) in reference.sorted(by: { $0.key < $1.key }) {
                XCTAssertEqual(outputs[name], expected, "\(name) on \(isa) differs from portable")
            }
        }
        if paths.count < 3 { throw XCTSkip("This CPU runs only \(paths.map(\.rawValue)); the others were not compared.") }
    }

    /// `rows` rows, the label's class raising every `classes`-th feature.
    static func data(rows: Int, width: Int, classes: Int) throws -> Dataset {
        var rng = Xoshiro256(seed: 5)
        var x = [Float](repeating: 0, count: rows * width), y = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let c = Int(rng.next() % UInt64(classes))
            y[r] = Float(c)
            for j in 0..<width { x[r * width + j] = Float(rng.nextUnit()) + (j % classes == c ? 1 : 0) }
        }
        return try Dataset(features: x, labels: y, width: width)
    }

    /// Trains one state per path; all must be the same bits.
    private func assertTrainingIsTheSameOnEveryPath(
        spec: NetworkSpec, optimizer: OptimizerConfig, batch: Int?, rows: Int, threads: Int,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        try BLAS.load()
        let saved = BLAS.maxThreads
        defer { BLAS.maxThreads = saved }
        BLAS.maxThreads = threads
        let data = try Self.data(rows: rows, width: spec.inputSize, classes: max(spec.outputSize, 2))
        var states: [(Kernels.ISA, TrainingState)] = []
        for isa in paths {
            try Kernels.force(isa)
            let trainer = try Trainer(config: TrainingConfig(spec: spec, optimizer: optimizer, batchSize: batch, seed: 9), train: data)
            XCTAssertEqual(try trainer.train(epochs: 3), .completed, file: file, line: line)
            states.append((isa, trainer.state))
        }
        let (_, reference) = try XCTUnwrap(states.first)
        XCTAssertEqual(reference.epoch, 3, file: file, line: line)
        for (isa, state) in states.dropFirst() {
            XCTAssertEqual(state.parameters.map(\.bitPattern), reference.parameters.map(\.bitPattern),
                           "parameters on \(isa)", file: file, line: line)
            for (name, values) in reference.slots {
                XCTAssertEqual(state.slots[name]?.map(\.bitPattern), values.map(\.bitPattern), "slot \(name) on \(isa)", file: file, line: line)
            }
            for name in ["train_loss", "train_accuracy", "grad_norm.1", "weight_norm.2"] {
                XCTAssertEqual(state.metrics[name]?.bitPattern, reference.metrics[name]?.bitPattern, "\(name) on \(isa)", file: file, line: line)
            }
        }
    }

    func testTrainingGivesTheSameParametersOnEveryPath() throws {
        // Sigmoid hidden layers and a softmax output of 4 (the AVX-512 Δ path), mini-batches.
        try assertTrainingIsTheSameOnEveryPath(
            spec: NetworkSpec(inputSize: 12, layerSizes: [19, 9, 4]), optimizer: OptimizerConfig(kind: .adam, learningRate: 0.01),
            batch: 25, rows: 300, threads: 1)
        // Tanh, plain SGD (its update fused into dW), on one thread and split over two.
        for threads in [1, 2] {
            try assertTrainingIsTheSameOnEveryPath(
                spec: NetworkSpec(inputSize: 48, layerSizes: [64, 32, 4], hiddenActivation: .tanh),
                optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.3), batch: 500, rows: 1000, threads: threads)
        }
        // Sigmoid output with binary cross-entropy, momentum, full batch.
        try assertTrainingIsTheSameOnEveryPath(
            spec: NetworkSpec(inputSize: 12, layerSizes: [17, 1], outputActivation: .sigmoid, loss: .binaryCrossEntropy),
            optimizer: OptimizerConfig(kind: .momentum, learningRate: 0.1), batch: nil, rows: 200, threads: 1)
    }
}

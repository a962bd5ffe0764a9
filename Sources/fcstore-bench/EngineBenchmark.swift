import ArgumentParser
import FCNet
import Foundation

/// `fcstore-bench engine`: times the training engine on the four peer workloads (W1–W4)
/// and the sgemm rate of the BLAS in use. Build with `-c release`.
struct EngineBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Time the training engine on workloads W1-W4 and the BLAS sgemm rate.",
        discussion: """
            W1 784-128-64-10 batch 64 on 60,000 samples (1 epoch); W2 the same net, batch 1, \
            5,000 samples; W3 784-1024-1024-10 batch 256 on 20,000 samples; W4 64-32-10, \
            full-batch GD on 10,000 samples, 100 steps. Sigmoid hidden layers, softmax + \
            cross-entropy, plain SGD (lr 0.1), synthetic MNIST-like data from a fixed seed.
            """)

    @Option(help: "Comma-separated workloads.") var workloads = "W1,W2,W3,W4"
    @Option(name: .customLong("workload"), help: "One workload (as peers.py passes it); overrides --workloads.")
    var workload: String?
    @Option(help: "Epochs per timed unit of W1 and W3 (default 1), for multi-epoch timing.") var epochs: Int?
    @Option(help: "Timed repeats per workload (the median is reported).") var repeats = 3
    @Option(help: "Untimed runs per workload before the timed ones.") var warmup = 1
    @Option(help: "Most BLAS threads per product (default: OpenBLAS's own default).") var threads: Int?
    @Option(help: "Products below this many multiply-adds run on one thread.") var parallelThreshold: Int?
    @Flag(help: "Print one JSON document on stdout.") var json = false

    struct Workload {
        let name: String, samples: Int, width: Int, hidden: [Int], batch: Int?, epochs: Int
    }

    static let all: [Workload] = [
        .init(name: "W1", samples: 60_000, width: 784, hidden: [128, 64], batch: 64, epochs: 1),
        .init(name: "W2", samples: 5_000, width: 784, hidden: [128, 64], batch: 1, epochs: 1),
        .init(name: "W3", samples: 20_000, width: 784, hidden: [1024, 1024], batch: 256, epochs: 1),
        .init(name: "W4", samples: 10_000, width: 64, hidden: [32], batch: nil, epochs: 100),
    ]

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1.") }
        guard warmup >= 0 else { throw ValidationError("--warmup cannot be negative.") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1.") }
        for w in selectedNames where !Self.all.contains(where: { $0.name == w }) {
            throw ValidationError("Unknown workload \"\(w)\"; choose from W1, W2, W3, W4.")
        }
    }

    private var selectedNames: [Substring] { (workload ?? workloads).split(separator: ",") }

    /// W1 and W3 train `--epochs` epochs per timed unit when given.
    private func epochCount(_ w: Workload) -> Int {
        (w.name == "W1" || w.name == "W3") ? (epochs ?? w.epochs) : w.epochs
    }

    func run() throws {
        try BLAS.load()
        if let threads { BLAS.maxThreads = threads }
        if let parallelThreshold { BLAS.parallelThreshold = parallelThreshold }
        let selected = Self.all.filter { w in selectedNames.contains { $0 == w.name } }
        var results: [[String: Any]] = []
        for w in selected {
            let data = try Self.syntheticData(w)
            let spec = NetworkSpec(inputSize: w.width, layerSizes: w.hidden + [10])
            let config = TrainingConfig(spec: spec, optimizer: .init(kind: .sgd, learningRate: 0.1), batchSize: w.batch, seed: 1)
            var times: [Double] = []
            var last: TrainingState?
            for run in 0..<(warmup + repeats) {
                let trainer = try Trainer(config: config, train: data)
                let clock = ContinuousClock()
                let start = clock.now
                try trainer.train(epochs: epochCount(w))
                let d = (clock.now - start).components
                if run >= warmup { times.append(Double(d.seconds) + Double(d.attoseconds) * 1e-18) }
                last = trainer.state
            }
            let sorted = times.sorted(), mid = sorted.count / 2
            let median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
            let loss = last?.metrics["train_loss"] ?? .nan
            if !json {
                print(String(format: "%@  median %.3f s  (%@)  train_loss %.4f  %.0f samples/s", w.name, median,
                             times.map { String(format: "%.3f", $0) }.joined(separator: " "), loss,
                             Double(w.samples * epochCount(w)) / median))
            }
            results.append([
                "name": w.name, "median_s": median, "min_s": sorted[0], "samples": times, "train_loss": loss,
                "epochs": epochCount(w),
            ])
        }
        let gflops = try BLAS.sgemmRate(m: 256, n: 1024, k: 1024)
        let blas: [String: Any] = [
            "core": BLAS.coreName, "elementwise_isa": BLAS.elementwiseISA, "threads": BLAS.maxThreads, "sgemm_gflops": gflops,
            "parallel_threshold": BLAS.parallelThreshold, "config": BLAS.configuration,
            "coretype_set_by_fcstore": BLAS.chosenCoreType ?? NSNull(),
        ]
        if json {
            let doc: [String: Any] = ["workloads": results, "blas": blas]
            let bytes = try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys])
            print(String(decoding: bytes, as: UTF8.self))
        } else {
            print(String(format: "BLAS %@ (%@), %d threads max: sgemm 256x1024x1024 %.1f GFLOP/s",
                         BLAS.coreName, BLAS.configuration, BLAS.maxThreads, gflops))
        }
    }

    /// MNIST-like synthetic data as in the peer scripts: each class has a random stroke mask over
    /// ~19% of the features; a sample is its class mask with intensities in [0.6, 1), ~10% of
    /// stroke pixels dropped, and ~3% background pixels in [0, 1).
    static func syntheticData(_ w: Workload) throws -> Dataset {
        var rng = Xoshiro256(seed: UInt64(w.width * 1000 + w.samples))
        func unit() -> Float { Float(rng.next() >> 40) * 0x1p-24 }
        let masks = (0..<(10 * w.width)).map { _ in unit() < 0.19 ? Float(1) : 0 }
        var x = [Float](repeating: 0, count: w.samples * w.width)
        var y = [Float](repeating: 0, count: w.samples)
        for r in 0..<w.samples {
            let c = Int(rng.next() % 10)
            y[r] = Float(c)
            for j in 0..<w.width {
                var v = masks[c * w.width + j] * (0.6 + 0.4 * unit())
                if unit() < 0.10 { v = 0 }
                let noise = unit()
                if noise < 0.03 { v = noise * 33 }
                x[r * w.width + j] = v
            }
        }
        return try Dataset(features: x, labels: y, width: w.width, source: w.name)
    }
}

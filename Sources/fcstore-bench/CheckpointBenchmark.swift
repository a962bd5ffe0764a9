import ArgumentParser
import FCNet
import FCStorage
import FCTraining
import Foundation

/// `fcstore-bench checkpoint`: what keeping every epoch costs. Times W1 and W3 for
/// `--epochs` epochs twice: without a store, and committing every epoch (epoch 0
/// included) to a store exactly as `fcstore train` does (`CheckpointCoding.input`
/// then `Store.appendCheckpoint`: SHA-256, one transaction, synchronous=FULL).
struct CheckpointBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Time W1 and W3 with and without a committed checkpoint per epoch.")

    @Option(help: "Comma-separated workloads (W1, W3).") var workloads = "W1,W3"
    @Option(help: "Epochs per timed run.") var epochs = 5
    @Option(help: "Timed repeats (the median is reported).") var repeats = 3
    @Option(help: "Folder for the temporary stores (default: the current folder, the disk you train on).")
    var directory = "."
    @Option(help: "A postgresql:// URI: commit to that PostgreSQL store instead of a SQLite file in --directory.")
    var store: String?
    @Flag(help: "Print one JSON document on stdout.") var json = false

    func validate() throws {
        guard epochs >= 1, repeats >= 1 else { throw ValidationError("--epochs and --repeats must be at least 1.") }
        if let store, !Store.isPostgresURI(store) { throw ValidationError("--store takes a postgresql:// URI.") }
    }

    func run() throws {
        try BLAS.load()
        let names = workloads.split(separator: ",").map(String.init)
        var results: [[String: Any]] = []
        for name in names {
            guard let w = EngineBenchmark.all.first(where: { $0.name == name }) else {
                throw ValidationError("Unknown workload \"\(name)\".")
            }
            let data = try EngineBenchmark.syntheticData(w)
            let spec = NetworkSpec(inputSize: w.width, layerSizes: w.hidden + [10])
            let config = TrainingConfig(spec: spec, optimizer: .init(kind: .sgd, learningRate: 0.1), batchSize: w.batch, seed: 1)
            let normalizer = Normalizer.identity(width: w.width)
            var plain: [Double] = [], stored: [Double] = []
            // Time inside the commit callback (encoding, hashing, the transaction), per checkpoint:
            // on a loaded machine the difference of two epoch timings drowns in noise, this does not.
            var commits: [Double] = []
            var bytesPerCheckpoint = 0
            // The previous round's store is deleted before the plain run, not before the stored
            // one: on a disk mounted with `discard` the freed blocks are trimmed in the next
            // seconds, and that I/O must not land on the commits being timed.
            var previous: URL?
            defer { if let previous { try? FileManager.default.removeItem(at: previous) } }
            for _ in 0..<(repeats + 1) {   // the first round warms up
                if let folder = previous { try? FileManager.default.removeItem(at: folder) }
                previous = nil
                let trainer = try Trainer(config: config, train: data)
                let start = Date()
                try trainer.train(epochs: epochs)
                plain.append(Date().timeIntervalSince(start))

                let folder = URL(fileURLWithPath: directory).appendingPathComponent(".fcstore-bench-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                previous = folder
                let store = try Store(path: self.store ?? folder.appendingPathComponent("bench.db").path)
                let run = try store.createRun(name: nil, config: "{}", seed: 1)
                let checkpointed = try Trainer(config: config, train: data)
                let startStored = Date()
                var committing = 0.0, checkpoints = 0
                try checkpointed.train(epochs: epochs) { state in
                    let startCommit = Date()
                    let input = try CheckpointCoding.input(state, normalizer: normalizer)
                    bytesPerCheckpoint = input.tensors.reduce(0) { $0 + $1.value.byteCount }
                    try store.appendCheckpoint(runID: run.id, input)
                    committing += Date().timeIntervalSince(startCommit)
                    checkpoints += 1
                }
                stored.append(Date().timeIntervalSince(startStored))
                commits.append(committing / Double(max(checkpoints, 1)))
            }
            plain.removeFirst()
            stored.removeFirst()
            commits.removeFirst()
            let p = median(plain), s = median(stored), c = median(commits)
            results.append(["name": name, "median_s": p, "min_s": plain.min() ?? p, "samples": plain, "epochs": epochs])
            results.append(["name": "\(name)+ckpt", "median_s": s, "min_s": stored.min() ?? s, "samples": stored,
                            "epochs": epochs, "bytes_per_checkpoint": bytesPerCheckpoint, "overhead": s / p - 1,
                            "commit_s": c, "commit_samples": commits, "commit_share_of_epoch": c / (p / Double(epochs))])
            if !json {
                print(String(format: "%@ x%d epochs: %.3f s plain, %.3f s with a committed checkpoint per epoch (%+.1f%%), %.1f MB per checkpoint; one commit %.1f ms (min %.1f) = %.1f%% of a plain epoch",
                             name, epochs, p, s, (s / p - 1) * 100, Double(bytesPerCheckpoint) / 1e6,
                             c * 1000, (commits.min() ?? c) * 1000, c / (p / Double(epochs)) * 100))
            }
        }
        if json {
            let doc: [String: Any] = ["workloads": results, "blas": ["core": BLAS.coreName, "threads": BLAS.maxThreads]]
            print(String(decoding: try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys]), as: UTF8.self))
        }
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted(), mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}

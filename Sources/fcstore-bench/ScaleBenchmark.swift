import ArgumentParser
import FCCore
import FCNet
import FCStorage
import FCTraining
import Foundation

/// `fcstore-bench scale`: builds a store of many runs × many epochs of a small
/// model (through the store API, each checkpoint its own committed transaction)
/// and times the `fcstore runs` and `fcstore show` commands against it, as a user
/// would run them (process start included). Also reports how the file grows per
/// epoch and what a fork adds.
struct ScaleBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Time 'fcstore runs' and 'show' on a store of many runs and epochs.")

    @Option(help: "Runs in the store.") var runs = 1000
    @Option(help: "Epochs per run (plus epoch 0).") var epochs = 100
    @Option(help: "The store to build (kept, and reused when it exists).") var store = "scale.db"
    @Option(help: "The fcstore binary to time (default: next to this one).") var fcstore: String?
    @Option(help: "Timed repeats per command.") var repeats = 5

    func run() throws {
        let sizes = [4, 16, 3]
        // A postgresql:// URI is built when its database holds no runs yet.
        let isPostgres = Store.isPostgresURI(store)
        if isPostgres ? try Store(path: store).runs().isEmpty : !FileManager.default.fileExists(atPath: store) {
            try build(sizes: sizes)
        }
        let binary = fcstore ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("fcstore").path
        let opened = try Store(path: store)
        let all = try opened.runs()
        guard let last = all.last else { throw ValidationError("The store has no runs.") }
        let fileSize = size()
        let checkpoints = all.reduce(0) { $0 + $1.ownCheckpointCount }
        let parameters = zip(sizes, sizes.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
        print(String(format: "store %@: %d runs, %d own checkpoints, %.1f MB: %.0f bytes per checkpoint for %d parameters (%d bytes of float32) and 11 metrics",
                     Store.displayLocation(store), all.count, checkpoints, Double(fileSize) / 1e6, Double(fileSize) / Double(max(checkpoints, 1)), parameters, parameters * 4))
        for arguments in [["runs"], ["runs", "--json"], ["show", last.run.shortID], ["show", "\(last.run.shortID)@\(min(50, epochs))", "--json"]] {
            var times: [Double] = []
            for _ in 0..<repeats {
                // posix_spawn + waitpid: Foundation's Process.waitUntilExit polls in 50 ms steps.
                let argv = [binary, "--store", store] + arguments
                var cArguments = argv.map { strdup($0) } + [nil]
                defer { for pointer in cArguments { free(pointer) } }
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
                defer { posix_spawn_file_actions_destroy(&actions) }
                var pid: pid_t = 0
                let start = Date()
                guard posix_spawn(&pid, binary, &actions, nil, &cArguments, environ) == 0 else {
                    throw ValidationError("Cannot start \(binary).")
                }
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                times.append(Date().timeIntervalSince(start))
                guard status == 0 else {
                    throw ValidationError("fcstore \(arguments.joined(separator: " ")) failed (wait status \(status)).")
                }
            }
            let sorted = times.sorted()
            print(String(format: "fcstore %@: median %.1f ms (min %.1f ms) over %d runs",
                         arguments.joined(separator: " "), sorted[sorted.count / 2] * 1000, sorted[0] * 1000, repeats))
        }
    }

    /// Writes the store: every 10th run is a fork of the run before it at epoch epochs/2.
    private func build(sizes: [Int]) throws {
        let db = try Store(path: store)
        var random = SystemRandomNumberGenerator()
        func tensor(_ shape: [Int]) throws -> TensorValue {
            try TensorValue(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &random) })
        }
        let spec = NetworkSpec(inputSize: sizes[0], layerSizes: Array(sizes.dropFirst()))
        let config = try RunConfig(training: TrainingConfig(spec: spec), epochs: epochs, data: nil, validation: nil,
                                   normalization: .none).json()
        var previous: RunRecord?
        let started = Date()
        for index in 0..<runs {
            let forkAt = epochs / 2
            let run: RunRecord
            var firstEpoch = 0
            if index % 10 == 9, let parent = previous {
                let before = size()
                run = try db.forkRun(from: parent.id, atEpoch: forkAt, name: "run-\(index)", config: config, seed: UInt64(index))
                if index == 9 { print("a fork adds \(size() - before) bytes to the file") }
                firstEpoch = forkAt + 1
            } else {
                run = try db.createRun(name: "run-\(index)", config: config, seed: UInt64(index))
            }
            for epoch in firstEpoch...epochs {
                var tensors: [CheckpointTensor] = []
                for l in 1..<sizes.count {
                    tensors.append(CheckpointTensor(layer: l, role: TensorRole.weight, value: try tensor([sizes[l], sizes[l - 1]])))
                    tensors.append(CheckpointTensor(layer: l, role: TensorRole.bias, value: try tensor([sizes[l]])))
                }
                var metrics = ["train_loss": Double.random(in: 0...2), "train_accuracy": Double.random(in: 0...1),
                               "val_loss": Double.random(in: 0...2), "val_accuracy": Double.random(in: 0...1),
                               "learning_rate": 0.1, "wall_time_s": 0.01, "samples_per_s": 10_000]
                for l in 1..<sizes.count {
                    metrics["weight_norm.\(l)"] = Double.random(in: 0...5)
                    metrics["grad_norm.\(l)"] = Double.random(in: 0...1)
                }
                try db.appendCheckpoint(runID: run.id, CheckpointInput(
                    epoch: epoch, tensors: tensors, metrics: epoch == 0 ? [:] : metrics,
                    optimizerState: "{\"epoch\":\(epoch)}", rngState: [UInt8](repeating: UInt8(epoch % 256), count: 32)))
            }
            try db.setStatus(runID: run.id, .completed)
            previous = run
            if index % 100 == 99 {
                print(String(format: "%d runs written (%.0f s)", index + 1, Date().timeIntervalSince(started)))
            }
        }
    }

    private func size() -> Int64 {
        let main = (try? FileManager.default.attributesOfItem(atPath: store)[.size] as? NSNumber)?.int64Value ?? 0
        let wal = (try? FileManager.default.attributesOfItem(atPath: store + "-wal")[.size] as? NSNumber)?.int64Value ?? 0
        return main + wal
    }
}

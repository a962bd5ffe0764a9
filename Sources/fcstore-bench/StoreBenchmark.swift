import ArgumentParser
import FCCore
import FCNet
import FCStorage
import Foundation

/// Writes and reads back checkpoints of a 784-1024-1024-10 network
/// (1.86 M float32 parameters, 7.45 MB) in a temporary store.
struct StoreBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Checkpoint write and verified-load throughput of the store (784-1024-1024-10, synchronous=FULL).")

    @Option(help: "Number of checkpoints to write and load.")
    var checkpoints = 20

    @Option(help: "Page size of the new store file (4096 to 65536).")
    var pageSize = Store.defaultPageSize

    @Option(help: "Layer sizes, input first.")
    var layers = "784,1024,1024,10"

    @Option(help: "Folder for the temporary store (default: the system temporary folder).")
    var folder: String?

    func validate() throws {
        guard checkpoints >= 1 else { throw ValidationError("--checkpoints must be at least 1.") }
        guard [1024, 2048, 4096, 8192, 16384, 32768, 65536].contains(pageSize) else {
            throw ValidationError("--page-size must be a power of two from 1024 to 65536.")
        }
        guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--layers needs at least two positive sizes.") }
    }

    private var sizes: [Int] { layers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        let directory = URL(fileURLWithPath: folder ?? NSTemporaryDirectory())
            .appendingPathComponent("fcstore-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bench.db").path

        var generator = Xoshiro256(seed: 20_261_129)
        let inputs = try (0..<checkpoints).map { epoch in try makeCheckpoint(epoch: epoch, generator: &generator) }
        let bytes = inputs[0].tensors.reduce(0) { $0 + $1.value.byteCount }
        let megabytes = Double(bytes) / 1_000_000
        print("network \(layers): \(bytes / 4) float32 parameters, \(String(format: "%.2f", megabytes)) MB per checkpoint")
        print("page size \(pageSize), \(checkpoints) checkpoints, store \(path)")

        let store = try Store(path: path, pageSize: pageSize)
        let run = try store.createRun(name: "bench", config: #"{"layers":[\#(layers)]}"#, seed: 1)
        var writeSeconds: [Double] = []
        for input in inputs {
            let start = DispatchTime.now()
            try store.appendCheckpoint(runID: run.id, input)
            writeSeconds.append(seconds(since: start))
        }
        var loadSeconds: [Double] = []
        for input in inputs {
            let start = DispatchTime.now()
            let loaded = try store.loadCheckpoint(runID: run.id, epoch: input.epoch)
            loadSeconds.append(seconds(since: start))
            guard loaded.tensors.count == input.tensors.count else { throw ValidationError("load returned the wrong tensors") }
        }
        // Spot-check bit-exactness once, outside the timing.
        let last = try store.loadCheckpoint(runID: run.id, epoch: checkpoints - 1)
        for tensor in inputs[checkpoints - 1].tensors {
            guard last.tensor(layer: tensor.layer, role: tensor.role)?.values.elementsEqual(tensor.value.values, by: { $0.bitPattern == $1.bitPattern }) == true else {
                throw ValidationError("layer \(tensor.layer) \(tensor.role) did not round-trip")
            }
        }
        report("write (hash + one transaction + fsync)", megabytes: megabytes, seconds: writeSeconds)
        report("load (read + SHA-256 verify)", megabytes: megabytes, seconds: loadSeconds)
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        let walBytes = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.intValue ?? 0
        print(String(format: "file %.1f MB + WAL %.1f MB for %.1f MB of tensors",
                     Double(fileBytes) / 1e6, Double(walBytes) / 1e6, megabytes * Double(checkpoints)))
    }

    private func makeCheckpoint(epoch: Int, generator: inout Xoshiro256) throws -> CheckpointInput {
        var tensors: [CheckpointTensor] = []
        for layer in 1..<sizes.count {
            let rows = sizes[layer], columns = sizes[layer - 1]
            tensors.append(CheckpointTensor(layer: layer, role: TensorRole.weight,
                                            value: try TensorValue(shape: [rows, columns], values: generator.floats(rows * columns))))
            tensors.append(CheckpointTensor(layer: layer, role: TensorRole.bias,
                                            value: try TensorValue(shape: [rows], values: generator.floats(rows))))
        }
        return CheckpointInput(epoch: epoch, tensors: tensors,
                               metrics: ["train_loss": 1 / Double(epoch + 1), "val_loss": 1.5 / Double(epoch + 1)],
                               optimizerState: #"{"kind":"sgd","step":\#(epoch)}"#, rngState: Array(repeating: 7, count: 32))
    }

    private func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    private func report(_ label: String, megabytes: Double, seconds: [Double]) {
        let sorted = seconds.sorted()
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let total = seconds.reduce(0, +)
        print(String(format: "%@: median %.0f MB/s (%.1f ms), overall %.0f MB/s, best %.0f MB/s, worst %.0f MB/s",
                     label, megabytes / median, median * 1000, megabytes * Double(seconds.count) / total,
                     megabytes / sorted.first!, megabytes / sorted.last!))
    }
}

extension Xoshiro256 {
    /// Floats in [-1, 1) for benchmark tensors.
    mutating func floats(_ count: Int) -> [Float] {
        (0..<count).map { _ in Float(Int32(truncatingIfNeeded: next() >> 32)) / 2_147_483_648 }
    }
}

import ArgumentParser
import FCCore
import FCNet
import FCStorage
import Foundation

/// Pushes a 20-epoch 784-1024-1024-10 run (about 150 MB of tensors) from a
/// temporary SQLite store to DEST, then pushes it again (nothing to send).
struct PushBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push throughput: a 20-epoch 784-1024-1024-10 run from SQLite to DEST, then the same push again.")

    @Argument(help: ArgumentHelp("The destination store (default: a new SQLite file beside the source).", valueName: "dest"))
    var destination: String?

    @Option(help: "Epochs of the run (epoch 0 included: epochs + 1 checkpoints).")
    var epochs = 20

    @Option(help: "Layer sizes, input first.")
    var layers = "784,1024,1024,10"

    @Option(help: "Folder for the temporary stores (default: the system temporary folder).")
    var folder: String?

    private var sizes: [Int] { layers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1.") }
        guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--layers needs at least two positive sizes.") }
    }

    func run() throws {
        let directory = URL(fileURLWithPath: folder ?? NSTemporaryDirectory()).appendingPathComponent("fcstore-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try Store(path: directory.appendingPathComponent("source.db").path)
        var generator = Xoshiro256(seed: 20_261_206)
        let run = try source.createRun(name: "bench", config: #"{"layers":[\#(layers)]}"#, seed: 1, status: .completed)
        for epoch in 0...epochs {
            try source.appendCheckpoint(runID: run.id, makeCheckpoint(epoch: epoch, generator: &generator))
        }
        let target = destination ?? directory.appendingPathComponent("dest.db").path
        let dest = try Store(path: target)
        print("run \(layers), \(epochs + 1) checkpoints; destination \(destination == nil ? "SQLite " + target : "given")")

        var start = DispatchTime.now()
        let first = try Transfer(from: source, to: dest).run(runIDs: [run.id])
        let firstSeconds = seconds(since: start)
        let megabytes = Double(first.bytesSent) / 1e6
        print(String(format: "first push: %d checkpoints, %d blobs, %.1f MB in %.2f s = %.0f MB/s", first.checkpointsSent,
                     first.blobsSent, megabytes, firstSeconds, megabytes / firstSeconds))
        start = DispatchTime.now()
        let second = try Transfer(from: source, to: dest).run(runIDs: [run.id])
        let secondSeconds = seconds(since: start)
        print(String(format: "second push: %d checkpoints, %d blobs, %lld bytes in %.2f ms (goal: 0 blobs, under 1 s)",
                     second.checkpointsSent, second.blobsSent, second.bytesSent, secondSeconds * 1000))
        guard second.blobsSent == 0, second.checkpointsSent == 0 else { throw ValidationError("the second push sent something") }
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
        return CheckpointInput(epoch: epoch, tensors: tensors, metrics: ["train_loss": 1 / Double(epoch + 1)],
                               optimizerState: #"{"kind":"sgd","step":\#(epoch)}"#, rngState: Array(repeating: 7, count: 32))
    }

    private func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}

import ArgumentParser
import FCDashboard
import FCNet
import FCCore
import FCStorage
import FCTraining
import Foundation

/// `fcstore-bench ui`: the dashboard's server time (rendering in the process, the
/// store read included, no network) for the runs page of a store of many runs and
/// the run page of a long run. The first request of each page is reported apart:
/// it parses every run's configuration, which later requests find cached.
struct UIBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui",
        abstract: "Time the dashboard's runs page (many runs) and run page (a long run).")

    @Option(help: "Runs in the store (every 10th a fork).") var runs = 10_000
    @Option(help: "Epochs of each of those runs (plus epoch 0).") var epochs = 2
    @Option(help: "Epochs of the long run (plus epoch 0).") var longEpochs = 1000
    @Option(help: "The store to build (kept, and reused when it exists).") var store = "ui-bench.db"
    @Option(help: "Timed repeats per page.") var repeats = 7

    func run() throws {
        if !FileManager.default.fileExists(atPath: store) { try build() }
        let dashboard = try Dashboard(path: store)
        let long = try Store(path: store, readOnly: true).resolveRun("long-run")
        print("store \(store): \(runs) runs of \(epochs + 1) epochs, and a run of \(longEpochs + 1) epochs")
        for (label, path) in [("runs page (/)", "/"), ("run page of the long run", "/runs/\(long.id)")] {
            var times: [Double] = []
            var bytes = 0
            for _ in 0..<(repeats + 1) {
                let start = DispatchTime.now().uptimeNanoseconds
                let response = dashboard.respond(path: path)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                guard case .page(let html) = response else { throw ValidationError("\(path) did not render: \(response)") }
                bytes = html.utf8.count
            }
            let warm = times.dropFirst().sorted()
            print(String(format: "%@: first %.1f ms, then median %.1f ms (min %.1f ms) over %d; %.0f KB of HTML",
                         label, times[0], warm[warm.count / 2], warm[0], repeats, Double(bytes) / 1024))
        }
        // The store's share of the runs page: the listing query alone.
        let reader = try Store(path: store, readOnly: true)
        var listing: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try reader.runs()
            listing.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        listing.sort()
        var bare: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try reader.runs(latestMetrics: false)
            bare.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        bare.sort()
        let shown = try reader.runs(latestMetrics: false).prefix(500)
        let start = DispatchTime.now().uptimeNanoseconds
        for summary in shown { _ = try reader.metrics(runID: summary.run.id, epoch: summary.lastEpoch ?? 0) }
        let lookups = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        print(String(format: "of which Store.runs() (the listing query): median %.1f ms; without the latest metrics %.1f ms; "
                     + "the last metrics of the 500 runs a page shows, one lookup each: %.1f ms",
                     listing[listing.count / 2], bare[bare.count / 2], lookups))
    }

    private func build() throws {
        let db = try Store(path: store)
        let sizes = [4, 16, 3]
        var random = SystemRandomNumberGenerator()
        let spec = NetworkSpec(inputSize: sizes[0], layerSizes: Array(sizes.dropFirst()))
        let config = try RunConfig(training: TrainingConfig(spec: spec), epochs: epochs, data: nil, validation: nil,
                                   normalization: .none).json()
        func append(_ run: RunRecord, _ epoch: Int) throws {
            var tensors: [CheckpointTensor] = []
            for l in 1..<sizes.count {
                tensors.append(CheckpointTensor(layer: l, role: "weight", value: try TensorValue(
                    shape: [sizes[l], sizes[l - 1]], values: (0..<(sizes[l] * sizes[l - 1])).map { _ in Float.random(in: -1...1, using: &random) })))
                tensors.append(CheckpointTensor(layer: l, role: "bias", value: try TensorValue(
                    shape: [sizes[l]], values: (0..<sizes[l]).map { _ in Float.random(in: -1...1, using: &random) })))
            }
            let metrics = ["train_loss": Double.random(in: 0...2), "train_accuracy": Double.random(in: 0...1),
                           "val_loss": Double.random(in: 0...2), "val_accuracy": Double.random(in: 0...1),
                           "learning_rate": 0.1, "wall_time_s": 0.01, "samples_per_s": 10_000]
            try db.appendCheckpoint(runID: run.id, CheckpointInput(
                epoch: epoch, tensors: tensors, metrics: epoch == 0 ? [:] : metrics,
                optimizerState: "{\"epoch\":\(epoch)}", rngState: [UInt8](repeating: UInt8(epoch % 256), count: 32)))
        }
        let started = Date()
        var previous: RunRecord?
        for index in 0..<runs {
            let run: RunRecord
            var first = 0
            if index % 10 == 9, let parent = previous {
                run = try db.forkRun(from: parent.id, atEpoch: 1, name: "run-\(index)", config: config, seed: UInt64(index))
                first = 2
            } else {
                run = try db.createRun(name: "run-\(index)", config: config, seed: UInt64(index))
            }
            for epoch in first...max(first, epochs) { try append(run, epoch) }
            try db.setStatus(runID: run.id, .completed)
            previous = run
            if index % 1000 == 999 { print(String(format: "%d runs written (%.0f s)", index + 1, Date().timeIntervalSince(started))) }
        }
        let long = try db.createRun(name: "long-run", config: config, seed: 1)
        for epoch in 0...longEpochs { try append(long, epoch) }
        try db.setStatus(runID: long.id, .completed)
    }
}

import ArgumentParser
import FCStorage
import Foundation

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Release the tensors of old epochs of a run (metrics and digests stay).",
        discussion: """
            Never prunes epoch 0, the latest epoch, or an epoch another run forks from. A \
            pruned epoch keeps its metrics, digest and tensor list, so history stays auditable \
            and verify passes; 'fcstore gc' then frees the space.
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: JSONOption

    @Argument(help: ArgumentHelp("The runs to prune.", valueName: "run"))
    var runs: [String]

    @Option(name: .customLong("keep-last"), parsing: .unconditional, help: ArgumentHelp("Keep the last N epochs.", valueName: "n"))
    var keepLast: Int

    @Flag(name: .customLong("keep-best"), help: "Keep the epoch with the best validation loss (else train loss).")
    var keepBest = false

    @Option(name: .customLong("keep-every"), parsing: .unconditional, help: ArgumentHelp("Keep every K-th epoch.", valueName: "k"))
    var keepEvery: Int?

    @Flag(name: .customLong("dry-run"), help: "Say what would be pruned without changing anything.")
    var dryRun = false

    func validate() throws {
        if runs.isEmpty { throw ValidationError("Name at least one run to prune.") }
        if keepLast < 0 { throw ValidationError("--keep-last cannot be negative (got \(keepLast)).") }
        if let keepEvery, keepEvery < 1 { throw ValidationError("--keep-every must be at least 1 (got \(keepEvery)).") }
    }

    struct PruneJSON: Encodable {
        var run: String
        var dryRun: Bool
        var pruned: [Int]
        var kept: [Int]
        var bytesFreedEstimate: Int64
        enum CodingKeys: String, CodingKey {
            case run, pruned, kept
            case dryRun = "dry_run"
            case bytesFreedEstimate = "bytes_freed_estimate"
        }
    }

    func run() throws {
        let store = try self.store.openExisting()
        var results: [PruneJSON] = []
        for text in runs {
            let run = try store.resolveRun(text)
            let metric: String?
            if keepBest {
                // The run's own epochs decide, as for @best (the store prunes only those).
                let hasValidation = try store.checkpoints(runID: run.id).contains { !$0.inherited && $0.metrics["val_loss"] != nil }
                metric = hasValidation ? "val_loss" : "train_loss"
            } else {
                metric = nil
            }
            let result = try store.prune(runID: run.id, keepLast: keepLast, keepBest: metric, keepEvery: keepEvery, dryRun: dryRun)
            results.append(PruneJSON(run: run.id, dryRun: dryRun, pruned: result.pruned, kept: result.kept,
                                     bytesFreedEstimate: result.bytesFreedEstimate))
            if !output.json {
                let verb = dryRun ? "would prune" : "pruned"
                let list = result.pruned.isEmpty ? "nothing" : "epochs \(ranges(result.pruned))"
                Console.out("\(run.shortID): \(verb) \(list); kept \(ranges(result.kept)); up to \(Format.bytes(result.bytesFreedEstimate)) to free with 'fcstore gc'")
            }
        }
        if output.json { try Console.json(["runs": results]) }
    }

    /// `0, 5-9, 12` from a sorted list of epochs.
    private func ranges(_ epochs: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        let sorted = epochs.sorted()
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count, sorted[end + 1] == sorted[end] + 1 { end += 1 }
            parts.append(end == index ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

import ArgumentParser
import FCCore
import FCStorage
import FCTraining
import Foundation

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Per-layer change between two checkpoints.",
        discussion: """
            For each layer's W and b: the L2 norm of the change ||B - A||, the relative change \
            ||B - A|| / ||A||, max and mean |change|, cosine similarity and the count of changed \
            entries. --top K lists the K largest single changes.
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: JSONOption

    @Argument(help: ArgumentHelp("The checkpoint to compare from (A).", valueName: "ref-a"))
    var refA: CheckpointRef

    @Argument(help: ArgumentHelp("The checkpoint to compare to (B).", valueName: "ref-b"))
    var refB: CheckpointRef

    @Option(parsing: .unconditional, help: ArgumentHelp("Also list the K largest single changes.", valueName: "k"))
    var top: Int = 0

    func validate() throws {
        if top < 0 { throw ValidationError("--top cannot be negative (got \(top)).") }
    }

    struct DiffJSON: Encodable {
        var a: String
        var b: String
        var identical: Bool
        var layers: [TensorChange]
        var top: [EntryChange]
    }

    func run() throws {
        let store = try self.store.openExisting()
        let (runA, a) = try Workflow.checkpoint(store, run: refA.run, epoch: refA.selector)
        let (runB, b) = try Workflow.checkpoint(store, run: refB.run, epoch: refB.selector)
        let nameA = "\(runA.shortID)@\(a.epoch)", nameB = "\(runB.shortID)@\(b.epoch)"
        let comparison: CheckpointDiff.Comparison
        do {
            comparison = try CheckpointDiff.compare(a.tensors, b.tensors, top: top)
        } catch let mismatch as CheckpointDiff.ArchitectureMismatch {
            throw CLIError("\(nameA) and \(nameB) have different architectures (\(CheckpointDiff.architecture(mismatch.a)) and \(CheckpointDiff.architecture(mismatch.b))); diff compares checkpoints of one architecture.")
        }
        let changes = comparison.layers, largest = comparison.top, identical = comparison.identical
        if output.json {
            try Console.json(DiffJSON(a: nameA, b: nameB, identical: identical, layers: changes, top: largest))
            return
        }
        Console.out("\(nameA) -> \(nameB)\(identical ? "  (identical weights)" : "")")
        var table = TextTable("LAYER", "TENSOR", "SHAPE", "L2 CHANGE", "RELATIVE", "MAX |D|", "MEAN |D|", "COSINE", "CHANGED")
        for change in changes {
            table.add([
                "\(change.layer)", change.role == TensorRole.weight ? "W" : "b", change.shape.map(String.init).joined(separator: "x"),
                Format.metric(change.l2), Format.metric(change.relative), Format.metric(change.maxAbs),
                Format.metric(change.meanAbs), String(format: "%.6f", change.cosine), "\(change.changed)/\(change.count)",
            ])
        }
        Console.out(lines: table.lines)
        if top > 0 {
            Console.out()
            var entries = TextTable("LAYER", "TENSOR", "I", "J", "BEFORE", "AFTER", "CHANGE")
            for entry in largest {
                entries.add([
                    "\(entry.layer)", entry.role == TensorRole.weight ? "W" : "b", "\(entry.i)", entry.j.map(String.init) ?? "-",
                    String(format: "%.6g", entry.before), String(format: "%.6g", entry.after), String(format: "%+.6g", entry.change),
                ])
            }
            Console.out(lines: largest.isEmpty ? ["No entry changed."] : entries.lines)
        }
    }
}

import ArgumentParser
import FCFormats
import FCStorage
import FCTraining
import Foundation

struct Export: ParsableCommand {
    enum FileFormat: String, ExpressibleByArgument, CaseIterable {
        case safetensors, onnx, npz, json, bundle
    }

    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint as a model file, or whole runs as a bundle.",
        discussion: """
            safetensors, npz and json hold W^l (N_l x N_{l-1}) and b^l of every layer with the \
            architecture, activations and normalisation; onnx is an inference graph for \
            onnxruntime; bundle is a standalone SQLite file with the runs' whole history and \
            lineage, for 'fcstore import' on another machine. Files are written completely or \
            not at all.
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The checkpoint to export; for bundles, one or more runs.", valueName: "ref"))
    var refs: [CheckpointRef]

    @Option(help: ArgumentHelp("safetensors, onnx, npz, json or bundle.", valueName: "format"))
    var format: FileFormat

    @Option(help: ArgumentHelp("The file to write.", valueName: "file"))
    var output: String

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    func validate() throws {
        if refs.isEmpty { throw ValidationError("Name the checkpoint to export.") }
        if format != .bundle && refs.count > 1 {
            throw ValidationError("A \(format.rawValue) file holds one checkpoint; name one REF (bundles take several runs).")
        }
    }

    func run() throws {
        let store = try self.store.openExisting()
        try OutputFile.checkTarget(output, force: force)
        if format == .bundle {
            let runs = try refs.map { try store.resolveRun($0.run).id }
            let summary = try store.exportBundle(runIDs: runs, to: output, overwrite: force)
            Console.err("wrote \(output): \(Format.count(summary.runIDs.count, "run")), \(Format.count(summary.checkpoints, "checkpoint")), \(Format.bytes(summary.bytes))")
            return
        }
        let ref = refs[0]
        let (run, config, checkpoint, _) = try Workflow.model(store, run: ref.run, epoch: ref.selector)
        let model = try ModelExchange.modelFile(run: run, config: config, checkpoint: checkpoint)
        guard let modelFormat = ModelFileFormat(rawValue: format.rawValue) else { return }
        let bytes = try modelFormat.encode(model)
        try OutputFile.write(Data(bytes), to: output, replace: force)
        Console.err("wrote \(output): \(format.rawValue), \(run.shortID)@\(checkpoint.epoch), \(model.architecture.map(String.init).joined(separator: "-")), \(Format.bytes(Int64(bytes.count)))")
    }
}

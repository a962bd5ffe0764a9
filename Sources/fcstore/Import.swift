import ArgumentParser
import FCNet
import FCFormats
import FCStorage
import FCTraining
import Foundation

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Read a model file or a bundle into the store.",
        discussion: """
            A bundle's runs are merged with their history (again importing the same bundle \
            changes nothing). A safetensors, npz or json model becomes a new run with one \
            checkpoint (status imported), usable by predict, evaluate, export and train --init; \
            a file with the same bytes (SHA-256) as an earlier import is that run, and nothing \
            is written. Every file is checked completely before anything is written; a refused \
            file leaves the store as it was. The kind of file is recognised from its content.
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("A bundle, or a safetensors, npz or json model file.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("A name for the imported model's run.", valueName: "name"))
    var name: String?

    func validate() throws {
        if let name { do { try RunName.validate(name) } catch { throw ValidationError(String(describing: error)) } }
    }

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
            throw CLIError("\(file) does not exist.")
        }
        guard !isDirectory.boolValue else { throw CLIError("\(file) is a folder; import takes a file.") }
        // A FIFO or device is refused by stat, naming what it is, before any open.
        try InputFile.checkRegular(file)
        // The kind is decided from the content before any parser sees the file.
        let kind = try FileKind.detect(path: file)
        switch kind {
        case .bundle:
            if name != nil { throw CLIError("--name applies to model files; a bundle keeps its runs' names.") }
            let store = try self.store.open()
            let summary = try store.importBundle(from: file)
            report(summary)
        case .safetensors, .npz, .json:
            try importModel(kind)
        case .onnx:
            throw CLIError("\(file) looks like an ONNX model; fcstore exports ONNX but imports safetensors, npz, json and bundles.")
        default:
            throw CLIError("\(file) is not a model file or bundle (\(kind.phrase)); fcstore imports safetensors, npz and json models and bundles.")
        }
    }

    private func importModel(_ kind: FileKind) throws {
        let (model, digest) = try readModel(kind)
        let format = kind.rawValue
        var provenance = model.metadata
        provenance["imported_from"] = (file as NSString).lastPathComponent
        provenance["imported_format"] = format
        provenance[ModelExchange.importedSHA256Key] = digest
        let store = try self.store.open()
        let imported = try ModelExchange.importModel(model, into: store, name: name, provenance: provenance)
        let run = imported.run
        let named = run.name.map { " (\($0))" } ?? ""
        if imported.isNew {
            Console.err("imported \(file) (\(format), \(model.architecture.map(String.init).joined(separator: "-"))) as run \(run.shortID)\(named)")
        } else {
            let ignored = name != nil && name != run.name ? "; --name was not applied" : ""
            Console.err("nothing to import: \(file) is already run \(run.shortID)\(named), imported from a file with the same SHA-256\(ignored)")
        }
        Console.out(run.id)
    }

    /// Reads and decodes the model file, and the SHA-256 of its bytes.
    private func readModel(_ kind: FileKind) throws -> (ModelFile, String) {
        try ModelFileReader.read(path: file, kind: kind, digest: SHA256Digest.hex)
    }

    private func report(_ summary: ImportSummary) {
        if summary.isNoOp {
            Console.err("nothing to import: the store already holds every run and checkpoint of \(file)")
        } else {
            Console.err("imported \(file): \(Format.count(summary.runsAdded.count, "run")) added, \(summary.runsExtended.count) extended, \(summary.runsSkipped.count) already present; \(Format.count(summary.checkpointsAdded, "checkpoint")) and \(Format.count(summary.blobsAdded, "tensor")) (\(Format.bytes(summary.bytesAdded))) added")
        }
        for renamed in summary.renamed {
            Console.err("run \(renamed.runID.prefix(8)) was imported as \(RunName.quoted(renamed.newName)): the name \(RunName.quoted(renamed.bundleName)) \(renamed.reason)")
        }
        for id in summary.runsAdded + summary.runsExtended { Console.out(id) }
    }
}

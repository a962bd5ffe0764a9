import ArgumentParser
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

    /// Model files larger than this are refused before they are read.
    static let maximumModelBytes = 4 << 30

    func validate() throws {
        if let name { do { try RunName.validate(name) } catch { throw ValidationError(String(describing: error)) } }
    }

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
            throw CLIError("\(file) does not exist.")
        }
        guard !isDirectory.boolValue else { throw CLIError("\(file) is a folder; import takes a file.") }
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

    /// Reads and decodes the model file, and the SHA-256 of its bytes; the
    /// bytes are released when this returns.
    private func readModel(_ kind: FileKind) throws -> (ModelFile, String) {
        let size = FileSystemSize.of(file)
        guard size <= Self.maximumModelBytes else {
            throw CLIError("\(file) is \(Format.bytes(Int64(size))); fcstore refuses model files over \(Format.bytes(Int64(Self.maximumModelBytes))).")
        }
        if kind == .json, size > JSONModel.maximumBytes {
            throw CLIError("\(file) is \(Format.bytes(Int64(size))); fcstore refuses JSON models over \(Format.bytes(Int64(JSONModel.maximumBytes))). Export the model as safetensors instead.")
        }
        if kind == .safetensors {
            // The header length is checked against its cap and the file's size before
            // the body is read: a large file with a damaged header is refused unread.
            _ = try Safetensors.checkHeaderLength(try readAll(file, expected: min(size, 8), partial: true), fileSize: size)
        }
        let bytes = try readAll(file, expected: size)
        let digest = SHA256Digest.hex(bytes)
        let model: ModelFile
        switch kind {
        case .npz: model = try NPZ.decode(bytes)
        case .json: model = try JSONModel.decode(bytes)
        default: model = try Safetensors.decode(bytes)
        }
        return (model, digest)
    }

    /// The file's bytes, read into one array (no intermediate copy); with `partial`,
    /// its first `expected` bytes.
    private func readAll(_ path: String, expected: Int, partial: Bool = false) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CLIError("\(path) cannot be read: \(String(cString: strerror(errno))).") }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: expected)
        var filled = 0
        while filled < expected {
            let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, expected - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CLIError("\(path) cannot be read: \(String(cString: strerror(errno))).")
            }
            guard count > 0 else { break }
            filled += count
        }
        guard filled == expected || partial else { throw CLIError("\(path) changed while it was read (\(filled) of \(expected) bytes); try again.") }
        return bytes
    }

    private func report(_ summary: ImportSummary) {
        if summary.isNoOp {
            Console.err("nothing to import: the store already holds every run and checkpoint of \(file)")
        } else {
            Console.err("imported \(file): \(summary.runsAdded.count) runs added, \(summary.runsExtended.count) extended, \(summary.runsSkipped.count) already present; \(summary.checkpointsAdded) checkpoints and \(summary.blobsAdded) tensors (\(Format.bytes(summary.bytesAdded))) added")
        }
        for renamed in summary.renamed {
            Console.err("run \(renamed.runID.prefix(8)) was imported as \(RunName.quoted(renamed.newName)): the name \(RunName.quoted(renamed.bundleName)) \(renamed.reason)")
        }
        for id in summary.runsAdded + summary.runsExtended { Console.out(id) }
    }
}

/// The size of a file in bytes (0 when it cannot be read).
enum FileSystemSize {
    static func of(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}

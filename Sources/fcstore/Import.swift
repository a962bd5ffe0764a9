import ArgumentParser
import FCNet
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
            checkpoint (status imported), usable by predict, evaluate, export and train --init. \
            Every file is checked completely before anything is written; a refused file leaves \
            the store as it was. The format is recognised from the file's content.
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("A bundle, or a safetensors, npz or json model file.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("A name for the imported model's run.", valueName: "name"))
    var name: String?

    /// Model files larger than this are refused before they are read.
    static let maximumModelBytes = 4 << 30

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
            throw CLIError("\(file) does not exist.")
        }
        guard !isDirectory.boolValue else { throw CLIError("\(file) is a folder; import takes a file.") }
        try InputFile.checkRegular(file)
        let head = try readHead(file, count: 4096)
        let store = try self.store.open()
        if head.starts(with: Array("SQLite format 3\0".utf8)) {
            if name != nil { throw CLIError("--name applies to model files; a bundle keeps its runs' names.") }
            let summary = try store.importBundle(from: file)
            report(summary)
            return
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size <= Self.maximumModelBytes else {
            throw CLIError("\(file) is \(Format.bytes(Int64(size))); fcstore refuses model files over \(Format.bytes(Int64(Self.maximumModelBytes))).")
        }
        try checkHeader(head, size: size)
        let bytes = try InputFile.read(file, limit: Self.maximumModelBytes, what: "model files")
        let format: String
        let model: ModelFile
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) || bytes.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            (format, model) = ("npz", try NPZ.decode(bytes))
        } else if looksLikeSafetensors(bytes) {
            // Before JSON: the header length's low byte may be '{', ' ' or '\n'.
            (format, model) = ("safetensors", try Safetensors.decode(bytes))
        } else if bytes.first.map({ $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }) ?? false {
            (format, model) = ("json", try JSONModel.decode(bytes))
        } else if bytes.count >= 9, bytes[0] == 0x08, looksLikeONNX(bytes) {
            throw CLIError("\(file) looks like an ONNX model; fcstore exports ONNX but imports safetensors, npz, json and bundles.")
        } else if bytes.count >= 8 {
            (format, model) = ("safetensors", try Safetensors.decode(bytes))
        } else {
            throw CLIError("\(file) is not a model file fcstore reads (safetensors, npz, json) nor a bundle.")
        }
        var provenance = model.metadata
        provenance["imported_from"] = (file as NSString).lastPathComponent
        provenance["imported_format"] = format
        provenance["imported_sha256"] = SHA256Digest.hex(bytes)
        let run = try ModelExchange.importModel(model, into: store, name: name, provenance: provenance)
        Console.err("imported \(file) (\(format), \(model.architecture.map(String.init).joined(separator: "-"))) as run \(run.shortID)\(run.name.map { " (\($0))" } ?? "")")
        Console.out(run.id)
    }

    private func report(_ summary: ImportSummary) {
        if summary.isNoOp {
            Console.err("nothing to import: the store already holds every run and checkpoint of \(file)")
        } else {
            Console.err("imported \(file): \(summary.runsAdded.count) runs added, \(summary.runsExtended.count) extended, \(summary.runsSkipped.count) already present; \(summary.checkpointsAdded) checkpoints and \(summary.blobsAdded) tensors (\(Format.bytes(summary.bytesAdded))) added")
        }
        for renamed in summary.renamed {
            Console.err("run \(renamed.runID.prefix(8)) was imported as \"\(renamed.newName)\": the name \"\(renamed.bundleName)\" belongs to another run here")
        }
        for id in summary.runsAdded + summary.runsExtended { Console.out(id) }
    }

    /// Checks what the first bytes allow before the body is read: the size cap of a JSON
    /// model, else (not a ZIP archive, not ONNX) the safetensors header length against
    /// its limit and the file's size, so a large file of garbage is refused unread.
    private func checkHeader(_ head: [UInt8], size: Int) throws {
        if size < 8 { return }  // refused below as no model file at all
        if head.starts(with: [0x50, 0x4B]) || (head.first == 0x08 && looksLikeONNX(head)) { return }
        let text = head.starts(with: [0xEF, 0xBB, 0xBF]) ? head.dropFirst(3) : head[...]
        if !looksLikeSafetensors(head), let first = text.first,
           [UInt8(ascii: "{"), UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t")].contains(first) {
            guard size <= JSONModel.maximumBytes else {
                throw CLIError("\(file) is \(size) bytes; fcstore reads JSON models of at most \(JSONModel.maximumBytes) bytes (\(InputFile.describe(JSONModel.maximumBytes))).")
            }
            return
        }
        _ = try Safetensors.checkHeaderLength(head, fileSize: size)
    }

    /// Safetensors files start with a little-endian u64 header length n (at most
    /// 100 MB, so its high bytes are zero, unlike text) and a JSON object at byte 8.
    /// A truncated file still matches, and is refused as a damaged safetensors file.
    private func looksLikeSafetensors(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 10 else { return false }
        let length = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return length >= 2 && length <= 100_000_000 && bytes[8] == UInt8(ascii: "{")
    }

    /// ONNX models start with field 1 (ir_version, varint) and carry "onnx"-ish opset
    /// or producer strings early on.
    private func looksLikeONNX(_ bytes: [UInt8]) -> Bool {
        let window = bytes.prefix(4096)
        let text = String(decoding: window.map { $0 >= 0x20 && $0 < 0x7F ? $0 : 0x20 }, as: UTF8.self)
        return text.contains("Gemm") || text.contains("fcstore") || text.contains("onnx") || text.contains("pytorch")
    }

    private func readHead(_ path: String, count: Int) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CLIError("\(path) cannot be read.") }
        defer { try? handle.close() }
        return [UInt8]((try? handle.read(upToCount: count)) ?? Data())
    }
}

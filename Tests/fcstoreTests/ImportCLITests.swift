@testable import FCFormats
import FCCore
import Foundation
import XCTest
@testable import FCStorage
import FCSQLite

/// Issues 14/15 through the binary: `import` names each kind of file, is
/// idempotent for identical bytes, refuses non-finite weights and duplicate
/// JSON keys, and run names follow the rules everywhere.
final class ImportCLITests: XCTestCase {
    /// A model of the given sizes with seeded weights in (-1, 1).
    static func model(_ sizes: [Int], seed: UInt64 = 1) throws -> ModelFile {
        var random = SplitMix64(seed: seed)
        var layers: [ModelFile.Layer] = []
        for l in 1..<sizes.count {
            let weights = (0..<(sizes[l] * sizes[l - 1])).map { _ in Float.random(in: -1...1, using: &random) }
            let biases = (0..<sizes[l]).map { _ in Float.random(in: -1...1, using: &random) }
            layers.append(.init(weight: try TensorValue(shape: [sizes[l], sizes[l - 1]], values: weights),
                                bias: try TensorValue(shape: [sizes[l]], values: biases),
                                activation: l == sizes.count - 1 ? "softmax" : "relu"))
        }
        return ModelFile(layers: layers, loss: "cross-entropy")
    }

    @discardableResult
    func write(_ workspace: Workspace, _ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: workspace.path(name)))
        return name
    }

    /// A workspace whose store holds one imported model (so it exists for fingerprints).
    func workspaceWithAModel() throws -> (Workspace, String) {
        let workspace = try Workspace()
        try write(workspace, "first.safetensors", try Safetensors.encode(try Self.model([4, 3, 2])))
        let id = try XCTUnwrap(try workspace.ok(["import", "first.safetensors"]).lastLine)
        return (workspace, id)
    }

    /// Asserts one error line, exit `status`, and the store unchanged.
    func assertRefused(_ workspace: Workspace, _ arguments: [String], _ message: String, status: Int32 = 1,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let before = try Reliability.fingerprint(workspace.store, in: workspace.directory)
        assertError(try workspace.run(arguments), message, status: status, file: file, line: line)
        XCTAssertEqual(try Reliability.fingerprint(workspace.store, in: workspace.directory), before, "the store changed",
                       file: file, line: line)
    }

    func testEachKindOfFileGetsItsOwnMessage() throws {
        let (workspace, _) = try workspaceWithAModel()
        let model = try Self.model([4, 3, 2])
        let tail = "; fcstore imports safetensors, npz and json models and bundles."
        try workspace.write("wine.csv", "fixed acidity,volatile acidity,alcohol\n7.4,0.7,9.4\n7.8,0.88,9.8\n")
        try workspace.write("notes.txt", "These are my notes.\nNothing to import here.\n")
        try workspace.write("empty.safetensors", "")
        try write(workspace, "blob.bin", [0xFF, 0xFE, 0x00, 0x42, 0x13, 0x37, 0x00, 0x00, 0x01])
        try write(workspace, "model.pt", [0x80, 0x02, 0x63, 0x6F, 0x6C, 0x6C])
        try write(workspace, "weights.npy", NPY.encode(try TensorValue(shape: [2], values: [1, 2])))
        try write(workspace, "m.onnx", try ONNX.encode(model))
        try assertRefused(workspace, ["import", "wine.csv"], "wine.csv is not a model file or bundle (looks like CSV)" + tail)
        try assertRefused(workspace, ["import", "notes.txt"], "notes.txt is not a model file or bundle (looks like text)" + tail)
        try assertRefused(workspace, ["import", "empty.safetensors"], "empty.safetensors is not a model file or bundle (it is empty)" + tail)
        try assertRefused(workspace, ["import", "blob.bin"], "blob.bin is not a model file or bundle (binary data of no known kind)" + tail)
        try assertRefused(workspace, ["import", "model.pt"],
                          "model.pt is not a model file or bundle (looks like a Python pickle, such as a PyTorch .pt file; save the weights as safetensors)" + tail)
        try assertRefused(workspace, ["import", "weights.npy"],
                          "weights.npy is not a model file or bundle (looks like a single NumPy array (.npy); save every layer's arrays together with numpy.savez)" + tail)
        try assertRefused(workspace, ["import", "m.onnx"],
                          "m.onnx looks like an ONNX model; fcstore exports ONNX but imports safetensors, npz, json and bundles.")
        // A JSON model with a byte order mark is read as JSON.
        try write(workspace, "bom.json", FileKind.byteOrderMark + (try JSONModel.encode(model)))
        let imported = try workspace.ok(["import", "bom.json"])
        XCTAssertTrue(imported.stderr.hasPrefix("imported bom.json (json, 4-3-2) as run "), imported.stderr)
    }

    /// The rule: a model file whose bytes have the SHA-256 recorded in the
    /// provenance of an imported run (with its checkpoint) is that run.
    func testReimportingIdenticalBytesReturnsTheSameRun() throws {
        let (workspace, first) = try workspaceWithAModel()
        let before = try Reliability.fingerprint(workspace.store, in: workspace.directory)
        let again = try workspace.ok(["import", "first.safetensors"])
        XCTAssertEqual(again.stdout, first + "\n")
        XCTAssertEqual(again.stderrLines, ["nothing to import: first.safetensors is already run \(first.prefix(8)), imported from a file with the same SHA-256"])
        XCTAssertEqual(try Reliability.fingerprint(workspace.store, in: workspace.directory), before)
        // The same bytes under another file name, with a name asked for: still that run.
        try FileManager.default.copyItem(atPath: workspace.path("first.safetensors"), toPath: workspace.path("copy.safetensors"))
        let copy = try workspace.ok(["import", "copy.safetensors", "--name", "other"])
        XCTAssertEqual(copy.lastLine, first)
        XCTAssertEqual(copy.stderrLines, ["nothing to import: copy.safetensors is already run \(first.prefix(8)), imported from a file with the same SHA-256; --name was not applied"])
        XCTAssertEqual(try workspace.runs().count, 1)
        // Other bytes (the same model as npz) are another import.
        try write(workspace, "first.npz", try NPZ.encode(try Self.model([4, 3, 2])))
        XCTAssertNotEqual(try workspace.ok(["import", "first.npz"]).lastLine, first)
        XCTAssertEqual(try workspace.runs().count, 2)
    }

    func testNonFiniteAndOverflowingWeightsAreRefused() throws {
        let (workspace, _) = try workspaceWithAModel()
        var nan = try Self.model([4, 3, 2])
        nan.layers[0].weight.values[5] = .nan
        try write(workspace, "nan.safetensors", try Safetensors.encode(nan))
        try assertRefused(workspace, ["import", "nan.safetensors"],
                          "Tensor \"layers.1.weight\" holds NaN at flat index 5; fcstore refuses weights that are not finite numbers.")
        var infinite = try Self.model([4, 3, 2])
        infinite.layers[1].bias.values[1] = .infinity
        try write(workspace, "inf.npz", try NPZ.encode(infinite))
        try assertRefused(workspace, ["import", "inf.npz"],
                          "Tensor \"layers.2.bias\" holds +infinity at flat index 1; fcstore refuses weights that are not finite numbers.")
        // F64 1e300 would round to +infinity in float32.
        let weights: [Double] = [0.5, -0.25, 1e300, 1]
        var data = weights.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        data += [Float(0), 0].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        var header = Array(("{\"__metadata__\":{\"fcstore.activations\":\"identity\"},"
            + "\"layers.1.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
            + "\"layers.1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]}}").utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        try write(workspace, "wide.safetensors", withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header + data)
        try assertRefused(workspace, ["import", "wide.safetensors"],
                          "The float64 value 1e+300 at flat index 2 of tensor \"layers.1.weight\" overflows float32; fcstore refuses it rather than store infinity.")
        // In a JSON model, a number float32 cannot hold.
        try workspace.write("big.json", """
            {"format": "fcstore-model", "version": 1, "architecture": [1, 1], "activations": ["identity"],
             "layers": [{"weight": [[1e39]], "bias": [0]}]}
            """)
        try assertRefused(workspace, ["import", "big.json"],
                          "The JSON model was refused: the value 1e39 at flat index 0 of layers.1.weight overflows float32, and fcstore does not store it as infinity (line 2, column 26).")
    }

    func testJSONDuplicateKeysAreRefusedSayingWhere() throws {
        let (workspace, _) = try workspaceWithAModel()
        let text = String(decoding: try JSONModel.encode(try Self.model([4, 3, 2])), as: UTF8.self)
        // Python's json keeps the last "activations", Foundation's decoder kept the first.
        let duplicated = text.replacingOccurrences(of: "\"format\":", with: "\n  \"activations\": [\"tanh\", \"softmax\"],\n  \"format\":")
        try workspace.write("dup.json", duplicated)
        try assertRefused(workspace, ["import", "dup.json"],
                          "The JSON model is not valid JSON: duplicate key \"activations\" in the top level (line 2, column 3).")
    }

    func testRunNamesFollowTheRules() throws {
        let (workspace, id) = try workspaceWithAModel()
        try write(workspace, "second.safetensors", try Safetensors.encode(try Self.model([4, 3, 2], seed: 2)))
        let usage = " Run 'fcstore %@ --help' for usage."
        let cases: [([String], String, String)] = [
            (["train", "--data", "data.csv", "--layers", "4", "--name", "deadbeef"], "train",
             "The run name \"deadbeef\" looks like a run id (8 or more hex digits); choose another name."),
            (["train", "--data", "data.csv", "--layers", "4", "--name", "0A1B2C3D-4E"], "train",
             "The run name \"0A1B2C3D-4E\" looks like a run id (8 or more hex digits); choose another name."),
            (["resume", id, "--name", "fork@2"], "resume",
             "The run name \"fork@2\" contains '@', which separates a run from its epoch in references (RUN@EPOCH); choose another name."),
            (["import", "second.safetensors", "--name", "two\nlines"], "import",
             "The run name \"two\\nlines\" contains a control character or line break; choose another name."),
            (["import", "second.safetensors", "--name", "bell\u{7}"], "import",
             "The run name \"bell\\u{7}\" contains a control character or line break; choose another name."),
        ]
        for (arguments, command, message) in cases {
            try assertRefused(workspace, arguments, message + String(format: usage, command), status: 64)
        }
    }

    /// `rm <the id shown for run Y>` removed run X when X was named like Y's id.
    func testAReferenceThatIsANameAndAnotherRunsIdIsRefused() throws {
        let (workspace, first) = try workspaceWithAModel()
        try write(workspace, "second.safetensors", try Safetensors.encode(try Self.model([4, 3, 2], seed: 2)))
        let second = try XCTUnwrap(try workspace.ok(["import", "second.safetensors"]).lastLine)
        // The first run carries the second's short id as its name (a store from before the rules).
        do {
            let db = try Database(path: workspace.store, readOnly: false, busyTimeoutMilliseconds: 5000)
            try db.execute("UPDATE runs SET name = ? WHERE id = ?", [.text(String(second.prefix(8))), .text(first)])
        }
        let short = String(second.prefix(8))
        try assertRefused(workspace, ["rm", short],
                          "\"\(short)\" is both the name of run \(first.prefix(8)) and the start of the id of run \(short); nothing was chosen. Give the full id of the run you mean.")
        try assertRefused(workspace, ["show", short],
                          "\"\(short)\" is both the name of run \(first.prefix(8)) and the start of the id of run \(short); nothing was chosen. Give the full id of the run you mean.")
        try workspace.ok(["rm", second])
        XCTAssertEqual(try workspace.runs().map { $0["id"] as? String }, [first])
    }

    func testBundleNamesThatBreakTheRulesAreRenamedOnImport() throws {
        let origin = try Workspace()
        try write(origin, "a.safetensors", try Safetensors.encode(try Self.model([4, 3, 2])))
        let run = try XCTUnwrap(try origin.ok(["import", "a.safetensors", "--name", "placeholder"]).lastLine)
        try origin.ok(["export", run, "--format", "bundle", "--output", "runs.bundle"])
        do {
            let db = try Database(path: origin.path("runs.bundle"), readOnly: false, busyTimeoutMilliseconds: 5000)
            try db.execute("UPDATE runs SET name = ? WHERE id = ?", [.text("x\u{1B}[31m@y"), .text(run)])
        }
        let target = try Workspace()
        try FileManager.default.copyItem(atPath: origin.path("runs.bundle"), toPath: target.path("runs.bundle"))
        let imported = try target.ok(["import", "runs.bundle"])
        XCTAssertEqual(imported.stderrLines.last,
                       "run \(run.prefix(8)) was imported as \"x-[31m-y\": the name \"x\\u{1b}[31m@y\" contains a control character or line break")
        XCTAssertEqual(try target.run(id: run)["name"] as? String, "x-[31m-y")

        // All its checkpoints pruned: nothing usable, refused in one line.
        let pruned = target.path("pruned.bundle")
        try FileManager.default.copyItem(atPath: origin.path("runs.bundle"), toPath: pruned)
        do {
            let db = try Database(path: pruned, readOnly: false, busyTimeoutMilliseconds: 5000)
            try db.execute("UPDATE checkpoints SET pruned_at = '2026-01-01T00:00:00Z'")
        }
        try assertRefused(target, ["import", "pruned.bundle"],
                          "The bundle pruned.bundle was refused: its run \(run.prefix(8)) has no usable checkpoint: its only checkpoint was pruned. Nothing was imported.")
    }
}

import FCCore
@testable import FCFormats
import Foundation
import XCTest
@testable import FCStorage

/// Runs Tests/interop/check_formats.py with the package's .venv (created by
/// scripts/setup --test): fcstore's files must read back in numpy, safetensors, onnx
/// and onnxruntime, and files those libraries write must read back in fcstore.
final class FormatInteropTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testInteropWithNumpySafetensorsONNXRuntime() throws {
        let python = Self.packageRoot.appendingPathComponent(".venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw XCTSkip("No .venv in the package root; run scripts/setup --test to enable the interop test.")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fcstore-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        // The model of the brief, plus one that exercises every other activation.
        let models: [(String, ModelFile)] = [
            ("model", try FormatFixtures.randomModel([5, 7, 3], activations: ["sigmoid", "softmax"], seed: 11)),
            ("activations", try FormatFixtures.randomModel([5, 6, 6, 4, 4, 2], activations: ["tanh", "relu", "leaky-relu", "identity", "sigmoid"],
                                                       normalization: false, loss: "binary-cross-entropy", metadata: [:], seed: 12)),
        ]
        var random = SplitMix64(seed: 13)
        var entries: [String] = []
        for (name, model) in models {
            try Data(Safetensors.encode(model)).write(to: directory.appendingPathComponent(name + ".safetensors"))
            try Data(NPZ.encode(model)).write(to: directory.appendingPathComponent(name + ".npz"))
            try Data(ONNX.encode(model)).write(to: directory.appendingPathComponent(name + ".onnx"))
            let input = (0..<8).map { _ in (0..<model.inputSize).map { _ in Float.random(in: -4...4, using: &random) } }
            let output = FormatFixtures.forward(model, input)
            func matrix(_ rows: [[Float]]) -> String { "[" + rows.map { "[" + $0.map(JSONWriter.number).joined(separator: ",") + "]" }.joined(separator: ",") + "]" }
            let tensors = model.namedTensors().map { name, tensor in
                JSONWriter.quote(name) + ":{\"shape\":\(tensor.shape),\"values\":[" + tensor.values.map(JSONWriter.number).joined(separator: ",") + "]}"
            }
            entries.append(JSONWriter.quote(name) + ":{\"tensors\":{" + tensors.joined(separator: ",") + "},\"metadata\":"
                + JSONWriter.object(model.formatMetadata()) + ",\"input\":" + matrix(input) + ",\"output\":" + matrix(output) + "}")
        }
        try Data(("{\"models\":{" + entries.joined(separator: ",") + "}}").utf8).write(to: directory.appendingPathComponent("expected.json"))

        let checked = try Subprocess.run(
            python, [Self.packageRoot.appendingPathComponent("Tests/interop/check_formats.py").path, directory.path],
            mergingOutput: true)
        print(checked.stdout, terminator: "")
        XCTAssertEqual(checked.status, 0, "check_formats.py failed:\n\(checked.stdout)")
        guard checked.status == 0 else { return }

        // The reverse direction: files the Python libraries wrote.
        let w1 = (0..<12).map { (Float($0) - 5) / 8 }, b1: [Float] = [0.5, -0.25, 1]
        let w2 = (0..<6).map { Float($0) / 4 - 0.5 }, b2: [Float] = [1.5, -2]
        let expected = ModelFile(
            layers: [
                .init(weight: try TensorValue(shape: [3, 4], values: w1), bias: try TensorValue(shape: [3], values: b1), activation: "relu"),
                .init(weight: try TensorValue(shape: [2, 3], values: w2), bias: try TensorValue(shape: [2], values: b2), activation: "identity"),
            ],
            normalization: .init(kind: "minmax", shift: [0, 1, 2, 3], scale: [0.5, 0.25, 1, 2]),
            loss: "mse",
            metadata: ["note": "written by safetensors.numpy"])
        func read(_ file: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: directory.appendingPathComponent(file))) }
        XCTAssertEqual(try Safetensors.decode(read("from_python.safetensors")), expected)
        XCTAssertEqual(try Safetensors.decode(read("from_python_f16.safetensors")), expected)
        XCTAssertEqual(try NPZ.decode(read("from_python.npz")), expected)
    }
}

@testable import FCNet
import Foundation
import XCTest

/// Limits on numbers from the command line, stores and files: checked with overflow-safe
/// arithmetic, refused with a sentence naming the value, never a trap.
final class LimitsTests: XCTestCase {
    private func message(_ spec: NetworkSpec) -> String? {
        do { try spec.validate(); return nil } catch { return String(describing: error) }
    }

    func testLayerSizesAtTheEdgesAreRefusedWithoutOverflow() {
        let huge = 1 << 32
        // Σ N_l (N_{l-1} + 1) overflows Int for these: it used to trap while building the message.
        XCTAssertNil(NetworkSpec(inputSize: 4, layerSizes: [huge, huge]).checkedParameterCount)
        XCTAssertNil(NetworkSpec(inputSize: Int.max, layerSizes: [2]).checkedParameterCount)
        XCTAssertEqual(NetworkSpec(inputSize: 4, layerSizes: [huge, huge]).parameterCount, Int.max)
        XCTAssertEqual(message(NetworkSpec(inputSize: 4, layerSizes: [huge, huge])),
                       "Layer 1 has 4294967296 neurons, above the limit of 16777216 per layer.")
        XCTAssertEqual(message(NetworkSpec(inputSize: 4, layerSizes: [3, Int.max])),
                       "Layer 2 has 9223372036854775807 neurons, above the limit of 16777216 per layer.")
        XCTAssertEqual(message(NetworkSpec(inputSize: Int.max, layerSizes: [3, 3])),
                       "The input size 9223372036854775807 is above the limit of 16777216.")
        XCTAssertEqual(message(NetworkSpec(inputSize: 4, layerSizes: [0, 3])), "Every layer size must be positive (got 0).")
        XCTAssertEqual(message(NetworkSpec(inputSize: 4, layerSizes: [-1, 3])), "Every layer size must be positive (got -1).")
        XCTAssertEqual(message(NetworkSpec(inputSize: -1, layerSizes: [3])), "The input size must be positive (got -1).")
    }

    /// The store keeps a tensor of at most 1,000,000,000 bytes: a network with a larger
    /// weight matrix is refused before training, naming the limit.
    func testANetworkWhoseTensorsCannotBeStoredIsRefused() {
        XCTAssertEqual(NetworkSpec.maximumTensorElements * 4, 1_000_000_000)
        XCTAssertEqual(message(NetworkSpec(inputSize: 20_000, layerSizes: [12_500, 3])), nil, "250,000,000 values fit")
        XCTAssertEqual(message(NetworkSpec(inputSize: 20_000, layerSizes: [12_501, 3])),
                       "Layer 1's weights (12501 x 20000 = 250020000 values) exceed the store's limit of 250000000 values (1 GB) per tensor.")
        // 2^31 parameters in matrices that each fit: the parameter limit.
        let wide = NetworkSpec(inputSize: 15_000, layerSizes: Array(repeating: 15_000, count: 10))
        XCTAssertEqual(message(wide), "The network is too large (2250150000 parameters); the limit is 2147483648.")
    }

    /// `Model.weights` and `.biases` are views: reading layer l copies that layer only, with
    /// offsets computed once for the model, so reading every layer of a deep model is linear.
    func testLayerAccessorsOfADeepNarrowModel() throws {
        let depth = 2_000
        let spec = NetworkSpec(inputSize: 2, layerSizes: Array(repeating: 2, count: depth), hiddenActivation: .tanh,
                               outputActivation: .identity, loss: .mse)
        let parameters = (0..<spec.parameterCount).map(Float.init)
        let model = try Model(spec: spec, parameters: parameters)
        XCTAssertEqual(model.weights.count, depth)
        XCTAssertEqual(model.biases.count, depth)
        // Each layer holds 2×2 weights then 2 biases: layer l starts at 6 (l - 1).
        for l in 0..<depth {
            let start = Float(6 * l)
            XCTAssertEqual(model.weights[l], [start, start + 1, start + 2, start + 3])
            XCTAssertEqual(model.biases[l], [start + 4, start + 5])
        }
        XCTAssertEqual(Array(model.weights).flatMap { $0 }.count, 4 * depth)
        XCTAssertEqual(model.layout, ParameterLayout(spec), "the layout is stored with the model, not rebuilt per read")
    }

    func testOneHugeCSVLineIsRefusedBeforeItsFieldsAreIndexed() {
        let line = String(repeating: "1,", count: CSVLoader.maximumLineBytes / 2 + 1) + "0"
        XCTAssertThrowsError(try CSVLoader().parse("a,label\n1,0\n\(line)\n", file: "wide.csv")) { error in
            XCTAssertEqual(String(describing: error), "wide.csv:3: the line is longer than 4 MiB, the limit for one CSV line.")
        }
        let quoted = "\"" + String(repeating: "9", count: CSVLoader.maximumLineBytes + 1) + "\""
        XCTAssertThrowsError(try CSVLoader().parse("a,label\n\(quoted),0\n", file: "q.csv")) { error in
            XCTAssertEqual(String(describing: error), "q.csv:2: the line is longer than 4 MiB, the limit for one CSV line.")
        }
        // Just under the limit is read.
        let wide = (0..<1000).map { "c\($0)" }.joined(separator: ",") + ",label\n" + Array(repeating: "1", count: 1001).joined(separator: ",") + "\n"
        XCTAssertNoThrow(try CSVLoader().parse(wide, file: "ok.csv"))
    }

    func testInputFilesMustBeRegularFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let pipe = folder.appendingPathComponent("p.fifo").path
        XCTAssertEqual(mkfifo(pipe, 0o600), 0)
        for (path, kind) in [(pipe, "a named pipe (FIFO)"), ("/dev/null", "a device"), (folder.path, "a folder")] {
            XCTAssertThrowsError(try InputFile.read(path, limit: 10, what: "CSV files")) { error in
                XCTAssertEqual(String(describing: error), "\(path): is \(kind), not a regular file; pass a regular file.")
            }
        }
        let file = folder.appendingPathComponent("f.csv").path
        try Data("12345".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertEqual(try InputFile.read(file, limit: 5, what: "CSV files"), Array("12345".utf8))
        XCTAssertThrowsError(try InputFile.read(file, limit: 4, what: "CSV files")) { error in
            XCTAssertEqual(String(describing: error), "\(file): is 5 bytes; fcstore reads CSV files of at most 4 bytes (4 bytes).")
        }
        XCTAssertEqual(InputFile.describe(1 << 31), "2 GiB")
        XCTAssertEqual(InputFile.describe(1 << 22), "4 MiB")
    }
}

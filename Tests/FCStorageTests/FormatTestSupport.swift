import FCCore
@testable import FCFormats
import XCTest
@testable import FCStorage

enum FormatFixtures {
    /// A model with the given sizes [N_0, N_1, ..., N_L] and random float32 values.
    static func randomModel(_ sizes: [Int], activations: [String]? = nil, normalization: Bool = true,
                            loss: String? = "cross-entropy", metadata: [String: String] = ["source.run": "r-1", "epoch": "3"],
                            seed: UInt64 = 1) throws -> ModelFile {
        var random = SplitMix64(seed: seed)
        let L = sizes.count - 1
        let names = activations ?? (Array(repeating: "sigmoid", count: L - 1) + ["softmax"])
        var layers: [ModelFile.Layer] = []
        for l in 1...L {
            let weight = try TensorValue(shape: [sizes[l], sizes[l - 1]],
                                          values: (0..<(sizes[l] * sizes[l - 1])).map { _ in Float.random(in: -1...1, using: &random) })
            let bias = try TensorValue(shape: [sizes[l]], values: (0..<sizes[l]).map { _ in Float.random(in: -0.5...0.5, using: &random) })
            layers.append(ModelFile.Layer(weight: weight, bias: bias, activation: names[l - 1]))
        }
        let norm = normalization ? ModelFile.Normalization(
            kind: "standard",
            shift: (0..<sizes[0]).map { _ in Float.random(in: -3...3, using: &random) },
            scale: (0..<sizes[0]).map { _ in Float.random(in: 0.1...2, using: &random) }) : nil
        return ModelFile(layers: layers, normalization: norm, loss: loss, metadata: metadata)
    }

    /// y = a^L for each row of `input`, by plain loops (the math of the README's "The training engine").
    static func forward(_ model: ModelFile, _ input: [[Float]]) -> [[Float]] {
        input.map { row in
            var a = row
            if let n = model.normalization { a = a.indices.map { (a[$0] - n.shift[$0]) * n.scale[$0] } }
            for layer in model.layers {
                let rows = layer.weight.shape[0], columns = layer.weight.shape[1]
                var z = [Float](repeating: 0, count: rows)
                for i in 0..<rows {
                    var sum = Double(layer.bias.values[i])
                    for j in 0..<columns { sum += Double(layer.weight.values[i * columns + j]) * Double(a[j]) }
                    z[i] = Float(sum)
                }
                switch layer.activation {
                case "sigmoid": a = z.map { 1 / (1 + exp(-$0)) }
                case "tanh": a = z.map { tanh($0) }
                case "relu": a = z.map { max(0, $0) }
                case "leaky-relu": a = z.map { $0 > 0 ? $0 : 0.01 * $0 }
                case "softmax":
                    let m = z.max() ?? 0
                    let e = z.map { exp($0 - m) }
                    let s = e.reduce(0, +)
                    a = e.map { $0 / s }
                default: a = z
                }
            }
            return a
        }
    }

    /// A safetensors file from a hand-written header (padded with spaces to 8) and data.
    static func safetensors(_ header: String, data: [UInt8] = [], pad: Bool = true) -> [UInt8] {
        var headerBytes = Array(header.utf8)
        if pad { headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8) }
        return littleEndianBytes(UInt64(headerBytes.count)) + headerBytes + data
    }

    /// A .npy file from a hand-written header text (v1.0) and data.
    static func npy(_ header: String, data: [UInt8]) -> [UInt8] {
        let text = Array(header.utf8) + [0x0A]
        return NPY.magic + [1, 0] + littleEndianBytes(UInt16(text.count)) + text + data
    }

    static func floats(_ values: [Float]) -> [UInt8] { values.flatMap { littleEndianBytes($0.bitPattern) } }
}

extension XCTestCase {
    /// Asserts that `body` throws a `ModelFormatError` whose message contains `fragment`.
    func assertRefuses(_ fragment: String, _ name: String = "", file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> Any) {
        do {
            _ = try body()
            XCTFail("\(name): expected a refusal containing \"\(fragment)\", but it was accepted", file: file, line: line)
        } catch let error as ModelFormatError {
            XCTAssertTrue(error.message.contains(fragment), "\(name): \"\(error.message)\" does not contain \"\(fragment)\"", file: file, line: line)
            XCTAssertTrue(error.message.hasSuffix(".") || error.message.hasSuffix(")"), "\(name): not a sentence: \(error.message)", file: file, line: line)
        } catch {
            XCTFail("\(name): expected ModelFormatError, got \(type(of: error)): \(error)", file: file, line: line)
        }
    }
}

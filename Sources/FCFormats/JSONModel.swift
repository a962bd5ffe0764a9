import FCCore
import Foundation

/// fcstore's own JSON model format: readable by anything that reads JSON.
///
///     {"format": "fcstore-model", "version": 1, "architecture": [64, 32, 10],
///      "activations": ["sigmoid", "softmax"], "loss": "cross-entropy",
///      "normalization": {"kind": "standard", "shift": [...], "scale": [...]} | null,
///      "layers": [{"weight": [[...N_0 values...] x N_1 rows], "bias": [...]}, ...],
///      "metadata": {...}, "signature": {...} (see `ModelSignature`; absent when unknown)}
///
/// Floats are written in their shortest form that reads back to the same float32.
///
/// The reader is strict and streams: the bytes go through the strict parser
/// of JSON.swift (duplicate keys refused in every object, strict UTF-8,
/// nesting limited), numbers are turned into float32 as they are read (no
/// tree of the document is built, so memory stays near the file's size plus
/// 4 bytes a weight), a leading UTF-8 byte order mark is skipped, and every
/// error says where it is (line and column, counted in characters from 1).
/// A number that float32 cannot hold (1e39) is refused, never read as infinity.
/// `format`, `version`, `architecture`, `activations` and `layers` are
/// required; `loss`, `normalization`, `metadata` and `signature` may be absent or null;
/// other keys are ignored.
public enum JSONModel {
    struct Document: Codable {
        var format: String
        var version: Int
        var architecture: [Int]
        var activations: [String]
        var loss: String?
        var normalization: Normalization?
        var layers: [Layer]
        var metadata: [String: String]
        var signature: ModelSignature?
    }

    struct Normalization: Codable {
        var kind: String
        var shift: [Float]
        var scale: [Float]
    }

    struct Layer: Codable {
        var weight: [[Float]]
        var bias: [Float]
    }

    /// Files larger than this are refused before parsing.
    public static let maximumBytes = 1 << 30

    public static func encode(_ model: ModelFile) throws -> [UInt8] {
        try model.validate()
        let layers = model.layers.map { layer -> Layer in
            let columns = layer.weight.shape[1]
            let rows = (0..<layer.weight.shape[0]).map { Array(layer.weight.values[($0 * columns)..<(($0 + 1) * columns)]) }
            return Layer(weight: rows, bias: layer.bias.values)
        }
        let document = Document(
            format: "fcstore-model", version: 1, architecture: model.architecture, activations: model.layers.map(\.activation),
            loss: model.loss,
            normalization: model.normalization.map { Normalization(kind: $0.kind, shift: $0.shift, scale: $0.scale) },
            layers: layers, metadata: model.metadata, signature: model.signature)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(document)) + [0x0A]
    }

    /// Reads a JSON model.
    /// - Throws: `ModelFormatError` (format `.model`) naming the first problem and where it is.
    public static func decode(_ bytes: [UInt8]) throws -> ModelFile {
        guard bytes.count <= maximumBytes else {
            throw ModelFormatError(.model, "The JSON model file is larger than \(maximumBytes) bytes; fcstore refuses it.")
        }
        var body = bytes[...]
        if body.starts(with: FileKind.byteOrderMark) { body = body.dropFirst(3) }
        var reader = JSONModelReader(parser: JSONParser(bytes: body))
        let parsed: JSONModelReader.Parsed
        do {
            parsed = try reader.read()
        } catch let error as JSONModelReader.Failure {
            let (line, column) = position(of: error.offset, in: body)
            let prefix: String
            switch error.kind {
            case .syntax: prefix = "The JSON model is not valid JSON: "
            case .structure: prefix = "The file is not an fcstore JSON model: "
            case .value: prefix = "The JSON model was refused: "
            }
            throw ModelFormatError(.model, "\(prefix)\(error.message) (line \(line), column \(column)).")
        }
        guard parsed.format == "fcstore-model", parsed.version == 1 else {
            throw ModelFormatError(.model, "The JSON model has format \"\(parsed.format)\" version \(parsed.version); fcstore reads fcstore-model version 1.")
        }
        guard parsed.activations.count == parsed.layers.count, parsed.architecture.count == parsed.layers.count + 1 else {
            throw ModelFormatError(.model, "The JSON model lists \(parsed.activations.count) activations and \(parsed.architecture.count) sizes for \(parsed.layers.count) layers.")
        }
        var layers: [ModelFile.Layer] = []
        layers.reserveCapacity(parsed.layers.count)
        for (index, layer) in parsed.layers.enumerated() {
            layers.append(ModelFile.Layer(
                weight: try TensorValue(shape: [layer.rows, layer.columns], values: layer.weight),
                bias: try TensorValue(shape: [layer.bias.count], values: layer.bias),
                activation: parsed.activations[index]))
        }
        let model = ModelFile(
            layers: layers, normalization: parsed.normalization, loss: parsed.loss,
            metadata: parsed.metadata.filter { !ModelFile.reservedMetadataKeys.contains($0.key) },
            signature: parsed.signature)
        guard model.architecture == parsed.architecture else {
            throw ModelFormatError(.model, "The JSON model's architecture \(parsed.architecture.map(String.init).joined(separator: "-")) does not match its weights (\(model.architecture.map(String.init).joined(separator: "-"))).")
        }
        try model.validate()
        return model
    }

    /// The 1-based line and column (in characters, not bytes) of a byte offset.
    static func position(of offset: Int, in bytes: ArraySlice<UInt8>) -> (line: Int, column: Int) {
        let end = bytes.startIndex + min(max(offset, 0), bytes.count)
        var line = 1, column = 1
        for byte in bytes[bytes.startIndex..<end] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }
}

/// Walks a JSON model with the strict parser, turning numbers into float32
/// as it goes.
struct JSONModelReader {
    struct Failure: Error {
        var message: String
        var offset: Int
        var kind: Kind

        enum Kind {
            /// Not valid JSON.
            case syntax
            /// Valid JSON that is not an fcstore model.
            case structure
            /// A number float32 cannot hold.
            case value
        }
    }

    struct Layer {
        var weight: [Float] = []
        var rows = 0
        var columns = 0
        var bias: [Float] = []
    }

    struct Parsed {
        var format = ""
        var version = 0
        var architecture: [Int] = []
        var activations: [String] = []
        var loss: String?
        var normalization: ModelFile.Normalization?
        var layers: [Layer] = []
        var metadata: [String: String] = [:]
        var signature: ModelSignature?
    }

    var parser: JSONParser

    private var offset: Int { parser.index - parser.bytes.startIndex }

    private func structure(_ message: String, at offset: Int? = nil) -> Failure {
        Failure(message: message, offset: offset ?? self.offset, kind: .structure)
    }

    /// Runs a step of the strict parser, its errors as syntax failures.
    private mutating func syntax<T>(_ step: (inout JSONParser) throws(JSONError) -> T) throws -> T {
        do {
            return try step(&parser)
        } catch {
            throw Failure(message: error.message, offset: error.offset, kind: .syntax)
        }
    }

    private mutating func peek() throws -> UInt8 {
        syntaxSkip()
        guard parser.index < parser.bytes.endIndex else {
            throw Failure(message: "unexpected end of JSON", offset: offset, kind: .syntax)
        }
        return parser.bytes[parser.index]
    }

    private mutating func syntaxSkip() { parser.skipWhitespace() }

    private mutating func expect(_ character: Character) throws {
        syntaxSkip()
        let byte = character.asciiValue ?? 0
        try syntax { (parser: inout JSONParser) throws(JSONError) in try parser.expect(byte) }
    }

    /// Reads the (unexpected) value that starts here and refuses it as
    /// "`what` is <its kind>, not `wanted`"; a malformed value is a syntax error.
    private mutating func wrongKind(_ what: String, not wanted: String) throws -> Failure {
        let start = offset
        let value = try syntax { (parser: inout JSONParser) throws(JSONError) in try parser.parseValue(depth: 1) }
        return structure("\(what) is \(value.kindName), not \(wanted)", at: start)
    }

    /// Calls `member` with each key of an object (duplicates refused), the
    /// parser positioned at the value, which `member` must consume.
    private mutating func object(_ what: String, _ member: (inout JSONModelReader, String, Int) throws -> Void) throws {
        let first = try peek()
        guard first == UInt8(ascii: "{") else { throw try wrongKind(what, not: "an object") }
        try expect("{")
        if try peek() == UInt8(ascii: "}") { parser.index += 1; return }
        var seen = Set<String>()
        while true {
            guard try peek() == UInt8(ascii: "\"") else { throw Failure(message: "expected a string key", offset: offset, kind: .syntax) }
            let keyOffset = offset
            let key = try syntax { (parser: inout JSONParser) throws(JSONError) in try parser.parseString() }
            guard seen.insert(key).inserted else {
                throw Failure(message: "duplicate key \"\(key)\" in \(what)", offset: keyOffset, kind: .syntax)
            }
            try expect(":")
            syntaxSkip()
            try member(&self, key, keyOffset)
            let next = try peek()
            if next == UInt8(ascii: ",") { parser.index += 1; continue }
            try expect("}")
            return
        }
    }

    /// Calls `element` with each element's index of an array, the parser at the element.
    private mutating func array(_ what: String, _ element: (inout JSONModelReader, Int) throws -> Void) throws {
        let first = try peek()
        guard first == UInt8(ascii: "[") else { throw try wrongKind(what, not: "an array") }
        try expect("[")
        if try peek() == UInt8(ascii: "]") { parser.index += 1; return }
        var index = 0
        while true {
            syntaxSkip()
            try element(&self, index)
            index += 1
            let next = try peek()
            if next == UInt8(ascii: ",") { parser.index += 1; continue }
            try expect("]")
            return
        }
    }

    private mutating func isNull() throws -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        _ = try syntax { (parser: inout JSONParser) throws(JSONError) in try parser.parseValue(depth: 1) }
        return true
    }

    private mutating func string(_ what: String) throws -> String {
        let first = try peek()
        guard first == UInt8(ascii: "\"") else { throw try wrongKind(what, not: "a string") }
        return try syntax { (parser: inout JSONParser) throws(JSONError) in try parser.parseString() }
    }

    private mutating func integer(_ what: String) throws -> Int {
        let start = offset
        let first = try peek()
        guard first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw try wrongKind(what, not: "a number")
        }
        let text = try syntax { (parser: inout JSONParser) throws(JSONError) in try parser.parseNumber() }
        guard let value = JSONValue.number(text).nonNegativeInt else {
            throw structure("\(what) is \(text), not a non-negative integer", at: start)
        }
        return value
    }

    /// Appends a float32 read from a number; `tensor` and `index` name it in errors.
    private mutating func float(into values: inout [Float], tensor: String, index: Int) throws {
        let start = offset
        let first = try peek()
        // Python's json.dumps writes non-finite floats as these words, which JSON does not have.
        let rest = parser.bytes[parser.index...]
        if let word = ["NaN", "Infinity", "-Infinity"].first(where: { rest.starts(with: $0.utf8) }) {
            throw Failure(message: "the value \(word) at flat index \(index) of \(tensor) is not a finite number (nor JSON); fcstore refuses weights that are not finite numbers", offset: offset, kind: .value)
        }
        guard first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw try wrongKind("element \(index) of \(tensor)", not: "a number")
        }
        let text = try syntax { (parser: inout JSONParser) throws(JSONError) in try parser.parseNumber() }
        guard let value = Float(text) else { throw structure("element \(index) of \(tensor) (\(text)) is not a number", at: start) }
        guard value.isFinite else {
            throw Failure(message: "the value \(text) at flat index \(index) of \(tensor) overflows float32, and fcstore does not store it as infinity", offset: start, kind: .value)
        }
        values.append(value)
    }

    private mutating func floats(_ what: String) throws -> [Float] {
        var values: [Float] = []
        try array(what) { (reader: inout JSONModelReader, index: Int) throws in
            try reader.float(into: &values, tensor: what, index: index)
        }
        return values
    }

    mutating func read() throws -> Parsed {
        var parsed = Parsed()
        var found = Set<String>()
        try object("the top level") { (reader: inout JSONModelReader, key: String, _: Int) throws in
            found.insert(key)
            switch key {
            case "format": parsed.format = try reader.string("\"format\"")
            case "version": parsed.version = try reader.integer("\"version\"")
            case "architecture":
                try reader.array("\"architecture\"") { (reader: inout JSONModelReader, index: Int) throws in
                    parsed.architecture.append(try reader.integer("\"architecture\"[\(index)]"))
                }
            case "activations":
                try reader.array("\"activations\"") { (reader: inout JSONModelReader, index: Int) throws in
                    parsed.activations.append(try reader.string("\"activations\"[\(index)]"))
                }
            case "loss":
                if try !reader.isNull() { parsed.loss = try reader.string("\"loss\"") }
            case "normalization":
                if try !reader.isNull() { parsed.normalization = try reader.normalization() }
            case "metadata":
                if try !reader.isNull() {
                    try reader.object("\"metadata\"") { (reader: inout JSONModelReader, key: String, _: Int) throws in
                        parsed.metadata[key] = try reader.string("the metadata value of \"\(key)\"")
                    }
                }
            case "signature":
                if try !reader.isNull() {
                    // The strict parser checks the object (duplicate keys, depth); its
                    // text is then read as a signature.
                    reader.syntaxSkip()
                    let start = reader.parser.index
                    _ = try reader.syntax { (parser: inout JSONParser) throws(JSONError) in try parser.parseValue(depth: 1) }
                    let text = String(decoding: reader.parser.bytes[start..<reader.parser.index], as: UTF8.self)
                    parsed.signature = try ModelSignature.decode(text, format: .model)
                }
            case "layers":
                try reader.array("\"layers\"") { (reader: inout JSONModelReader, index: Int) throws in
                    // Sorted keys put "architecture" first: reserve each weight's size, so
                    // that growing the array never holds two copies of it.
                    var expected = 0
                    if index + 1 < parsed.architecture.count {
                        let (product, overflow) = parsed.architecture[index + 1].multipliedReportingOverflow(by: parsed.architecture[index])
                        // Each number takes at least 2 bytes with its comma.
                        expected = overflow ? 0 : min(product, (reader.parser.bytes.endIndex - reader.parser.index) / 2)
                    }
                    parsed.layers.append(try reader.layer(index, expectedWeights: expected))
                }
            default:
                _ = try reader.syntax { (parser: inout JSONParser) throws(JSONError) in try parser.parseValue(depth: 1) }
            }
        }
        syntaxSkip()
        guard parser.index == parser.bytes.endIndex else {
            throw Failure(message: "trailing characters after the JSON value (only spaces may pad it)", offset: offset, kind: .syntax)
        }
        for key in ["format", "version", "architecture", "activations", "layers"] where !found.contains(key) {
            throw structure("it has no \"\(key)\" (a model needs format, version, architecture, activations and layers)", at: 0)
        }
        return parsed
    }

    private mutating func normalization() throws -> ModelFile.Normalization {
        var kind: String?, shift: [Float]?, scale: [Float]?
        let start = offset
        try object("\"normalization\"") { (reader: inout JSONModelReader, key: String, _: Int) throws in
            switch key {
            case "kind": kind = try reader.string("the normalization's \"kind\"")
            case "shift": shift = try reader.floats("normalization.shift")
            case "scale": scale = try reader.floats("normalization.scale")
            default: throw reader.structure("\"normalization\" has the unknown key \"\(key)\"")
            }
        }
        guard let kind, let shift, let scale else { throw structure("\"normalization\" needs kind, shift and scale", at: start) }
        return ModelFile.Normalization(kind: kind, shift: shift, scale: scale)
    }

    private mutating func layer(_ index: Int, expectedWeights: Int) throws -> Layer {
        var layer = Layer()
        layer.weight.reserveCapacity(expectedWeights)
        var sawWeight = false, sawBias = false
        let start = offset
        let name = ModelFile.weightName(layer: index + 1)
        try object("layer \(index + 1)") { (reader: inout JSONModelReader, key: String, _: Int) throws in
            switch key {
            case TensorRole.weight:
                sawWeight = true
                try reader.array("\(name)") { (reader: inout JSONModelReader, row: Int) throws in
                    let rowStart = reader.offset
                    let before = layer.weight.count
                    try reader.array("row \(row) of \(name)") { (reader: inout JSONModelReader, column: Int) throws in
                        try reader.float(into: &layer.weight, tensor: name, index: before + column)
                    }
                    let columns = layer.weight.count - before
                    if row == 0 {
                        layer.columns = columns
                    } else if columns != layer.columns {
                        throw reader.structure("layer \(index + 1)'s weight rows have different lengths (row \(row) has \(columns) value\(columns == 1 ? "" : "s"), row 0 has \(layer.columns))", at: rowStart)
                    }
                    layer.rows += 1
                }
            case TensorRole.bias:
                sawBias = true
                layer.bias = try reader.floats(ModelFile.biasName(layer: index + 1))
            default:
                _ = try reader.syntax { (parser: inout JSONParser) throws(JSONError) in try parser.parseValue(depth: 3) }
            }
        }
        guard sawWeight, sawBias else { throw structure("layer \(index + 1) needs a \"weight\" and a \"bias\"", at: start) }
        return layer
    }
}

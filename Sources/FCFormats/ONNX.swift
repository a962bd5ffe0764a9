import FCCore
/// ONNX export: an inference graph that onnxruntime runs with the outputs of
/// `fcstore predict`.
///
/// The graph (IR version 8, opset ai.onnx 13, producer "fcstore"):
///
///     x [N, N_0]
///     -> Sub(x, shift) -> Mul(., scale)          only with a normalisation: x' = (x - shift) * scale
///     -> Gemm(h, W<l>, b<l>, transB=1)           z^l = h W^lᵀ + b^l, W^l stored as [N_l, N_{l-1}]
///     -> Sigmoid | Tanh | Relu | LeakyRelu(alpha=0.01) | Softmax(axis=-1)   (identity: no node)
///     ... for l = 1...L
///     y [N, N_L]
///
/// with the batch dimension symbolic (`dim_param "N"`), the weights as float
/// initializers in `raw_data`, and the model's string metadata (the same keys
/// as safetensors' `__metadata__`) in `metadata_props`.
///
/// Why a hand-written protobuf writer rather than swift-protobuf: fcstore only
/// *writes* ONNX, and a writer needs four things (varints, field tags,
/// length-delimited fields, little-endian floats) over a dozen fields of
/// onnx.proto, about 150 lines. swift-protobuf would add a package dependency,
/// ~4,000 lines of generated code for all of onnx.proto (training, sparse,
/// functions) and a code generation step to keep in sync, and its build time on
/// every CI run. The hand writer emits fields in field-number order, so its
/// bytes are deterministic and golden-tested against bytes onnx.helper
/// produces; `onnx.checker` and onnxruntime validate it in the interop test.
/// If fcstore ever imports ONNX (arbitrary encodings, unknown fields), that is
/// the point to switch to swift-protobuf with committed generated code.
public enum ONNX {
    public static let irVersion: Int64 = 8
    public static let opsetVersion: Int64 = 13
    public static let producerName = "fcstore"
    /// The LeakyRelu slope of fcstore's `leaky-relu`.
    public static let leakyReLUSlope: Float = Activation.leakySlope

    /// Writes `model` as an ONNX ModelProto.
    /// - Throws: `ModelFormatError` when `model.validate()` fails, or (format
    ///   `.onnx`) when the weights exceed protobuf's 2 GiB message limit.
    public static func encode(_ model: ModelFile) throws -> [UInt8] {
        try model.validate()
        let totalBytes = model.layers.reduce(0) { $0 + $1.weight.byteCount + $1.bias.byteCount }
        guard totalBytes < 2_000_000_000 else {
            throw ModelFormatError(.onnx, "The model's \(totalBytes) bytes of weights exceed protobuf's 2 GiB limit for one ONNX file; export it as safetensors instead.")
        }

        var model_ = ProtoWriter()
        model_.int(1, irVersion)
        model_.string(2, producerName)
        model_.message(7) { $0.append(graph(model)) }
        model_.message(8) { opset in
            opset.string(1, "")
            opset.int(2, opsetVersion)
        }
        for (key, value) in model.formatMetadata() {
            model_.message(14) { entry in
                entry.string(1, key)
                entry.string(2, value)
            }
        }
        return model_.bytes
    }

    private static func graph(_ model: ModelFile) -> ProtoWriter {
        var nodes: [ProtoWriter] = []
        var initializers: [ProtoWriter] = []
        var h = "x"
        let L = model.layers.count

        if let normalization = model.normalization {
            initializers.append(tensor(name: "shift", shape: [normalization.shift.count], values: normalization.shift))
            initializers.append(tensor(name: "scale", shape: [normalization.scale.count], values: normalization.scale))
            nodes.append(node(op: "Sub", name: "normalize_shift", inputs: [h, "shift"], output: "x_shifted"))
            nodes.append(node(op: "Mul", name: "normalize_scale", inputs: ["x_shifted", "scale"], output: "x_normalized"))
            h = "x_normalized"
        }
        for (index, layer) in model.layers.enumerated() {
            let l = index + 1
            let last = l == L
            let activation = Activation(rawValue: layer.activation) ?? .identity  // validate() allows only known names
            let hasActivation = activation != .identity
            let z = last && !hasActivation ? "y" : "z\(l)"
            initializers.append(tensor(name: "W\(l)", shape: layer.weight.shape, values: layer.weight.values))
            initializers.append(tensor(name: "b\(l)", shape: layer.bias.shape, values: layer.bias.values))
            nodes.append(node(op: "Gemm", name: "fc\(l)", inputs: [h, "W\(l)", "b\(l)"], output: z) { $0.intAttribute("transB", 1) })
            h = z
            guard hasActivation else { continue }
            let a = last ? "y" : "a\(l)"
            switch activation {
            case .sigmoid: nodes.append(node(op: "Sigmoid", name: "act\(l)", inputs: [h], output: a))
            case .tanh: nodes.append(node(op: "Tanh", name: "act\(l)", inputs: [h], output: a))
            case .relu: nodes.append(node(op: "Relu", name: "act\(l)", inputs: [h], output: a))
            case .leakyRelu:
                nodes.append(node(op: "LeakyRelu", name: "act\(l)", inputs: [h], output: a) { $0.floatAttribute("alpha", leakyReLUSlope) })
            case .identity: continue  // guarded above
            case .softmax:
                nodes.append(node(op: "Softmax", name: "act\(l)", inputs: [h], output: a) { $0.intAttribute("axis", -1) })
            }
            h = a
        }

        var graph = ProtoWriter()
        for node in nodes { graph.message(1) { $0.append(node) } }
        graph.string(2, "fcstore")
        for initializer in initializers { graph.message(5) { $0.append(initializer) } }
        graph.message(11) { $0.append(valueInfo(name: "x", columns: model.inputSize)) }
        graph.message(12) { $0.append(valueInfo(name: "y", columns: model.outputSize)) }
        return graph
    }

    /// NodeProto: input (1), output (2), name (3), op_type (4), attribute (5).
    private static func node(op: String, name: String, inputs: [String], output: String,
                             attributes: (inout AttributeList) -> Void = { _ in }) -> ProtoWriter {
        var node = ProtoWriter()
        for input in inputs { node.string(1, input) }
        node.string(2, output)
        node.string(3, name)
        node.string(4, op)
        var list = AttributeList()
        attributes(&list)
        for attribute in list.attributes { node.message(5) { $0.append(attribute) } }
        return node
    }

    /// AttributeProto: name (1), f (2), i (3), type (20: FLOAT = 1, INT = 2).
    private struct AttributeList {
        var attributes: [ProtoWriter] = []

        mutating func intAttribute(_ name: String, _ value: Int64) {
            var attribute = ProtoWriter()
            attribute.string(1, name)
            attribute.int(3, value)
            attribute.int(20, 2)
            attributes.append(attribute)
        }

        mutating func floatAttribute(_ name: String, _ value: Float) {
            var attribute = ProtoWriter()
            attribute.string(1, name)
            attribute.float(2, value)
            attribute.int(20, 1)
            attributes.append(attribute)
        }
    }

    /// TensorProto: dims (1, one varint each: proto2 repeated fields are not
    /// packed), data_type (2, FLOAT = 1), name (8), raw_data (9, float32 LE, row-major).
    private static func tensor(name: String, shape: [Int], values: [Float]) -> ProtoWriter {
        var tensor = ProtoWriter()
        for dimension in shape { tensor.int(1, Int64(dimension)) }
        tensor.int(2, 1)
        tensor.string(8, name)
        var raw: [UInt8] = []
        raw.reserveCapacity(values.count * 4)
        for value in values { raw += littleEndianBytes(value.bitPattern) }
        tensor.bytes(9, raw)
        return tensor
    }

    /// ValueInfoProto { name (1), type (2): TypeProto { tensor_type (1):
    /// { elem_type (1) = FLOAT, shape (2): { dim (1) { dim_param (2) "N" }, dim (1) { dim_value (1) columns } } } } }
    private static func valueInfo(name: String, columns: Int) -> ProtoWriter {
        var info = ProtoWriter()
        info.string(1, name)
        info.message(2) { type in
            type.message(1) { tensorType in
                tensorType.int(1, 1)
                tensorType.message(2) { shape in
                    shape.message(1) { $0.string(2, "N") }
                    shape.message(1) { $0.int(1, Int64(columns)) }
                }
            }
        }
        return info
    }
}

/// A protobuf encoder for the few wire types ONNX export needs: varint (0),
/// length-delimited (2) and fixed32 (5). Children are built first and
/// appended with their length, so each message is written once.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func key(_ field: Int, _ wireType: UInt64) {
        varint(UInt64(field) << 3 | wireType)
    }

    /// An int32/int64/enum field; negative values take ten bytes (two's complement).
    mutating func int(_ field: Int, _ value: Int64) {
        key(field, 0)
        varint(UInt64(bitPattern: value))
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        bytes += littleEndianBytes(value.bitPattern)
    }

    mutating func bytes(_ field: Int, _ payload: [UInt8]) {
        key(field, 2)
        varint(UInt64(payload.count))
        bytes += payload
    }

    mutating func string(_ field: Int, _ text: String) {
        bytes(field, Array(text.utf8))
    }

    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var child = ProtoWriter()
        build(&child)
        bytes(field, child.bytes)
    }

    mutating func append(_ other: ProtoWriter) {
        bytes += other.bytes
    }
}

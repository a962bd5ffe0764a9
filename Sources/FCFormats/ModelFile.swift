import FCCore
/// A trained fully-connected network as the model file formats speak it:
/// the weights and biases of layers l = 1...L, their activations, the input
/// normalisation and the loss it was trained with, plus free-form provenance.
///
/// Shapes follow the math of the README's "The training engine": `W^l` is N_l × N_{l-1} (row-major,
/// row i holds the weights into neuron i), `b^l` has N_l entries, and
/// `z^l = W^l a^{l-1} + b^l`, `a^l = σ_l(z^l)`, `a^0 = x'`.
public struct ModelFile: Equatable, Sendable {
    public struct Layer: Equatable, Sendable {
        /// W^l, shape [N_l, N_{l-1}].
        public var weight: TensorValue
        /// b^l, shape [N_l].
        public var bias: TensorValue
        /// One of `ModelFile.activations`.
        public var activation: String

        public init(weight: TensorValue, bias: TensorValue, activation: String) {
            self.weight = weight
            self.bias = bias
            self.activation = activation
        }
    }

    /// Input normalisation, applied per input feature before layer 1:
    /// `x' = (x - shift) * scale`.
    public struct Normalization: Equatable, Sendable {
        /// `minmax` or `standard`; informative, the formula above is what is applied.
        public var kind: String
        public var shift: [Float]
        public var scale: [Float]

        public init(kind: String, shift: [Float], scale: [Float]) {
            self.kind = kind
            self.shift = shift
            self.scale = scale
        }
    }

    /// Layers l = 1...L (index 0 holds layer 1).
    public var layers: [Layer]
    public var normalization: Normalization?
    /// `mse`, `cross-entropy` or `binary-cross-entropy`, when known.
    public var loss: String?
    /// Provenance (source run id, epoch, fcstore version, ...). Keys must not be
    /// one of `ModelFile.reservedMetadataKeys`, which the writers fill in.
    public var metadata: [String: String]
    /// The feature columns, label column and task; nil for a model file without one
    /// (its inputs are then matched by position).
    public var signature: ModelSignature?

    public init(layers: [Layer], normalization: Normalization? = nil, loss: String? = nil, metadata: [String: String] = [:],
                signature: ModelSignature? = nil) {
        self.layers = layers
        self.normalization = normalization
        self.loss = loss
        self.metadata = metadata
        self.signature = signature
    }

    public static let activations: [String] = Activation.allCases.map(\.rawValue)
    public static let losses: [String] = Loss.allCases.map(\.rawValue)
    public static let normalizationKinds: [String] = ["minmax", "standard"]

    /// N_0, the number of input features (0 when there are no layers).
    public var inputSize: Int { layers.first?.weight.shape.last ?? 0 }
    /// N_L, the number of outputs (0 when there are no layers).
    public var outputSize: Int { layers.last?.bias.shape.first ?? 0 }
    /// [N_0, N_1, ..., N_L].
    public var architecture: [Int] { layers.isEmpty ? [] : [inputSize] + layers.map { $0.weight.shape.first ?? 0 } }

    /// Checks that the model is runnable: at least one layer, W^l of shape
    /// [N_l, N_{l-1}] chained from layer to layer, b^l of shape [N_l], every size
    /// at least 1, known activation, loss and normalisation names, a
    /// normalisation of N_0 finite values, and no reserved metadata keys.
    /// - Throws: `ModelFormatError` (format `.model`) with a sentence naming the first problem.
    public func validate() throws {
        func fail(_ message: String) -> ModelFormatError { ModelFormatError(.model, message) }
        guard !layers.isEmpty else { throw fail("The model has no layers; it needs at least one.") }
        var previousRows: Int? = nil
        for (index, layer) in layers.enumerated() {
            let l = index + 1
            guard layer.weight.shape.count == 2 else {
                throw fail("The weight of layer \(l) has shape \(layer.weight.shape); it must be a matrix [N_\(l), N_\(l - 1)].")
            }
            let rows = layer.weight.shape[0], columns = layer.weight.shape[1]
            guard rows >= 1, columns >= 1 else {
                throw fail("The weight of layer \(l) has shape \(layer.weight.shape); every layer needs at least one neuron and one input.")
            }
            if let previousRows, columns != previousRows {
                throw fail("The weight of layer \(l) has \(columns) columns but layer \(l - 1) has \(previousRows) neurons; W^\(l) must be [N_\(l), N_\(l - 1)] = [\(rows), \(previousRows)].")
            }
            guard layer.bias.shape == [rows] else {
                throw fail("The bias of layer \(l) has shape \(layer.bias.shape) but its weight has \(rows) rows; b^\(l) must have shape [\(rows)].")
            }
            guard ModelFile.activations.contains(layer.activation) else {
                throw fail("Layer \(l) has the unknown activation \"\(layer.activation)\"; use one of \(ModelFile.activations.joined(separator: ", ")).")
            }
            previousRows = rows
        }
        if let loss, !ModelFile.losses.contains(loss) {
            throw fail("The loss \"\(loss)\" is unknown; use one of \(ModelFile.losses.joined(separator: ", ")).")
        }
        if let normalization {
            guard ModelFile.normalizationKinds.contains(normalization.kind) else {
                throw fail("The normalisation kind \"\(normalization.kind)\" is unknown; use minmax or standard.")
            }
            guard normalization.shift.count == inputSize, normalization.scale.count == inputSize else {
                throw fail("The normalisation has \(normalization.shift.count) shift and \(normalization.scale.count) scale values but the model has \(inputSize) inputs; it needs one of each per input.")
            }
            guard (normalization.shift + normalization.scale).allSatisfy(\.isFinite) else {
                throw fail("The normalisation holds a value that is not finite (NaN or infinity); every shift and scale must be a finite number.")
            }
        }
        if let signature {
            do {
                try signature.validate(inputs: inputSize, outputs: outputSize)
            } catch let error as ModelFormatError {
                throw fail(error.message)
            }
        }
        for key in metadata.keys.sorted() where ModelFile.reservedMetadataKeys.contains(key) {
            throw fail("The metadata key \"\(key)\" is reserved for fcstore's own fields; rename it.")
        }
    }
}

extension ModelFile {
    /// Refuses NaN and ±infinity in any weight or bias, naming the tensor and
    /// the flat (row-major) index of the first one. Importers call it: a
    /// network with such a weight predicts NaN for every row.
    /// - Throws: `ModelFormatError` (format `.model`).
    public func checkFinite() throws {
        for (name, tensor) in namedTensors() {
            guard let index = tensor.values.firstIndex(where: { !$0.isFinite }) else { continue }
            let value = tensor.values[index]
            let text = value.isNaN ? "NaN" : value > 0 ? "+infinity" : "-infinity"
            throw ModelFormatError(.model, "Tensor \"\(name)\" holds \(text) at flat index \(index); fcstore refuses weights that are not finite numbers.")
        }
    }

    /// Rounds float64 values to float32. A finite value too large for float32
    /// is refused instead of becoming infinity; NaN and infinities are kept
    /// (and refused later by `checkFinite`, which names them).
    /// - Throws: a `ModelFormatError` in `format` naming `tensor` and the index.
    static func narrowing(_ count: Int, tensor: String, format: ModelFormatError.Format,
                          _ double: (Int) -> Double) throws -> [Float] {
        var values = [Float]()
        values.reserveCapacity(count)
        for index in 0..<count {
            let wide = double(index)
            let narrow = Float(wide)
            if wide.isFinite && !narrow.isFinite {
                throw ModelFormatError(format, "The float64 value \(wide) at flat index \(index) of \(tensor) overflows float32; fcstore refuses it rather than store infinity.")
            }
            values.append(narrow)
        }
        return values
    }
}

/// Why a model file could not be written or read: one sentence that names the
/// problem and, where there is one, the fix.
public struct ModelFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Format: String, Sendable {
        case model, safetensors, npy, npz, zip, onnx
    }

    public var format: Format
    public var message: String

    public init(_ format: Format, _ message: String) {
        self.format = format
        self.message = message
    }

    public var description: String { message }
}

import FCNet
import FCStorage
import Foundation

/// Converts stored checkpoints to model files (safetensors, npz, ONNX, JSON)
/// and model files into runs of the store.
public enum ModelExchange {
    /// The model of a checkpoint with its provenance in the metadata.
    public static func modelFile(run: RunRecord, config: RunConfig, checkpoint: LoadedCheckpoint) throws -> ModelFile {
        let model = try Workflow.model(of: checkpoint, config: config)
        let spec = model.spec, sizes = spec.sizes
        var layers: [ModelFile.Layer] = []
        for l in 1...spec.layerCount {
            let weights = model.weights[l - 1], biases = model.biases[l - 1]
            layers.append(ModelFile.Layer(
                weight: try TensorValue(shape: [sizes[l], sizes[l - 1]], values: weights),
                bias: try TensorValue(shape: [sizes[l]], values: biases),
                activation: spec.activation(layer: l).rawValue))
        }
        let normalization = model.normalizer.kind == .none ? nil :
            ModelFile.Normalization(kind: model.normalizer.kind.rawValue, shift: model.normalizer.shift, scale: model.normalizer.scale)
        var metadata = [
            "fcstore.version": FCStoreVersion.current,
            "fcstore.source_run": run.id,
            "fcstore.source_epoch": String(checkpoint.epoch),
            "fcstore.source_digest": checkpoint.digestHex,
        ]
        if let name = run.name { metadata["fcstore.source_name"] = name }
        return ModelFile(layers: layers, normalization: normalization, loss: spec.loss.rawValue, metadata: metadata,
                         signature: config.signature)
    }

    /// Stores a model file as a new run (status `imported`) with one checkpoint,
    /// epoch 0, holding its weights and normalisation: runnable by `predict`,
    /// `evaluate` and `export`, and a starting point for `train --init`.
    /// - Throws: `TrainingError.incompatible` when the model cannot be expressed as
    ///   an fcstore network (for instance mixed hidden activations).
    public static func importModel(_ file: ModelFile, into store: Store, name: String?, provenance: [String: String]) throws -> RunRecord {
        try file.validate()
        let activations = try file.layers.map { layer -> Activation in
            guard let activation = Activation(rawValue: layer.activation) else {
                throw TrainingError.incompatible("The model uses the activation \"\(layer.activation)\", which fcstore does not know.")
            }
            return activation
        }
        let hidden = Set(activations.dropLast())
        guard hidden.count <= 1 else {
            throw TrainingError.incompatible("The model's hidden layers use different activations (\(activations.dropLast().map(\.rawValue).joined(separator: ","))); fcstore networks use one hidden activation.")
        }
        guard let output = activations.last else { throw TrainingError.incompatible("The model has no layers.") }
        if hidden.contains(.softmax) {
            throw TrainingError.incompatible("The model uses softmax on a hidden layer; fcstore allows softmax on the output layer only.")
        }
        let loss: Loss
        if let text = file.loss {
            guard let known = Loss(rawValue: text) else {
                throw TrainingError.incompatible("The model's loss \"\(text)\" is not one fcstore knows (mse, cross-entropy, binary-cross-entropy).")
            }
            loss = known
        } else {
            loss = Workflow.defaultLoss(for: output)
        }
        let spec = NetworkSpec(inputSize: file.inputSize, layerSizes: file.layers.map { $0.bias.values.count },
                               hiddenActivation: hidden.first ?? .sigmoid, outputActivation: output, loss: loss)
        try spec.validate()
        let normalizer: Normalizer
        if let normalization = file.normalization {
            normalizer = Normalizer(kind: Normalizer.Kind(rawValue: normalization.kind) ?? .standard,
                                    shift: normalization.shift, scale: normalization.scale)
        } else {
            normalizer = .identity(width: spec.inputSize)
        }
        var config = RunConfig(training: TrainingConfig(spec: spec, optimizer: OptimizerConfig(), batchSize: nil, seed: 0),
                               epochs: 0, data: nil, validation: nil, normalization: normalizer.kind)
        config.provenance = provenance
        config.signature = file.signature
        let state = TrainingState(
            spec: spec, epoch: 0, parameters: file.layers.flatMap { $0.weight.values + $0.bias.values },
            optimizer: .sgd, slots: [:], step: 0, schedulePosition: 0, random: Xoshiro256(seed: 0),
            dataFingerprint: "", metrics: [:])
        let input = try CheckpointCoding.input(state, normalizer: normalizer)
        let run = try store.createRun(name: name, config: try config.json(), seed: 0, status: .imported)
        do {
            try store.appendCheckpoint(runID: run.id, input)
        } catch {
            // The run row without its checkpoint would be a half-import: take it back.
            try? store.removeRun(runID: run.id, force: false)
            throw error
        }
        return try store.run(id: run.id)
    }
}

/// fcstore's own JSON model format: readable by anything that reads JSON.
///
///     {"format": "fcstore-model", "version": 1, "architecture": [64, 32, 10],
///      "activations": ["sigmoid", "softmax"], "loss": "cross-entropy",
///      "normalization": {"kind": "standard", "shift": [...], "scale": [...]} | null,
///      "layers": [{"weight": [[...N_0 values...] x N_1 rows], "bias": [...]}, ...],
///      "metadata": {...}, "signature": {...} (see `ModelSignature`; absent when unknown)}
///
/// Floats are written in their shortest form that reads back to the same float32.
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

    public static func decode(_ bytes: [UInt8]) throws -> ModelFile {
        guard bytes.count <= maximumBytes else {
            throw ModelFormatError(.model, "The JSON model file is larger than \(maximumBytes) bytes; fcstore refuses it.")
        }
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(bytes))
        } catch {
            throw ModelFormatError(.model, "The file is not an fcstore JSON model (expected format, version, architecture, activations and layers).")
        }
        guard document.format == "fcstore-model", document.version == 1 else {
            throw ModelFormatError(.model, "The JSON model has format \"\(document.format)\" version \(document.version); fcstore reads fcstore-model version 1.")
        }
        guard document.activations.count == document.layers.count, document.architecture.count == document.layers.count + 1 else {
            throw ModelFormatError(.model, "The JSON model lists \(document.activations.count) activations and \(document.architecture.count) sizes for \(document.layers.count) layers.")
        }
        var layers: [ModelFile.Layer] = []
        for (index, layer) in document.layers.enumerated() {
            let rows = layer.weight.count, columns = layer.weight.first?.count ?? 0
            guard layer.weight.allSatisfy({ $0.count == columns }) else {
                throw ModelFormatError(.model, "Layer \(index + 1)'s weight rows have different lengths.")
            }
            layers.append(ModelFile.Layer(
                weight: try TensorValue(shape: [rows, columns], values: layer.weight.flatMap { $0 }),
                bias: try TensorValue(shape: [layer.bias.count], values: layer.bias),
                activation: document.activations[index]))
        }
        let model = ModelFile(
            layers: layers,
            normalization: document.normalization.map { ModelFile.Normalization(kind: $0.kind, shift: $0.shift, scale: $0.scale) },
            loss: document.loss, metadata: document.metadata.filter { !ModelFile.reservedMetadataKeys.contains($0.key) },
            signature: document.signature)
        guard model.architecture == document.architecture else {
            throw ModelFormatError(.model, "The JSON model's architecture \(document.architecture.map(String.init).joined(separator: "-")) does not match its weights (\(model.architecture.map(String.init).joined(separator: "-"))).")
        }
        try model.validate()
        return model
    }
}

import FCCore
import FCFormats
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

    /// What `importModel` did.
    public struct Imported: Sendable {
        public var run: RunRecord
        /// False when the same file was imported before: `run` is that import, and nothing was written.
        public var isNew: Bool
    }

    /// The provenance key holding the SHA-256 (hex) of the imported file's bytes.
    public static let importedSHA256Key = "imported_sha256"

    /// Stores a model file as a new run (status `imported`) with one checkpoint,
    /// epoch 0, holding its weights and normalisation: runnable by `predict`,
    /// `evaluate` and `export`, and a starting point for `train --init`. The run
    /// and its checkpoint are written in ONE transaction, so a crash leaves both or neither.
    ///
    /// Re-importing is idempotent: when `provenance` holds `imported_sha256`
    /// and an imported run with a checkpoint already records the same SHA-256
    /// of the file's bytes, that run is returned (`isNew` false) and nothing is written.
    /// - Throws: `ModelFormatError` for weights that are not finite,
    ///   `TrainingError.incompatible` when the model cannot be expressed as
    ///   an fcstore network (for instance mixed hidden activations),
    ///   `StoreError.invalidInput` for a name that breaks `RunName`'s rules.
    public static func importModel(_ file: ModelFile, into store: Store, name: String?, provenance: [String: String]) throws -> Imported {
        try file.validate()
        try file.checkFinite()
        if let name { try RunName.validate(name) }
        if let digest = provenance[importedSHA256Key], let existing = try previousImport(sha256: digest, in: store) {
            return Imported(run: existing, isNew: false)
        }
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
            loss = TrainingDefaults.loss(for: output)
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
        let created = try store.createRun(name: name, config: try config.json(), seed: 0, status: .imported, initialCheckpoint: input)
        return Imported(run: created.run, isNew: true)
    }

    /// The imported run, with a checkpoint, whose provenance records this
    /// SHA-256 of the file's bytes; the oldest when there are several.
    static func previousImport(sha256: String, in store: Store) throws -> RunRecord? {
        struct Provenance: Decodable { var provenance: [String: String]? }
        for summary in try store.runs(latestMetrics: false) where summary.run.status == .imported && summary.lastEpoch != nil {
            let recorded = try? JSONDecoder().decode(Provenance.self, from: Data(summary.run.config.utf8))
            if recorded?.provenance?[importedSHA256Key] == sha256 { return summary.run }
        }
        return nil
    }
}

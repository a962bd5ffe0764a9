import FCCore
import FCNet
import FCStorage
import Foundation

/// Converts between the engine's checkpoint value (`TrainingState` plus the
/// input `Normalizer`) and the store's (`CheckpointInput` / `LoadedCheckpoint`).
///
/// Tensors: layer l ≥ 1 holds `weight`, `bias` and the optimizer slots
/// (`weight.m`, ...) exactly as `TrainingState.namedTensors()` names them;
/// layer 0 holds `normalize.shift` and `normalize.scale` when the inputs are
/// normalised. The optimizer state text is the JSON of `StoredScalars`; the
/// PRNG state is xoshiro256**'s 32 bytes.
public enum CheckpointCoding {
    public static let shiftRole = TensorRole.normalizeShift
    public static let scaleRole = TensorRole.normalizeScale
    /// The largest update count (and schedule position) a checkpoint may record: 2^53, past
    /// which the count is no longer exact as a Double (Adam's bias correction uses it).
    public static let maximumStep = 1 << 53

    /// The scalar state kept as JSON in `checkpoints.optimizer_state`.
    struct StoredScalars: Codable {
        var epoch: Int
        var step: Int
        var schedulePosition: Int
        var optimizer: OptimizerConfig.Kind
        var dataFingerprint: String
        var normalization: Normalizer.Kind
        /// Early stopping's state; absent (not null) for runs without early stopping.
        var patience: PatienceState?
    }

    public static func input(_ state: TrainingState, normalizer: Normalizer) throws -> CheckpointInput {
        var tensors: [CheckpointTensor] = []
        if normalizer.kind != .none {
            let width = [normalizer.shift.count]
            tensors.append(CheckpointTensor(layer: 0, role: shiftRole, value: try TensorValue(shape: width, values: normalizer.shift)))
            tensors.append(CheckpointTensor(layer: 0, role: scaleRole, value: try TensorValue(shape: width, values: normalizer.scale)))
        }
        for tensor in state.namedTensors() {
            tensors.append(CheckpointTensor(layer: tensor.layer, role: tensor.role,
                                            value: try TensorValue(shape: tensor.shape, values: tensor.values)))
        }
        let scalars = StoredScalars(epoch: state.epoch, step: state.step, schedulePosition: state.schedulePosition,
                                    optimizer: state.optimizer, dataFingerprint: state.dataFingerprint,
                                    normalization: normalizer.kind, patience: state.patience)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return CheckpointInput(
            epoch: state.epoch, tensors: tensors, metrics: state.metrics,
            optimizerState: String(decoding: try encoder.encode(scalars), as: UTF8.self),
            rngState: state.random.stateBytes)
    }

    /// Rebuilds the engine's state and the normaliser from a stored checkpoint.
    /// - Throws: `TrainingError.incompatible` when the checkpoint does not fit `spec`.
    public static func state(_ checkpoint: LoadedCheckpoint, spec: NetworkSpec) throws -> (state: TrainingState, normalizer: Normalizer) {
        guard let scalars = try? JSONDecoder().decode(StoredScalars.self, from: Data(checkpoint.optimizerState.utf8)) else {
            throw TrainingError.incompatible("Checkpoint \(checkpoint.runID.prefix(8))@\(checkpoint.epoch) has an optimizer state this version cannot read.")
        }
        var limits: [(String, Int, ClosedRange<Int>)] = [
            ("epoch", scalars.epoch, StoreLimits.epochs), ("step", scalars.step, 0...maximumStep),
            ("schedulePosition", scalars.schedulePosition, 0...maximumStep),
        ]
        if let patience = scalars.patience {
            limits.append(("patience.wait", patience.wait, StoreLimits.epochs))
            if let epoch = patience.bestEpoch { limits.append(("patience.bestEpoch", epoch, StoreLimits.epochs)) }
        }
        for (field, value, range) in limits where !range.contains(value) {
            throw TrainingError.storedStateInvalid(run: String(checkpoint.runID.prefix(8)), epoch: checkpoint.epoch,
                                                   reason: "an optimizer state with \(field) = \(value), outside \(range.lowerBound)...\(range.upperBound)")
        }
        let random: Xoshiro256
        do { random = try Xoshiro256(stateBytes: checkpoint.rngState) } catch {
            throw TrainingError.incompatible("Checkpoint \(checkpoint.runID.prefix(8))@\(checkpoint.epoch) has an invalid generator state.")
        }
        let tensors = checkpoint.tensors.filter { $0.layer >= 1 }.map {
            NamedTensor(layer: $0.layer, role: $0.role, shape: $0.value.shape, values: $0.value.values)
        }
        let trainingScalars = TrainingScalars(
            epoch: scalars.epoch, step: scalars.step, schedulePosition: scalars.schedulePosition,
            optimizer: scalars.optimizer, random: random.state, dataFingerprint: scalars.dataFingerprint,
            patience: scalars.patience)
        let state = try TrainingState(spec: spec, scalars: trainingScalars, tensors: tensors, metrics: checkpoint.metrics)
        return (state, try normalizer(checkpoint, kind: scalars.normalization, width: spec.inputSize))
    }

    /// The input normaliser stored at layer 0 (the identity when there is none).
    public static func normalizer(_ checkpoint: LoadedCheckpoint, kind: Normalizer.Kind?, width: Int) throws -> Normalizer {
        guard let shift = checkpoint.tensor(layer: 0, role: shiftRole), let scale = checkpoint.tensor(layer: 0, role: scaleRole) else {
            return .identity(width: width)
        }
        guard shift.values.count == width, scale.values.count == width else {
            throw TrainingError.incompatible("Checkpoint \(checkpoint.runID.prefix(8))@\(checkpoint.epoch) normalises \(shift.values.count) inputs but the network takes \(width).")
        }
        let stored = kind ?? .standard
        return Normalizer(kind: stored == .none ? .standard : stored, shift: shift.values, scale: scale.values)
    }
}

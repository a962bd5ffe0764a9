import FCCore
import FCNet
import FCStorage
import Foundation

/// `verify --replay RUN@K`: re-trains epoch K from the stored epoch K−1 with the
/// recipe of the run that owns epoch K, and compares every tensor, the generator
/// state and the optimizer counters with the stored epoch K, bit for bit.
/// This is the proof that history is reproducible (same machine, same build).
public enum Replay {
    public struct Result {
        public var checkpoint: String
        /// Empty when the replay reproduced the stored epoch exactly.
        public var differences: [String]
    }

    public static func run(_ store: Store, run text: String, epoch selector: EpochSelector) throws -> Result {
        let (run, stored) = try Workflow.checkpoint(store, run: text, epoch: selector)
        let name = "\(run.shortID)@\(stored.epoch)"
        guard stored.epoch >= 1 else {
            throw TrainingError.replayOfInitialState
        }
        let owner = stored.ownerRunID == run.id ? run : try store.run(id: stored.ownerRunID)
        let config = try RunConfig.decode(owner.config, run: owner.shortID)
        guard let data = config.data else { throw TrainingError.noData(run: owner.shortID) }
        let previous: LoadedCheckpoint
        do {
            previous = try store.loadCheckpoint(runID: run.id, epoch: stored.epoch - 1)
        } catch StoreError.pruned(_, let epoch, let kept) {
            throw TrainingError.invalid(
                "Replaying \(name) starts from epoch \(epoch), which was pruned; replay an epoch that follows a kept one (kept epochs: \(kept.map(String.init).joined(separator: ", "))).")
        }

        let (state, normalizer) = try CheckpointCoding.state(previous, spec: config.spec)
        let (train, validation) = try Workflow.recordedData(config, data: data, run: owner.shortID, normalizer: normalizer)
        let trainer = try Trainer(config: config.training, train: train, validation: validation, start: .state(state))
        var replayed: TrainingState?
        try trainer.train(epochs: 1) { replayed = $0 }
        guard let replayed else {
            return Result(checkpoint: name, differences: ["the replayed epoch diverged; the stored one did not"])
        }
        let fresh = try CheckpointCoding.input(replayed, normalizer: normalizer)
        var differences: [String] = []
        var storedTensors: [String: TensorValue] = [:]
        for tensor in stored.tensors { storedTensors["\(tensor.layer)/\(tensor.role)"] = tensor.value }
        for tensor in fresh.tensors {
            guard let original = storedTensors.removeValue(forKey: "\(tensor.layer)/\(tensor.role)") else {
                differences.append("layer \(tensor.layer) \(tensor.role) is not in the stored epoch")
                continue
            }
            if original.shape != tensor.value.shape {
                differences.append("layer \(tensor.layer) \(tensor.role) has shape \(tensor.value.shape), stored \(original.shape)")
            } else {
                let changed = zip(original.values, tensor.value.values).filter { $0.bitPattern != $1.bitPattern }.count
                if changed > 0 {
                    differences.append("layer \(tensor.layer) \(tensor.role): \(changed) of \(original.values.count) values differ")
                }
            }
        }
        for key in storedTensors.keys.sorted() { differences.append("stored tensor \(key) was not produced by the replay") }
        if fresh.rngState != stored.rngState { differences.append("the generator state differs") }
        if fresh.optimizerState != stored.optimizerState { differences.append("the optimizer counters differ") }
        for metric in ["train_loss", "val_loss", "val_accuracy", "train_accuracy"] {
            if let a = fresh.metrics[metric], let b = stored.metrics[metric], a.bitPattern != b.bitPattern {
                differences.append("\(metric) differs (\(a) replayed, \(b) stored)")
            }
        }
        if !differences.isEmpty, let engine = engineDifference(config) { differences.append(engine) }
        return Result(checkpoint: name, differences: differences)
    }

    /// Why bits may differ without any tampering: the epoch was trained by another build,
    /// OpenBLAS kernel or thread setting than this replay runs with (nil when they match).
    static func engineDifference(_ config: RunConfig) -> String? {
        let recorded = "fcstore \(config.fcstoreVersion), OpenBLAS core \(config.blasCore ?? "?"), \(config.blasThreads.map { "\($0) thread\($0 == 1 ? "" : "s")" } ?? "? threads")"
        let here = "fcstore \(FCStoreVersion.current), OpenBLAS core \(BLAS.coreName), \(BLAS.maxThreads) thread\(BLAS.maxThreads == 1 ? "" : "s")"
        guard recorded != here else { return nil }
        return "the run was trained with \(recorded) and this replay ran with \(here); results are bit for bit only for the same build, kernel and thread setting"
    }
}

import FCCore
import FCNet
import FCStorage
import Foundation

/// `verify --replay RUN@K`: re-trains epoch K from the stored epoch K−1 with the
/// recipe of the run that owns epoch K, and compares every tensor, the generator
/// state and the optimizer counters with the stored epoch K, bit for bit.
/// This is the proof that history is reproducible (same machine, same build).
///
/// The epoch is replayed under the engine setting its segment recorded: the OpenBLAS
/// thread limit is set to the recorded one for the replay. The OpenBLAS core cannot
/// change inside a process (OpenBLAS picks it when loaded); when it differs, or the
/// fcstore version does, a mismatch is reported together with the changed setting.
public enum Replay {
    public struct Result {
        public var checkpoint: String
        /// Empty when the replay reproduced the stored epoch exactly.
        public var differences: [String]
        /// The settings that differ from the epoch's recorded ones and could not be
        /// restored for the replay (empty when the replay ran under the recorded setting).
        public var changedSettings: [EngineChange] = []
        /// The setting the replay ran with.
        public var engine: EngineSetting?
    }

    /// - Parameter host: this machine's name: the data paths a segment recorded on this
    ///   host are read (else the paths of the run's configuration).
    public static func run(_ store: Store, run text: String, epoch selector: EpochSelector, host: String? = nil) throws -> Result {
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
        let segment = try store.segment(runID: run.id, epoch: stored.epoch)
        let local = segment.flatMap { $0.input.host == host ? $0.input : nil }
        let (train, validation) = try Workflow.recordedData(
            config, data: data, movedTo: local?.dataPath, labelsMovedTo: local?.dataPath == nil ? nil : local?.labelsPath,
            validationMovedTo: local?.validationPath, run: owner.shortID, normalizer: normalizer)
        // The recorded thread limit, for this replay only.
        try BLAS.load()
        let savedThreads = BLAS.maxThreads
        defer { BLAS.maxThreads = savedThreads }
        if let threads = segment?.input.blasThreads { BLAS.maxThreads = threads }
        let engine = EngineSetting.current
        let recordedEngine = segment.map { EngineSetting($0.input) } ?? EngineSetting(config)
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
        var changed: [EngineChange] = []
        if !differences.isEmpty, let recordedEngine {
            changed = recordedEngine.changes(to: engine)
            if !changed.isEmpty {
                differences.append("epoch \(stored.epoch) was trained with \(recordedEngine.summary) and this replay ran with \(engine.summary); results are bit for bit only for the same build, kernel and thread setting")
            }
        } else if !differences.isEmpty, let text = engineDifference(config) {
            differences.append(text)
        }
        return Result(checkpoint: name, differences: differences, changedSettings: changed, engine: engine)
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

import FCNet
import FCStorage
import Foundation

extension Workflow {
    /// A run's training and validation data as recorded: loaded again from the
    /// recorded path (or `movedTo`, which must hold the same data), split with the
    /// run's seed as before, and normalised with the stored normaliser. The
    /// normalised training set carries its fingerprint, which the trainer checks
    /// against the checkpoint's.
    ///
    /// Without a split, `Dataset.normalize(with:)` normalises in place and computes
    /// both fingerprints (the file's values and the normalised ones) in the same pass;
    /// with a split, one thread checks the file's fingerprint while the other splits,
    /// normalises and fingerprints the training part.
    /// - Throws: `TrainingError.dataChanged` when a file's fingerprint differs (before
    ///   any other error of the data).
    static func recordedData(_ config: RunConfig, data: DataSource, movedTo path: String? = nil, labelsMovedTo labels: String? = nil,
                             validationMovedTo: String? = nil,
                             run: String, normalizer: Normalizer) throws -> (train: Dataset, validation: Dataset?) {
        let classes = data.task == .classification ? max(config.spec.outputSize, 2) : nil
        // Every file is found before any is read: a missing one is named before a slow load.
        try DataLoading.requireFile(path ?? data.path, file: .training, recordedBy: path == nil ? run : nil)
        if case .file(let source)? = config.validation {
            try DataLoading.requireFile(validationMovedTo ?? source.path, file: .validation,
                                        recordedBy: validationMovedTo == nil ? run : nil)
        }
        var full = try DataLoading.reread(data, from: path, labels: labels, run: run, classes: classes)
        guard case .split(let fraction)? = config.validation else {
            let original = try full.normalize(with: normalizer)
            guard original == data.fingerprint else {
                throw DataLoading.changed(data, from: path, labels: labels, run: run, file: .training)
            }
            guard case .file(let source)? = config.validation else { return (full, nil) }
            return (full, try normalizer.applied(to: DataLoading.reload(source, from: validationMovedTo, run: run, classes: classes,
                                                                         file: .validation)))
        }
        let (checked, prepared) = Concurrently.run({
            try DataLoading.check(full, matches: data, from: path, labels: labels, run: run)
        }, {
            let (train, validation) = try full.split(validationFraction: fraction, seed: config.training.seed)
            var normalized = try normalizer.applied(to: train)
            normalized.cacheFingerprint()
            return (normalized, try normalizer.applied(to: validation))
        })
        try checked.get()
        return try prepared.get()
    }

    /// The segment a process records for the epochs from `firstEpoch` on: the files it
    /// read (absolute paths) with their recorded fingerprints, and this engine setting.
    static func segment(firstEpoch: Int, owner: String, data: DataSource, labels: String?, validation: DataSource?) -> SegmentInput {
        let engine = EngineSetting.current
        return SegmentInput(
            firstEpoch: firstEpoch, host: TakeoverRule.host(of: owner), dataPath: DataLoading.absolutePath(data.path),
            labelsPath: labels.map(DataLoading.absolutePath), validationPath: validation.map { DataLoading.absolutePath($0.path) },
            dataFingerprint: data.fingerprint, validationFingerprint: validation?.fingerprint,
            blasCore: engine.blasCore, blasThreads: engine.blasThreads, kernelsISA: engine.kernelsISA,
            fcstoreVersion: engine.fcstoreVersion)
    }
}

import Foundation

/// What a loaded checkpoint is checked against once its tensors matched their
/// hashes: its own digest (recomputed over the manifest, metrics, optimizer and
/// rng state, recipe v2 or v1) and the digests of the runs involved.
struct LoadCheck {
    /// The run asked for and the run owning the row, with whether each run digest matches.
    var runs: [(id: String, matches: Bool)]
    var createdAtText: String
    var boundRunID: String
    var shapes: [[Int]]

    func verify(_ checkpoint: LoadedCheckpoint, hashes: [[UInt8]]) throws {
        for run in runs where !run.matches {
            throw StoreError.digestMismatch(runID: run.id, epoch: nil,
                                            what: "its configuration, seed, creation time or parent no longer match the run digest")
        }
        let entries = zip(checkpoint.tensors, zip(shapes, hashes)).map { tensor, rest in
            CheckpointDigest.TensorEntry(layer: tensor.layer, role: tensor.role, shape: rest.0, hash: rest.1)
        }
        let version = CheckpointDigest.matchingVersion(
            checkpoint.digest, epoch: checkpoint.epoch, createdAt: createdAtText, parentDigest: checkpoint.parentDigest,
            tensors: entries, metrics: checkpoint.metrics, optimizerState: checkpoint.optimizerState,
            rngState: checkpoint.rngState, runID: boundRunID)
        if version == nil {
            throw StoreError.digestMismatch(runID: checkpoint.ownerRunID, epoch: checkpoint.epoch,
                                            what: "its optimizer state, rng state, metrics, tensor manifest or run no longer match the checkpoint digest")
        }
    }
}

extension Store {
    /// For displays that audit a store (the dashboard): the checkpoint with every tensor
    /// re-hashed (bytes that do not match their SHA-256 still throw `.corruptTensor`), and
    /// a digest mismatch returned as text instead of thrown, so a tampered checkpoint can
    /// be shown beside what is wrong with it. Exports, training and predictions use
    /// `loadCheckpoint`, which refuses it.
    public func loadCheckpointForAudit(runID: String, epoch: Int) throws -> (checkpoint: LoadedCheckpoint, problem: String?) {
        let (checkpoint, hashes, check) = try readCheckpoint(runID: runID, epoch: epoch)
        let actual = TensorHashing.hashes(of: checkpoint.tensors.map(\.value))
        for (index, tensor) in checkpoint.tensors.enumerated() where actual[index] != hashes[index] {
            throw StoreError.corruptTensor(runID: checkpoint.ownerRunID, epoch: epoch, layer: tensor.layer, role: tensor.role)
        }
        do {
            try check.verify(checkpoint, hashes: hashes)
            return (checkpoint, nil)
        } catch let error as StoreError {
            guard case .digestMismatch = error else { throw error }
            return (checkpoint, error.description)
        }
    }
}

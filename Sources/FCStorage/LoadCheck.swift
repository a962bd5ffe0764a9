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

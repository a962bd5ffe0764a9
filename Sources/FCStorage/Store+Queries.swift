// Listings and the integrity check.

extension Store {
    /// All runs, oldest first, with figures for a listing. Inherited epochs
    /// count for forks (see `RunSummary`).
    public func runs() throws -> [RunSummary] {
        try storeErrors {
            try db.readTransaction {
                var records: [RunRecord] = []
                let statement = try db.prepare("SELECT \(Store.runColumns) FROM runs ORDER BY created_at, id")
                try statement.forEachRow { records.append(Store.runRecord($0)) }
                let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })

                var own: [String: (count: Int, last: Int)] = [:]
                let counts = try db.prepare("SELECT run_id, count(*), max(epoch) FROM checkpoints GROUP BY run_id")
                try counts.forEachRow { own[$0.string(at: 0)] = ($0.int(at: 1), $0.int(at: 2)) }

                let bestStatement = try db.prepare("""
                    SELECT c.epoch, m.value FROM checkpoints AS c JOIN metrics AS m ON m.checkpoint_id = c.id
                    WHERE c.run_id = ? AND c.epoch BETWEEN ? AND ? AND m.name = 'val_loss' AND m.value IS NOT NULL
                    ORDER BY m.value, c.epoch LIMIT 1
                    """)
                return try records.map { record in
                    let segments = try lineage(of: record.id, runs: byID)
                    // Epochs are consecutive from 0, so the last visible one is the own
                    // last epoch, else the fork point (when the parent still has it).
                    var lastEpoch: Int?
                    for segment in segments {
                        if let owned = own[segment.ownerRunID], owned.last >= segment.lower {
                            lastEpoch = min(owned.last, segment.upper)
                            break
                        }
                    }
                    var best: (epoch: Int, value: Double)?
                    for segment in segments {
                        try bestStatement.bind([.text(segment.ownerRunID), .integer(Int64(segment.lower)),
                                                .integer(Int64(clamping: segment.upper))])
                        if try bestStatement.step() {
                            let candidate = (epoch: bestStatement.int(at: 0), value: bestStatement.double(at: 1))
                            if best == nil || candidate.value < best!.value
                                || (candidate.value == best!.value && candidate.epoch < best!.epoch) {
                                best = candidate
                            }
                        }
                        try bestStatement.reset()
                    }
                    var latestMetrics: [String: Double] = [:]
                    if let lastEpoch, let row = try? checkpointRow(runID: record.id, epoch: lastEpoch) {
                        latestMetrics = try metrics(checkpointID: row.id)
                    }
                    return RunSummary(run: record, firstEpoch: lastEpoch == nil ? nil : 0, lastEpoch: lastEpoch,
                                      checkpointCount: lastEpoch.map { $0 + 1 } ?? 0,
                                      ownCheckpointCount: own[record.id]?.count ?? 0,
                                      latestMetrics: latestMetrics, bestValidationLoss: best?.value,
                                      bestValidationEpoch: best?.epoch)
                }
            }
        }
    }

    /// The checkpoints `runID` sees, epoch order, inherited ones marked.
    /// - Throws: `StoreError.noSuchRun`.
    public func checkpoints(runID: String) throws -> [CheckpointSummary] {
        try storeErrors {
            try db.readTransaction {
                var result: [CheckpointSummary] = []
                for segment in try lineage(of: runID) {
                    let statement = try db.prepare("""
                        SELECT id, epoch, created_at, digest, parent_digest FROM checkpoints
                        WHERE run_id = ? AND epoch BETWEEN ? AND ? ORDER BY epoch
                        """)
                    try statement.bind([.text(segment.ownerRunID), .integer(Int64(segment.lower)),
                                        .integer(Int64(clamping: segment.upper))])
                    var ids: [Int64] = []
                    try statement.forEachRow { row in
                        ids.append(row.int64(at: 0))
                        result.append(CheckpointSummary(
                            epoch: row.int(at: 1), createdAt: StoreTimestamp.date(row.string(at: 2)), digest: row.bytes(at: 3),
                            parentDigest: row.optionalBytes(at: 4), metrics: [:], ownerRunID: segment.ownerRunID,
                            inherited: segment.ownerRunID != runID))
                    }
                    for (offset, id) in ids.enumerated() {
                        result[result.count - ids.count + offset].metrics = try metrics(checkpointID: id)
                    }
                }
                return result.sorted { $0.epoch < $1.epoch }
            }
        }
    }

    func metrics(checkpointID: Int64) throws -> [String: Double] {
        var metrics: [String: Double] = [:]
        let statement = try db.prepare("SELECT name, value FROM metrics WHERE checkpoint_id = ?")
        try statement.bind([.integer(checkpointID)])
        try statement.forEachRow { metrics[$0.string(at: 0)] = $0.isNull(at: 1) ? .nan : $0.double(at: 1) }
        return metrics
    }

    /// Re-checks the history `runID` sees: every tensor against its SHA-256,
    /// every digest recomputed, every parent digest against the previous
    /// epoch's digest, epochs consecutive from 0. Reads every tensor.
    /// - Returns: the problems found; empty when the run is intact.
    /// - Throws: `StoreError.noSuchRun`, `.sqlite`.
    public func verifyRun(runID: String) throws -> [Finding] {
        var findings: [Finding] = []
        let summaries = try checkpoints(runID: runID)
        var previousDigest: [UInt8]?
        for (expectedEpoch, summary) in summaries.enumerated() {
            let epoch = summary.epoch
            if epoch != expectedEpoch {
                findings.append(Finding(runID: runID, epoch: epoch, message: "epoch \(expectedEpoch) is missing before this one"))
            }
            let loaded: LoadedCheckpoint, recorded: [[UInt8]]
            do {
                (loaded, recorded) = try readCheckpoint(runID: runID, epoch: epoch)
            } catch let error as StoreError {
                findings.append(Finding(runID: runID, epoch: epoch, message: error.description))
                previousDigest = summary.digest
                continue
            }
            let actual = TensorHashing.hashes(of: loaded.tensors.map(\.value))
            for (index, tensor) in loaded.tensors.enumerated() where actual[index] != recorded[index] {
                findings.append(Finding(runID: runID, epoch: epoch,
                                        message: "layer \(tensor.layer) \(tensor.role) does not match its SHA-256"))
            }
            // The digest covers the recorded hashes: a mismatch here means the rows
            // themselves were changed, not only the bytes (reported above).
            let entries = loaded.tensors.enumerated().map { index, tensor in
                CheckpointDigest.TensorEntry(layer: tensor.layer, role: tensor.role, shape: tensor.value.shape, hash: recorded[index])
            }
            let digest = CheckpointDigest.compute(epoch: epoch, parentDigest: loaded.parentDigest, tensors: entries,
                                                  metrics: loaded.metrics, optimizerState: loaded.optimizerState,
                                                  rngState: loaded.rngState)
            if digest != loaded.digest {
                findings.append(Finding(runID: runID, epoch: epoch, message: "the checkpoint digest does not match its content"))
            }
            if loaded.parentDigest != previousDigest {
                findings.append(Finding(runID: runID, epoch: epoch,
                                        message: previousDigest == nil
                                            ? "epoch 0 records a parent digest but has no parent"
                                            : "its parent digest is not the digest of epoch \(epoch - 1)"))
            }
            previousDigest = loaded.digest
        }
        return findings
    }
}

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
                        SELECT id, epoch, created_at, digest, parent_digest, pruned_at IS NOT NULL FROM checkpoints
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
                            inherited: segment.ownerRunID != runID, pruned: row.int(at: 5) != 0))
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

    /// Checks the store, or one run, and reports every problem found.
    ///
    /// - Whole store: `PRAGMA integrity_check` (every row but "ok") and
    ///   `PRAGMA foreign_key_check`; every run's digest (id, created_at,
    ///   config, seed, parent) and id form; every checkpoint row: its digest
    ///   recomputed from its rows (epoch, created_at, tensor manifest, metrics,
    ///   optimizer state, rng state, parent digest), its chain link (the digest
    ///   of the previous epoch, or of the fork point in the parent run), epochs
    ///   consecutive, tensor shapes canonical and × 4 equal to the blob's size,
    ///   the bytes present unless the checkpoint was pruned; every blob's size
    ///   against `length(data)` and its SHA-256 (streamed in 4 MiB chunks).
    /// - One run: the same for the run and the checkpoints it inherits (and
    ///   its ancestors' run digests), the blobs they use, plus the SQLite checks.
    ///
    /// Not covered, because they change in normal use: runs.name, status and
    /// owner; checkpoints.pruned_at (only checked to be a timestamp); row ids.
    /// - Parameter runID: nil for the whole store, else an exact run id.
    /// - Returns: the findings, store-wide ones first; empty when all is well.
    /// - Throws: `StoreError.noSuchRun`, `.sqlite`.
    public func verify(runID: String? = nil) throws -> [Finding] {
        try storeErrors {
            try db.readTransaction { try Verifier(db: db).verify(runID: runID, sqliteChecks: true) }
        }
    }

    /// `verify(runID:)` for one run (kept for existing callers).
    public func verifyRun(runID: String) throws -> [Finding] {
        try verify(runID: runID)
    }
}

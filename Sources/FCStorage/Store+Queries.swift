import FCSQLite
// Listings and the integrity check.

extension Store {
    /// All runs, oldest first, with figures for a listing. Inherited epochs
    /// count for forks' epoch ranges (see `RunSummary`), but the best
    /// validation loss is over the run's own epochs only.
    ///
    /// The same few statements however many runs there are: the runs; each
    /// run's own first and last epoch (two seeks in the `(run_id, epoch)`
    /// index); every epoch's `val_loss` in one scan of the partial index
    /// `metrics_val_loss` (migration 0002); and, with `latestMetrics`, two
    /// reused statements for each run's last epoch. Lookups go in index order,
    /// so each index is walked once from front to back: with 64 KiB pages a
    /// lookup elsewhere costs a 64 KiB read.
    /// - Parameter latestMetrics: false leaves `RunSummary.latestMetrics` empty
    ///   and skips reading them, for listings that do not show them.
    public func runs(latestMetrics: Bool = true) throws -> [RunSummary] {
        try storeErrors {
            try db.readTransaction {
                var records: [RunRecord] = []
                let statement = try db.prepare("SELECT \(Store.runColumns) FROM runs ORDER BY created_at, id")
                try statement.forEachRow { records.append(try Store.runRecord($0)) }
                let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                let own = try ownEpochs()
                let validation = try validationLosses()

                var lastRows: [CheckpointLocation?] = []
                var summaries = try records.map { record in
                    let segments = try lineage(of: record.id, runs: byID)
                    // Epochs are consecutive from 0, so the last visible one is the own
                    // last epoch, else the fork point (when the parent still has it).
                    var last: CheckpointLocation?
                    for segment in segments {
                        if let owned = own[segment.ownerRunID], owned.last >= segment.lower {
                            last = CheckpointLocation(runID: segment.ownerRunID, epoch: min(owned.last, segment.upper))
                            break
                        }
                    }
                    lastRows.append(last)
                    // The lowest val_loss among the run's own epochs (see `BestEpoch`).
                    let best = BestEpoch.pick(validation[record.id] ?? [])
                    return RunSummary(run: record, firstEpoch: last == nil ? nil : 0, lastEpoch: last?.epoch,
                                      checkpointCount: last.map { $0.epoch + 1 } ?? 0,
                                      ownCheckpointCount: own[record.id].map { $0.last - $0.first + 1 } ?? 0,
                                      latestMetrics: [:], bestValidationLoss: best?.value,
                                      bestValidationEpoch: best?.epoch)
                }
                if latestMetrics {
                    for (index, metrics) in try metrics(at: lastRows) { summaries[index].latestMetrics = metrics }
                }
                let (tags, notes) = try allTagsAndNotes()
                if !tags.isEmpty || !notes.isEmpty {
                    for index in summaries.indices {
                        summaries[index].tags = tags[summaries[index].run.id] ?? [:]
                        summaries[index].note = notes[summaries[index].run.id]
                    }
                }
                return summaries
            }
        }
    }

    /// Each run's own first and last epoch (a run's own epochs are consecutive:
    /// appendCheckpoint enforces it, verify checks it), in run id order.
    private func ownEpochs() throws -> [String: (first: Int, last: Int)] {
        var result: [String: (first: Int, last: Int)] = [:]
        let statement = try db.prepare("""
            SELECT id, (SELECT min(epoch) FROM checkpoints WHERE run_id = runs.id),
                       (SELECT max(epoch) FROM checkpoints WHERE run_id = runs.id)
            FROM runs ORDER BY id
            """)
        try statement.forEachRow { row in
            if let first = try row.optionalInt(at: 1, in: StoreLimits.epochs, field: "checkpoints.epoch"), let last = try row.optionalInt(at: 2, in: StoreLimits.epochs, field: "checkpoints.epoch") {
                result[row.string(at: 0)] = (first, last)
            }
        }
        return result
    }

    /// The metrics of the checkpoint at each location, by index in `locations`:
    /// row ids looked up in (run, epoch) order, then metrics read in row id order.
    private func metrics(at locations: [CheckpointLocation?]) throws -> [(index: Int, metrics: [String: Double])] {
        let wanted = locations.enumerated().compactMap { index, location in location.map { (index: index, location: $0) } }
            .sorted { ($0.location.runID, $0.location.epoch) < ($1.location.runID, $1.location.epoch) }
        if db.isPostgres { return try metricsInBatches(wanted) }
        let findRow = try db.prepare("SELECT id FROM checkpoints WHERE run_id = ? AND epoch = ?")
        var rows: [(index: Int, id: Int64)] = []
        for (index, location) in wanted {
            try findRow.bind([.text(location.runID), .integer(Int64(location.epoch))])
            if try findRow.step() { rows.append((index, findRow.int64(at: 0))) }
        }
        let readMetrics = try db.prepare("SELECT name, value FROM metrics WHERE checkpoint_id = ?")
        return try rows.sorted { $0.id < $1.id }.map { row in
            var metrics: [String: Double] = [:]
            try readMetrics.bind([.integer(row.id)])
            try readMetrics.forEachRow { metrics[$0.string(at: 0)] = $0.isNull(at: 1) ? .nan : $0.double(at: 1) }
            return (row.index, metrics)
        }
    }

    /// `metrics(at:)` on PostgreSQL: each statement is a round trip to the server, so the
    /// locations go 500 at a time in one statement each (two statements per run made
    /// `runs` on 1,000 runs cost 2,000 round trips). SQLite keeps the indexed lookups
    /// above, which cost no round trip.
    private func metricsInBatches(_ wanted: [(index: Int, location: CheckpointLocation)]) throws
        -> [(index: Int, metrics: [String: Double])] {
        // A fork whose last visible epoch is its parent's shares that location with the parent.
        var indicesOf: [String: [Int: [Int]]] = [:]
        for (index, location) in wanted { indicesOf[location.runID, default: [:]][location.epoch, default: []].append(index) }
        var result: [Int: [String: Double]] = [:]
        for start in stride(from: 0, to: wanted.count, by: 500) {
            let batch = wanted[start..<min(start + 500, wanted.count)]
            let pairs = Array(repeating: "(?, ?)", count: batch.count).joined(separator: ", ")
            let statement = try db.prepare("""
                SELECT c.run_id, c.epoch, m.name, m.value FROM checkpoints AS c
                JOIN metrics AS m ON m.checkpoint_id = c.id
                WHERE (c.run_id, c.epoch) IN (VALUES \(pairs))
                """)
            try statement.bind(batch.flatMap { [SQLValue.text($0.location.runID), .integer(Int64($0.location.epoch))] })
            try statement.forEachRow { row in
                let epoch = try row.int(at: row.column("epoch"), in: StoreLimits.epochs, field: "checkpoints.epoch")
                guard let indices = indicesOf[row.string(at: row.column("run_id"))]?[epoch] else { return }
                let value = row.column("value"), name = row.string(at: row.column("name"))
                for index in indices { result[index, default: [:]][name] = row.isNull(at: value) ? .nan : row.double(at: value) }
            }
        }
        // A checkpoint without metrics still answers (with none), as the lookups above do.
        return wanted.map { ($0.index, result[$0.index] ?? [:]) }
    }

    /// Every checkpoint's validation loss (NaN left out), by the run that owns
    /// the row, in one statement: the partial index `metrics_val_loss` in
    /// checkpoint order, each entry joined to its checkpoint by rowid.
    private func validationLosses() throws -> [String: [(epoch: Int, value: Double)]] {
        var result: [String: [(epoch: Int, value: Double)]] = [:]
        let statement = try db.prepare("""
            SELECT c.run_id, c.epoch, m.value FROM metrics AS m JOIN checkpoints AS c ON c.id = m.checkpoint_id
            WHERE m.name = 'val_loss' AND m.value IS NOT NULL
            """)
        // One run's checkpoints mostly follow each other in id order: collect
        // them, and make a String of the run id only where it changes.
        var owner = ""
        var rows: [(epoch: Int, value: Double)] = []
        try statement.forEachRow { row in
            if !row.text(at: 0, equals: owner) {
                if !rows.isEmpty { result[owner, default: []] += rows }
                owner = row.string(at: 0)
                rows.removeAll(keepingCapacity: true)
            }
            rows.append((try row.int(at: 1, in: StoreLimits.epochs, field: "checkpoints.epoch"), row.double(at: 2)))
        }
        if !rows.isEmpty { result[owner, default: []] += rows }
        return result
    }

    /// The checkpoints `runID` sees, epoch order, inherited ones marked.
    /// - Throws: `StoreError.noSuchRun`.
    public func checkpoints(runID: String) throws -> [CheckpointSummary] {
        try storeErrors {
            try db.readTransaction {
                // Refuses an epoch that is not an integer in range, which the query below would skip.
                _ = try lastVisibleEpoch(runID: runID)
                var result: [CheckpointSummary] = []
                for segment in try lineage(of: runID) {
                    var ids: [Int64] = []
                    try db.withCachedStatement("""
                        SELECT id, epoch, created_at, digest, parent_digest, pruned_at IS NOT NULL FROM checkpoints
                        WHERE run_id = ? AND epoch BETWEEN ? AND ? ORDER BY epoch
                        """) { statement in
                        try statement.bind([.text(segment.ownerRunID), .integer(Int64(segment.lower)),
                                            .integer(Int64(clamping: segment.upper))])
                        try statement.forEachRow { row in
                            ids.append(row.int64(at: 0))
                            result.append(CheckpointSummary(
                                epoch: try row.int(at: 1, in: StoreLimits.epochs, field: "checkpoints.epoch"), createdAt: StoreTimestamp.date(row.string(at: 2)), digest: row.bytes(at: 3),
                                parentDigest: row.optionalBytes(at: 4), metrics: [:], ownerRunID: segment.ownerRunID,
                                inherited: segment.ownerRunID != runID, pruned: row.int(at: 5) != 0))
                        }
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
        // Called once per checkpoint of a listing: prepared once per connection.
        try db.withCachedStatement("SELECT name, value FROM metrics WHERE checkpoint_id = ?") { statement in
            try statement.bind([.integer(checkpointID)])
            try statement.forEachRow { metrics[$0.string(at: 0)] = $0.isNull(at: 1) ? .nan : $0.double(at: 1) }
        }
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
    /// - Schema version 4 and later, also: every schema object (table, index,
    ///   view, trigger) equal to what the embedded migrations create; each
    ///   run's head (run_heads: run digest, last epoch and its digest) against
    ///   its rows, so deleted newest epochs show; the run ledger numbered
    ///   without gaps, and no run missing that `rm` did not remove; checkpoint
    ///   digests of recipe v2 bound to the run that wrote them; every pruned
    ///   checkpoint listed in a prune record, and epoch 0, the latest epoch and
    ///   fork points never pruned. With `trustedKeys`, each head's Ed25519
    ///   signature: unsigned, unknown-key and bad-signature heads are findings.
    ///
    /// Not covered, because they change in normal use: runs.name, status and
    /// owner; row ids.
    /// - Parameters:
    ///   - runID: nil for the whole store, else an exact run id.
    ///   - trustedKeys: the public keys whose head signatures are accepted; nil skips signatures.
    /// - Returns: the findings, store-wide ones first; empty when all is well.
    /// - Throws: `StoreError.noSuchRun`, `.sqlite`.
    public func verify(runID: String? = nil, trustedKeys: Set<PublicKey>? = nil) throws -> [Finding] {
        try storeErrors {
            try db.readTransaction { try Verifier(db: db).verify(runID: runID, sqliteChecks: true, trustedKeys: trustedKeys) }
        }
    }

    /// `verify(runID:)` for one run (kept for existing callers).
    public func verifyRun(runID: String) throws -> [Finding] {
        try verify(runID: runID)
    }
}

import FCSQLite
import Foundation

// Reading a store's rows into a `StoreSnapshot`, on either backend.

extension StoreSnapshot {
    /// Reads the rows of the SQLite database `database` (a bundle, a test's file).
    init(_ database: Database) throws {
        try self.init(Connection(sqlite: database))
    }

    /// Reads the rows of `db` (call inside a read transaction for a consistent view),
    /// every column by name.
    init(_ db: Connection) throws {
        /// The column as a number in `range`, else nil and a finding.
        func number(_ row: Statement, _ column: String, _ range: ClosedRange<Int>, _ field: String, runID: String?) -> Int? {
            do { return try row.int(at: row.column(column), in: range, field: field) } catch let StoreError.outOfRange(_, value, _) {
                outOfRange.append(Finding(runID: runID, message: "\(field) is \(value), outside \(range.lowerBound)...\(range.upperBound)"))
                return nil
            } catch {
                return nil
            }
        }
        let runRows = try db.prepare("""
            SELECT id, name, created_at, status, config, seed, parent_run_id, parent_epoch, digest FROM runs ORDER BY created_at, id
            """)
        try runRows.forEachRow { row in
            let id = row.string(at: row.column("id"))
            let parentID = row.optionalString(at: row.column("parent_run_id"))
            let parentEpochNull = row.isNull(at: row.column("parent_epoch"))
            let parentEpoch = parentEpochNull ? nil : number(row, "parent_epoch", StoreLimits.epochs, "runs.parent_epoch", runID: id)
            if !parentEpochNull, parentEpoch == nil { return }
            let run = Run(id: id, name: row.optionalString(at: row.column("name")), createdAt: row.string(at: row.column("created_at")),
                          status: row.string(at: row.column("status")), config: row.string(at: row.column("config")),
                          seed: UInt64(bitPattern: row.int64(at: row.column("seed"))),
                          parent: parentID.flatMap { id in parentEpoch.map { CheckpointLocation(runID: id, epoch: $0) } },
                          digest: row.bytes(at: row.column("digest")))
            if runs[run.id] == nil { runOrder.append(run.id) }
            runs[run.id] = run
        }
        var byID: [Int64: Checkpoint] = [:]
        let version4 = try db.isPostgres
            || db.scalar("SELECT count(*) FROM pragma_table_info('checkpoints') WHERE name = 'origin_run_id'")?.int64 == 1
        let checkpointRows = try db.prepare("""
            SELECT id, run_id, epoch, created_at, digest, parent_digest, optimizer_state, rng_state, pruned_at,
                   \(version4 ? "origin_run_id" : "NULL AS origin_run_id") FROM checkpoints
            """)
        try checkpointRows.forEachRow { row in
            let runID = row.string(at: row.column("run_id"))
            guard let epoch = number(row, "epoch", StoreLimits.epochs, "checkpoints.epoch", runID: runID) else { return }
            let checkpoint = Checkpoint(id: row.int64(at: row.column("id")), runID: runID, epoch: epoch,
                                        createdAt: row.string(at: row.column("created_at")), digest: row.bytes(at: row.column("digest")),
                                        parentDigest: row.optionalBytes(at: row.column("parent_digest")),
                                        optimizerState: row.string(at: row.column("optimizer_state")),
                                        rngState: row.bytes(at: row.column("rng_state")),
                                        prunedAt: row.optionalString(at: row.column("pruned_at")),
                                        originRunID: row.optionalString(at: row.column("origin_run_id")))
            byID[checkpoint.id] = checkpoint
        }
        let tensorRows = try db.prepare("SELECT checkpoint_id, layer, role, shape, dtype, hash FROM tensors ORDER BY checkpoint_id, layer, role")
        try tensorRows.forEachRow { row in
            let checkpointID = row.int64(at: row.column("checkpoint_id"))
            guard let checkpoint = byID[checkpointID],
                  let layer = number(row, "layer", StoreLimits.layers, "tensors.layer", runID: checkpoint.runID) else { return }
            byID[checkpointID]?.tensors.append(Tensor(layer: layer, role: row.string(at: row.column("role")),
                                                      shapeText: row.string(at: row.column("shape")),
                                                      dtype: row.string(at: row.column("dtype")), hash: row.bytes(at: row.column("hash"))))
        }
        let metricRows = try db.prepare("SELECT checkpoint_id, name, value FROM metrics ORDER BY checkpoint_id, name")
        try metricRows.forEachRow { row in
            byID[row.int64(at: row.column("checkpoint_id"))]?.metrics.append((row.string(at: row.column("name")), row.value(at: row.column("value"))))
        }
        for checkpoint in byID.values {
            checkpoints[checkpoint.runID, default: [:]][checkpoint.epoch] = checkpoint
        }
        if try db.hasTable("run_heads"), try db.hasTable("prunes") {
            var heads: [Head] = []
            try db.prepare("""
                SELECT seq, run_id, run_digest, epoch, digest, removed_at, public_key, signature FROM run_heads ORDER BY seq
                """).forEachRow { row in
                heads.append(Head(seq: row.int64(at: row.column("seq")), runID: row.string(at: row.column("run_id")),
                                  runDigest: row.bytes(at: row.column("run_digest")), epoch: row.optionalInt(at: row.column("epoch")),
                                  digest: row.optionalBytes(at: row.column("digest")), removedAt: row.optionalString(at: row.column("removed_at")),
                                  publicKey: row.optionalBytes(at: row.column("public_key")),
                                  signature: row.optionalBytes(at: row.column("signature"))))
            }
            var prunes: [Prune] = []
            func add(runID: String, prunedAt: String, epoch: Int) {
                if let last = prunes.last, last.runID == runID, last.prunedAt == prunedAt {
                    prunes[prunes.count - 1].epochs.insert(epoch)
                } else {
                    prunes.append(Prune(runID: runID, prunedAt: prunedAt, epochs: [epoch]))
                }
            }
            if db.isPostgres {
                // The integers of each JSON array, as SQLite's json_each(...) WHERE type = 'integer' gives them.
                try db.prepare("SELECT run_id, pruned_at, epochs FROM prunes ORDER BY id").forEachRow { row in
                    let runID = row.string(at: row.column("run_id")), prunedAt = row.string(at: row.column("pruned_at"))
                    for epoch in PruneEpochs.integers(in: row.string(at: row.column("epochs"))) {
                        add(runID: runID, prunedAt: prunedAt, epoch: epoch)
                    }
                }
            } else {
                try db.prepare("SELECT p.run_id, p.pruned_at, e.value AS epoch FROM prunes AS p, json_each(p.epochs) AS e WHERE e.type = 'integer'")
                    .forEachRow { row in
                        add(runID: row.string(at: row.column("run_id")), prunedAt: row.string(at: row.column("pruned_at")),
                            epoch: row.int(at: row.column("epoch")))
                    }
            }
            self.heads = heads
            self.prunes = prunes
            headsByRun = Dictionary(heads.map { ($0.runID, $0) }, uniquingKeysWith: { first, _ in first })
            var index: [PruneKey: Set<Int>] = [:]
            for prune in prunes { index[PruneKey(runID: prune.runID, prunedAt: prune.prunedAt), default: []].formUnion(prune.epochs) }
            prunesByRunAndTime = index
        }
        // The length reads the record (varlena) header only, not the bytes.
        let blobRows = try db.prepare("SELECT id, hash, size, \(db.blobLength("data")) AS length FROM blobs")
        try blobRows.forEachRow { row in
            let length = row.column("length")
            let blob = Blob(id: row.int64(at: row.column("id")), hash: row.bytes(at: row.column("hash")), size: row.int64(at: row.column("size")),
                            length: row.isNull(at: length) ? nil : row.int64(at: length))
            blobs[blob.hash] = blob
        }
    }
}

import FCSQLite
import Foundation

// Retention and space reclamation: prune (release the tensor bytes of some
// epochs), removeRun (delete a run, detaching its forks first), gc (delete
// unused blobs, checkpoint the WAL, VACUUM).

/// Why `Store.prune` keeps an epoch.
public enum KeepReason: String, Sendable, Codable, Comparable, CaseIterable {
    case firstEpoch = "epoch 0"
    case latest = "latest"
    case recent = "last N"
    case best = "best"
    case every = "every K"
    case forkPoint = "fork point"

    /// In declaration order.
    public static func < (lhs: KeepReason, rhs: KeepReason) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// What `Store.prune` released (or, in a dry run, would release).
public struct PruneResult: Equatable, Sendable {
    public var runID: String
    public var dryRun: Bool
    /// Own epochs whose tensor bytes are released now, ascending.
    public var pruned: [Int]
    /// Own epochs kept complete, ascending, with the reasons.
    public var kept: [Int]
    public var reasons: [Int: [KeepReason]]
    /// Own epochs pruned earlier.
    public var alreadyPruned: [Int]
    /// Bytes of the blobs that only the newly pruned checkpoints used: what
    /// `gc` will free (SQLite's page overhead aside).
    public var bytesFreedEstimate: Int64
}

/// What `Store.removeRun` did.
public struct RemoveResult: Equatable, Sendable {
    public var runID: String
    /// Forks that were detached (they now own copies of the rows they inherited).
    public var detachedForks: [String]
    /// Checkpoint rows copied into detached forks (no tensor bytes copied).
    public var checkpointsCopied: Int
    /// Checkpoint rows of the run deleted.
    public var checkpointsDeleted: Int
}

/// What `Store.gc` reclaimed.
public struct GCResult: Equatable, Sendable {
    public var blobsRemoved: Int
    /// Sum of the removed blobs' sizes.
    public var blobBytesRemoved: Int64
    /// Size of the store file plus its WAL, before and after.
    public var bytesBefore: Int64
    public var bytesAfter: Int64
    /// False when a reader kept `wal_checkpoint(TRUNCATE)` from finishing; run gc again later.
    public var walCheckpointComplete: Bool
}

extension Store {
    // MARK: Prune

    /// Releases the tensor bytes of `runID`'s own epochs that no rule keeps.
    ///
    /// Always kept: epoch 0, the latest epoch, and every epoch another run
    /// forks from (directly or through its own ancestors). Also kept: the
    /// last `keepLast` epochs, the best epoch by `keepBest` (lower is better),
    /// and every epoch divisible by `keepEvery`. A pruned checkpoint keeps its
    /// row, digest, parent digest, metrics and tensor manifest, so `verify`
    /// still checks the whole chain; loading it throws `StoreError.pruned`.
    /// Sets `checkpoints.pruned_at`; the bytes are deleted by `gc`. Inherited
    /// epochs are not touched (prune the run that owns them).
    /// - Throws: `StoreError.noSuchRun`, `.noSuchMetric` when `keepBest` names
    ///   a metric the run never recorded, `.invalidInput` for negative counts.
    public func prune(runID: String, keepLast: Int, keepBest: String? = nil, keepEvery: Int? = nil,
                      dryRun: Bool = false) throws -> PruneResult {
        guard keepLast >= 0 else { throw StoreError.invalidRetentionCount(.keepLast, value: keepLast, minimum: 0) }
        if let keepEvery, keepEvery <= 0 { throw StoreError.invalidRetentionCount(.keepEvery, value: keepEvery, minimum: 1) }
        return try storeErrors {
            let body = { () throws -> PruneResult in
                _ = try self.requireRun(runID)
                var own: [(id: Int64, epoch: Int, pruned: Bool)] = []
                let rows = try self.db.prepare("SELECT id, epoch, pruned_at IS NOT NULL FROM checkpoints WHERE run_id = ? ORDER BY epoch")
                try rows.bind([.text(runID)])
                try rows.forEachRow { own.append(($0.int64(at: 0), try $0.int(at: 1, in: StoreLimits.epochs, field: "checkpoints.epoch"), $0.int(at: 2) != 0)) }
                var reasons: [Int: Set<KeepReason>] = [:]
                guard let latest = own.last?.epoch else {
                    return PruneResult(runID: runID, dryRun: dryRun, pruned: [], kept: [], reasons: [:], alreadyPruned: [],
                                       bytesFreedEstimate: 0)
                }
                reasons[latest, default: []].insert(.latest)
                if own.first?.epoch == 0 { reasons[0, default: []].insert(.firstEpoch) }
                for row in own.suffix(keepLast) { reasons[row.epoch, default: []].insert(.recent) }
                if let keepEvery {
                    for row in own where row.epoch % keepEvery == 0 { reasons[row.epoch, default: []].insert(.every) }
                }
                if let metric = keepBest {
                    guard let epoch = try self.ownBestEpoch(runID: runID, metric: metric) else {
                        throw StoreError.noSuchMetric(runID: runID, metric: metric)
                    }
                    reasons[epoch, default: []].insert(.best)
                }
                for epoch in try self.forkPoints(of: runID) where epoch <= latest {
                    reasons[epoch, default: []].insert(.forkPoint)
                }

                let alreadyPruned = own.filter(\.pruned).map(\.epoch)
                let toPrune = own.filter { !$0.pruned && reasons[$0.epoch] == nil }
                let kept = own.filter { !$0.pruned && reasons[$0.epoch] != nil }.map(\.epoch)
                var estimate: Int64 = 0
                if !toPrune.isEmpty {
                    let ids = toPrune.map { String($0.id) }.joined(separator: ",")
                    estimate = try self.db.scalar("""
                        SELECT coalesce(sum(b.size), 0) FROM blobs AS b
                        WHERE b.hash IN (SELECT hash FROM tensors WHERE checkpoint_id IN (\(ids)))
                          AND NOT EXISTS (SELECT 1 FROM tensors AS t JOIN checkpoints AS c ON c.id = t.checkpoint_id
                                          WHERE t.hash = b.hash AND c.pruned_at IS NULL AND c.id NOT IN (\(ids)))
                        """)?.int64 ?? 0
                    if !dryRun {
                        let now = StoreTimestamp.now()
                        try self.db.execute("UPDATE checkpoints SET pruned_at = ? WHERE id IN (\(ids))", [.text(now)])
                        // The record verify checks every pruned checkpoint against.
                        if self.hasHeads {
                            try self.db.execute("INSERT INTO prunes (run_id, pruned_at, epochs) VALUES (?, ?, ?)",
                                                [.text(runID), .text(now),
                                                 .text("[" + toPrune.map { String($0.epoch) }.joined(separator: ",") + "]")])
                        }
                    }
                }
                return PruneResult(runID: runID, dryRun: dryRun, pruned: toPrune.map(\.epoch), kept: kept,
                                   reasons: reasons.filter { kept.contains($0.key) }.mapValues { $0.sorted() },
                                   alreadyPruned: alreadyPruned, bytesFreedEstimate: estimate)
            }
            return try dryRun ? db.readTransaction(body) : db.writeTransaction(body)
        }
    }

    /// The epochs of `runID`'s own rows that other runs see as the end of
    /// their inherited history (their fork point, possibly through a chain of forks).
    func forkPoints(of runID: String) throws -> Set<Int> {
        var records: [RunRecord] = []
        let statement = try db.prepare("SELECT \(Store.runColumns) FROM runs")
        try statement.forEachRow { records.append(try Store.runRecord($0)) }
        let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var points: Set<Int> = []
        for record in records where record.id != runID {
            for segment in try lineage(of: record.id, runs: byID) where segment.ownerRunID == runID && segment.upper != Int.max {
                points.insert(segment.upper)
            }
        }
        return points
    }

    // MARK: Remove

    /// Deletes a run with its checkpoints, tensor rows and metrics (the blobs
    /// stay until `gc`).
    ///
    /// While other runs fork from it the run is refused, unless `force`: then
    /// each fork is first detached in the same transaction: it receives copies
    /// of the checkpoint rows it inherited from this run (same digests, same
    /// blob hashes, so no tensor bytes are copied and its chain still
    /// verifies), and its parent becomes this run's parent (or none). The
    /// fork's run digest is recomputed for its new lineage.
    /// - Throws: `StoreError.hasForks`, `.noSuchRun`.
    public func removeRun(runID: String, force: Bool = false) throws -> RemoveResult {
        try storeErrors {
            try db.writeTransaction {
                let run = try requireRun(runID)
                var forks: [RunRecord] = []
                let statement = try db.prepare("SELECT \(Store.runColumns) FROM runs WHERE parent_run_id = ? ORDER BY created_at, id")
                try statement.bind([.text(runID)])
                try statement.forEachRow { forks.append(try Store.runRecord($0)) }
                if !forks.isEmpty && !force { throw StoreError.hasForks(runID: runID, forks: forks.map(\.id)) }

                var copied = 0
                let lower = run.parent.map { $0.epoch + 1 } ?? 0
                for fork in forks {
                    let forkEpoch = fork.parent!.epoch
                    var ids: [Int64] = []
                    try db.withCachedStatement("SELECT id FROM checkpoints WHERE run_id = ? AND epoch BETWEEN ? AND ? ORDER BY epoch") { rows in
                        try rows.bind([.text(runID), .integer(Int64(lower)), .integer(Int64(forkEpoch))])
                        try rows.forEachRow { ids.append($0.int64(at: 0)) }
                    }
                    for id in ids {
                        // The copy records the run that wrote the row: digests of recipe v2 name it.
                        let copy = Schema.copy(Schema.Checkpoints.columns(withOrigin: hasHeads), into: "checkpoints",
                                               from: "checkpoints",
                                               replacing: ["run_id": "?", "origin_run_id": "coalesce(origin_run_id, run_id)"],
                                               where: "id = ?")
                        guard let newID = try db.scalar(copy + " RETURNING id", [.text(fork.id), .integer(id)])?.int64 else {
                            throw StoreError.noSuchCheckpoint(runID: runID, epoch: -1)
                        }
                        try db.execute("""
                            INSERT INTO tensors (checkpoint_id, layer, role, shape, dtype, hash)
                            SELECT ?, layer, role, shape, dtype, hash FROM tensors WHERE checkpoint_id = ?
                            """, [.integer(newID), .integer(id)])
                        try db.execute("INSERT INTO metrics (checkpoint_id, name, value) SELECT ?, name, value FROM metrics WHERE checkpoint_id = ?",
                                       [.integer(newID), .integer(id)])
                        copied += 1
                    }
                    let newParent = run.parent.map { CheckpointLocation(runID: $0.runID, epoch: min($0.epoch, forkEpoch)) }
                    let createdAt = try db.scalar("SELECT created_at FROM runs WHERE id = ?", [.text(fork.id)])?.string ?? ""
                    let digest = RunDigest.compute(id: fork.id, createdAt: createdAt, config: fork.config, seed: fork.seed, parent: newParent)
                    try db.execute("UPDATE runs SET parent_run_id = ?, parent_epoch = ?, digest = ? WHERE id = ?",
                                   [newParent.map { .text($0.runID) } ?? .null, newParent.map { .integer(Int64($0.epoch)) } ?? .null,
                                    .blob(digest), .text(fork.id)])
                    try writeHead(runID: fork.id)
                }
                let deleted = try db.scalar("SELECT count(*) FROM checkpoints WHERE run_id = ?", [.text(runID)])?.int64 ?? 0
                try db.execute("DELETE FROM runs WHERE id = ?", [.text(runID)])
                try markHeadRemoved(runID: runID)
                return RemoveResult(runID: runID, detachedForks: forks.map(\.id), checkpointsCopied: copied,
                                    checkpointsDeleted: Int(deleted))
            }
        }
    }

    // MARK: Garbage collection

    /// Deletes the blobs no complete (unpruned) checkpoint uses, then
    /// `VACUUM` and `PRAGMA wal_checkpoint(TRUNCATE)` so the file shrinks
    /// (PostgreSQL: `VACUUM blobs`, which makes the space reusable; sizes are
    /// `pg_database_size`).
    /// Readers may keep working; a long reader can keep the WAL from being
    /// truncated (`walCheckpointComplete` is then false).
    /// - Throws: `.sqlite` (e.g. busy while another process writes).
    public func gc() throws -> GCResult {
        func bytesOnDisk() -> Int64 {
            if db.isPostgres { return (try? db.scalar("SELECT pg_database_size(current_database())")?.int64) ?? 0 }
            return Int64((FileSystem.size(path: path) ?? 0) + (FileSystem.size(path: path + "-wal") ?? 0))
        }
        let before = bytesOnDisk()
        return try storeErrors {
            let (count, bytes) = try db.writeTransaction { () throws -> (Int64, Int64) in
                let unused = """
                    NOT EXISTS (SELECT 1 FROM tensors AS t JOIN checkpoints AS c ON c.id = t.checkpoint_id
                                WHERE t.hash = blobs.hash AND c.pruned_at IS NULL)
                    """
                let statement = try db.prepare("SELECT count(*), coalesce(sum(size), 0) FROM blobs WHERE \(unused)")
                _ = try statement.step()
                let result = (statement.int64(at: 0), statement.int64(at: 1))
                try db.execute("DELETE FROM blobs WHERE \(unused)")
                return result
            }
            if db.isPostgres {
                try db.execute("VACUUM blobs")
                return GCResult(blobsRemoved: Int(count), blobBytesRemoved: bytes, bytesBefore: before, bytesAfter: bytesOnDisk(),
                                walCheckpointComplete: true)
            }
            try db.execute("VACUUM")
            let checkpoint = try db.prepare("PRAGMA wal_checkpoint(TRUNCATE)")
            _ = try checkpoint.step()
            let busy = checkpoint.int(at: 0)
            return GCResult(blobsRemoved: Int(count), blobBytesRemoved: bytes, bytesBefore: before, bytesAfter: bytesOnDisk(),
                            walCheckpointComplete: busy == 0)
        }
    }
}

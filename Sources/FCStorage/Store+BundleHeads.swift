import FCSQLite
// Run heads and prune records in bundles: what export writes and import
// merges (schema version 4), so signatures travel with the history.

extension Store {
    /// Writes the bundle's run heads and prune records: a run exported whole keeps
    /// its head and signature; an ancestor exported up to a fork point gets an
    /// unsigned head at that epoch. Call with the bundle attached, in the export's transaction.
    func exportHeads(order: [String], upper: [String: Int]) throws {
        for id in order {
            let head = try currentHead(runID: id)
            var epoch = head.epoch, digest = head.digest
            if let limit = upper[id], limit != Int.max, let last = epoch, limit < last {
                epoch = limit
                let row = try checkpointRow(runID: id, epoch: limit)
                digest = try db.scalar("SELECT digest FROM checkpoints WHERE id = ?", [.integer(row.id)])?.bytes
            }
            var signature: (SQLValue, SQLValue) = (.null, .null)
            if hasHeads {
                try db.withCachedStatement("SELECT run_digest, epoch, digest, public_key, signature FROM main.run_heads WHERE run_id = ?") { stored in
                    try stored.bind([.text(id)])
                    if try stored.step(), stored.bytes(at: 0) == head.runDigest, stored.optionalInt(at: 1) == epoch,
                       stored.optionalBytes(at: 2) == digest, !stored.isNull(at: 4) {
                        signature = (stored.value(at: 3), stored.value(at: 4))
                    }
                }
            }
            try db.execute("""
                INSERT INTO bundle.run_heads (run_id, run_digest, epoch, digest, updated_at, public_key, signature)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [.text(id), .blob(head.runDigest), epoch.map { .integer(Int64($0)) } ?? .null, digest.map(SQLValue.blob) ?? .null,
                      .text(StoreTimestamp.now()), signature.0, signature.1])
        }
        if hasHeads {
            try db.execute("""
                INSERT INTO bundle.prunes (run_id, pruned_at, epochs)
                SELECT run_id, pruned_at, epochs FROM main.prunes
                WHERE run_id IN (SELECT run_id FROM bundle.checkpoints UNION SELECT origin_run_id FROM bundle.checkpoints)
                ORDER BY id
                """)
        } else {
            // A store read before migration 0004 has no records: made from the rows, as the migration does.
            try db.execute("""
                INSERT INTO bundle.prunes (run_id, pruned_at, epochs)
                SELECT run_id, pruned_at, json_group_array(epoch)
                FROM (SELECT run_id, pruned_at, epoch FROM bundle.checkpoints WHERE pruned_at IS NOT NULL ORDER BY run_id, pruned_at, epoch)
                GROUP BY run_id, pruned_at
                """)
        }
    }

    /// The heads of the runs added or extended (in the bundle's order), keeping
    /// the bundle's signature where it signs the head the run now has, and the
    /// bundle's prune records this store lacks.
    func mergeHeads(_ snapshot: StoreSnapshot, added: Set<String>, extended: [String]) throws {
        let changed = added.union(extended)
        for id in snapshot.runOrder where changed.contains(id) {
            let head = snapshot.heads?.first { $0.runID == id }
            let provided = head.flatMap { head in
                head.publicKey.flatMap { key in head.signature.map { HeadSignatureValue(publicKey: key, signature: $0) } }
            }
            try writeHead(runID: id, provided: provided)
            if added.contains(id) {
                try db.execute("UPDATE run_heads SET imported_at = ? WHERE run_id = ?", [.text(StoreTimestamp.now()), .text(id)])
            }
        }
        var prunes = snapshot.prunes ?? []
        if snapshot.prunes == nil {
            // A bundle older than schema version 4 has no prune records: make them
            // from the pruned rows it brings, as migration 0004 does.
            var byTime: [String: StoreSnapshot.Prune] = [:]
            for checkpoints in snapshot.checkpoints.values {
                for checkpoint in checkpoints.values {
                    guard let prunedAt = checkpoint.prunedAt else { continue }
                    byTime["\(checkpoint.boundRunID) \(prunedAt)", default: .init(runID: checkpoint.boundRunID, prunedAt: prunedAt, epochs: [])]
                        .epochs.insert(checkpoint.epoch)
                }
            }
            prunes = byTime.keys.sorted().compactMap { byTime[$0] }
        }
        for prune in prunes {
            let epochs = "[" + prune.epochs.sorted().map(String.init).joined(separator: ",") + "]"
            let present = try db.scalar("SELECT 1 FROM prunes WHERE run_id = ? AND pruned_at = ? AND epochs = ?",
                                        [.text(prune.runID), .text(prune.prunedAt), .text(epochs)]) != nil
            if !present {
                try db.execute("INSERT INTO prunes (run_id, pruned_at, epochs) VALUES (?, ?, ?)",
                               [.text(prune.runID), .text(prune.prunedAt), .text(epochs)])
            }
        }
    }
}

extension Store {
    /// The run of `runID`'s lineage (itself or an ancestor) that came from a
    /// bundle, or nil when the whole lineage was created in this store. Its
    /// configuration's data paths were written on another machine.
    public func bundleImportedRun(inLineageOf runID: String) throws -> String? {
        guard hasHeads else { return nil }
        return try storeErrors {
            try db.readTransaction {
                for segment in try lineage(of: runID) {
                    if try db.scalar("SELECT 1 FROM run_heads WHERE run_id = ? AND imported_at IS NOT NULL",
                                     [.text(segment.ownerRunID)]) != nil {
                        return segment.ownerRunID
                    }
                }
                return nil
            }
        }
    }
}

import FCSQLite
import Foundation

// After a lost connection (a terminated backend, a server restart): a new connection
// to the same PostgreSQL database, and the question a writer must then answer — did
// the transaction in flight commit? — answered from what the store holds.

extension Store {
    /// Whether this store's connection can be lost and replaced (a PostgreSQL store).
    public var canReconnect: Bool { db.isPostgres }

    /// Whether `error` means the connection to the PostgreSQL store is gone (the
    /// backend was terminated, the server stopped, the network dropped): what was
    /// in flight may or may not have committed. Always false for a SQLite store.
    public func isConnectionLoss(_ error: Error) -> Bool { db.isConnectionLoss(error) }

    /// Replaces the connection by a new one to the same database (PostgreSQL; on
    /// SQLite nothing happens). The schema was checked when the store was opened.
    /// - Throws: `StoreError.postgres` when the server cannot be reached yet.
    public func reconnect() throws {
        try storeErrors { try db.reconnect() }
    }

    /// The checkpoint of `runID` at `input.epoch` when the store holds exactly that one:
    /// same tensors (layer, role, SHA-256 of the bytes), optimizer and RNG state. For a
    /// writer whose commit's outcome is unknown (the connection dropped during it):
    /// nil means it did not commit and may be written again.
    /// - Throws: `StoreError.epochOutOfOrder` when the run holds another checkpoint at that
    ///   epoch (another writer's), `.noSuchRun`.
    public func committedCheckpoint(runID: String, matching input: CheckpointInput) throws -> CheckpointRecord? {
        let prepared = try prepare(input)
        return try storeErrors {
            try db.readTransaction {
                _ = try requireRun(runID)
                guard let last = try lastVisibleEpoch(runID: runID), last >= input.epoch else { return nil }
                let row = try checkpointRow(runID: runID, epoch: input.epoch)
                let statement = try db.prepare("""
                    SELECT created_at, digest, parent_digest, optimizer_state, rng_state FROM checkpoints WHERE id = ?
                    """)
                try statement.bind([.integer(row.id)])
                guard try statement.step() else { return nil }
                let createdAt = statement.string(at: statement.column("created_at"))
                let digest = statement.bytes(at: statement.column("digest"))
                let parentColumn = statement.column("parent_digest")
                let parentDigest = statement.isNull(at: parentColumn) ? nil : statement.bytes(at: parentColumn)
                let same = statement.string(at: statement.column("optimizer_state")) == input.optimizerState
                    && statement.bytes(at: statement.column("rng_state")) == input.rngState
                var stored: [String: [UInt8]] = [:]
                let tensors = try db.prepare("SELECT layer, role, hash FROM tensors WHERE checkpoint_id = ?")
                try tensors.bind([.integer(row.id)])
                try tensors.forEachRow { tensor in
                    stored["\(tensor.int64(at: tensor.column("layer")))\u{0}\(tensor.string(at: tensor.column("role")))"] =
                        tensor.bytes(at: tensor.column("hash"))
                }
                var given: [String: [UInt8]] = [:]
                for (tensor, hash) in zip(input.tensors, prepared.hashes) { given["\(tensor.layer)\u{0}\(tensor.role)"] = hash }
                guard same, stored == given else {
                    throw StoreError.epochOutOfOrder(runID: runID, expected: last + 1, given: input.epoch)
                }
                return CheckpointRecord(runID: runID, epoch: input.epoch, createdAt: StoreTimestamp.date(createdAt),
                                        digest: digest, parentDigest: parentDigest)
            }
        }
    }
}

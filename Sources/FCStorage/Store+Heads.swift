import FCSQLite
import Foundation

// Run heads (table run_heads, schema version 4): each run's digest and its
// last epoch with that checkpoint's digest, written in the transaction that
// changes them, and signed when the connection has a signing key.

/// A run head's Ed25519 signature as stored.
public struct HeadSignatureValue: Equatable, Sendable {
    public var publicKey: [UInt8]
    public var signature: [UInt8]
}

extension Store {
    /// True when the file has the tables of schema version 4 (run_heads, prunes).
    var hasHeads: Bool { schemaVersion >= 4 }

    /// The head `runID` has now: its run digest, last visible epoch and that epoch's digest.
    func currentHead(runID: String) throws -> (runDigest: [UInt8], epoch: Int?, digest: [UInt8]?) {
        guard let runDigest = try db.scalar("SELECT digest FROM runs WHERE id = ?", [.text(runID)])?.bytes else {
            throw StoreError.noSuchRun(runID)
        }
        guard let epoch = try lastVisibleEpoch(runID: runID) else { return (runDigest, nil, nil) }
        let row = try checkpointRow(runID: runID, epoch: epoch)
        let digest = try db.scalar("SELECT digest FROM checkpoints WHERE id = ?", [.integer(row.id)])?.bytes
        return (runDigest, epoch, digest)
    }

    /// Writes `runID`'s head row (inserting it, in creation order, for a new run);
    /// call inside a write transaction. Signed with `signingKey` when set; else with
    /// `provided` when it is a valid signature of this very head (a bundle's); else unsigned.
    func writeHead(runID: String, provided: HeadSignatureValue? = nil) throws {
        guard hasHeads else { return }
        let head = try currentHead(runID: runID)
        let message = HeadSignature.message(runID: runID, runDigest: head.runDigest, epoch: head.epoch, digest: head.digest)
        var signature: HeadSignatureValue?
        if let signingKey {
            signature = HeadSignatureValue(publicKey: signingKey.publicKey.raw, signature: try signingKey.sign(message))
        } else if let provided, let key = PublicKey(raw: provided.publicKey), key.isValidSignature(provided.signature, of: message) {
            signature = provided
        }
        let fields: [SQLValue] = [.blob(head.runDigest), head.epoch.map { .integer(Int64($0)) } ?? .null,
                                  head.digest.map(SQLValue.blob) ?? .null, .text(StoreTimestamp.now()),
                                  signature.map { .blob($0.publicKey) } ?? .null, signature.map { .blob($0.signature) } ?? .null]
        try db.execute("""
            UPDATE run_heads SET run_digest = ?, epoch = ?, digest = ?, updated_at = ?, removed_at = NULL,
                public_key = ?, signature = ? WHERE run_id = ?
            """, fields + [.text(runID)])
        guard db.changes == 0 else { return }
        // A new head takes the next number, 1, 2, 3... without gaps (an identity
        // column would skip numbers after a rollback). PostgreSQL: one numbering
        // writer at a time, until the transaction ends.
        if db.isPostgres { try db.execute("SELECT pg_advisory_xact_lock(?)", [.integer(Store.headNumberingLock)]) }
        try db.execute("""
            INSERT INTO run_heads (seq, run_id, run_digest, epoch, digest, updated_at, public_key, signature)
            VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM run_heads), ?, ?, ?, ?, ?, ?, ?)
            """, [.text(runID)] + fields)
    }

    /// The advisory lock (PostgreSQL) held while a new run head is numbered.
    static let headNumberingLock: Int64 = 0x4643_5354_0001

    /// The triggers fcstore's own migrations create (none so far, on either backend), found
    /// once per process by applying the SQLite migrations to a scratch database.
    static let schemaTriggers: Set<String> = {
        guard let scratch = try? Database(path: ":memory:", readOnly: false, busyTimeoutMilliseconds: 0),
              let migrations = try? Migrator().migrations else { return [] }
        var names: Set<String> = []
        for migration in migrations { try? scratch.execute(migration.sql) }
        try? scratch.prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger'").forEachRow { names.insert($0.string(at: 0)) }
        return names
    }()

    /// Refuses to write while the file has a trigger fcstore's schema does not
    /// define: it could change or delete rows behind the writer's back (a
    /// checkpoint reported committed, then gone). Call inside the write transaction.
    func refusePlantedTriggers() throws {
        let planted = try db.triggerNames().filter { !Store.schemaTriggers.contains($0) }
        guard let first = planted.first else { return }
        throw StoreError.plantedTrigger(name: shownUntrusted(first))
    }

    /// Marks `runID`'s head removed (`fcstore rm`); the row stays so that verify
    /// can tell a removed run from one deleted behind fcstore's back.
    func markHeadRemoved(runID: String) throws {
        guard hasHeads else { return }
        try db.execute("UPDATE run_heads SET removed_at = ? WHERE run_id = ?", [.text(StoreTimestamp.now()), .text(runID)])
    }

    /// Re-signs the heads of `runIDs` with `signingKey` (`fcstore key sign`-like uses and tests).
    public func signHeads(runIDs: [String]) throws {
        try storeErrors {
            try db.writeTransaction {
                for runID in runIDs { try writeHead(runID: runID) }
            }
        }
    }
}

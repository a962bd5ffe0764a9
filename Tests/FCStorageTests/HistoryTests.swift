@testable import FCStorage
import XCTest

/// Schema version 4: run heads, prune records, checkpoints bound to their run,
/// digests checked on load, and Ed25519 head signatures.
final class HistoryTests: StoreTestCase {
    /// RFC 8032, section 7.1, test 1: the key, its public half and the signature
    /// of the empty message are fixed by the standard.
    func testEd25519MatchesRFC8032AndThePEMRoundTrips() throws {
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        let key = try SigningKey(seed: seed)
        XCTAssertEqual(key.publicKey.raw, hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
        let signature = try key.sign([])
        XCTAssertEqual(signature, hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"))
        XCTAssertTrue(key.publicKey.isValidSignature(signature, of: []))
        XCTAssertFalse(key.publicKey.isValidSignature(signature, of: [0]))
        var flipped = signature
        flipped[5] ^= 1
        XCTAssertFalse(key.publicKey.isValidSignature(flipped, of: []))

        let reread = try SigningKey(pem: key.pem)
        XCTAssertEqual(reread.publicKey, key.publicKey)
        XCTAssertEqual(PublicKey(text: key.publicKey.text), key.publicKey)
        XCTAssertNil(PublicKey(text: "ed25519:12"))
        XCTAssertThrowsError(try SigningKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))

        // Key files: mode 0600, never replaced, refused when others may read them.
        let file = path("keys/key.pem")
        try key.write(to: file)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int, 0o600)
        XCTAssertEqual(try SigningKey.read(path: file).publicKey, key.publicKey)
        XCTAssertThrowsError(try key.write(to: file))
        chmod(file, 0o644)
        XCTAssertTrue(storeError { try SigningKey.read(path: file) }?.description.contains("may be read by other users (mode 644)") ?? false)
    }

    /// A store written before version 4 gets its heads and prune records from
    /// the migration, verifies, and from then on truncation shows.
    func testMigration0004FillsHeadsAndPruneRecordsOfAnOlderStore() throws {
        let path = path()
        let expected: [String: (Int, [UInt8])]
        do {
            let lineage = try Lineage(path: path, epochs: 6)
            _ = try lineage.store.prune(runID: lineage.base.id, keepLast: 1)
            expected = [lineage.base.id: (5, try XCTUnwrap(lineage.store.checkpoints(runID: lineage.base.id).last?.digest)),
                        lineage.fork.id: (3, try XCTUnwrap(lineage.store.checkpoints(runID: lineage.fork.id).last?.digest))]
        }
        do {
            let db = try raw(path)
            try db.execute("""
                \(dropVersion6SQL)
                DROP TABLE segments; ALTER TABLE runs DROP COLUMN lease_expires_at;
                DROP TABLE run_heads; DROP TABLE prunes; ALTER TABLE checkpoints DROP COLUMN origin_run_id;
                DELETE FROM schema_migrations WHERE version >= 4; PRAGMA user_version = 3
                """)
        }
        let store = try Store(path: path)
        XCTAssertEqual(store.schemaVersion, Migrations.latestVersion)
        XCTAssertEqual(try store.verify(), [])
        let db = try raw(path)
        var heads: [String: (Int, [UInt8])] = [:]
        try db.prepare("SELECT run_id, epoch, digest FROM run_heads ORDER BY seq").forEachRow { heads[$0.string(at: 0)] = ($0.int(at: 1), $0.bytes(at: 2)) }
        XCTAssertEqual(heads.mapValues(\.0), expected.mapValues(\.0))
        XCTAssertEqual(heads.mapValues(\.1), expected.mapValues(\.1))
        // Epoch 0, the fork point 1 and the latest 5 are kept; 2...4 were pruned together: one record.
        XCTAssertEqual(try db.scalar("SELECT group_concat(epochs, ';') FROM prunes")?.string, "[2,3,4]")

        try db.execute("PRAGMA foreign_keys = ON; DELETE FROM checkpoints WHERE epoch = 3 AND run_id = (SELECT id FROM runs WHERE name = 'branch')")
        XCTAssertEqual(try store.verify().map(\.description).last?.hasSuffix("its head records epoch 3, but its last epoch is 2: epoch 3 was deleted"), true)
    }

    /// Detaching a fork: the copies keep their (v2) digests by naming the run that
    /// wrote them; the detached fork verifies, exports and imports.
    func testADetachedForkKeepsVerifyingAndTravels() throws {
        let lineage = try Lineage(path: path(), epochs: 5)
        let store = lineage.store
        _ = try store.prune(runID: lineage.base.id, keepLast: 0)
        let result = try store.removeRun(runID: lineage.base.id, force: true)
        XCTAssertEqual(result.checkpointsCopied, 2)
        XCTAssertEqual(try store.verify(), [])
        let db = try raw(path())
        XCTAssertEqual(try db.scalar("SELECT count(*) FROM checkpoints WHERE origin_run_id = ?", [.text(lineage.base.id)])?.int64, 2)
        XCTAssertEqual(try db.scalar("SELECT removed_at IS NOT NULL FROM run_heads WHERE run_id = ?", [.text(lineage.base.id)])?.int64, 1)

        // Pruning the detached fork reaches its copies too, and is recorded under the fork.
        XCTAssertEqual(try store.prune(runID: lineage.fork.id, keepLast: 0).pruned, [1, 2])
        XCTAssertEqual(try store.verify(), [])

        let bundle = path("detached.fcbundle")
        _ = try store.exportBundle(runIDs: [lineage.fork.id], to: bundle)
        let other = try Store(path: path("other.db"))
        XCTAssertEqual(try other.importBundle(from: bundle).runsAdded, [lineage.fork.id])
        XCTAssertEqual(try other.verify(), [])
        XCTAssertEqual(try other.bundleImportedRun(inLineageOf: lineage.fork.id), lineage.fork.id)
        XCTAssertNil(try store.bundleImportedRun(inLineageOf: lineage.fork.id))

        // A copy claiming a live run as its origin is a moved row.
        try db.execute("UPDATE checkpoints SET origin_run_id = run_id WHERE origin_run_id IS NOT NULL AND epoch = 0")
        XCTAssertTrue(try store.verify().contains { $0.description.contains("which still exists") })
    }

    /// The readers recompute the checkpoint digest and the run digest: a changed
    /// metric or rng state, or a changed seed, is refused with one sentence.
    func testLoadingChecksTheCheckpointAndRunDigests() throws {
        let path = path()
        let lineage = try Lineage(path: path)
        let db = try raw(path)
        try db.execute("UPDATE metrics SET value = 0.25 WHERE name = 'train_loss' AND checkpoint_id = (SELECT id FROM checkpoints WHERE run_id = ? AND epoch = 1)",
                       [.text(lineage.base.id)])
        // The fork inherits epoch 1: the row's owner is named.
        let error = storeError { try lineage.store.loadCheckpoint(runID: lineage.fork.id, epoch: 1) }
        XCTAssertEqual(error?.description, "Checkpoint \(lineage.base.shortID)@1 was changed after it was written: its optimizer state, rng state, metrics, tensor manifest or run no longer match the checkpoint digest. Nothing was used.")
        XCTAssertNoThrow(try lineage.store.loadCheckpoint(runID: lineage.fork.id, epoch: 2))
        try db.execute("UPDATE runs SET seed = 13 WHERE id = ?", [.text(lineage.fork.id)])
        XCTAssertEqual(storeError { try lineage.store.loadCheckpoint(runID: lineage.fork.id, epoch: 2) }?.description,
                       "Run \(lineage.fork.shortID) was changed after it was written: its configuration, seed, creation time or parent no longer match the run digest. Nothing was used.")
        // A v1 row (written before schema version 4) still loads.
        try db.execute("UPDATE runs SET seed = 12 WHERE id = ?", [.text(lineage.fork.id)])
        let snapshot = try StoreSnapshot(db)
        let row = try XCTUnwrap(snapshot.checkpoints[lineage.fork.id]?[3])
        var metrics: [String: Double] = [:]
        for (name, value) in row.metrics { if case let .real(number) = value { metrics[name] = number } else { metrics[name] = .nan } }
        let entries = try row.tensors.map { CheckpointDigest.TensorEntry(layer: $0.layer, role: $0.role, shape: try XCTUnwrap(ShapeText.decode($0.shapeText)), hash: $0.hash) }
        let v1 = CheckpointDigest.compute(epoch: 3, createdAt: row.createdAt, parentDigest: row.parentDigest, tensors: entries, metrics: metrics,
                                          optimizerState: row.optimizerState, rngState: row.rngState)
        try db.execute("UPDATE checkpoints SET digest = ? WHERE id = ?", [.blob(v1), .integer(row.id)])
        try db.execute("UPDATE run_heads SET digest = ? WHERE run_id = ?", [.blob(v1), .text(lineage.fork.id)])
        XCTAssertNoThrow(try lineage.store.loadCheckpoint(runID: lineage.fork.id, epoch: 3))
        // ...but verify notes a v1 row after v2 rows of the same run.
        XCTAssertEqual(try lineage.store.verify(runID: lineage.fork.id).map(\.description).filter { $0.contains("recipe v1") },
                       ["\(lineage.fork.shortID)@3: its digest follows recipe v1, which does not name the run, after an epoch of recipe v2"])
    }

    private func hex(_ text: String) -> [UInt8] {
        stride(from: 0, to: text.count, by: 2).map { offset in
            let start = text.index(text.startIndex, offsetBy: offset)
            return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16) ?? 0
        }
    }
}

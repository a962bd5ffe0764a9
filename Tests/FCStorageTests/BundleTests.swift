import Foundation
import XCTest
@testable import FCStorage
import FCSQLite
import FCPostgres

/// Every row of the store's tables as text, for "nothing changed" comparisons.
func contentDump(_ path: String) throws -> String {
    let db = Store.isPostgresURI(path) ? Connection(postgres: try PostgresConnection(uri: path))
        : Connection(sqlite: try Database(path: path, readOnly: true, busyTimeoutMilliseconds: 5000))
    var lines: [String] = []
    for (table, order) in [("runs", "id"), ("checkpoints", "run_id, epoch"), ("tensors", "checkpoint_id, layer, role"),
                           ("metrics", "checkpoint_id, name"), ("blobs", "hash")] {
        // checkpoints.origin_run_id (schema version 4) and runs.lease_expires_at (version 5) are left out: a store
        // upgraded from version 1 gains them, NULL.
        let columns = table == "checkpoints" ? "id, run_id, epoch, created_at, digest, parent_digest, optimizer_state, rng_state, pruned_at"
            : table == "runs" ? "id, name, created_at, status, config, seed, parent_run_id, parent_epoch, owner, digest" : "*"
        let statement = try db.prepare("SELECT \(columns) FROM \(table) ORDER BY \(order)")
        try statement.forEachRow { row in
            lines.append(table + ": " + (0..<row.columnCount).map { index -> String in
                switch row.value(at: index) {
                case let .blob(bytes): return SHA256Hasher.hex(SHA256Hasher.hash(bytes))
                case let .real(value): return "\(value.bitPattern)"
                default: return "\(row.value(at: index))"
                }
            }.joined(separator: "|"))
        }
    }
    return lines.joined(separator: "\n")
}

/// Recomputes a checkpoint row's digest from its rows, as a forger would (tests only).
func reseal(_ db: Database, runID: String, epoch: Int) throws {
    let snapshot = try StoreSnapshot(db)
    let checkpoint = try XCTUnwrap(snapshot.checkpoints[runID]?[epoch])
    let entries = try checkpoint.tensors.map {
        CheckpointDigest.TensorEntry(layer: $0.layer, role: $0.role, shape: try XCTUnwrap(ShapeText.decode($0.shapeText)), hash: $0.hash)
    }
    var metrics: [String: Double] = [:]
    for (name, value) in checkpoint.metrics { if case let .real(number) = value { metrics[name] = number } else { metrics[name] = .nan } }
    // Recipe v2, bound to the run that wrote the row, as fcstore writes it since schema version 4.
    let digest = CheckpointDigest.compute(epoch: epoch, createdAt: checkpoint.createdAt, parentDigest: checkpoint.parentDigest,
                                          tensors: entries, metrics: metrics, optimizerState: checkpoint.optimizerState,
                                          rngState: checkpoint.rngState, runID: checkpoint.boundRunID)
    try db.execute("UPDATE checkpoints SET digest = ? WHERE id = ?", [.blob(digest), .integer(checkpoint.id)])
    // A run whose head this epoch is gets the new digest too, as a forger would write it.
    try db.execute("UPDATE run_heads SET digest = ?1 WHERE epoch = ?2 AND digest = ?3",
                   [.blob(digest), .integer(Int64(epoch)), .blob(checkpoint.digest)])
}

final class BundleTests: StoreTestCase {
    /// Everything a user can read about a run, tensors included.
    private func describe(_ store: Store, _ runID: String) throws -> String {
        var run = try store.run(id: runID)
        run.owner = nil
        var text = "\(run)\n"
        for summary in try store.checkpoints(runID: runID) {
            text += "\(summary.epoch) \(summary.createdAt) \(summary.digestHex) \(summary.parentDigest ?? []) \(summary.ownerRunID)"
            text += " \(summary.inherited) \(summary.pruned) \(summary.metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.bitPattern)" })\n"
            if !summary.pruned {
                let loaded = try store.loadCheckpoint(runID: runID, epoch: summary.epoch)
                text += "\(loaded.tensors.map { "\($0.layer) \($0.role) \($0.value.shape) \($0.value.bitPatterns)" })"
                text += " \(loaded.optimizerState) \(loaded.rngState)\n"
            }
        }
        return text
    }

    func testRoundTripOfTwoRunsIncludingAFork() throws {
        let originPath = path("origin.db")
        let lineage = try Lineage(path: originPath)
        let bundlePath = path("share.fcbundle")
        let exported = try lineage.store.exportBundle(runIDs: [lineage.base.id, lineage.fork.id], to: bundlePath)
        XCTAssertEqual(exported.runIDs, [lineage.base.id, lineage.fork.id])
        XCTAssertEqual(exported.checkpoints, 6)
        XCTAssertEqual(exported.bytes, Int64(try fileSize(bundlePath)))
        let raw = try raw(bundlePath)
        XCTAssertEqual(try raw.scalar("PRAGMA journal_mode")?.string, "delete")
        XCTAssertEqual(try int(raw, "PRAGMA application_id"), 0x4643_5354)
        XCTAssertEqual(try int(raw, "PRAGMA user_version"), Int64(Migrations.latestVersion))
        XCTAssertFalse(FileManager.default.fileExists(atPath: bundlePath + "-journal"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains("partial") }, [])

        let copyPath = path("copy.db")
        let copy = try Store(path: copyPath)
        let first = try copy.importBundle(from: bundlePath)
        XCTAssertEqual(Set(first.runsAdded), [lineage.base.id, lineage.fork.id])
        XCTAssertEqual(first.checkpointsAdded, 6)
        XCTAssertEqual(first.blobsAdded, exported.blobs)
        XCTAssertEqual(first.renamed, [])
        for id in [lineage.base.id, lineage.fork.id] {
            XCTAssertEqual(try describe(copy, id), try describe(lineage.store, id))
        }
        XCTAssertEqual(try copy.verify(), [])

        let dump = try contentDump(copyPath)
        let second = try copy.importBundle(from: bundlePath)
        XCTAssertTrue(second.isNoOp, "\(second)")
        XCTAssertEqual(Set(second.runsSkipped), [lineage.base.id, lineage.fork.id])
        XCTAssertEqual(second.checkpointsSkipped, 6)
        XCTAssertEqual(try contentDump(copyPath), dump)

        let originDump = try contentDump(originPath)
        XCTAssertTrue(try lineage.store.importBundle(from: bundlePath).isNoOp)
        XCTAssertEqual(try contentDump(originPath), originDump)

        // The target exists: refused unless overwriting.
        XCTAssertEqual(storeError { try lineage.store.exportBundle(runIDs: [lineage.base.id], to: bundlePath) }?.description,
                       "\(bundlePath) already exists. Choose another file, or allow overwriting it.")
        XCTAssertEqual(try lineage.store.exportBundle(runIDs: [lineage.base.id], to: bundlePath, overwrite: true).runIDs, [lineage.base.id])
    }

    func testAForkBringsItsInheritedEpochsAndALaterBundleExtendsTheRun() throws {
        let lineage = try Lineage(path: path("origin.db"))
        let forkOnly = path("fork.fcbundle")
        let exported = try lineage.store.exportBundle(runIDs: [lineage.fork.id], to: forkOnly)
        XCTAssertEqual(exported.runIDs, [lineage.fork.id, lineage.base.id])
        XCTAssertEqual(exported.checkpoints, 4, "base@0, base@1 and the fork's two own epochs")

        let target = try Store(path: path("target.db"))
        // A different run already uses the name "base".
        _ = try target.createRun(name: "base", config: "{}", seed: 5, status: .completed)
        let summary = try target.importBundle(from: forkOnly)
        XCTAssertEqual(summary.renamed, [.init(runID: lineage.base.id, bundleName: "base", newName: "base-2", reason: "belongs to another run here")])
        XCTAssertEqual(try target.checkpoints(runID: lineage.fork.id).map(\.epoch), [0, 1, 2, 3])
        XCTAssertEqual(try target.checkpoints(runID: lineage.base.id).map(\.epoch), [0, 1])
        XCTAssertEqual(try target.loadCheckpoint(runID: lineage.fork.id, epoch: 0).tensors,
                       try lineage.store.loadCheckpoint(runID: lineage.base.id, epoch: 0).tensors)

        let full = path("full.fcbundle")
        _ = try lineage.store.exportBundle(runIDs: [lineage.base.id], to: full)
        let extended = try target.importBundle(from: full)
        XCTAssertEqual(extended.runsExtended, [lineage.base.id])
        XCTAssertEqual(extended.checkpointsAdded, 2)
        XCTAssertEqual(extended.checkpointsSkipped, 2)
        XCTAssertEqual(try target.checkpoints(runID: lineage.base.id).map(\.epoch), [0, 1, 2, 3])
        XCTAssertEqual(try target.run(id: lineage.base.id).name, "base-2")
        XCTAssertEqual(try target.verify(), [])
    }

    func testPrunedEpochsTravelAsManifestsOnly() throws {
        let lineage = try Lineage(path: path("origin.db"), epochs: 6)
        _ = try lineage.store.prune(runID: lineage.base.id, keepLast: 1)
        _ = try lineage.store.gc()
        let bundle = path("pruned.fcbundle")
        let exported = try lineage.store.exportBundle(runIDs: [lineage.base.id], to: bundle)
        XCTAssertEqual(exported.checkpoints, 6)
        XCTAssertEqual(exported.blobs, 3 * 4, "epoch 0, the fork point 1 and the latest 5")
        let target = try Store(path: path("target.db"))
        _ = try target.importBundle(from: bundle)
        XCTAssertEqual(try target.checkpoints(runID: lineage.base.id).filter(\.pruned).map(\.epoch), [2, 3, 4])
        XCTAssertEqual(try describe(target, lineage.base.id), try describe(lineage.store, lineage.base.id))
        XCTAssertEqual(try target.verify(), [])
    }

    // MARK: Hostile bundles

    /// Imports `bundle` into a store holding `lineage`'s runs and checks that
    /// it is refused with `reason` and that the store did not change.
    private func assertRefused(_ bundle: String, into target: Store, reasonContains reason: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let dump = try contentDump(target.path)
        let mainBytes = try bytes(of: target.path)
        let walBytes = try? bytes(of: target.path + "-wal")
        let error = storeError({ try target.importBundle(from: bundle) }, file: file, line: line)
        guard case let .refusedBundle(path, text)? = error else {
            return XCTFail("not refused as a bundle: \(String(describing: error))", file: file, line: line)
        }
        XCTAssertEqual(path, bundle, file: file, line: line)
        XCTAssertTrue(text.contains(reason), "\"\(text)\" does not contain \"\(reason)\"", file: file, line: line)
        XCTAssertTrue(error?.description.hasSuffix("Nothing was imported.") == true, file: file, line: line)
        XCTAssertEqual(try contentDump(target.path), dump, file: file, line: line)
        XCTAssertEqual(try bytes(of: target.path), mainBytes, file: file, line: line)
        XCTAssertEqual(try? bytes(of: target.path + "-wal"), walBytes, file: file, line: line)
    }

    /// A copy of the good bundle changed through raw SQL.
    private func altered(_ good: String, _ name: String, _ change: (Database) throws -> Void) throws -> String {
        let altered = path(name)
        try FileManager.default.copyItem(atPath: good, toPath: altered)
        do {
            let db = try raw(altered)
            try change(db)
        }
        return altered
    }

    /// A bundle exported by fcstore before migration 0002 (schema version 1)
    /// still imports; one that claims version 1 with version 2's index does not.
    func testAVersion1BundleImports() throws {
        let lineage = try Lineage(path: path("origin.db"))
        let current = path("current.fcbundle")
        _ = try lineage.store.exportBundle(runIDs: [lineage.fork.id], to: current)
        let version1 = try altered(current, "version1.fcbundle") {
            try $0.execute(downgradeToVersion1SQL())
        }
        let target = try Store(path: path("target.db"))
        let imported = try target.importBundle(from: version1)
        XCTAssertEqual(Set(imported.runsAdded), [lineage.base.id, lineage.fork.id])
        XCTAssertEqual(try describe(target, lineage.fork.id), try describe(lineage.store, lineage.fork.id))
        // The fork lists the same; the base came only up to the fork point.
        func listed(_ store: Store) throws -> String? {
            try store.runs().first { $0.run.id == lineage.fork.id }.map(ListingTests.describe)
        }
        XCTAssertEqual(try listed(target), try listed(lineage.store))
        XCTAssertEqual(try target.verify(), [])

        let mislabelled = try altered(current, "mislabelled.fcbundle") { try $0.execute("PRAGMA user_version = 1") }
        try assertRefused(mislabelled, into: try Store(path: path("other.db")),
                          reasonContains: "its table runs has the columns (id, name, created_at, status, config, seed, parent_run_id, parent_epoch, owner, digest, lease_expires_at)")
    }

    func testHostileBundlesAreRefusedAndLeaveTheStoreUnchanged() throws {
        let lineage = try Lineage(path: path("origin.db"))
        let good = path("good.fcbundle")
        _ = try lineage.store.exportBundle(runIDs: [lineage.base.id, lineage.fork.id], to: good)
        let target = try Store(path: path("target.db"))
        _ = try target.importBundle(from: good)
        let other = try Store(path: path("other.db"))
        _ = try other.createRun(name: "local", config: "{}", seed: 1)
        let goodBytes = try bytes(of: good)

        var generator = SplitMix64(seed: 3)
        let garbage = path("garbage.fcbundle")
        try Data((0..<10_000).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: URL(fileURLWithPath: garbage))
        try assertRefused(garbage, into: other, reasonContains: "not an SQLite database")

        let empty = path("empty.fcbundle")
        try Data().write(to: URL(fileURLWithPath: empty))
        try assertRefused(empty, into: other, reasonContains: "it is empty")

        let truncated = path("truncated.fcbundle")
        try goodBytes.prefix(goodBytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        try assertRefused(truncated, into: other, reasonContains: "damaged")

        let foreign = path("foreign.sqlite")
        try raw(foreign).execute("CREATE TABLE t (x); INSERT INTO t VALUES (1); PRAGMA application_id = 42")
        try assertRefused(foreign, into: other, reasonContains: "not an fcstore bundle (application_id 0x2a")

        let newer = try altered(good, "newer.fcbundle") { try $0.execute("PRAGMA user_version = 99") }
        try assertRefused(newer, into: other, reasonContains: "written by a newer fcstore (schema version 99")

        let flipped = try altered(good, "flipped.fcbundle") { db in
            try flipByte(db, table: "blobs", column: "data", where: """
                hash = (SELECT t.hash FROM tensors t JOIN checkpoints c ON c.id = t.checkpoint_id
                        WHERE c.epoch = 2 AND t.layer = 2 AND t.role = 'weight' AND c.run_id = '\(lineage.base.id)')
                """, at: 3)
        }
        try assertRefused(flipped, into: other,
                          reasonContains: "it fails verification: \(lineage.base.shortID)@2: layer 2 weight does not match its SHA-256")

        // A forged link: epoch 3's parent digest changed and its digest recomputed, so only the chain breaks.
        let chain = try altered(good, "chain.fcbundle") { db in
            try db.execute("UPDATE checkpoints SET parent_digest = zeroblob(32) WHERE run_id = ? AND epoch = 3", [.text(lineage.base.id)])
            try reseal(db, runID: lineage.base.id, epoch: 3)
        }
        try assertRefused(chain, into: other,
                          reasonContains: "it fails verification: \(lineage.base.shortID)@3: its parent digest is not the digest of epoch 2")

        let shape = try altered(good, "shape.fcbundle") { db in
            try db.execute("UPDATE tensors SET shape = '[4,6]' WHERE layer = 1 AND role = 'weight' AND checkpoint_id = (SELECT id FROM checkpoints WHERE run_id = ? AND epoch = 0)",
                           [.text(lineage.base.id)])
            try reseal(db, runID: lineage.base.id, epoch: 0)
        }
        try assertRefused(shape, into: other, reasonContains: "layer 1 weight has 80 bytes, not the 96 its shape [4, 6] needs")

        let missingTable = try altered(good, "missing.fcbundle") { try $0.execute("DROP VIEW epoch_metrics; DROP VIEW epoch_summary; DROP TABLE metrics") }
        try assertRefused(missingTable, into: other, reasonContains: "it has no table metrics")

        let extraColumn = try altered(good, "column.fcbundle") { try $0.execute("ALTER TABLE blobs ADD COLUMN note TEXT") }
        try assertRefused(extraColumn, into: other, reasonContains: "its table blobs has the columns (id, hash, size, data, note)")

        let trigger = try altered(good, "trigger.fcbundle") {
            try $0.execute("CREATE TRIGGER evil AFTER INSERT ON runs BEGIN DELETE FROM blobs; END")
        }
        try assertRefused(trigger, into: other, reasonContains: "an object evil that fcstore's schema does not define")

        // Same run, same epoch, another (self-consistent) history: a conflict with the target, which has the original.
        let conflict = try altered(good, "conflict.fcbundle") { db in
            try db.execute("""
                UPDATE metrics SET value = 0.125 WHERE name = 'val_loss'
                AND checkpoint_id = (SELECT id FROM checkpoints WHERE run_id = ? AND epoch = 3)
                """, [.text(lineage.base.id)])
            try reseal(db, runID: lineage.base.id, epoch: 3)
        }
        XCTAssertEqual(try lineage.store.verify(), [])
        try assertRefused(conflict, into: target,
                          reasonContains: "its checkpoint \(lineage.base.shortID)@3 differs from the one in this store (another digest)")
        // ...which is fine where the run is new.
        XCTAssertEqual(try Store(path: path("fresh.db")).importBundle(from: conflict).checkpointsAdded, 6)

        let link = path("link.fcbundle")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: good)
        try assertRefused(link, into: other, reasonContains: "it is a symbolic link")

        // The good bundle still imports.
        XCTAssertEqual(try other.importBundle(from: good).runsAdded.count, 2)
    }
}

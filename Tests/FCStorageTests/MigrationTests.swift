import CSQLite
import Foundation
import XCTest
@testable import FCStorage
import FCSQLite

/// Opening files: migrations, identity checks, refusals that leave files untouched.
final class MigrationTests: StoreTestCase {
    func testEmbeddedMigrationsEqualTheFolder() throws {
        let folder = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("migrations")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        XCTAssertFalse(names.isEmpty)
        XCTAssertEqual(Migrations.embedded.map(\.name), names)
        for (name, sql) in Migrations.embedded {
            let onDisk = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            XCTAssertEqual(sql, onDisk, "\(name) differs from the embedded copy; rebuild")
        }
        XCTAssertEqual(Migrations.latestVersion, names.count)
    }

    func testSHA256KnownVector() {
        XCTAssertEqual(SHA256Hasher.hex(SHA256Hasher.hash("abc")),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256Hasher.hex(SHA256Hasher.hash("")),
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testMigratingAnEmptyFile() throws {
        let path = path()
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        _ = try Store(path: path)
        let db = try raw(path)
        XCTAssertEqual(try int(db, "PRAGMA user_version"), Int64(Migrations.latestVersion))
        XCTAssertEqual(try int(db, "PRAGMA application_id"), 0x4643_5354)
        XCTAssertEqual(try int(db, "PRAGMA page_size"), Int64(Store.defaultPageSize))
        XCTAssertEqual(try db.scalar("PRAGMA journal_mode")?.string, "wal")
        XCTAssertEqual(try int(db, "SELECT count(*) FROM schema_migrations"), Int64(Migrations.latestVersion))
        let checksum = try db.scalar("SELECT checksum FROM schema_migrations WHERE version = 1")?.string
        XCTAssertEqual(checksum, SHA256Hasher.hex(SHA256Hasher.hash(Migrations.embedded[0].sql)))
        for table in ["runs", "checkpoints", "tensors", "blobs", "metrics"] {
            XCTAssertEqual(try int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '\(table)'"), 1, table)
        }
        for view in ["run_checkpoints", "epoch_metrics", "epoch_summary", "run_summary", "checkpoint_tensors", "blob_usage"] {
            XCTAssertEqual(try int(db, "SELECT count(*) FROM \(view)"), 0, view)
        }
    }

    func testSecondOpenIsANoOp() throws {
        let path = path()
        do {
            let store = try Store(path: path)
            let run = try store.createRun(name: "a", config: "{}", seed: 1)
            var generator = SplitMix64(seed: 1)
            try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: 0, generator: &generator))
        }
        let before = try bytes(of: path)
        do {
            let store = try Store(path: path)
            XCTAssertEqual(try store.runs().count, 1)
        }
        _ = try Store(path: path, readOnly: true)
        XCTAssertEqual(try bytes(of: path), before)
    }

    func testNewerStoreIsRefusedAndUntouched() throws {
        let path = path()
        _ = try Store(path: path)
        do {
            let db = try raw(path)
            try db.execute("PRAGMA user_version = 99")
        }
        let before = try bytes(of: path)
        let error = storeError { try Store(path: path) }
        guard case let .newerStore(_, version, supported)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(version, 99)
        XCTAssertEqual(supported, Migrations.latestVersion)
        let message = try XCTUnwrap(error).description
        XCTAssertTrue(message.contains("Upgrade fcstore"), message)
        XCTAssertEqual(try bytes(of: path), before)
    }

    func testNewerStoreInRollbackModeIsNotSwitchedToWAL() throws {
        // A newer store that is not in WAL mode must not even get its journal mode changed.
        let path = path()
        do {
            let db = try raw(path)
            try db.execute("PRAGMA application_id = 1178817364; PRAGMA user_version = 7; CREATE TABLE future (x)")
        }
        let before = try bytes(of: path)
        XCTAssertNotNil(storeError { try Store(path: path) })
        XCTAssertEqual(try bytes(of: path), before)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    func testAFileThatIsNotSQLiteIsRefused() throws {
        let path = path("notes.db")
        let text = Data(String(repeating: "These are my notes, not a database.\n", count: 200).utf8)
        _ = FileManager.default.createFile(atPath: path, contents: text)
        let error = storeError { try Store(path: path) }
        XCTAssertEqual(error?.description,
                       "\(path) is not an fcstore store: it is not an SQLite database.")
        XCTAssertEqual(try bytes(of: path), text)
    }

    func testAnotherApplicationsDatabaseIsRefused() throws {
        let path = path("other.db")
        do {
            let db = try raw(path)
            try db.execute("PRAGMA application_id = 305419896; CREATE TABLE t (x); INSERT INTO t VALUES (1)")
        }
        let before = try bytes(of: path)
        let error = storeError { try Store(path: path) }
        XCTAssertEqual(error?.description,
                       "\(path) is not an fcstore store: it is an SQLite database of another application (application_id 0x12345678, not fcstore's 0x46435354).")
        XCTAssertEqual(try bytes(of: path), before)

        // No application_id at all, but tables: also someone else's.
        let plain = self.path("plain.db")
        do { try raw(plain).execute("CREATE TABLE t (x)") }
        let plainError = storeError { try Store(path: plain) }
        XCTAssertTrue(plainError?.description.contains("another application") ?? false, "\(String(describing: plainError))")
    }

    func testAnEditedAppliedMigrationIsRefused() throws {
        let path = path()
        let db = try raw(path)
        try Migrator(files: [("0001_first.sql", "CREATE TABLE a (x);")]).prepare(db, path: path, readOnly: false, pageSize: 4096)
        // Adding a migration applies only the new one.
        try Migrator(files: [("0001_first.sql", "CREATE TABLE a (x);"), ("0002_more.sql", "CREATE TABLE b (y);")])
            .prepare(db, path: path, readOnly: false, pageSize: 4096)
        XCTAssertEqual(try int(db, "PRAGMA user_version"), 2)
        XCTAssertEqual(try int(db, "SELECT count(*) FROM schema_migrations"), 2)

        let edited = Migrator.self
        var caught: Error?
        do {
            try edited.init(files: [("0001_first.sql", "CREATE TABLE a (x, z);"), ("0002_more.sql", "CREATE TABLE b (y);")])
                .prepare(db, path: path, readOnly: false, pageSize: 4096)
        } catch { caught = error }
        XCTAssertEqual((caught as? StoreError)?.description,
                       "migration 0001_first.sql was previously applied but has been modified. Restore the original file in migrations/ and add a new numbered migration instead.")
        XCTAssertEqual(try int(db, "PRAGMA user_version"), 2)
    }

    func testTheRealStoreRefusesAModifiedChecksum() throws {
        let path = path()
        _ = try Store(path: path)
        try raw(path).execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        let error = storeError { try Store(path: path) }
        XCTAssertTrue(error?.description.hasPrefix("migration 0001_initial.sql was previously applied but has been modified") ?? false,
                      "\(String(describing: error))")
    }

    func testMalformedMigrationNamesAreRejected() {
        XCTAssertThrowsError(try Migrator(files: [("first.sql", "")]))
        XCTAssertThrowsError(try Migrator(files: [("0001_a.sql", ""), ("0003_c.sql", "")]))
    }

    /// `type name sql` of every schema object but SQLite's own and schema_migrations.
    private func schema(_ db: Database) throws -> [String] {
        var objects: [String] = []
        try db.prepare("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name")
            .forEachRow { objects.append("\($0.string(at: 0)) \($0.string(at: 1)) \($0.string(at: 2))") }
        return objects
    }

    /// A store written by schema version 1 (fcstore before 0002) is read as
    /// it is when opened read-only, and upgraded at its first writable open:
    /// the index appears, the rows are untouched, and the listing says the same.
    func testAVersion1StoreUpgradesAndListsTheSame() throws {
        let path = path()
        let listed: [String]
        do {
            let lineage = try Lineage(path: path)
            _ = try lineage.store.forkRun(from: lineage.fork.id, atEpoch: 2, name: "leaf", config: "{}", seed: 5)
            listed = try lineage.store.runs().map(ListingTests.describe)
        }
        // Turn the file into what version 1 wrote: migration 0002 neither applied nor recorded.
        do {
            let db = try raw(path)
            try db.execute(downgradeToVersion1SQL())
            let version1 = try Database(path: ":memory:", readOnly: false, busyTimeoutMilliseconds: 0)
            try version1.execute(Migrations.embedded[0].sql)
            XCTAssertEqual(try schema(db), try schema(version1))
        }
        let rows = try contentDump(path)
        // Read-only, it is read as it is (the index only makes the listing faster).
        let untouched = try bytes(of: path)
        do {
            let reader = try Store(path: path, readOnly: true)
            XCTAssertEqual(try reader.runs().map(ListingTests.describe), listed)
            XCTAssertEqual(try reader.verify(), [])
        }
        // Opened for writing but not writable (a file without write permission,
        // which SQLite then opens read-only): also read as it is, not migrated.
        do {
            let notWritable = try Database(path: path, flags: SQLITE_OPEN_READONLY, busyTimeoutMilliseconds: 0)
            XCTAssertTrue(notWritable.isReadOnly)
            try Migrator().prepare(notWritable, path: path, readOnly: false, pageSize: Store.defaultPageSize)
            XCTAssertEqual(try int(notWritable, "PRAGMA user_version"), 1)
        }
        XCTAssertEqual(try bytes(of: path), untouched)

        let store = try Store(path: path)
        let db = try raw(path)
        XCTAssertEqual(try int(db, "PRAGMA user_version"), Int64(Migrations.latestVersion))
        XCTAssertEqual(try int(db, "SELECT count(*) FROM schema_migrations"), Int64(Migrations.latestVersion))
        XCTAssertEqual(try db.scalar("SELECT checksum FROM schema_migrations WHERE version = 2")?.string,
                       SHA256Hasher.hex(SHA256Hasher.hash(Migrations.embedded[1].sql)))
        XCTAssertEqual(try db.scalar("SELECT checksum FROM schema_migrations WHERE version = 3")?.string,
                       SHA256Hasher.hex(SHA256Hasher.hash(Migrations.embedded[2].sql)))
        // Migrated to the views of 0003: hashes as BLOBs with a _hex twin.
        XCTAssertEqual(try int(db, "SELECT count(*) FROM checkpoint_tensors AS ct JOIN blobs AS b ON b.hash = ct.hash"),
                       try int(db, "SELECT count(*) FROM checkpoint_tensors WHERE bytes IS NOT NULL"))
        XCTAssertEqual(try int(db, "SELECT count(*) FROM checkpoint_tensors WHERE hash_hex <> lower(hex(hash))"), 0)
        XCTAssertEqual(try int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'metrics_val_loss'"), 1)
        XCTAssertEqual(try contentDump(path), rows)
        XCTAssertEqual(try store.runs().map(ListingTests.describe), listed)
        XCTAssertEqual(try store.verify(), [])
        XCTAssertEqual(try db.scalar("PRAGMA integrity_check")?.string, "ok")
    }

    func testReadOnlyOpenReadsButDoesNotWrite() throws {
        let path = path()
        let run = try Store(path: path).createRun(name: "r", config: "{}", seed: 3)
        let reader = try Store(path: path, readOnly: true)
        XCTAssertEqual(try reader.run(id: run.id), run)
        let error = storeError { try reader.setStatus(runID: run.id, .completed) }
        guard case let .sqlite(sqliteError)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(sqliteError.code, 8) // SQLITE_READONLY
        // A file with no schema yet cannot be read without migrating it.
        let empty = self.path("empty.db")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        XCTAssertEqual(storeError { try Store(path: empty, readOnly: true) }?.description,
                       "The store \(empty) has schema version 0 and needs migrating to \(Migrations.latestVersion); open it once without read-only access.")
        // A missing file is not created in read-only mode.
        XCTAssertNotNil(storeError { try Store(path: self.path("missing.db"), readOnly: true) })
        XCTAssertFalse(FileManager.default.fileExists(atPath: self.path("missing.db")))
    }
}

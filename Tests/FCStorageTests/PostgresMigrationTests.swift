import Foundation
import XCTest
@testable import FCStorage
import FCPostgres

/// The PostgreSQL migrations: embedded as they are on disk, numbered like SQLite's,
/// applied once under an advisory lock however many processes open a new store at
/// once, and refused when an applied one was modified or the database is another's.
final class PostgresMigrationTests: StoreTestCase {
    override class var backend: TestBackend { .postgres }

    func testEmbeddedPostgresMigrationsEqualTheFolderAndMatchSQLitesNumbers() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("migrations-postgres")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        XCTAssertEqual(Migrations.embeddedPostgres.map(\.name), names)
        for (name, sql) in Migrations.embeddedPostgres {
            XCTAssertEqual(sql, try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8), "\(name) differs; rebuild")
        }
        XCTAssertEqual(Migrations.embeddedPostgres.map { $0.name.prefix(4) }, Migrations.embedded.map { $0.name.prefix(4) })
    }

    func testStoresOpenedAtOnceOnANewDatabaseMigrateItOnce() throws {
        let uri = try location()
        let results = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            do {
                let store = try Store(path: uri)
                results.update { $0.append("version \(store.schemaVersion)") }
            } catch {
                results.update { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(results.value, Array(repeating: "version \(Migrations.latestVersion)", count: 6))
        let db = try connection()
        XCTAssertEqual(try int(db, "SELECT count(*) FROM schema_migrations"), Int64(Migrations.latestVersion))
        XCTAssertEqual(try int(db, "SELECT application_id FROM fcstore_application"), 0x4643_5354)
    }

    func testAModifiedMigrationOrAForeignDatabaseIsRefusedAndLeftAlone() throws {
        let uri = try location()
        _ = try Store(path: uri)
        let db = try connection()
        try db.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
        XCTAssertEqual(storeError { try Store(path: uri) }?.description,
                       "migration 0001_initial.sql was previously applied but has been modified. Restore the original file in migrations/ and add a new numbered migration instead.")

        let foreign = try location("foreign")
        let other = try connection("foreign")
        try other.execute("CREATE TABLE invoices (id integer PRIMARY KEY)")
        let shown = Store.displayLocation(foreign)
        XCTAssertFalse(shown.contains(try XCTUnwrap(URLComponents(string: foreign)?.password)))
        XCTAssertEqual(storeError { try Store(path: foreign) }?.description,
                       "\(shown) is not an fcstore store: it is a PostgreSQL database of another application (it has tables but no fcstore_application marker).")
        XCTAssertEqual(try int(other, "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'"), 1)
    }

    func testAReadOnlyOpenCannotWrite() throws {
        let uri = try location()
        _ = try Store(path: uri)
        let reader = try Store(path: uri, readOnly: true)
        XCTAssertThrowsError(try reader.createRun(name: "x", config: "{}", seed: 1)) { error in
            XCTAssertTrue("\(error)".contains("25006"), "\(error)")
        }
        XCTAssertEqual(try reader.runs().count, 0)
    }
}

/// A value shared between threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func update(_ body: (inout Value) -> Void) { lock.lock(); body(&stored); lock.unlock() }
}

import Foundation
import XCTest
@testable import FCStorage
import FCSQLite
import FCPostgres

/// The backend a store test runs on. A suite's tests open their stores with
/// `openStore`/`location` and inspect them with `connection`; a subclass that
/// overrides `backend` runs the same tests on PostgreSQL: a new database per
/// store on the cluster of FCSTORE_TEST_POSTGRES (scripts/with-postgres), or a
/// skip that says the variable is not set.
enum TestBackend {
    case sqlite, postgres

    /// The cluster's URI from scripts/with-postgres, or nil.
    static var postgresURI: String? {
        let value = ProcessInfo.processInfo.environment["FCSTORE_TEST_POSTGRES"]
        return value?.isEmpty == false ? value : nil
    }

    static let skipMessage = "FCSTORE_TEST_POSTGRES is not set: PostgreSQL tests skipped (run them with scripts/with-postgres swift test)"
}

extension StoreTestCase {
    /// Skips the test unless it runs on SQLite (it is about the file itself).
    func requireSQLite(_ reason: String) throws {
        if Self.backend == .postgres { throw XCTSkip("SQLite only: \(reason)") }
    }

    /// Skips a PostgreSQL suite's tests when there is no cluster.
    func requireBackend() throws {
        if Self.backend == .postgres && TestBackend.postgresURI == nil { throw XCTSkip(TestBackend.skipMessage) }
    }

    /// Where the store called `name` lives: a file in the test's folder (SQLite) or a
    /// database of its own, created now (PostgreSQL). The same name gives the same store.
    func location(_ name: String = "store.db") throws -> String {
        guard Self.backend == .postgres else { return path(name) }
        if let existing = databases[name] { return existing }
        guard let admin = TestBackend.postgresURI else { throw XCTSkip(TestBackend.skipMessage) }
        let database = "fcstore_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        let connection = try PostgresConnection(uri: admin)
        try connection.execute("CREATE DATABASE \(database)")
        var components = try XCTUnwrap(URLComponents(string: admin))
        components.path = "/" + database
        let uri = try XCTUnwrap(components.string)
        databases[name] = uri
        createdDatabases.append(database)
        return uri
    }

    /// Opens (creating) the store called `name` on the suite's backend.
    func openStore(_ name: String = "store.db", readOnly: Bool = false) throws -> Store {
        try Store(path: try location(name), readOnly: readOnly)
    }

    /// A raw connection to the store called `name`, bypassing the store (inspection,
    /// tampering), with the store's own statement surface on either backend.
    func connection(_ name: String = "store.db") throws -> Connection {
        if Self.backend == .postgres { return Connection(postgres: try PostgresConnection(uri: try location(name))) }
        return Connection(sqlite: try raw(path(name)))
    }

    /// Drops the databases the test created (connections still open are closed by the server).
    func dropDatabases() {
        guard let admin = TestBackend.postgresURI, !createdDatabases.isEmpty,
              let connection = try? PostgresConnection(uri: admin) else { return }
        for database in createdDatabases { _ = try? connection.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)") }
        createdDatabases.removeAll()
    }

    /// What the store at `location` occupies: the file's size (SQLite), the bytes of its
    /// blobs (PostgreSQL, where the database's size moves with the server's own files).
    func storedBytes(_ location: String) throws -> Int {
        guard Store.isPostgresURI(location) else { return try fileSize(location) }
        let db = Connection(postgres: try PostgresConnection(uri: location))
        return Int(try int(db, "SELECT coalesce(sum(size), 0) FROM blobs"))
    }

    func int(_ db: Connection, _ sql: String) throws -> Int64 {
        try XCTUnwrap(db.scalar(sql)?.int64, sql)
    }
}

/// Every suite with a PostgreSQL twin: the twin overrides each of its tests, so
/// no test is left out on PostgreSQL (Linux XCTest runs only declared methods).
final class TwinSuiteTests: XCTestCase {
    func testEveryPostgresTwinOverridesEachTestOfItsSuite() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        var twins = 0
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            guard let twin = text.range(of: "\nfinal class Postgres") else { continue }
            let base = text[..<twin.lowerBound], overrides = text[twin.lowerBound...]
            let tests = base.components(separatedBy: "\n    func test").dropFirst().compactMap { $0.split(separator: "(").first.map { "test" + $0 } }
            guard !tests.isEmpty else { continue }  // a PostgreSQL-only suite, not a twin
            twins += 1
            for test in tests {
                XCTAssertTrue(overrides.contains("override func \(test)("), "\(file): the PostgreSQL twin does not run \(test)")
            }
        }
        XCTAssertGreaterThanOrEqual(twins, 2)
    }
}

import CSQLite
import FCSQLite
import Foundation
import XCTest

/// The seam's checks on what callers hand it: the argument count of `bind`,
/// one statement per `prepare`, the statement cache and the blob API.
final class StatementChecksTests: XCTestCase {
    private func memory() throws -> Database {
        let db = try Database(path: ":memory:", readOnly: false, busyTimeoutMilliseconds: 0)
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
        return db
    }

    private func rangeError(_ body: () throws -> Void) -> SQLiteError? {
        do {
            try body()
            return nil
        } catch let error as SQLiteError {
            return error
        } catch {
            XCTFail("unexpected error \(error)")
            return nil
        }
    }

    func testBindRefusesTooFewAndTooManyArguments() throws {
        let db = try memory()
        let statement = try db.prepare("INSERT INTO t (id, name) VALUES (?, ?)")
        XCTAssertEqual(statement.parameterCount, 2)

        let tooFew = try XCTUnwrap(rangeError { try statement.bind([.integer(1)]) })
        XCTAssertEqual(tooFew.code, SQLITE_RANGE)
        XCTAssertEqual(tooFew.message, "1 argument for 2 parameters")
        let tooMany = try XCTUnwrap(rangeError { try statement.bind([.integer(1), .text("a"), .text("b")]) })
        XCTAssertEqual(tooMany.code, SQLITE_RANGE)
        XCTAssertEqual(tooMany.message, "3 arguments for 2 parameters")
        XCTAssertEqual(try db.scalar("SELECT count(*) FROM t"), .integer(0), "nothing ran")

        try statement.bind([.integer(1), .text("a")])
        XCTAssertFalse(try statement.step())
        XCTAssertEqual(try db.scalar("SELECT name FROM t WHERE id = ?", [.integer(1)]), .text("a"))
    }

    func testNumberedParametersCountUpToTheLargest() throws {
        let db = try memory()
        // ?2 used twice: two parameters, as sqlite3_bind_parameter_count says.
        try db.execute("INSERT INTO t (id, name, data) VALUES (?1, ?2, zeroblob(?1))", [.integer(3), .text("x")])
        XCTAssertEqual(try db.scalar("SELECT length(data) FROM t WHERE id = 3"), .integer(3))
        XCTAssertThrowsError(try db.execute("INSERT INTO t (id, name) VALUES (?1, ?2)", [.integer(4)]))
        XCTAssertThrowsError(try db.scalar("SELECT 1", [.integer(1)]))
    }

    func testPrepareRefusesASecondStatement() throws {
        let db = try memory()
        let error = try XCTUnwrap(rangeError { _ = try db.prepare("SELECT 1; DROP TABLE t") })
        XCTAssertEqual(error.code, SQLITE_MISUSE)
        XCTAssertEqual(error.message, "more than one statement: DROP TABLE t")
        XCTAssertEqual(error.sql, "SELECT 1; DROP TABLE t")
        XCTAssertEqual(try db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 't'"), .integer(1), "the table is still there")
        XCTAssertThrowsError(try db.execute("INSERT INTO t (id) VALUES (?); INSERT INTO t (id) VALUES (2)", [.integer(1)]))
        XCTAssertEqual(try db.scalar("SELECT count(*) FROM t"), .integer(0))
        XCTAssertThrowsError(try db.prepare("SELECT 1 -- note\n; /* c */ SELECT 2"))
    }

    func testPrepareAllowsTrailingWhiteSpaceCommentsAndSemicolons() throws {
        let db = try memory()
        for sql in ["SELECT 7", "SELECT 7;", "SELECT 7 ;\n\t ", "SELECT 7; -- done", "SELECT 7; /* a\n b */ ;; -- x\n",
                    "SELECT 7 /* unterminated"] {
            let statement = try db.prepare(sql)
            XCTAssertTrue(try statement.step(), sql)
            XCTAssertEqual(statement.value(at: 0), .integer(7), sql)
        }
    }

    func testCachedStatementsAreReusedAndNestedUsesGetTheirOwn() throws {
        let db = try memory()
        for id in 1...50 {
            try db.execute("INSERT INTO t (id, name) VALUES (?, ?)", [.integer(Int64(id)), .text("n\(id)")])
        }
        let sql = "SELECT name FROM t WHERE id = ?"
        for id in 1...50 {
            XCTAssertEqual(try db.scalar(sql, [.integer(Int64(id))]), .text("n\(id)"))
        }
        // The same SQL inside its own loop: the inner use must not reset the outer one.
        var pairs: [String] = []
        try db.withCachedStatement("SELECT id FROM t WHERE id <= ? ORDER BY id") { outer in
            try outer.bind([.integer(3)])
            try outer.forEachRow { row in
                let id = row.int64(at: 0)
                try db.withCachedStatement("SELECT id FROM t WHERE id <= ? ORDER BY id") { inner in
                    try inner.bind([.integer(id)])
                    var count = 0
                    try inner.forEachRow { _ in count += 1 }
                    pairs.append("\(id):\(count)")
                }
            }
        }
        XCTAssertEqual(pairs, ["1:1", "2:2", "3:3"])

        // SQL with values in it: past the cache's limit, statements are prepared afresh and still right.
        for id in 1...(Database.cacheLimit + 10) {
            XCTAssertEqual(try db.scalar("SELECT \(id) + count(*) FROM t WHERE id = ?", [.integer(1)]), .integer(Int64(id + 1)))
        }
    }

    func testCachedStatementsReleaseTheirSnapshot() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fcsqlite-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let reader = try Database(path: path, readOnly: false, busyTimeoutMilliseconds: 0)
        XCTAssertEqual(try reader.scalar("PRAGMA journal_mode = WAL"), .text("wal"))
        try reader.execute("CREATE TABLE n (v INTEGER)")
        try reader.execute("INSERT INTO n VALUES (1)")
        XCTAssertEqual(try reader.scalar("SELECT count(*) FROM n"), .integer(1))
        let writer = try Database(path: path, readOnly: false, busyTimeoutMilliseconds: 0)
        try writer.execute("INSERT INTO n VALUES (2)")
        // A statement still holding a read snapshot would see 1 row.
        XCTAssertEqual(try reader.scalar("SELECT count(*) FROM n"), .integer(2))
    }

    func testBlobsWriteReadAndStream() throws {
        let db = try memory()
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try db.execute("INSERT INTO t (id, data) VALUES (1, zeroblob(?))", [.integer(Int64(bytes.count))])
        try bytes.withUnsafeBytes { try db.writeBlob(table: "t", column: "data", rowid: 1, from: $0) }
        var read = [UInt8](repeating: 0, count: bytes.count)
        XCTAssertTrue(try read.withUnsafeMutableBytes { try db.readBlob(table: "t", column: "data", rowid: 1, into: $0) })
        XCTAssertEqual(read, bytes)
        var wrongSize = [UInt8](repeating: 0, count: 10)
        XCTAssertFalse(try wrongSize.withUnsafeMutableBytes { try db.readBlob(table: "t", column: "data", rowid: 1, into: $0) })
        var streamed: [UInt8] = []
        let total = try db.streamBlob(table: "t", column: "data", rowid: 1, chunkSize: 300) { streamed.append(contentsOf: $0) }
        XCTAssertEqual(total, 1000)
        XCTAssertEqual(streamed, bytes)
        XCTAssertThrowsError(try [UInt8](repeating: 1, count: 999).withUnsafeBytes {
            try db.writeBlob(table: "t", column: "data", rowid: 1, from: $0)
        })
    }
}

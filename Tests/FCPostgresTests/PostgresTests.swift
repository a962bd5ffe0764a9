import Foundation
import XCTest
@testable import FCPostgres

/// The libpq seam: URI redaction always; binary round trips against the
/// throwaway cluster of scripts/with-postgres when FCSTORE_TEST_POSTGRES is set.
final class PostgresTests: XCTestCase {
    func testRedactionRemovesThePasswordEverywhereItCanBe() {
        XCTAssertEqual(ConnectionURI.redacted("postgresql://ann:s3cret@db.example:5433/runs?sslmode=require"),
                       "postgresql://ann:***@db.example:5433/runs?sslmode=require")
        XCTAssertEqual(ConnectionURI.redacted("postgres://ann@db/runs"), "postgres://ann@db/runs")
        XCTAssertEqual(ConnectionURI.redacted("postgres://db/runs?user=ann&password=s3cret&sslmode=verify-full"),
                       "postgres://db/runs?user=ann&password=***&sslmode=verify-full")
        XCTAssertEqual(ConnectionURI.redacted("postgresql://ann:p%40ss@[::1]:5432/x"), "postgresql://ann:***@[::1]:5432/x")
        XCTAssertEqual(ConnectionURI.redacted("postgresql://a:b@c@host/db"), "postgresql://a:***@host/db")
        XCTAssertEqual(ConnectionURI.scrub("could not connect to postgresql://ann:s3cret@h/db: s3cret", uri: "postgresql://ann:s3cret@h/db"),
                       "could not connect to postgresql://ann:***@h/db: ***")
        XCTAssertTrue(ConnectionURI.isPostgres("PostgreSQL://h/db"))
        XCTAssertTrue(ConnectionURI.isPostgres("postgres://h/db"))
        XCTAssertFalse(ConnectionURI.isPostgres("postgres.db"))
        XCTAssertFalse(ConnectionURI.isPostgres("./postgresql:/x"))
    }

    private func connect() throws -> PostgresConnection {
        guard let uri = ProcessInfo.processInfo.environment["FCSTORE_TEST_POSTGRES"], !uri.isEmpty else {
            throw XCTSkip("FCSTORE_TEST_POSTGRES is not set: PostgreSQL tests skipped (run them with scripts/with-postgres swift test)")
        }
        return try PostgresConnection(uri: uri)
    }

    func testBinaryParametersAndResultsRoundTrip() throws {
        let connection = try connect()
        let blob: [UInt8] = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) } + [0, 0x5C, 0x27]
        let result = try connection.execute(
            "SELECT $1::int8 AS i, $2::float8 AS f, $3::text AS t, $4::bytea AS b, $5::bytea AS n, $6::bytea AS buffer, 42::int4 AS small, sum(x) AS total FROM (VALUES (1::int8), (2)) AS v(x)",
            [.int8(Int64.min), .float8(-0.0), .text("é\u{1}'"), .bytea(blob), .null, .byteaBuffer(UnsafeRawBufferPointer(start: nil, count: 0))])
        XCTAssertEqual(result.rowCount, 1)
        XCTAssertEqual(result.int64(0, 0), Int64.min)
        XCTAssertEqual(result.double(0, 1).bitPattern, (-0.0).bitPattern)
        XCTAssertEqual(result.string(0, 2), "é\u{1}'")
        XCTAssertEqual(Array(result.bytes(0, 3)), blob)
        XCTAssertTrue(result.isNull(0, 4))
        XCTAssertFalse(result.isNull(0, 5))
        XCTAssertEqual(result.bytes(0, 5).count, 0)
        XCTAssertEqual(result.int64(0, 6), 42)
        XCTAssertEqual(result.type(of: 7), PostgresType.numeric)
        XCTAssertEqual(result.int64(0, 7), 3)
        XCTAssertEqual(result.name(of: 3), "b")
    }

    /// Binary COPY: every value kind arrives as sent, a row larger than one chunk
    /// included; a failing COPY (a unique violation) throws its SQLSTATE and leaves the
    /// connection usable, its table as before.
    func testBinaryCopyRoundTripsAndAFailureLeavesTheConnectionUsable() throws {
        let connection = try connect()
        try connection.execute("CREATE TEMP TABLE copy_probe (i int8 PRIMARY KEY, f float8, t text, b bytea)")
        let large: [UInt8] = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let bytes = [UInt8]([1, 0, 0xFF, 0x5C, 0x27])
        let copied = try bytes.withUnsafeBytes { buffer in
            try connection.copyBinary("COPY copy_probe (i, f, t, b) FROM STDIN (FORMAT binary)", rows: [
                [.int8(Int64.min), .float8(-0.0), .text("é\u{1}'"), .bytea(large)],
                [.int8(2), .null, .null, .byteaBuffer(buffer)],
                [.int8(3), .float8(.infinity), .text(""), .bytea([])],
            ])
        }
        XCTAssertEqual(copied, 3)
        let rows = try connection.execute("SELECT i, f, t, b FROM copy_probe ORDER BY i", [])
        XCTAssertEqual(rows.rowCount, 3)
        XCTAssertEqual(rows.int64(0, 0), Int64.min)
        XCTAssertEqual(rows.double(0, 1).bitPattern, (-0.0).bitPattern)
        XCTAssertEqual(rows.string(0, 2), "é\u{1}'")
        XCTAssertEqual(Array(rows.bytes(0, 3)), large)
        XCTAssertTrue(rows.isNull(1, 1))
        XCTAssertTrue(rows.isNull(1, 2))
        XCTAssertEqual(Array(rows.bytes(1, 3)), bytes)
        XCTAssertEqual(rows.double(2, 1), .infinity)
        XCTAssertFalse(rows.isNull(2, 3))
        XCTAssertEqual(rows.bytes(2, 3).count, 0)

        do {
            try connection.copyBinary("COPY copy_probe (i) FROM STDIN (FORMAT binary)", rows: [[.int8(9)], [.int8(2)]])
            XCTFail("no error")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, .uniqueViolation)
        }
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM copy_probe", []).int64(0, 0), 3)
    }

    func testErrorsCarryTheSQLStateAndTheStatement() throws {
        let connection = try connect()
        do {
            _ = try connection.execute("SELECT * FROM no_such_table WHERE x = $1", [.int8(1)])
            XCTFail("no error")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, .undefinedTable)
            XCTAssertEqual(error.sql, "SELECT * FROM no_such_table WHERE x = $1")
            XCTAssertTrue(error.description.hasPrefix("PostgreSQL error 42P01: relation \"no_such_table\" does not exist"), error.description)
        }
    }

    func testAWrongPasswordIsOneLineWithoutThePassword() throws {
        _ = try connect()
        let uri = try XCTUnwrap(ProcessInfo.processInfo.environment["FCSTORE_TEST_POSTGRES"])
        let wrong = uri.replacingOccurrences(of: "fcstore_test:", with: "fcstore_test:Wr0ngPassw0rd")
        XCTAssertThrowsError(try PostgresConnection(uri: wrong)) { error in
            let text = "\(error)"
            XCTAssertFalse(text.contains("Wr0ngPassw0rd"), text)
            XCTAssertFalse(text.contains("\n"), text)
            XCTAssertTrue(text.contains("password authentication failed"), text)
            XCTAssertEqual((error as? PostgresError)?.sqlState, .unableToConnect)
        }
    }
}

import Foundation
import XCTest
@testable import FCStorage
import FCSQLite

/// The README's audit queries (the `sqlite3 fcstore.db "..."` lines of the block
/// under "These queries are run against a real store by `AuditQueryTests`"), read
/// from the README itself and run against a store file with a root run and a
/// fork, their example run prefixes replaced by the real ones.
class AuditQueryTests: StoreTestCase {
    /// The README's queries, in order: the `sqlite3` block, or the `psql` block after it.
    static func readmeQueries(postgres: Bool = false) throws -> [String] {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let marker = try XCTUnwrap(text.range(of: "These queries are run against a real store by `AuditQueryTests`"))
        var block = try XCTUnwrap(text[marker.upperBound...].range(of: "```sh\n"))
        var end = try XCTUnwrap(text[block.upperBound...].range(of: "```"))
        if postgres {
            block = try XCTUnwrap(text[end.upperBound...].range(of: "```sh\n"))
            end = try XCTUnwrap(text[block.upperBound...].range(of: "```"))
        }
        let prefix = postgres ? "psql \"$FCSTORE_DB\" -Atc \"" : "sqlite3 fcstore.db \""
        return text[block.upperBound..<end.lowerBound].split(separator: "\n")
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix("\"") }
            .map { String($0.dropFirst(prefix.count).dropLast()) }
    }

    /// Runs every statement of `sql` (separated by "; "), returning the last one's rows as text.
    private func rows(_ db: Connection, _ sql: String) throws -> [[String]] {
        var result: [[String]] = []
        for part in sql.components(separatedBy: "; ") {
            result = []
            let statement = try db.prepare(part)
            try statement.forEachRow { row in
                result.append((0..<row.columnCount).map { index in
                    switch row.value(at: index) {
                    case .null: return "NULL"
                    case .integer(let value): return "\(value)"
                    case .real(let value): return "\(value)"
                    case .text(let value): return value
                    case .blob(let bytes): return "x'" + bytes.map { String(format: "%02x", $0) }.joined() + "'"
                    }
                })
            }
        }
        return result
    }

    func testEveryReadmeAuditQueryRunsAndAnswers() throws {
        let path = try location()
        let store = try Store(path: path)
        var generator = SplitMix64(seed: 7)
        let root = try store.createRun(name: "digits", config: "{}", seed: 1)
        for epoch in 0..<4 {
            try store.appendCheckpoint(runID: root.id, checkpointInput(epoch: epoch, generator: &generator, metrics: [
                "train_loss": 1 / Double(epoch + 1), "val_loss": [2, 0.5, 1, 1.5][epoch], "val_accuracy": 0.5,
                "learning_rate": 0.1, "wall_time_s": 0.2, "grad_norm.1": Double(epoch),
            ]))
        }
        let fork = try store.forkRun(from: root.id, atEpoch: 2, name: nil, config: "{}", seed: 2)
        for epoch in 3...4 {
            try store.appendCheckpoint(runID: fork.id, checkpointInput(epoch: epoch, generator: &generator,
                                                                       metrics: ["val_loss": 3]))
        }
        try store.setStatus(runID: root.id, .completed)
        try store.rename(runID: root.id, to: "digits-2")
        try store.setTags(runID: root.id, set: ["team": "vision"])
        let db = try connection()
        var answers: [String: [[String]]] = [:]
        let queries = try Self.readmeQueries(postgres: Self.backend == .postgres)
        XCTAssertGreaterThanOrEqual(queries.count, 9)
        for query in queries {
            let sql = query.replacingOccurrences(of: "'584f%'", with: "'\(root.id.prefix(8))%'")
                .replacingOccurrences(of: "'8151%'", with: "'\(fork.id.prefix(8))%'")
            answers[query] = try rows(db, sql)
        }
        func answer(_ containing: String) throws -> [[String]] {
            try XCTUnwrap(answers.first { $0.key.contains(containing) }?.value, containing)
        }

        // run_summary: the fork's best is its own (3.0), not its parent's 0.5 at epoch 1.
        XCTAssertEqual(Set(try answer("FROM run_summary").map { [$0[0], $0[4], $0[5]] }),
                       [[String(root.id.prefix(8)), "4", "0.5"], [String(fork.id.prefix(8)), "5", "3.0"]])
        XCTAssertEqual(try answer("name = 'grad_norm.1'").map { $0[1] }, ["0.0", "1.0", "2.0", "3.0"])
        // checkpoint_tensors: hash_hex is text (sized 12 by substr).
        XCTAssertEqual(try answer("substr(hash_hex, 1, 12)").map { $0[5].count }, [12, 12, 12, 12])
        // The blob join finds the bytes of every tensor of epoch 0 (4 tensors of [4, 3, 2]).
        let joined = try answer("JOIN blobs AS b ON b.hash = ct.hash")
        XCTAssertEqual(joined.map { [$0[0], $0[1], $0[3]] },
                       [["1", "bias", "12"], ["1", "weight", "48"], ["2", "bias", "8"], ["2", "weight", "24"]])
        XCTAssertTrue(joined.allSatisfy { $0[2].count == 64 })
        // The fork shares no bytes with another run (its epochs have their own random tensors).
        XCTAssertEqual(try answer("count(DISTINCT c.run_id)"), [])
        // The lineage walk goes from the fork to the root.
        XCTAssertEqual(try answer("WITH RECURSIVE chain"),
                       [["0", String(fork.id.prefix(8)), "2"], ["1", String(root.id.prefix(8)), "NULL"]])
        // The hash chain of the fork links every epoch to the previous one, across the fork point.
        XCTAssertEqual(try answer("AS linked").map { [$0[0], $0[2]] },
                       [["0", "NULL"], ["1", "1"], ["2", "1"], ["3", "1"], ["4", "1"]])
        XCTAssertEqual(try answer("schema_migrations").count, Migrations.latestVersion)
        // The events trail of the root, in order; the tag lookup.
        XCTAssertEqual(try answer("FROM events").map { Array($0.prefix(3)) },
                       [["status", "running", "completed"], ["name", "digits", "digits-2"], ["tag.team", "NULL", "vision"]])
        XCTAssertEqual(try answer("FROM events").map { [$0[4], $0[5]] }, Array(repeating: [EventActor.current.host, EventActor.current.user], count: 3))
        XCTAssertEqual(try answer("JOIN run_tags"), [[String(root.id.prefix(8)), "digits-2", "vision"]])
    }

    /// The README states the naming rule; every hash column of every view follows it.
    func testViewHashColumnsAreBlobsWithAHexTwin() throws {
        try requireSQLite("typeof() is SQLite's; PostgreSQL's columns have declared types")
        let path = path()
        _ = try Lineage(path: path)
        let db = try raw(path)
        for (view, column) in [("run_checkpoints", "digest"), ("run_checkpoints", "parent_digest"),
                               ("checkpoint_tensors", "hash"), ("blob_usage", "hash")] {
            XCTAssertEqual(try int(db, "SELECT count(*) FROM \(view) WHERE typeof(\(column)) NOT IN ('blob', 'null')"), 0, view)
            XCTAssertEqual(try int(db, "SELECT count(*) FROM \(view) WHERE typeof(\(column)) = 'blob'"),
                           try int(db, "SELECT count(*) FROM \(view) WHERE \(column)_hex = lower(hex(\(column)))"), view)
            XCTAssertGreaterThan(try int(db, "SELECT count(*) FROM \(view) WHERE typeof(\(column)) = 'blob'"), 0, view)
        }
    }
}

/// The README's psql block on a PostgreSQL store (see PostgresStoreTests).
final class PostgresAuditQueryTests: AuditQueryTests {
    override class var backend: TestBackend { .postgres }
    override func testEveryReadmeAuditQueryRunsAndAnswers() throws { try super.testEveryReadmeAuditQueryRunsAndAnswers() }
    override func testViewHashColumnsAreBlobsWithAHexTwin() throws { try super.testViewHashColumnsAreBlobsWithAHexTwin() }
}

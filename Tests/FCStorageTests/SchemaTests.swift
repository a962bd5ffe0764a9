import XCTest
@testable import FCStorage
import FCSQLite

/// The one place that owns the column lists and reads rows by column name.
/// `PostgresSchemaTests` runs these again on PostgreSQL.
class SchemaTests: StoreTestCase {
    func testInsertNamesEachColumnOnceWithItsValue() {
        let insert = Schema.insert(into: "runs", Schema.Runs.row(
            id: "i", name: nil, createdAt: "t", status: "running", config: "{}", seed: UInt64.max,
            parent: CheckpointLocation(runID: "p", epoch: 3), owner: "o", digest: [1, 2]))
        XCTAssertEqual(insert.sql, "INSERT INTO runs (\(Schema.Runs.columns.joined(separator: ", "))) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        XCTAssertEqual(insert.arguments, [.text("i"), .null, .text("t"), .text("running"), .text("{}"), .integer(-1),
                                          .text("p"), .integer(3), .text("o"), .blob([1, 2])])
        XCTAssertEqual(Schema.copy(["a", "b"], into: "x", from: "y", replacing: ["b": "NULL"], where: "id = ?"),
                       "INSERT INTO x (a, b) SELECT a, NULL FROM y WHERE id = ?")
    }

    func testARunIsReadByColumnNameWhateverTheOrderOfTheSelectList() throws {
        let path = try location()
        let store = try Store(path: path)
        let base = try store.createRun(name: "base", config: #"{"layers":[2,1]}"#, seed: 7)
        var generator = SplitMix64(seed: 1)
        try store.appendCheckpoint(runID: base.id, checkpointInput(epoch: 0, sizes: [2, 1], generator: &generator))
        let fork = try store.forkRun(from: base.id, atEpoch: 0, name: nil, config: "{}", seed: 8)
        let db = try connection()
        let reversed = Schema.Runs.recordColumns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.reversed()
        let statement = try db.prepare("SELECT \(reversed.joined(separator: ", ")), 'extra' AS unused FROM runs WHERE id = ?")
        try statement.bind([.text(fork.id)])
        XCTAssertTrue(try statement.step())
        XCTAssertEqual(try Schema.Runs.record(statement), try store.resolveRun(fork.id))
        XCTAssertEqual(try Schema.Runs.record(statement).parent, CheckpointLocation(runID: base.id, epoch: 0))
    }
}

/// SchemaTests on PostgreSQL (a database per store on FCSTORE_TEST_POSTGRES's cluster). Linux XCTest
/// finds only the test methods a class declares, so each is overridden here (TwinSuiteTests checks).
final class PostgresSchemaTests: SchemaTests {
    override class var backend: TestBackend { .postgres }
    override func testInsertNamesEachColumnOnceWithItsValue() { super.testInsertNamesEachColumnOnceWithItsValue() }
    override func testARunIsReadByColumnNameWhateverTheOrderOfTheSelectList() throws { try super.testARunIsReadByColumnNameWhateverTheOrderOfTheSelectList() }
}

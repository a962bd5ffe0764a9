import XCTest
@testable import FCStorage
import FCSQLite

/// The one walk up the parent chain (`FCStorage.Lineage`) and its one cycle rule,
/// seen by the store and by the verifier alike.
/// `PostgresLineageTests` runs these again on PostgreSQL.
class LineageTests: StoreTestCase {
    private typealias Walk = FCStorage.Lineage

    private func walk(_ runID: String, _ parents: [String: CheckpointLocation?]) -> Walk {
        Walk(runID: runID, parent: parents[runID] ?? nil) { id in parents[id].map { .some($0) } ?? .none }
    }

    func testSegmentsOfAChainOfForks() {
        // c: epochs 0...; b forks c@2; a forks b@5.
        let parents: [String: CheckpointLocation?] = [
            "a": CheckpointLocation(runID: "b", epoch: 5), "b": CheckpointLocation(runID: "c", epoch: 2), "c": nil,
        ]
        let lineage = walk("a", parents)
        XCTAssertNil(lineage.broken)
        XCTAssertEqual(lineage.segments, [LineageSegment(ownerRunID: "a", lower: 6, upper: .max),
                                          LineageSegment(ownerRunID: "b", lower: 3, upper: 5),
                                          LineageSegment(ownerRunID: "c", lower: 0, upper: 2)])
        // A fork of a fork point earlier than its parent's own: the parent adds no segment.
        let early = walk("x", ["x": CheckpointLocation(runID: "b", epoch: 1), "b": CheckpointLocation(runID: "c", epoch: 2), "c": nil])
        XCTAssertEqual(early.segments, [LineageSegment(ownerRunID: "x", lower: 2, upper: .max),
                                        LineageSegment(ownerRunID: "c", lower: 0, upper: 1)])
    }

    func testACycleStopsAtTheFirstRunSeenTwice() {
        // a -> b -> c -> b: the walk stops when b comes up again, not after a step limit.
        var lookups = 0
        let parents: [String: CheckpointLocation?] = [
            "a": CheckpointLocation(runID: "b", epoch: 9), "b": CheckpointLocation(runID: "c", epoch: 7),
            "c": CheckpointLocation(runID: "b", epoch: 3),
        ]
        let lineage = Walk(runID: "a", parent: parents["a"] ?? nil) { id in
            lookups += 1
            return parents[id].map { .some($0) } ?? .none
        }
        XCTAssertEqual(lineage.broken, .cycle)
        XCTAssertEqual(lineage.segments.map(\.ownerRunID), ["a", "b", "c"])
        XCTAssertEqual(lookups, 3)
        // A run that is its own parent.
        XCTAssertEqual(walk("s", ["s": CheckpointLocation(runID: "s", epoch: 0)]).broken, .cycle)
    }

    func testAMissingParentIsNamedWithTheRunThatNeedsIt() {
        let lineage = walk("a", ["a": CheckpointLocation(runID: "b", epoch: 4), "b": CheckpointLocation(runID: "gone", epoch: 2)])
        XCTAssertEqual(lineage.broken, .missingParent(childID: "b", parent: CheckpointLocation(runID: "gone", epoch: 2)))
        XCTAssertEqual(lineage.segments.map(\.ownerRunID), ["a", "b"])
    }

    func testStoreAndVerifierRefuseACycleInARealStore() throws {
        let path = try location()
        let fixture = try Lineage(path: path)
        // The base run made a fork of its own fork, in the file.
        let db = try connection()
        try db.execute(Self.backend == .postgres ? "DROP TRIGGER IF EXISTS runs_immutable ON runs" : "DROP TRIGGER IF EXISTS runs_immutable")
        try db.execute("UPDATE runs SET parent_run_id = ?, parent_epoch = 0 WHERE id = ?", [.text(fixture.fork.id), .text(fixture.base.id)])
        XCTAssertEqual(db.changes, 1)

        let store = try Store(path: path)
        let error = try XCTUnwrap(storeError { try store.checkpoints(runID: fixture.fork.id) })
        XCTAssertEqual(error.description, "Checkpoint \(fixture.fork.shortID)@0 is corrupt: its chain of parent runs does not end.")
        let findings = try store.verify(runID: fixture.fork.id).map(\.description)
        XCTAssertTrue(findings.contains("\(fixture.fork.shortID): its chain of parent runs forms a cycle"), "\(findings)")
    }
}

/// LineageTests on PostgreSQL (see PostgresStoreTests).
final class PostgresLineageTests: LineageTests {
    override class var backend: TestBackend { .postgres }
    override func testSegmentsOfAChainOfForks() { super.testSegmentsOfAChainOfForks() }
    override func testACycleStopsAtTheFirstRunSeenTwice() { super.testACycleStopsAtTheFirstRunSeenTwice() }
    override func testAMissingParentIsNamedWithTheRunThatNeedsIt() { super.testAMissingParentIsNamedWithTheRunThatNeedsIt() }
    override func testStoreAndVerifierRefuseACycleInARealStore() throws { try super.testStoreAndVerifierRefuseACycleInARealStore() }
}

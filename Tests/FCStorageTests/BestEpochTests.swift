import XCTest
@testable import FCStorage
import FCSQLite

/// The one best-epoch rule and the places that use it: `Store.bestEpoch`,
/// `prune --keep-best`, the best column of `runs`, and the `run_summary` view
/// that mirrors it in SQL.
/// `PostgresBestEpochTests` runs these again on PostgreSQL.
class BestEpochTests: StoreTestCase {
    func testLowestValueEarliestEpochOnTiesNaNIgnored() {
        let values: [(epoch: Int, value: Double)] = [(0, 3), (1, .nan), (2, 1), (3, 2), (4, 1), (5, -.infinity)]
        XCTAssertEqual(BestEpoch.pick(values.prefix(5))?.epoch, 2)
        XCTAssertEqual(BestEpoch.pick(values.prefix(5))?.value, 1)
        XCTAssertEqual(BestEpoch.pick(values)?.epoch, 5)
        XCTAssertEqual(BestEpoch.pick(values.prefix(5), lowerIsBetter: false)?.epoch, 0)
        XCTAssertEqual(BestEpoch.pick([(epoch: 7, value: 2.0), (epoch: 3, value: 2.0)])?.epoch, 3, "earliest among equals, whatever the order")
        XCTAssertNil(BestEpoch.pick([(epoch: 0, value: Double.nan)]))
        XCTAssertNil(BestEpoch.pick([(epoch: Int, value: Double)]()))
    }

    func testEveryUserOfTheRuleAgreesOnARealStore() throws {
        let path = try location()
        let store = try Store(path: path)
        var generator = SplitMix64(seed: 5)
        let run = try store.createRun(name: "r", config: #"{"layers":[3,2]}"#, seed: 1)
        // val_loss: ties at epochs 2 and 4 (the earliest wins), NaN at 3 (ignored, stored as NULL).
        let losses: [Double] = [0.9, 0.7, 0.5, .nan, 0.5, 0.6]
        for (epoch, loss) in losses.enumerated() {
            try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: epoch, sizes: [3, 2], generator: &generator,
                                                                      metrics: ["val_loss": loss, "train_loss": 1]))
        }
        // A fork at epoch 4 whose own epochs are worse: its best is its own, not the inherited 2.
        let fork = try store.forkRun(from: run.id, atEpoch: 4, name: "f", config: #"{"layers":[3,2]}"#, seed: 2)
        for epoch in 5...6 {
            try store.appendCheckpoint(runID: fork.id, checkpointInput(epoch: epoch, sizes: [3, 2], generator: &generator,
                                                                       metrics: ["val_loss": epoch == 5 ? 0.8 : 0.85, "train_loss": 1]))
        }

        XCTAssertEqual(try store.bestEpoch(runID: run.id, metric: "val_loss"), 2)
        XCTAssertEqual(try store.bestEpoch(runID: fork.id, metric: "val_loss"), 5)
        let summaries = Dictionary(uniqueKeysWithValues: try store.runs().map { ($0.run.id, $0) })
        XCTAssertEqual(summaries[run.id]?.bestValidationEpoch, 2)
        XCTAssertEqual(summaries[run.id]?.bestValidationLoss, 0.5)
        XCTAssertEqual(summaries[fork.id]?.bestValidationEpoch, 5)
        let prune = try store.prune(runID: run.id, keepLast: 0, keepBest: "val_loss", dryRun: true)
        XCTAssertEqual(prune.reasons[2]?.contains(.best), true, "\(prune.reasons)")
        XCTAssertNotEqual(prune.reasons[4]?.contains(.best), true)

        // The SQL view mirrors the rule's value.
        let db = try connection()
        XCTAssertEqual(try db.scalar("SELECT best_val_loss FROM run_summary WHERE run_id = ?", [.text(run.id)]), .real(0.5))
        XCTAssertEqual(try db.scalar("SELECT best_val_loss FROM run_summary WHERE run_id = ?", [.text(fork.id)]), .real(0.8))
    }
}

/// BestEpochTests on PostgreSQL (see PostgresStoreTests).
final class PostgresBestEpochTests: BestEpochTests {
    override class var backend: TestBackend { .postgres }
    override func testLowestValueEarliestEpochOnTiesNaNIgnored() { super.testLowestValueEarliestEpochOnTiesNaNIgnored() }
    override func testEveryUserOfTheRuleAgreesOnARealStore() throws { try super.testEveryUserOfTheRuleAgreesOnARealStore() }
}

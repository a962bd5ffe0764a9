import Foundation
import XCTest
@testable import FCStorage

/// `Store.runs()`, the listing, against a reference computed run by run from
/// `checkpoints(runID:)` (the epochs `show` lists).
/// `PostgresListingTests` runs these again on PostgreSQL.
class ListingTests: StoreTestCase {
    /// A summary as text, values by bit pattern (so NaN and -0.0 compare).
    static func describe(_ summary: RunSummary) -> String {
        let metrics = summary.latestMetrics.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.bitPattern)" }
        return "\(summary.run.id) first \(String(describing: summary.firstEpoch)) last \(String(describing: summary.lastEpoch))"
            + " count \(summary.checkpointCount) own \(summary.ownCheckpointCount)"
            + " best \(String(describing: summary.bestValidationLoss?.bitPattern))@\(String(describing: summary.bestValidationEpoch))"
            + " latest \(metrics)"
    }

    /// What the listing should say about `runID`, from the checkpoints it sees
    /// (the best validation loss from its own epochs only).
    private func reference(_ store: Store, _ record: RunRecord, latestMetrics: Bool) throws -> String {
        let visible = try store.checkpoints(runID: record.id)
        var best: (epoch: Int, value: Double)?
        for checkpoint in visible where !checkpoint.inherited {
            guard let value = checkpoint.metrics["val_loss"], !value.isNaN else { continue }
            // As `ORDER BY value, epoch LIMIT 1`: -0.0 equals 0.0, the earlier epoch wins.
            if let current = best, value > current.value || (value == current.value && checkpoint.epoch >= current.epoch) {
                continue
            }
            best = (checkpoint.epoch, value)
        }
        let expected = RunSummary(
            run: record, firstEpoch: visible.first?.epoch, lastEpoch: visible.last?.epoch, checkpointCount: visible.count,
            ownCheckpointCount: visible.filter { !$0.inherited }.count,
            latestMetrics: latestMetrics ? visible.last?.metrics ?? [:] : [:],
            bestValidationLoss: best?.value, bestValidationEpoch: best?.epoch)
        return Self.describe(expected)
    }

    private func assertListingMatchesReference(_ store: Store, file: StaticString = #filePath, line: UInt = #line) throws {
        for latestMetrics in [true, false] {
            let summaries = try store.runs(latestMetrics: latestMetrics)
            XCTAssertEqual(summaries.map(\.run.id), try store.runsInCreationOrder(), file: file, line: line)
            for summary in summaries {
                XCTAssertEqual(Self.describe(summary), try reference(store, summary.run, latestMetrics: latestMetrics),
                               file: file, line: line)
            }
        }
    }

    /// Random forks of forks (some with no epoch of their own), validation
    /// losses with ties, -0.0, NaN and gaps, a pruned run and a removed parent
    /// whose forks were detached.
    func testListingAgreesWithEachRunsCheckpoints() throws {
        let path = try location()
        let store = try Store(path: path)
        var generator = SplitMix64(seed: 42)
        let losses: [Double?] = [0.5, 0.25, 0.25, 1, 0, -0.0, .nan, nil]
        var runs: [RunRecord] = []
        for index in 0..<30 {
            var run: RunRecord?
            if !runs.isEmpty, Int.random(in: 0..<3, using: &generator) > 0 {
                let parent = runs[Int.random(in: 0..<runs.count, using: &generator)]
                if let last = try store.checkpoints(runID: parent.id).last?.epoch {
                    run = try store.forkRun(from: parent.id, atEpoch: Int.random(in: 0...last, using: &generator),
                                            name: "run-\(index)", config: "{}", seed: UInt64(index))
                }
            }
            let created = try run ?? store.createRun(name: "run-\(index)", config: "{}", seed: UInt64(index))
            let first = created.parent.map { $0.epoch + 1 } ?? 0
            for epoch in first..<(first + Int.random(in: 0...5, using: &generator)) {
                var metrics = ["train_loss": Double(epoch), "learning_rate": 0.1]
                if let loss = losses[Int.random(in: 0..<losses.count, using: &generator)] { metrics["val_loss"] = loss }
                try store.appendCheckpoint(runID: created.id, checkpointInput(epoch: epoch, generator: &generator, metrics: metrics))
            }
            runs.append(created)
        }
        try assertListingMatchesReference(store)

        // Retention changes which tensors are kept, not what the listing says.
        let longest = try XCTUnwrap(try store.runs().max { $0.ownCheckpointCount < $1.ownCheckpointCount })
        _ = try store.prune(runID: longest.run.id, keepLast: 1)
        let parent = try XCTUnwrap(runs.first { run in runs.contains { $0.parent?.runID == run.id } })
        _ = try store.removeRun(runID: parent.id, force: true)
        try assertListingMatchesReference(store)

        // Without the index (a store whose planner chose otherwise) the answer is the same.
        let before = try store.runs().map(Self.describe)
        try connection().execute("DROP INDEX metrics_val_loss")
        XCTAssertEqual(try store.runs().map(Self.describe), before)
    }
}

extension Store {
    /// Run ids by `created_at, id`, the listing's order.
    func runsInCreationOrder() throws -> [String] {
        var ids: [String] = []
        try db.prepare("SELECT id FROM runs ORDER BY created_at, id").forEachRow { ids.append($0.string(at: 0)) }
        return ids
    }
}

/// ListingTests on PostgreSQL (see PostgresStoreTests).
final class PostgresListingTests: ListingTests {
    override class var backend: TestBackend { .postgres }
    override func testListingAgreesWithEachRunsCheckpoints() throws { try super.testListingAgreesWithEachRunsCheckpoints() }
}

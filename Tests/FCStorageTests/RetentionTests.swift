import Foundation
import XCTest
@testable import FCStorage

/// `PostgresRetentionTests` runs these again on PostgreSQL.
class RetentionTests: StoreTestCase {
    /// Every epoch a run sees, loaded: epoch → tensors.
    private func allTensors(_ store: Store, _ runID: String) throws -> [Int: [CheckpointTensor]] {
        var result: [Int: [CheckpointTensor]] = [:]
        for summary in try store.checkpoints(runID: runID) {
            result[summary.epoch] = try store.loadCheckpoint(runID: runID, epoch: summary.epoch).tensors
        }
        return result
    }

    func testPruneKeepsWhatItPromisesAndVerifyStillPasses() throws {
        let path = try location()
        let store = try Store(path: path)
        let run = try store.createRun(name: "long", config: "{}", seed: 1)
        var generator = SplitMix64(seed: 21)
        let losses: [Double] = [9, 8, 7, 6, 1, 5, 4, 3, 2.5, 2.2, 2.1, 2.05]
        for epoch in 0..<12 {
            try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: epoch, sizes: [6, 5, 4], generator: &generator,
                                                                      metrics: ["val_loss": losses[epoch]]))
        }
        let fork = try store.forkRun(from: run.id, atEpoch: 6, name: "fork", config: "{}", seed: 2)
        try store.appendCheckpoint(runID: fork.id, checkpointInput(epoch: 7, sizes: [6, 5, 4], generator: &generator))
        let before = try allTensors(store, run.id)

        let dump = try contentDump(path)
        let dry = try store.prune(runID: run.id, keepLast: 2, keepBest: "val_loss", keepEvery: 5, dryRun: true)
        XCTAssertEqual(try contentDump(path), dump, "a dry run changes nothing")
        XCTAssertEqual(dry.pruned, [1, 2, 3, 7, 8, 9])
        XCTAssertEqual(dry.kept, [0, 4, 5, 6, 10, 11])
        XCTAssertEqual(dry.reasons[0], [.firstEpoch, .every])
        XCTAssertEqual(dry.reasons[4], [.best])
        XCTAssertEqual(dry.reasons[6], [.forkPoint])
        XCTAssertEqual(dry.reasons[11], [.latest, .recent])
        XCTAssertEqual(dry.bytesFreedEstimate, 6 * (5 * 6 + 5 + 4 * 5 + 4) * 4)

        let result = try store.prune(runID: run.id, keepLast: 2, keepBest: "val_loss", keepEvery: 5)
        XCTAssertEqual(result.pruned, dry.pruned)
        XCTAssertFalse(result.dryRun)
        XCTAssertEqual(try store.checkpoints(runID: run.id).filter(\.pruned).map(\.epoch), [1, 2, 3, 7, 8, 9])
        XCTAssertEqual(storeError { try store.loadCheckpoint(runID: run.id, epoch: 3) }?.description,
                       "Epoch 3 of run \(run.shortID) was pruned; kept epochs: 0, 4, 5, 6, 10, 11.")
        XCTAssertEqual(storeError { try store.loadCheckpoint(runID: fork.id, epoch: 2) }?.description,
                       "Epoch 2 of run \(fork.shortID) was pruned; kept epochs: 0, 4, 5, 6, 7.")
        XCTAssertNotNil(storeError { try store.forkRun(from: run.id, atEpoch: 8, name: nil, config: "{}", seed: 3) })
        XCTAssertEqual(try store.verify(), [])

        let collected = try store.gc()
        XCTAssertEqual(collected.blobsRemoved, 6 * 4)
        XCTAssertEqual(collected.blobBytesRemoved, dry.bytesFreedEstimate)
        XCTAssertEqual(try store.verify(), [])
        XCTAssertEqual(try store.verify(runID: fork.id), [])
        for epoch in result.kept {
            XCTAssertEqual(try store.loadCheckpoint(runID: run.id, epoch: epoch).tensors, before[epoch], "epoch \(epoch)")
        }
        // The metrics of pruned epochs stay queryable.
        XCTAssertEqual(try store.checkpoints(runID: run.id)[3].metrics["val_loss"], 6)
        XCTAssertEqual(try store.bestCheckpoint(runID: run.id, metric: "val_loss").epoch, 4)

        let again = try store.prune(runID: run.id, keepLast: 0)
        XCTAssertEqual(again.alreadyPruned, [1, 2, 3, 7, 8, 9])
        XCTAssertEqual(again.pruned, [4, 5, 10], "epoch 0, the fork point 6 and the latest 11 stay; without keepBest 4 goes")
        XCTAssertEqual(again.kept, [0, 6, 11])
        XCTAssertNotNil(storeError { try store.prune(runID: run.id, keepLast: 1, keepBest: "accuracy") })
        XCTAssertNotNil(storeError { try store.prune(runID: run.id, keepLast: -1) })
        XCTAssertEqual(try store.verify(), [])
    }

    func testGCReclaimsTheBytesOfPrunedEpochs() throws {
        try requireSQLite("the file shrinks after VACUUM")
        let path = try location()
        let store = try Store(path: path)
        let run = try store.createRun(name: nil, config: "{}", seed: 1)
        var generator = SplitMix64(seed: 22)
        for epoch in 0..<8 {
            try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: epoch, sizes: [256, 512, 4], generator: &generator))
        }
        let tensorBytes = (256 * 512 + 512 + 512 * 4 + 4) * 4
        _ = try store.prune(runID: run.id, keepLast: 1)
        let sizeBefore = try fileSize(path) + ((try? fileSize(path + "-wal")) ?? 0)
        let result = try store.gc()
        XCTAssertEqual(result.blobsRemoved, 6 * 4)
        XCTAssertEqual(Int(result.bytesBefore), sizeBefore)
        XCTAssertTrue(result.walCheckpointComplete)
        let sizeAfter = try fileSize(path) + ((try? fileSize(path + "-wal")) ?? 0)
        XCTAssertEqual(Int(result.bytesAfter), sizeAfter)
        XCTAssertLessThan(sizeAfter, sizeBefore - 5 * tensorBytes, "before \(sizeBefore), after \(sizeAfter)")
        // Two epochs remain; with 64 KiB pages an empty store is ~13 pages (one per table and index).
        let empty = try Store(path: self.path("empty.db"))
        _ = try empty.gc()
        XCTAssertLessThan(sizeAfter, try fileSize(self.path("empty.db")) + 2 * tensorBytes + 8 * 65_536)
        XCTAssertEqual(try store.verify(), [])
        XCTAssertEqual(try store.gc().blobsRemoved, 0)
    }

    func testRemoveRefusesWithForksAndForceDetachesThem() throws {
        let lineage = try Lineage(path: try location())
        let store = lineage.store
        var generator = SplitMix64(seed: 23)
        let grandchild = try store.forkRun(from: lineage.fork.id, atEpoch: 2, name: "grandchild", config: "{}", seed: 4)
        try store.appendCheckpoint(runID: grandchild.id, checkpointInput(epoch: 3, sizes: [5, 4, 3], generator: &generator))
        let late = try store.forkRun(from: lineage.base.id, atEpoch: 3, name: "late", config: "{}", seed: 5)
        let before = try [lineage.fork.id, grandchild.id, late.id].map { try allTensors(store, $0) }
        let digestsBefore = try [lineage.fork.id, grandchild.id, late.id].map { try store.checkpoints(runID: $0).map(\.digest) }

        XCTAssertEqual(storeError { try store.removeRun(runID: lineage.base.id) }?.description,
                       "Run \(lineage.base.shortID) has forks (\(lineage.fork.shortID), \(late.shortID)). Detach them first (remove with force).")
        XCTAssertEqual(storeError { try store.prune(runID: lineage.base.id, keepLast: -2) }?.description,
                       "The number of last epochs to keep must be 0 or more, not -2.")
        XCTAssertEqual(storeError { try store.prune(runID: lineage.base.id, keepLast: 1, keepEvery: 0) }?.description,
                       "The interval of epochs to keep must be 1 or more, not 0.")

        // The middle of a chain: the grandchild is re-attached to the base.
        let middle = try store.removeRun(runID: lineage.fork.id, force: true)
        XCTAssertEqual(middle.detachedForks, [grandchild.id])
        XCTAssertEqual(middle.checkpointsCopied, 1)
        XCTAssertEqual(middle.checkpointsDeleted, 2)
        XCTAssertEqual(try store.run(id: grandchild.id).parent, CheckpointLocation(runID: lineage.base.id, epoch: 1))
        XCTAssertEqual(try store.verify(), [])

        let removed = try store.removeRun(runID: lineage.base.id, force: true)
        XCTAssertEqual(removed.detachedForks, [grandchild.id, late.id])
        XCTAssertEqual(removed.checkpointsCopied, 2 + 4)
        XCTAssertEqual(removed.checkpointsDeleted, 4)
        XCTAssertNotNil(storeError { try store.run(id: lineage.base.id) })
        XCTAssertNil(try store.run(id: grandchild.id).parent)
        XCTAssertEqual(try allTensors(store, grandchild.id), before[1])
        XCTAssertEqual(try allTensors(store, late.id), before[2])
        XCTAssertEqual(try store.checkpoints(runID: grandchild.id).map(\.digest), digestsBefore[1])
        XCTAssertEqual(try store.checkpoints(runID: late.id).map(\.digest), digestsBefore[2])
        XCTAssertEqual(try store.checkpoints(runID: late.id).map(\.inherited), [false, false, false, false])
        _ = try store.gc()
        XCTAssertEqual(try store.verify(), [])
        XCTAssertEqual(try allTensors(store, late.id), before[2])

        // Without forks a run just goes.
        let plain = try store.removeRun(runID: late.id)
        XCTAssertEqual(plain.detachedForks, [])
        XCTAssertEqual(try store.runs().map(\.run.id), [grandchild.id])
        _ = try store.gc()
        XCTAssertEqual(try store.verify(), [])
        XCTAssertEqual(try allTensors(store, grandchild.id), before[1])
        _ = before[0]
    }
}

/// RetentionTests on PostgreSQL (see PostgresStoreTests).
final class PostgresRetentionTests: RetentionTests {
    override class var backend: TestBackend { .postgres }
    override func testPruneKeepsWhatItPromisesAndVerifyStillPasses() throws { try super.testPruneKeepsWhatItPromisesAndVerifyStillPasses() }
    override func testGCReclaimsTheBytesOfPrunedEpochs() throws { try super.testGCReclaimsTheBytesOfPrunedEpochs() }
    override func testRemoveRefusesWithForksAndForceDetachesThem() throws { try super.testRemoveRefusesWithForksAndForceDetachesThem() }
}

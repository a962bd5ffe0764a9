import XCTest
@testable import FCStorage
import FCSQLite

/// The merge plan alone: rows in, decisions out, nothing written anywhere.
final class MergePlanTests: XCTestCase {
    func digest(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

    func run(_ id: String, name: String? = nil, parent: CheckpointLocation? = nil, digest byte: UInt8 = 1) -> StoreSnapshot.Run {
        StoreSnapshot.Run(id: id, name: name, createdAt: "2026-12-06T06:00:00.000Z", status: "completed", config: "{}", seed: 1,
                          parent: parent, digest: digest(byte))
    }

    func checkpoint(_ runID: String, _ epoch: Int, digest byte: UInt8, tensors: [UInt8], pruned: Bool = false) -> StoreSnapshot.Checkpoint {
        var checkpoint = StoreSnapshot.Checkpoint(id: Int64(epoch), runID: runID, epoch: epoch, createdAt: "t", digest: digest(byte),
                                                  parentDigest: nil, optimizerState: "{}", rngState: [], prunedAt: pruned ? "p" : nil,
                                                  originRunID: nil)
        checkpoint.tensors = tensors.map { StoreSnapshot.Tensor(layer: 1, role: "weight\($0)", shapeText: "[1]", dtype: "f32", hash: digest($0)) }
        return checkpoint
    }

    /// A source with a root run `a` (epochs 0-2) and its fork `b` from a@1 (epoch 2), blobs 10...14 of 4 bytes.
    func source() -> StoreSnapshot {
        let a = "aaaaaaaa-0000-0000-0000-000000000000", b = "bbbbbbbb-0000-0000-0000-000000000000"
        var snapshot = StoreSnapshot()
        // The child first: the plan must still place the parent before it.
        snapshot.runOrder = [b, a]
        snapshot.runs = [a: run(a, name: "base"), b: run(b, name: "child", parent: CheckpointLocation(runID: a, epoch: 1), digest: 2)]
        snapshot.checkpoints[a] = [0: checkpoint(a, 0, digest: 20, tensors: [10]), 1: checkpoint(a, 1, digest: 21, tensors: [11]),
                                   2: checkpoint(a, 2, digest: 22, tensors: [12, 10])]
        snapshot.checkpoints[b] = [2: checkpoint(b, 2, digest: 30, tensors: [13, 14])]
        for byte: UInt8 in 10...14 { snapshot.blobs[digest(byte)] = StoreSnapshot.Blob(id: Int64(byte), hash: digest(byte), size: 4, length: 4) }
        return snapshot
    }

    let a = "aaaaaaaa-0000-0000-0000-000000000000", b = "bbbbbbbb-0000-0000-0000-000000000000"

    func testAnEmptyDestinationGetsEverythingParentsFirst() throws {
        var target = MergeTarget()
        target.names = ["child"]
        let plan = try MergePlan.make(source: source(), target: target)
        XCTAssertEqual(plan.order, [a, b])
        XCTAssertEqual(plan.newRuns.map(\.run.id), [a, b])
        XCTAssertEqual(plan.newRuns.map(\.name), ["base", "child-2"])
        XCTAssertEqual(plan.summary.renamed.map(\.newName), ["child-2"])
        XCTAssertEqual(plan.checkpoints.map { "\($0.runID.prefix(1))\($0.epoch)" }, ["a0", "a1", "a2", "b2"])
        // Blob 10 is used twice and sent once.
        XCTAssertEqual(plan.missingBlobs.map { $0.hash[0] }, [10, 11, 12, 13, 14])
        XCTAssertEqual(plan.summary.bytesAdded, 20)
        XCTAssertEqual(plan.summary.checkpointsAdded, 4)
    }

    func testADestinationWithHalfTheEpochsIsExtendedWithWhatItLacks() throws {
        var target = MergeTarget()
        target.runs[a] = MergeTarget.Run(digest: digest(1), status: "interrupted", owner: nil, epochs: [0: digest(20), 1: digest(21)])
        target.blobs = [digest(10), digest(13)]
        let plan = try MergePlan.make(source: source(), target: target)
        XCTAssertEqual(plan.summary.runsExtended, [a])
        XCTAssertEqual(plan.summary.runsAdded, [b])
        XCTAssertEqual(plan.summary.checkpointsSkipped, 2)
        XCTAssertEqual(plan.checkpoints.map { "\($0.runID.prefix(1))\($0.epoch)" }, ["a2", "b2"])
        XCTAssertEqual(plan.missingBlobs.map { $0.hash[0] }, [12, 14])
        XCTAssertEqual(plan.summary.blobsSkipped, 2)
        // What the destination would be asked about: the tensors of the epochs it lacks.
        XCTAssertEqual(Set(MergePlan.candidateHashes(source: source(), target: target).map { $0[0] }), [10, 12, 13, 14])
    }

    func testEverythingPresentIsANoOp() throws {
        var target = MergeTarget()
        target.runs[a] = MergeTarget.Run(digest: digest(1), status: "completed", owner: nil, epochs: [0: digest(20), 1: digest(21), 2: digest(22)])
        target.runs[b] = MergeTarget.Run(digest: digest(2), status: "completed", owner: nil, epochs: [2: digest(30)])
        let plan = try MergePlan.make(source: source(), target: target)
        XCTAssertTrue(plan.summary.isNoOp)
        XCTAssertEqual(plan.summary.runsSkipped, [a, b])
        XCTAssertTrue(plan.missingBlobs.isEmpty)
    }

    func testConflictsAreRefusedBeforeAnyWrite() {
        func refusal(_ change: (inout MergeTarget) -> Void, source: StoreSnapshot? = nil) -> MergeRefusal? {
            var target = MergeTarget()
            change(&target)
            do {
                _ = try MergePlan.make(source: source ?? self.source(), target: target)
                return nil
            } catch {
                return error as? MergeRefusal
            }
        }
        XCTAssertEqual(refusal { $0.runs[self.a] = MergeTarget.Run(digest: self.digest(9), status: "completed", owner: nil, epochs: [:]) },
                       .runDiffers(runID: a))
        XCTAssertEqual(refusal { $0.runs[self.a] = MergeTarget.Run(digest: self.digest(1), status: "completed", owner: nil, epochs: [1: self.digest(99)]) },
                       .diverged(runID: a, epoch: 1))
        XCTAssertEqual(refusal { $0.runs[self.a] = MergeTarget.Run(digest: self.digest(1), status: "running", owner: "h:1:2", epochs: [0: self.digest(20)]) },
                       .beingTrained(runID: a, owner: "h:1:2"))
        XCTAssertEqual(refusal { $0.invalidConfigs = [self.b] }, .configNotJSON(runID: b))
        // The destination has epoch 0 only, and the source lacks epoch 1: epoch 2 would leave a gap.
        var gap = source()
        gap.checkpoints[a]?[1] = nil
        XCTAssertEqual(refusal({ $0.runs[self.a] = MergeTarget.Run(digest: self.digest(1), status: "completed", owner: nil, epochs: [0: self.digest(20)]) },
                               source: gap), .doesNotContinue(runID: a, epoch: 2))
        var noBytes = source()
        noBytes.blobs[digest(14)] = nil
        XCTAssertEqual(refusal({ _ in }, source: noBytes), .bytesMissing)
        var cycle = source()
        cycle.runs[a]?.parent = CheckpointLocation(runID: b, epoch: 0)
        XCTAssertEqual(refusal({ _ in }, source: cycle), .parentCycle)
        // Today's bundle wording, unchanged.
        XCTAssertEqual(MergeRefusal.diverged(runID: a, epoch: 1).bundleReason,
                       "its checkpoint aaaaaaaa@1 differs from the one in this store (another digest): the histories diverged")
    }

    func testPruningTheSourceSendsNoBytesForPrunedEpochs() throws {
        var pruned = source()
        pruned.checkpoints[a]?[1] = checkpoint(a, 1, digest: 21, tensors: [11], pruned: true)
        pruned.blobs[digest(11)] = nil
        let plan = try MergePlan.make(source: pruned, target: MergeTarget())
        XCTAssertEqual(plan.missingBlobs.map { $0.hash[0] }, [10, 12, 13, 14])
        XCTAssertEqual(plan.summary.checkpointsAdded, 4)
    }
}

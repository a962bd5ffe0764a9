import Foundation
import XCTest
@testable import FCStorage

/// Claims, leases and segments through the store's API: every statement is portable
/// SQL, so these run unchanged against any backend the store gains.
final class LeaseTests: StoreTestCase {
    private func segment(_ first: Int, threads: Int = 2, data: String = "/data/train.csv") -> SegmentInput {
        SegmentInput(firstEpoch: first, startedAt: Date(timeIntervalSince1970: 1_800_000_000), host: "h1", dataPath: data,
                     labelsPath: nil, validationPath: nil, dataFingerprint: "f00d", validationFingerprint: nil,
                     blasCore: "SkylakeX", blasThreads: threads, kernelsISA: "avx2", fcstoreVersion: "0.2.0")
    }

    func testALeaseIsRenewedInTheEpochsTransactionAndALostOneWritesNothing() throws {
        let store = try Store(path: path())
        var generator = SplitMix64(seed: 1)
        let run = try store.createRun(name: nil, config: "{}", seed: 1, owner: "h1:10:1")
        let until = Date(timeIntervalSince1970: 1_900_000_000)
        try store.appendCheckpoint(runID: run.id, try checkpointInput(epoch: 0, generator: &generator),
                                   context: CommitContext(owner: "h1:10:1", leaseUntil: until, segment: segment(0)))
        XCTAssertEqual(try store.claim(runID: run.id), RunClaim(owner: "h1:10:1", leaseExpiresAt: until,
                                                               expiryText: "2030-03-17T17:46:40.000Z"))

        // Another trainer takes the run over (the rule says the lease expired).
        XCTAssertNil(try store.claimRun(runID: run.id, newOwner: "h2:20:2", leaseUntil: until, lastEpoch: 0) { _ in true })
        let lost = storeError {
            try store.appendCheckpoint(runID: run.id, try checkpointInput(epoch: 1, generator: &generator),
                                       context: CommitContext(owner: "h1:10:1", leaseUntil: until, segment: segment(0)))
        }
        guard case let .leaseLost(runID, owner, current)? = lost else { return XCTFail("\(String(describing: lost))") }
        XCTAssertEqual([runID, owner, current], [run.id, "h1:10:1", "h2:20:2"])
        XCTAssertEqual(try store.checkpoints(runID: run.id).map(\.epoch), [0], "the lost trainer wrote nothing")
        guard case .leaseLost? = storeError({ try store.renewLease(runID: run.id, owner: "h1:10:1", until: until) }) else {
            return XCTFail("a heartbeat of the lost owner must fail")
        }
        XCTAssertFalse(try store.release(runID: run.id, owner: "h1:10:1", status: .interrupted))
        XCTAssertEqual(try store.run(id: run.id).status, .running)

        // The new owner's epochs make a segment of their own, from epoch 1.
        try store.appendCheckpoint(runID: run.id, try checkpointInput(epoch: 1, generator: &generator),
                                   context: CommitContext(owner: "h2:20:2", leaseUntil: until, segment: segment(1, threads: 1, data: "/b/t.csv")))
        try store.appendCheckpoint(runID: run.id, try checkpointInput(epoch: 2, generator: &generator),
                                   context: CommitContext(owner: "h2:20:2", leaseUntil: until, segment: segment(1, threads: 1, data: "/b/t.csv")))
        let segments = try store.segments(runID: run.id)
        XCTAssertEqual(segments.map { [$0.firstEpoch, $0.lastEpoch, $0.input.blasThreads] }, [[0, 0, 2], [1, 2, 1]])
        XCTAssertEqual(segments.map(\.input.dataPath), ["/data/train.csv", "/b/t.csv"])
        XCTAssertEqual(try store.segment(runID: run.id, epoch: 2)?.input.blasThreads, 1)
        XCTAssertTrue(try store.release(runID: run.id, owner: "h2:20:2", status: .completed))
        XCTAssertEqual(try store.claim(runID: run.id), RunClaim(owner: nil, leaseExpiresAt: nil, expiryText: nil))
        XCTAssertEqual(try store.verify(), [])
    }

    /// The takeover is a compare-and-set on the claim read: a claim kept by the rule, a
    /// claim that changed meanwhile, and a run that moved on are all left as they are.
    func testAClaimIsACompareAndSet() throws {
        let store = try Store(path: path())
        var generator = SplitMix64(seed: 2)
        let (run, _) = try store.createRun(name: nil, config: "{}", seed: 1, owner: "h1:10:1",
                                           initialCheckpoint: try checkpointInput(epoch: 0, generator: &generator))
        let until = Date(timeIntervalSince1970: 1_900_000_000)
        try store.renewLease(runID: run.id, owner: "h1:10:1", until: until)
        XCTAssertEqual(try store.claimRun(runID: run.id, newOwner: "h2:20:2", leaseUntil: until) { _ in false }?.owner, "h1:10:1")

        // The rule sees the claim as it is inside the transaction: after a renewal, the new expiry.
        let second = try Store(path: path())
        try second.renewLease(runID: run.id, owner: "h1:10:1", until: until.addingTimeInterval(60))
        let kept = try store.claimRun(runID: run.id, newOwner: "h2:20:2", leaseUntil: until) { claim in
            claim.leaseExpiresAt.map { $0 < until.addingTimeInterval(30) } ?? true
        }
        XCTAssertEqual(kept?.owner, "h1:10:1")
        XCTAssertEqual(try store.claim(runID: run.id).leaseExpiresAt, until.addingTimeInterval(60))

        guard case .epochOutOfOrder(_, 1, 0)? = storeError({
            try store.claimRun(runID: run.id, newOwner: "h2:20:2", leaseUntil: until, lastEpoch: -1) { _ in true }
        }) else { return XCTFail("a claim from a stale epoch must be refused") }
        XCTAssertEqual(try store.claim(runID: run.id).owner, "h1:10:1")
        XCTAssertNil(try store.claimRun(runID: run.id, newOwner: "h2:20:2", leaseUntil: nil, lastEpoch: 0) { _ in true })
        XCTAssertEqual(try store.claim(runID: run.id), RunClaim(owner: "h2:20:2", leaseExpiresAt: nil, expiryText: nil))
    }
}

import FCPostgres
import Foundation
import XCTest
@testable import FCStorage

/// A lost connection and the question after it — did the epoch in flight commit? —
/// through the store's API, on SQLite (nothing to lose) and PostgreSQL.
class ReconnectTests: StoreTestCase {
    /// `committedCheckpoint` finds the epoch that landed (same digest as its commit
    /// returned), nil for one that did not, and refuses another writer's checkpoint.
    func testCommittedCheckpointTellsWhetherAnEpochLanded() throws {
        let store = try openStore()
        var generator = SplitMix64(seed: 3)
        let run = try store.createRun(name: nil, config: "{}", seed: 1)
        try store.appendCheckpoint(runID: run.id, try checkpointInput(epoch: 0, generator: &generator))
        let first = try checkpointInput(epoch: 1, generator: &generator)
        let record = try store.appendCheckpoint(runID: run.id, first)
        XCTAssertEqual(try store.committedCheckpoint(runID: run.id, matching: first), record)
        XCTAssertNil(try store.committedCheckpoint(runID: run.id, matching: try checkpointInput(epoch: 2, generator: &generator)))
        let other = try checkpointInput(epoch: 1, generator: &generator)
        guard case .epochOutOfOrder(_, let expected, let given)? = storeError({ try store.committedCheckpoint(runID: run.id, matching: other) }) else {
            return XCTFail("another checkpoint at epoch 1 was taken for this one")
        }
        XCTAssertEqual([expected, given], [2, 1])
        var changedState = first
        changedState.rngState = [9]
        XCTAssertNotNil(storeError { try store.committedCheckpoint(runID: run.id, matching: changedState) })
    }

    /// PostgreSQL: the backend terminated under the store; the next statement fails as a
    /// connection loss, `reconnect` opens a new connection and writing goes on. SQLite:
    /// no error is a connection loss and `reconnect` changes nothing.
    func testAStoreReconnectsAfterItsBackendWasTerminated() throws {
        let store = try openStore()
        var generator = SplitMix64(seed: 4)
        let run = try store.createRun(name: nil, config: "{}", seed: 1)
        try store.appendCheckpoint(runID: run.id, try checkpointInput(epoch: 0, generator: &generator))
        XCTAssertEqual(store.canReconnect, Self.backend == .postgres)
        if Self.backend == .postgres, let admin = TestBackend.postgresURI {
            let database = try XCTUnwrap(URLComponents(string: try location())?.path.dropFirst()).description
            let terminated = try PostgresConnection(uri: admin).execute("""
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()
                """, [.text(database)])
            XCTAssertEqual(terminated.rowCount, 1)
            let input = try checkpointInput(epoch: 1, generator: &generator)
            do {
                try store.appendCheckpoint(runID: run.id, input)
                XCTFail("a write on a terminated connection succeeded")
            } catch {
                XCTAssertTrue(store.isConnectionLoss(error), "\(error)")
            }
            try store.reconnect()
            XCTAssertNil(try store.committedCheckpoint(runID: run.id, matching: input))
            try store.appendCheckpoint(runID: run.id, input)
            XCTAssertEqual(try store.latestEpoch(runID: run.id), 1)
        } else {
            XCTAssertFalse(store.isConnectionLoss(StoreError.noSuchRun("x")))
            try store.reconnect()
        }
        XCTAssertFalse(store.isConnectionLoss(StoreError.noSuchRun("x")))
        try store.appendCheckpoint(runID: run.id, try checkpointInput(epoch: try store.latestEpoch(runID: run.id) + 1, generator: &generator))
        XCTAssertTrue(try store.verify().isEmpty)
    }
}

/// ReconnectTests on PostgreSQL.
final class PostgresReconnectTests: ReconnectTests {
    override class var backend: TestBackend { .postgres }
    override func testCommittedCheckpointTellsWhetherAnEpochLanded() throws { try super.testCommittedCheckpointTellsWhetherAnEpochLanded() }
    override func testAStoreReconnectsAfterItsBackendWasTerminated() throws { try super.testAStoreReconnectsAfterItsBackendWasTerminated() }
}

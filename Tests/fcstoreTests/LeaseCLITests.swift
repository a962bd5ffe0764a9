import FCSQLite
import FCTestSupport
import Foundation
import XCTest

/// Issue #17's lease: a run is claimed by one trainer; on another host a pid cannot
/// tell whether the owner lives, so the claim expires unless renewed (every epoch and
/// by a heartbeat). FCSTORE_HOST makes a process another machine; FCSTORE_LEASE_SECONDS
/// shortens the lease.
final class LeaseCLITests: XCTestCase {
    private var directory: URL!
    private var store: String { directory.appendingPathComponent("fcstore.db").path }

    override func setUpWithError() throws { directory = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private var scenarios: LeaseScenarios { LeaseScenarios(store: store, directory: directory) }

    private func start(_ arguments: [String], host: String? = nil, lease: Double) throws -> RunningProcess {
        try scenarios.start(arguments, host: host, lease: lease)
    }

    private func startTraining(lease: Double) throws -> (process: RunningProcess, run: String) {
        try scenarios.startTraining(lease: lease)
    }

    func testAKilledOwnerOnAnotherHostIsRefusedUntilItsLeaseExpires() throws {
        try scenarios.killedOwnerIsRefusedUntilItsLeaseExpires(lease: 8)
    }

    /// An owner that was paused past its lease and taken over does not write again: its
    /// next renewal fails and it stops with one error line naming its last committed epoch.
    func testAnOwnerThatLostItsLeaseStopsWithOneLine() throws {
        let lease = 2.0
        let (training, runID) = try startTraining(lease: lease)
        // Whatever happens below, the paused owner must not outlive the test.
        defer { kill(training.process.processIdentifier, SIGKILL) }
        try stopOutsideATransaction(training.process.processIdentifier)
        let stoppedAt = Date()
        let committed = Reliability.committedEpochs(training.stderrSoFar).last ?? 0
        Thread.sleep(until: stoppedAt.addingTimeInterval(lease + 0.5))
        let taker = try start(["resume", runID], host: "elsewhere", lease: lease)
        XCTAssertTrue(waitFor(60, every: 0.005) { Reliability.committedEpochs(taker.stderrSoFar).count >= 1 }, taker.stderrSoFar)
        kill(training.process.processIdentifier, SIGCONT)
        let loser = training.wait()
        XCTAssertEqual(loser.status, 1, loser.stderr)
        let errors = loser.stderrLines.filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, loser.stderr)
        let last = Reliability.committedEpochs(loser.stderr).last ?? 0
        XCTAssertGreaterThanOrEqual(last, committed)
        let line = try XCTUnwrap(errors.first)
        XCTAssertTrue(line.hasPrefix("error: Run \(runID) is no longer held by this trainer: its lease expired and another trainer (elsewhere:"), line)
        XCTAssertTrue(line.hasSuffix(") holds it now. Training of run \(runID) stopped; epochs up to \(last) are committed."), line)
        kill(taker.process.processIdentifier, SIGINT)
        let interrupted = taker.wait()
        XCTAssertEqual(interrupted.status, 130, interrupted.stderr)
        XCTAssertEqual(try Reliability.run(["--store", store, "verify"], in: directory).status, 0)
        let epochs = try XCTUnwrap(try Reliability.listedEpochs(store, run: runID, in: directory))
        XCTAssertEqual(epochs, Array(0...(epochs.last ?? 0)), "one history, no epoch written twice")
    }

    /// SIGSTOPs `pid` at a moment it holds no write lock on the store: a SQLite writer
    /// paused inside its epoch's transaction keeps every other writer out (a taker would
    /// fail with "locked", not test the lease), so a stop that lands there is undone and
    /// tried again a moment later.
    private func stopOutsideATransaction(_ pid: pid_t) throws {
        for _ in 0..<200 {
            kill(pid, SIGSTOP)
            let probe = try Database(path: store, readOnly: false, busyTimeoutMilliseconds: 0)
            if (try? probe.execute("BEGIN IMMEDIATE; ROLLBACK")) != nil { return }
            kill(pid, SIGCONT)
            Thread.sleep(forTimeInterval: 0.003)
        }
        XCTFail("the trainer held the store's write lock at every one of 200 stops")
    }

    func testALeaseLengthThatIsNoNumberIsRefused() throws {
        let result = try CLI.run(["--store", store, "train", "--data", CLI.iris, "--layers", "3", "--epochs", "1"], in: directory,
                                 environment: ["FCSTORE_LEASE_SECONDS": "soon"])
        assertError(result, "FCSTORE_LEASE_SECONDS must be a number of seconds between 0 and 86400 (got 'soon').", status: 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: store), "refused before the store was created")
    }

    /// Two resumes on two other hosts once the lease expired: exactly one takes the run.
    func testTwoResumesRacingForAnExpiredLeaseOneWins() throws {
        try scenarios.twoResumesRacingForAnExpiredLeaseOneWins(lease: 2)
    }
}

import Foundation
import XCTest

/// `FCSTORE_TIMINGS=1`: one line per phase on stderr, in order; nothing without it.
final class PhaseTimingsCLITests: XCTestCase {
    static let resumePhases = [
        "main", "parsed", "store-opened", "checkpoint-loaded", "data-begin", "data-end",
        "trainer-ready", "run-claimed", "training-started",
    ]

    func testResumePrintsEachPhaseInOrderOnlyWhenAskedTo() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--seed", "2"], epochs: 1)

        let timed = try CLI.run(["resume", id, "--epochs", "2"], in: workspace.directory,
                                environment: ["FCSTORE_TIMINGS": "1"])
        XCTAssertEqual(timed.status, 0, timed.stderr)
        XCTAssertEqual(timed.stdout.split(separator: "\n").last.map(String.init), id, "stdout is unchanged")
        let lines = timed.stderr.split(separator: "\n").filter { $0.hasPrefix("fcstore-timing: ") }
        var phases: [String] = []
        var previous = (ms: -1.0, clock: UInt64(0))
        for line in lines {
            let fields = line.dropFirst("fcstore-timing: ".count).split(separator: " ")
            XCTAssertEqual(fields.count, 3, String(line))
            guard fields.count == 3, fields[0].hasPrefix("phase="), fields[1].hasPrefix("ms="), fields[2].hasPrefix("clock_ns="),
                  let ms = Double(fields[1].dropFirst(3)), let clock = UInt64(fields[2].dropFirst(9)) else {
                XCTFail("malformed: \(line)")
                continue
            }
            XCTAssertGreaterThanOrEqual(ms, previous.ms, String(line))
            XCTAssertGreaterThanOrEqual(clock, previous.clock, String(line))
            previous = (ms, clock)
            phases.append(String(fields[0].dropFirst(6)))
        }
        XCTAssertEqual(phases, Self.resumePhases, timed.stderr)
        XCTAssertTrue(timed.stderr.contains("fcstore-timing: phase=main ms=0.000 "), timed.stderr)
        // The training-started line comes after the "resuming" line and before the first commit.
        let started = try XCTUnwrap(timed.stderr.range(of: "phase=training-started"))
        let resuming = try XCTUnwrap(timed.stderr.range(of: "resuming \(id.prefix(8))@1"))
        let committed = try XCTUnwrap(timed.stderr.range(of: "epoch 2/2"))
        XCTAssertLessThan(resuming.lowerBound, started.lowerBound)
        XCTAssertLessThan(started.lowerBound, committed.lowerBound)

        for (index, environment) in [[:], ["FCSTORE_TIMINGS": "0"], ["FCSTORE_TIMINGS": ""]].enumerated() {
            let quiet = try CLI.run(["resume", id, "--epochs", "\(3 + index)"], in: workspace.directory,
                                    environment: environment)
            XCTAssertEqual(quiet.status, 0, quiet.stderr)
            XCTAssertFalse(quiet.stderr.contains("fcstore-timing"), "\(environment): \(quiet.stderr)")
            XCTAssertFalse(quiet.stderr.contains("phase="), "\(environment): \(quiet.stderr)")
        }
    }
}

@testable import FCFormats
import Foundation
import XCTest
@testable import FCStorage
import FCSQLite

/// SIGKILL during `import` of a model file: the run and its checkpoint are one
/// transaction, so afterwards every run has its checkpoint and `verify` passes.
final class ImportCrashTests: XCTestCase {
    func testSIGKILLDuringModelImportLeavesNoRunWithoutItsCheckpoint() throws {
        let workspace = try Workspace()
        // 784-1024-1024-10: 1.9 M weights, a 7.5 MB file, so the import takes a while.
        let model = try ImportCLITests.model([784, 1024, 1024, 10], seed: 3)
        var bytes = try Safetensors.encode(model)
        let dataStart = 8 + Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let file = workspace.path("big.safetensors")
        let store = workspace.path("crash.db")

        // How long one import takes here, start to exit.
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let started = Date()
        try workspace.ok(["--store", workspace.path("probe.db"), "import", file])
        let duration = Date().timeIntervalSince(started)

        var random = SplitMix64(seed: 20_261_206)
        var kills = 0, completed = 0
        for attempt in 0..<60 where kills < 24 {
            // Each attempt imports other bytes (one weight differs), so none is a re-import.
            let value = Float(attempt) + 0.5
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.replaceSubrange(dataStart..<(dataStart + 4), with: $0) }
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            let process = try workspace.start(["--store", store, "import", file])
            // Uniform over the whole import, half the time over its second half (the writes).
            let lower = attempt % 2 == 0 ? 0 : duration / 2
            usleep(UInt32(Double.random(in: lower...duration, using: &random) * 1_000_000))
            let wasRunning = process.process.isRunning
            if wasRunning { kill(process.process.processIdentifier, SIGKILL) }
            let result = process.wait()
            if wasRunning, process.process.terminationReason == .uncaughtSignal {
                kills += 1
                XCTAssertEqual(result.status, SIGKILL)
            } else {
                XCTAssertEqual(result.status, 0, result.stderr)
                completed += 1
            }
            guard FileManager.default.fileExists(atPath: store) else { continue }
            let orphans = try Self.runsWithoutCheckpoint(store)
            XCTAssertEqual(orphans, [], "after attempt \(attempt): runs without a checkpoint")
            let verify = try workspace.run(["--store", store, "verify"])
            XCTAssertEqual(verify.status, 0, "after attempt \(attempt): \(verify.stdout) \(verify.stderr)")
        }
        XCTAssertGreaterThanOrEqual(kills, 20, "\(kills) kills, \(completed) completed imports (one import takes \(duration) s)")
        // Every run there is a whole import: epoch 0 with as many tensors as the probe's.
        let probe = try Database(path: workspace.path("probe.db"), readOnly: true, busyTimeoutMilliseconds: 5000)
        let perImport = try XCTUnwrap(probe.scalar("SELECT count(*) FROM tensors")?.int64)
        XCTAssertGreaterThanOrEqual(perImport, 6)
        let db = try Database(path: store, readOnly: true, busyTimeoutMilliseconds: 5000)
        let runs = try XCTUnwrap(db.scalar("SELECT count(*) FROM runs")?.int64)
        XCTAssertGreaterThanOrEqual(runs, Int64(completed))
        XCTAssertEqual(try db.scalar("SELECT count(*) FROM checkpoints WHERE epoch = 0")?.int64, runs)
        XCTAssertEqual(try db.scalar("SELECT count(*) FROM tensors")?.int64, runs * perImport)
    }

    /// Ids of runs that have no checkpoint row.
    static func runsWithoutCheckpoint(_ store: String) throws -> [String] {
        let db = try Database(path: store, readOnly: true, busyTimeoutMilliseconds: 5000)
        var ids: [String] = []
        // A kill while the very first import created the file can leave it without a schema yet.
        guard try db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'runs'")?.int64 == 1 else { return [] }
        try db.prepare("SELECT id FROM runs AS r WHERE NOT EXISTS (SELECT 1 FROM checkpoints AS c WHERE c.run_id = r.id)")
            .forEachRow { ids.append($0.string(at: 0)) }
        return ids
    }
}

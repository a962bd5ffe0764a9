import FCCore
import FCSQLite
import FCStorage
import Foundation
import XCTest

/// SIGKILL during `push`: the destination keeps whole epochs only (it verifies),
/// and the next push completes without resending the blobs that arrived.
final class PushCrashTests: XCTestCase {
    /// A run of `epochs + 1` checkpoints of about 5.3 MB of distinct random tensors each.
    static func makeRun(at path: String, epochs: Int) throws -> String {
        let store = try Store(path: path)
        let run = try store.createRun(name: "big", config: #"{"layers":[256,1024,1024,10]}"#, seed: 1, status: .completed)
        var random = SplitMix64(seed: 18)
        let sizes = [256, 1024, 1024, 10]
        for epoch in 0...epochs {
            var tensors: [CheckpointTensor] = []
            for layer in 1..<sizes.count {
                func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.next() >> 40) / Float(1 << 24) } }
                tensors.append(CheckpointTensor(layer: layer, role: "weight",
                                                value: try TensorValue(shape: [sizes[layer], sizes[layer - 1]], values: values(sizes[layer] * sizes[layer - 1]))))
                tensors.append(CheckpointTensor(layer: layer, role: "bias", value: try TensorValue(shape: [sizes[layer]], values: values(sizes[layer]))))
            }
            try store.appendCheckpoint(runID: run.id, CheckpointInput(
                epoch: epoch, tensors: tensors, metrics: ["train_loss": 1 / Double(epoch + 1)],
                optimizerState: #"{"step":\#(epoch)}"#, rngState: [UInt8](repeating: UInt8(epoch), count: 32)))
        }
        return run.id
    }

    func count(_ path: String, _ sql: String) throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        let db = try Database(path: path, readOnly: true, busyTimeoutMilliseconds: 5000)
        guard try db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'blobs'")?.int64 == 1 else { return 0 }
        return Int(try XCTUnwrap(try db.scalar(sql)?.int64))
    }

    func digests(_ path: String, _ run: String) throws -> [Int: [UInt8]] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let db = try Database(path: path, readOnly: true, busyTimeoutMilliseconds: 5000)
        guard try db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'checkpoints'")?.int64 == 1 else { return [:] }
        var result: [Int: [UInt8]] = [:]
        let statement = try db.prepare("SELECT epoch, digest FROM checkpoints WHERE run_id = ?")
        try statement.bind([.text(run)])
        try statement.forEachRow { result[$0.int(at: 0)] = $0.bytes(at: 1) }
        return result
    }

    func testSIGKILLDuringAPushLeavesWholeEpochsAndTheNextPushCompletes() throws {
        let workspace = try Workspace()
        let source = workspace.path("source.db")
        let id = try Self.makeRun(at: source, epochs: 15)
        let sourceDigests = try digests(source, id)
        let sourceBlobs = try count(source, "SELECT count(*) FROM blobs")

        let started = Date()
        try workspace.ok(["--store", source, "push", workspace.path("probe.db")])
        let duration = Date().timeIntervalSince(started)

        let dest = workspace.path("dest.db")
        var random = SplitMix64(seed: 20_261_206)
        var kills = 0
        for attempt in 0..<5 {
            let process = try workspace.start(["--store", source, "push", dest])
            // Each kill within a tenth or so of a whole push: five together stay short of one.
            usleep(UInt32(Double.random(in: (0.08 * duration)...(0.18 * duration), using: &random) * 1_000_000))
            let wasRunning = process.process.isRunning
            if wasRunning { kill(process.process.processIdentifier, SIGKILL) }
            let result = process.wait()
            if wasRunning, process.process.terminationReason == .uncaughtSignal { kills += 1 } else { XCTAssertEqual(result.status, 0, result.stderr) }
            guard try count(dest, "SELECT count(*) FROM runs") > 0 else { continue }
            let verify = try workspace.run(["--store", dest, "verify"])
            XCTAssertEqual(verify.status, 0, "after kill \(attempt): \(verify.stdout) \(verify.stderr)")
            // Exactly the committed epochs: 0...k, each the source's.
            let here = try digests(dest, id)
            XCTAssertEqual(here.keys.sorted(), Array(0..<here.count), "after kill \(attempt)")
            for (epoch, digest) in here { XCTAssertEqual(digest, sourceDigests[epoch], "epoch \(epoch)") }
        }
        XCTAssertGreaterThanOrEqual(kills, 3, "\(kills) of 5 pushes killed (one push takes \(duration) s)")

        let arrived = try count(dest, "SELECT count(*) FROM blobs")
        let final = try workspace.json(["--store", source, "push", dest])
        XCTAssertEqual(final["blobs_sent"] as? Int, sourceBlobs - arrived, "blobs that arrived before are not sent again")
        XCTAssertEqual(try digests(dest, id), sourceDigests)
        try workspace.ok(["--store", dest, "verify"])
        let again = try workspace.json(["--store", source, "push", dest])
        XCTAssertEqual(again["blobs_sent"] as? Int, 0)
    }
}

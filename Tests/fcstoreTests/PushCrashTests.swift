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
        // Random values once; each epoch changes a few of them, so every tensor's bytes differ.
        let base = (1..<sizes.count).map { layer in
            (weight: (0..<(sizes[layer] * sizes[layer - 1])).map { _ in Float(random.next() >> 40) / Float(1 << 24) },
             bias: (0..<sizes[layer]).map { _ in Float(random.next() >> 40) / Float(1 << 24) })
        }
        for epoch in 0...epochs {
            var tensors: [CheckpointTensor] = []
            for layer in 1..<sizes.count {
                var weight = base[layer - 1].weight, bias = base[layer - 1].bias
                for index in 0..<8 {
                    weight[index] = Float(epoch * 8 + index)
                    bias[index] = Float(epoch * 8 + index)
                }
                tensors.append(CheckpointTensor(layer: layer, role: "weight",
                                                value: try TensorValue(shape: [sizes[layer], sizes[layer - 1]], values: weight)))
                tensors.append(CheckpointTensor(layer: layer, role: "bias", value: try TensorValue(shape: [sizes[layer]], values: bias)))
            }
            try store.appendCheckpoint(runID: run.id, CheckpointInput(
                epoch: epoch, tensors: tensors, metrics: ["train_loss": 1 / Double(epoch + 1)],
                optimizerState: #"{"step":\#(epoch)}"#, rngState: [UInt8](repeating: UInt8(epoch), count: 32)))
        }
        return run.id
    }

    func count(_ path: String, _ sql: String) throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        // Writable: after a kill, opening the file may need to recover its WAL, which a read-only connection cannot.
        let db = try Database(path: path, readOnly: false, busyTimeoutMilliseconds: 5000)
        guard try db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'blobs'")?.int64 == 1 else { return 0 }
        return Int(try XCTUnwrap(try db.scalar(sql)?.int64))
    }

    func digests(_ path: String, _ run: String) throws -> [Int: [UInt8]] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        // Writable: after a kill, opening the file may need to recover its WAL, which a read-only connection cannot.
        let db = try Database(path: path, readOnly: false, busyTimeoutMilliseconds: 5000)
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

    /// On a terminal, a push that takes a while shows a live line with bytes, rate and ETA;
    /// piped, only the summary line.
    func testALongPushShowsBytesAndETAOnATerminalOnly() throws {
        let script = "/usr/bin/script"
        guard FileManager.default.isExecutableFile(atPath: script) else {
            throw XCTSkip("util-linux script is not installed; the terminal form is not tested.")
        }
        let workspace = try Workspace()
        let source = workspace.path("source.db")
        _ = try Self.makeRun(at: source, epochs: 15)
        let piped = try workspace.ok(["--store", source, "push", workspace.path("piped.db")])
        XCTAssertFalse(piped.stderr.contains("\r"), piped.stderr)
        XCTAssertEqual(piped.stderrLines.count, 1, piped.stderr)

        let command = [CLI.binary.path, "--store", source, "push", workspace.path("terminal.db")].map { "'\($0)'" }.joined(separator: " ")
        let result = try Subprocess.run(URL(fileURLWithPath: script), ["-qfec", command, "/dev/null"], in: workspace.directory,
                                        environment: ["PATH": "/usr/bin:/bin", "TERM": "xterm", "HOME": workspace.directory.path,
                                                      // The live line appears after 0.5 s; a fast machine pushes this run in less.
                                                      "FCSTORE_PROGRESS_DELAY": "0"])
        XCTAssertEqual(result.status, 0, result.stdout)
        let live = try NSRegularExpression(pattern: #"\r\u001B\[2Kpushing \[[= ]{24}\] [0-9.]+ (B|KiB|MiB) of [0-9.]+ MiB  [0-9.]+ (B|KiB|MiB)/s  ETA [0-9.ms-]+  [0-9]+/16 epochs"#)
        let text = result.stdout
        XCTAssertGreaterThan(live.numberOfMatches(in: text, range: NSRange(text.startIndex..., in: text)), 0, text)
        XCTAssertTrue(text.contains("pushed to \(workspace.path("terminal.db")): 1 run added"), text)
    }
}

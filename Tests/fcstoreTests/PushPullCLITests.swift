import FCSQLite
import Foundation
import XCTest

/// Issue 18's push and pull through the real binary, between real SQLite stores.
final class PushPullCLITests: XCTestCase {
    /// Runs `fcstore --store STORE ARGS --json` and returns its document.
    func json(_ workspace: Workspace, _ store: String, _ arguments: [String], file: StaticString = #filePath,
              line: UInt = #line) throws -> [String: Any] {
        try workspace.json(["--store", store] + arguments, file: file, line: line)
    }

    /// Epoch → digest of a run as `show --json` gives it in `store`.
    func digests(_ workspace: Workspace, _ store: String, _ run: String) throws -> [Int: String] {
        let epochs = try XCTUnwrap(try workspace.json(["--store", store, "show", run])["epochs"] as? [[String: Any]])
        var result: [Int: String] = [:]
        for epoch in epochs { result[try XCTUnwrap(epoch["epoch"] as? Int)] = epoch["digest"] as? String }
        return result
    }

    func scalar(_ store: String, _ sql: String) throws -> Int64 {
        let db = try Database(path: store, readOnly: true, busyTimeoutMilliseconds: 5000)
        return try XCTUnwrap(try db.scalar(sql)?.int64, sql)
    }

    func testPushingTwiceSendsNothingTheSecondTime() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--name", "first"], epochs: 3)
        let dest = workspace.path("c.db")
        let first = try workspace.json(["push", dest])
        XCTAssertEqual(first["runs_added"] as? [String], [id])
        XCTAssertEqual(first["runs_extended"] as? [String], [])
        XCTAssertEqual(first["checkpoints_sent"] as? Int, 4)
        let blobs = try scalar(workspace.store, "SELECT count(*) FROM blobs")
        XCTAssertEqual(first["blobs_sent"] as? Int, Int(blobs))
        XCTAssertEqual((first["bytes_sent"] as? NSNumber)?.int64Value, try scalar(workspace.store, "SELECT sum(size) FROM blobs"))
        XCTAssertNotNil(first["seconds"] as? Double)

        let second = try workspace.json(["push", dest])
        XCTAssertEqual(second["runs_added"] as? [String], [])
        XCTAssertEqual(second["runs_unchanged"] as? [String], [id])
        XCTAssertEqual(second["checkpoints_sent"] as? Int, 0)
        XCTAssertEqual(second["blobs_sent"] as? Int, 0)
        XCTAssertEqual(second["bytes_sent"] as? Int, 0)
        XCTAssertLessThan(try XCTUnwrap(second["seconds"] as? Double), 1)
        let text = try workspace.ok(["push", dest])
        XCTAssertEqual(text.stderrLines, ["nothing to push: \(dest) already has every run and checkpoint"])
        XCTAssertEqual(text.stdout, "")

        // The copy is the run: same digests, status and name, and it verifies.
        XCTAssertEqual(try digests(workspace, dest, id), try workspace.digests(id))
        let copy = try workspace.json(["--store", dest, "show", "first"])
        XCTAssertEqual(copy["status"] as? String, "completed")
        try workspace.ok(["--store", dest, "verify"])
    }

    func testPullIntoAStoreWithHalfTheEpochsExtendsIt() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--validation-split", "0.2"], epochs: 3)
        let other = workspace.path("b.db")
        try workspace.ok(["push", other])
        try workspace.ok(["resume", id, "--epochs", "6"])
        XCTAssertEqual(try digests(workspace, other, id).keys.sorted(), [0, 1, 2, 3])

        let pulled = try json(workspace, other, ["pull", workspace.store])
        XCTAssertEqual(pulled["runs_extended"] as? [String], [id])
        XCTAssertEqual(pulled["runs_added"] as? [String], [])
        XCTAssertEqual(pulled["checkpoints_sent"] as? Int, 3)
        XCTAssertEqual(pulled["checkpoints_skipped"] as? Int, 4)
        // The normalisation tensors are the same bytes every epoch: already there, not sent.
        XCTAssertGreaterThan(try XCTUnwrap(pulled["blobs_skipped"] as? Int), 0)
        XCTAssertEqual(try digests(workspace, other, id), try workspace.digests(id))
        XCTAssertEqual(try scalar(other, "SELECT count(*) FROM blobs"), try scalar(workspace.store, "SELECT count(*) FROM blobs"))
        try workspace.ok(["--store", other, "verify"])
        let text = try workspace.ok(["--store", other, "pull", workspace.store, id])
        XCTAssertEqual(text.stderrLines, ["nothing to pull: this store already has every run and checkpoint asked for"])
    }

    func testADivergedHistoryIsRefusedWholeAndNothingChanges() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--name", "shared"], epochs: 2)
        let other = workspace.path("b.db")
        try workspace.ok(["push", other])
        // Both stores continue the same run on their own: epoch 3 differs (another time, at least).
        try workspace.ok(["resume", id, "--epochs", "3"])
        try workspace.ok(["--store", other, "resume", id, "--epochs", "3", "--data", CLI.digits])
        // And a run only the first store has, which must not travel either.
        let extra = try workspace.train(["--name", "extra"], epochs: 1)
        let before = try workspace.bytes("b.db")
        let beforeDigests = try digests(workspace, other, id)

        let refused = try workspace.run(["--store", other, "pull", workspace.store])
        assertError(refused, "Nothing was pulled from \(workspace.store): checkpoint \(id.prefix(8))@3 differs between the two stores (another digest): the histories diverged.")
        let pushRefused = try workspace.run(["push", other])
        assertError(pushRefused, "Nothing was pushed to \(other): checkpoint \(id.prefix(8))@3 differs between the two stores (another digest): the histories diverged.")
        XCTAssertEqual(try workspace.bytes("b.db"), before, "the destination file is unchanged")
        XCTAssertEqual(try digests(workspace, other, id), beforeDigests)
        let missing = try workspace.run(["--store", other, "show", extra])
        XCTAssertNotEqual(missing.status, 0, "the other run was not copied")
    }

    func testBytesThatDoNotMatchTheirHashNeverBecomeVisible() throws {
        let workspace = try Workspace()
        let id = try workspace.train(epochs: 3)
        try SQLite.flipBlobByte(in: workspace.store, where: "t.layer = 2 AND t.role = 'weight'")
        let hash = try SQLite.execute("""
            SELECT lower(hex(t.hash)) FROM tensors AS t JOIN checkpoints AS c ON c.id = t.checkpoint_id
            WHERE c.epoch = 3 AND t.layer = 2 AND t.role = 'weight';
            """, on: workspace.store).trimmingCharacters(in: .whitespacesAndNewlines)
        let dest = workspace.path("c.db")
        assertError(try workspace.run(["push", dest]),
                    "The source's bytes for tensor \(hash.prefix(12)) do not match their SHA-256; they were not copied. Check the source with 'fcstore verify'.")
        // The epochs before are there, whole; epoch 3 is not, nor are its bad bytes.
        XCTAssertEqual(try digests(workspace, dest, id).keys.sorted(), [0, 1, 2])
        XCTAssertEqual(try SQLite.execute("SELECT count(*) FROM blobs WHERE lower(hex(hash)) = '\(hash)';", on: dest), "0\n")
        try workspace.ok(["--store", dest, "verify"])
    }

    func testARunBringsTheAncestorsItsLineageNeeds() throws {
        let workspace = try Workspace()
        let parent = try workspace.train(["--name", "base"], epochs: 4)
        let fork = try XCTUnwrap(try workspace.ok(["resume", "base@2", "--epochs", "3", "--name", "child"]).lastLine)
        _ = try workspace.train(["--name", "unrelated"], epochs: 1)
        let dest = workspace.path("c.db")
        let pushed = try workspace.json(["push", dest, "child"])
        XCTAssertEqual(Set(try XCTUnwrap(pushed["runs_added"] as? [String])), [parent, fork])
        // The parent up to the fork point only: epochs 0-2, and the fork's own epoch 3.
        XCTAssertEqual(pushed["checkpoints_sent"] as? Int, 4)
        XCTAssertEqual(try digests(workspace, dest, "child"), try workspace.digests("child"))
        let base = try digests(workspace, dest, "base")
        XCTAssertEqual(base.keys.sorted(), [0, 1, 2])
        let local = try workspace.digests("base")
        for epoch in 0...2 { XCTAssertEqual(base[epoch], local[epoch]) }
        XCTAssertEqual(try scalar(dest, "SELECT count(*) FROM runs"), 2)
        try workspace.ok(["--store", dest, "verify"])
        // Pushing the parent later extends it with the epochs after the fork point.
        let later = try workspace.json(["push", dest, "base"])
        XCTAssertEqual(later["runs_extended"] as? [String], [parent])
        XCTAssertEqual(try digests(workspace, dest, "base"), local)
    }

    func testTrainPushMirrorsEveryEpochAndSaysSoLast() throws {
        let workspace = try Workspace()
        let dest = workspace.path("mirror.db")
        let result = try workspace.ok(["train", "--data", CLI.digits, "--layers", "16,10", "--epochs", "3", "--push", dest])
        let id = try XCTUnwrap(result.lastLine)
        XCTAssertEqual(result.stderrLines.last, "pushed to \(dest): epoch 3 of 3")
        XCTAssertEqual(try digests(workspace, dest, id), try workspace.digests(id))
        XCTAssertEqual(try workspace.json(["--store", dest, "show", id])["status"] as? String, "completed")
        let resumed = try workspace.ok(["resume", id, "--epochs", "5", "--push", dest])
        XCTAssertEqual(resumed.stderrLines.last, "pushed to \(dest): epoch 5 of 5")
        XCTAssertEqual(try digests(workspace, dest, id), try workspace.digests(id))
        try workspace.ok(["--store", dest, "verify"])
    }

    func testTrainPushToAnUnwritableDestinationFinishesAndSaysItIsBehind() throws {
        // A missing folder, and a folder where the file should be: every push fails.
        let workspace = try Workspace()
        let folder = workspace.path("a-folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for dest in [workspace.path("missing/folder/x.db"), folder] {
            let result = try workspace.run(["train", "--data", CLI.digits, "--layers", "16,10", "--epochs", "3", "--push", dest])
            XCTAssertEqual(result.status, 0, result.stderr)
            let id = try XCTUnwrap(result.lastLine)
            XCTAssertEqual(try workspace.digests(id).keys.sorted(), [0, 1, 2, 3], "training finished")
            let last = try XCTUnwrap(result.stderrLines.last)
            XCTAssertTrue(last.hasPrefix("push behind: \(dest) has none of the 4 epochs ("), last)
            // At most one line about the failure before the last (training may outrun the first attempt).
            XCTAssertLessThanOrEqual(result.stderrLines.filter { $0.hasPrefix("push to \(dest) failed: ") }.count, 1, result.stderr)
            if dest == folder {
                // Once the destination can be written, the next push catches up.
                try FileManager.default.removeItem(atPath: folder)
                let caughtUp = try workspace.json(["push", dest, id])
                XCTAssertEqual(caughtUp["runs_added"] as? [String], [id])
                XCTAssertEqual(try digests(workspace, dest, id), try workspace.digests(id))
            }
        }
    }

    func testAPasswordInALocationIsNeverShown() throws {
        let workspace = try Workspace()
        _ = try workspace.train(epochs: 1)
        let result = try workspace.run(["push", "postgresql://alice:s3cret@localhost:1/db"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertFalse(result.stderr.contains("s3cret"), result.stderr)
        let training = try workspace.run(["train", "--data", CLI.digits, "--layers", "8,10", "--epochs", "1",
                                          "--push", "postgresql://alice:s3cret@localhost:1/db"])
        XCTAssertEqual(training.status, 0, training.stderr)
        XCTAssertFalse(training.stderr.contains("s3cret"), training.stderr)
        XCTAssertTrue(try XCTUnwrap(training.stderrLines.last).hasPrefix("push behind: postgresql://alice:***@localhost:1/db has"),
                      training.stderr)
    }

    /// Two stores in different folders stand in for two machines; C is the team's store.
    func testARunMovedThroughAThirdStoreResumesBitForBit() throws {
        let workspace = try Workspace()
        for folder in ["a", "b", "c", "d"] {
            try FileManager.default.createDirectory(atPath: workspace.path(folder), withIntermediateDirectories: true)
        }
        let a = workspace.path("a/fcstore.db"), b = workspace.path("b/fcstore.db"), c = workspace.path("c/team.db")
        let d = workspace.path("d/fcstore.db")
        let recipe = ["--data", CLI.digits, "--layers", "16,10", "--validation-split", "0.2", "--seed", "7"]
        let id = try XCTUnwrap(try workspace.ok(["--store", a, "train"] + recipe + ["--epochs", "5"]).lastLine)
        try workspace.ok(["--store", a, "push", c])
        try workspace.ok(["--store", b, "pull", c, id])
        let resumed = try XCTUnwrap(try workspace.ok(["--store", b, "resume", id, "--epochs", "10", "--data", CLI.digits]).lastLine)
        let straight = try XCTUnwrap(try workspace.ok(["--store", d, "train"] + recipe + ["--epochs", "10"]).lastLine)
        XCTAssertEqual(try workspace.json(["--store", b, "show", resumed])["epochs"].flatMap { ($0 as? [Any])?.count }, 11)
        XCTAssertEqual(try Self.state(b, resumed, epoch: 10), try Self.state(d, straight, epoch: 10))
        XCTAssertEqual(try Self.state(b, resumed, epoch: 10).tensors.count, 6, "weights, biases, normalisation")
    }

    /// Epoch `epoch` of `run` as stored, apart from times: every tensor's SHA-256 and the generator and optimizer state.
    struct State: Equatable { var tensors: [String]; var rng: [UInt8]; var optimizer: String }

    static func state(_ store: String, _ run: String, epoch: Int) throws -> State {
        let db = try Database(path: store, readOnly: true, busyTimeoutMilliseconds: 5000)
        var tensors: [String] = []
        let statement = try db.prepare("""
            SELECT layer, role, hash_hex FROM checkpoint_tensors WHERE run_id = ? AND epoch = ? ORDER BY layer, role
            """)
        try statement.bind([.text(run), .integer(Int64(epoch))])
        try statement.forEachRow { tensors.append("\($0.int(at: 0)) \($0.string(at: 1)) \($0.string(at: 2))") }
        let header = try db.prepare("""
            SELECT c.rng_state, c.optimizer_state FROM run_checkpoints AS rc JOIN checkpoints AS c ON c.id = rc.checkpoint_id
            WHERE rc.run_id = ? AND rc.epoch = ?
            """)
        try header.bind([.text(run), .integer(Int64(epoch))])
        guard try header.step() else {
            throw NSError(domain: "PushPullCLITests", code: 1, userInfo: [NSLocalizedDescriptionKey: "no epoch \(epoch) of \(run) in \(store)"])
        }
        return State(tensors: tensors, rng: header.bytes(at: 0), optimizer: header.string(at: 1))
    }
}

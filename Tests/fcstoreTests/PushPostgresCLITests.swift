import FCPostgres
import FCSQLite
import FCStorage
import Foundation
import XCTest

/// Issue 18 with PostgreSQL on one side: push and pull between SQLite files and a
/// PostgreSQL store (DEST and SOURCE as `postgresql://` URIs, opened as --store
/// opens them), through the real binary. Needs FCSTORE_TEST_POSTGRES (scripts/with-postgres).
final class PushPostgresCLITests: XCTestCase {
    private var cluster: TestCluster!
    private var admin: String { cluster.admin }

    override func setUpWithError() throws {
        cluster = try TestCluster()
    }

    override func tearDownWithError() throws { cluster?.dropAll() }

    /// A new, empty database on the test cluster; its URI (password included).
    private func newDatabase() throws -> String { try cluster.newDatabase(prefix: "fcstore_push_") }

    /// Epoch → digest of `run` in the store at `location` (a file or a URI).
    private func digests(_ location: String, _ run: String) throws -> [Int: [UInt8]] {
        let store = try Store(path: location, readOnly: true)
        var result: [Int: [UInt8]] = [:]
        for checkpoint in try store.checkpoints(runID: run) { result[checkpoint.epoch] = checkpoint.digest }
        return result
    }

    /// Tags, note, events and segments of `run` as the store at `location` has them.
    struct Meta: Equatable {
        var tags: [String: String]
        var note: String?
        var events: [RunEvent]
        var segments: [Segment]
    }

    /// A segment as compared across stores: its start time to the millisecond stored.
    struct Segment: Equatable {
        var record: SegmentRecord
        var startedAtMilliseconds: Int64
    }

    private func meta(_ location: String, _ run: String) throws -> Meta {
        let store = try Store(path: location, readOnly: true)
        let segments = try store.segments(runID: run).map { record -> Segment in
            var record = record
            let milliseconds = Int64((record.input.startedAt.timeIntervalSince1970 * 1000).rounded())
            record.input.startedAt = Date(timeIntervalSince1970: 0)
            return Segment(record: record, startedAtMilliseconds: milliseconds)
        }
        return Meta(tags: try store.tags(runID: run), note: try store.note(runID: run), events: try store.events(runID: run),
                    segments: segments)
    }

    /// Train 5 epochs on A, push to PostgreSQL, pull into B (another folder), move the
    /// data, resume to 10 on B with --data and --validation at the moved copies: B@10
    /// is an uninterrupted run's epoch 10, bit for bit.
    func testARunMovedThroughPostgresResumesBitForBitWithMovedData() throws {
        let workspace = try Workspace()
        let team = try newDatabase()
        for folder in ["a", "a/data", "b", "b/moved", "d"] {
            try FileManager.default.createDirectory(atPath: workspace.path(folder), withIntermediateDirectories: true)
        }
        let lines = try String(contentsOfFile: CLI.digits, encoding: .utf8).split(separator: "\n").map(String.init)
        let cut = 1 + (lines.count - 1) * 4 / 5
        let train = try workspace.write("a/data/train.csv", lines[..<cut].joined(separator: "\n") + "\n")
        let validation = try workspace.write("a/data/val.csv", ([lines[0]] + lines[cut...]).joined(separator: "\n") + "\n")
        let a = workspace.path("a/fcstore.db"), b = workspace.path("b/fcstore.db"), d = workspace.path("d/fcstore.db")
        let recipe = ["--layers", "16,10", "--seed", "7"]
        let id = try XCTUnwrap(try workspace.ok(["--store", a, "train", "--data", train, "--validation", validation]
                                                + recipe + ["--epochs", "5"]).lastLine)
        let pushed = try workspace.json(["--store", a, "push", team])
        XCTAssertEqual(pushed["runs_added"] as? [String], [id])
        XCTAssertEqual(pushed["checkpoints_sent"] as? Int, 6)
        let second = try workspace.json(["--store", a, "push", team])
        XCTAssertEqual(second["checkpoints_sent"] as? Int, 0)
        XCTAssertEqual(second["blobs_sent"] as? Int, 0)
        XCTAssertLessThan(try XCTUnwrap(second["seconds"] as? Double), 1)
        let pulled = try workspace.json(["--store", b, "pull", team, id])
        XCTAssertEqual(pulled["runs_added"] as? [String], [id])

        // The data moves: A's folder is gone, B has copies elsewhere.
        let movedTrain = workspace.path("b/moved/train.csv"), movedValidation = workspace.path("b/moved/val.csv")
        try FileManager.default.moveItem(atPath: train, toPath: movedTrain)
        try FileManager.default.moveItem(atPath: validation, toPath: movedValidation)
        let resumed = try XCTUnwrap(try workspace.ok(["--store", b, "resume", id, "--epochs", "10", "--data", movedTrain,
                                                      "--validation", movedValidation]).lastLine)
        let straight = try XCTUnwrap(try workspace.ok(["--store", d, "train", "--data", movedTrain, "--validation", movedValidation]
                                                      + recipe + ["--epochs", "10"]).lastLine)
        XCTAssertEqual(try digests(b, resumed).count, 11)
        XCTAssertEqual(try PushPullCLITests.state(b, resumed, epoch: 10), try PushPullCLITests.state(d, straight, epoch: 10))

        // B's epochs 6...10 go back to the team store, which A then pulls: all three agree.
        let back = try workspace.json(["--store", b, "push", team, resumed])
        XCTAssertEqual(back["checkpoints_sent"] as? Int, resumed == id ? 5 : 11)
        let extended = try workspace.json(["--store", a, "pull", team, resumed])
        XCTAssertEqual(extended["checkpoints_sent"] as? Int, 5)
        XCTAssertEqual(try digests(a, resumed), try digests(b, resumed))
        XCTAssertEqual(try digests(team, resumed), try digests(b, resumed))
        try workspace.ok(["--store", team, "verify"])
    }

    /// Tags, notes, events and segments are equal on both sides after a push and after a pull.
    func testTagsNotesEventsAndSegmentsTravelBothWays() throws {
        let workspace = try Workspace()
        let team = try newDatabase()
        let id = try workspace.train(["--name", "meta"], epochs: 3)
        try workspace.ok(["tag", id, "stage=first", "owner=ana"])
        try workspace.ok(["note", id, "a first note"])
        try workspace.ok(["resume", id, "--epochs", "5"])
        let local = try meta(workspace.store, id)
        XCTAssertEqual(local.segments.count, 2, "train and resume")
        XCTAssertEqual(local.tags, ["stage": "first", "owner": "ana"])
        XCTAssertFalse(local.events.isEmpty)

        try workspace.ok(["push", team])
        XCTAssertEqual(try meta(team, id), local, "after a push")

        // A change on the team store travels back by pull; one here travels by push.
        try workspace.ok(["--store", team, "tag", id, "stage=second"])
        try workspace.ok(["--store", team, "note", id, "changed on the team store"])
        let other = workspace.path("other.db")
        try workspace.ok(["--store", other, "pull", team])
        XCTAssertEqual(try meta(other, id), try meta(team, id), "a pull into an empty store")
        try workspace.ok(["pull", team])
        let pulled = try meta(workspace.store, id)
        XCTAssertEqual(pulled.tags, ["stage": "second", "owner": "ana"])
        XCTAssertEqual(pulled.note, "changed on the team store")
        XCTAssertEqual(pulled.segments, try meta(team, id).segments)
        // Every event of the team store is here once; the pull's own changes add theirs.
        let teamEvents = try meta(team, id).events
        XCTAssertEqual(pulled.events.filter { teamEvents.contains($0) }, teamEvents)
        XCTAssertEqual(Set(pulled.events).count, pulled.events.count, "no event twice")
        try workspace.ok(["push", team])
        XCTAssertEqual(try meta(team, id), try meta(workspace.store, id), "a push back makes both trails the same")
        try workspace.ok(["pull", team])
        XCTAssertEqual(try meta(team, id), try meta(workspace.store, id), "and nothing is added twice")
    }

    /// Pulling from PostgreSQL into a store with half the epochs extends it.
    func testPullFromPostgresIntoAStoreWithHalfTheEpochsExtendsIt() throws {
        let workspace = try Workspace()
        let team = try newDatabase()
        let id = try workspace.train(epochs: 2)
        let half = workspace.path("half.db")
        try workspace.ok(["--store", half, "pull", workspace.store])
        try workspace.ok(["resume", id, "--epochs", "4"])
        try workspace.ok(["push", team])
        let pulled = try workspace.json(["--store", half, "pull", team])
        XCTAssertEqual(pulled["runs_extended"] as? [String], [id])
        XCTAssertEqual(pulled["checkpoints_sent"] as? Int, 2)
        XCTAssertEqual(try digests(half, id), try digests(workspace.store, id))
        try workspace.ok(["--store", half, "verify"])
    }

    /// SIGKILL during a push to PostgreSQL at seeded instants: the destination verifies
    /// with whole epochs only, and a new push completes without resending what arrived.
    func testSIGKILLDuringAPushToPostgresLeavesWholeEpochsAndTheNextPushCompletes() throws {
        let workspace = try Workspace()
        let source = workspace.path("source.db")
        let id = try PushCrashTests.makeRun(at: source, epochs: 12)
        let sourceDigests = try digests(source, id)
        let sourceBlobs = try XCTUnwrap(try Database(path: source, readOnly: true, busyTimeoutMilliseconds: 5000).scalar("SELECT count(*) FROM blobs")?.int64)

        let probe = try newDatabase()
        let started = Date()
        try workspace.ok(["--store", source, "push", probe])
        let duration = Date().timeIntervalSince(started)

        let dest = try newDatabase()
        var random = SplitMix64(seed: 20_261_218)
        var kills = 0
        for attempt in 0..<4 {
            let process = try workspace.start(["--store", source, "push", dest])
            usleep(UInt32(Double.random(in: (0.2 * duration)...(0.6 * duration), using: &random) * 1_000_000))
            let wasRunning = process.process.isRunning
            if wasRunning { kill(process.process.processIdentifier, SIGKILL) }
            let result = process.wait()
            if wasRunning, process.process.terminationReason == .uncaughtSignal { kills += 1 } else { XCTAssertEqual(result.status, 0, result.stderr) }
            // Killed before the first epoch's commit (or the schema's): nothing to check yet.
            let hasRun = try PostgresConnection(uri: dest).execute("""
                SELECT count(*) FROM pg_tables WHERE tablename = 'runs' AND schemaname = current_schema()
                """, []).int64(0, 0) == 1 && !(try Store(path: dest, readOnly: true).runs().isEmpty)
            guard hasRun else { continue }
            let verify = try workspace.run(["--store", dest, "verify"])
            XCTAssertEqual(verify.status, 0, "after kill \(attempt): \(verify.stdout) \(verify.stderr)")
            let here = try digests(dest, id)
            XCTAssertEqual(here.keys.sorted(), Array(0..<here.count), "after kill \(attempt)")
            for (epoch, digest) in here { XCTAssertEqual(digest, sourceDigests[epoch], "epoch \(epoch)") }
        }
        XCTAssertGreaterThanOrEqual(kills, 2, "\(kills) of 4 pushes killed (one push takes \(duration) s)")

        let arrived = try PostgresConnection(uri: dest).execute("""
            SELECT count(*) FROM pg_tables WHERE tablename = 'blobs' AND schemaname = current_schema()
            """, []).int64(0, 0) == 1 ? try PostgresConnection(uri: dest).execute("SELECT count(*) FROM blobs", []).int64(0, 0) : 0
        let final = try workspace.json(["--store", source, "push", dest])
        XCTAssertEqual((final["blobs_sent"] as? Int).map(Int64.init), sourceBlobs - arrived, "blobs that arrived before are not sent again")
        XCTAssertEqual(try digests(dest, id), sourceDigests)
        try workspace.ok(["--store", dest, "verify"])
        let again = try workspace.json(["--store", source, "push", dest])
        XCTAssertEqual(again["blobs_sent"] as? Int, 0)
    }

    /// `train --push postgresql://...`: every epoch reaches the PostgreSQL store in the background.
    func testTrainPushToPostgresMirrorsEveryEpoch() throws {
        let workspace = try Workspace()
        let team = try newDatabase()
        let result = try workspace.ok(["train", "--data", CLI.digits, "--layers", "16,10", "--epochs", "3", "--push", team])
        let id = try XCTUnwrap(result.lastLine)
        let shown = Store.displayLocation(team)
        XCTAssertNotEqual(shown, team, "the URI has a password to hide")
        XCTAssertEqual(result.stderrLines.last, "pushed to \(shown): epoch 3 of 3")
        XCTAssertFalse(result.stderr.contains(team), "the password is never shown")
        XCTAssertEqual(try digests(team, id), try digests(workspace.store, id))
        try workspace.ok(["--store", team, "verify"])
    }
}

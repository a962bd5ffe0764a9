import FCPostgres
import Foundation
import XCTest
@testable import FCStorage

/// Faults while the real binary trains on a PostgreSQL store: SIGKILL at random
/// instants, the trainer's connections terminated (`pg_terminate_backend`), the
/// server stopped and started again. Afterwards the store verifies and the run ends
/// bit-identical (every tensor, optimizer and RNG state of every epoch) to an
/// uninterrupted run of the same configuration on the same store. (Digests cover the
/// run's id and commit times, so two runs are compared by content.)
/// Needs FCSTORE_TEST_POSTGRES (scripts/with-postgres).
final class PostgresFaultTests: XCTestCase {
    private var cluster: TestCluster!
    private var workspace: Workspace?
    private var admin: String { cluster.admin }

    override func setUpWithError() throws {
        cluster = try TestCluster()
        workspace = try Workspace()
    }

    override func tearDownWithError() throws { cluster?.dropAll() }

    /// A new, empty database on the test cluster: its name and URI (password included).
    private func newDatabase() throws -> (name: String, uri: String) { try cluster.newNamedDatabase(prefix: "fcstore_fault_") }

    private var password: String { cluster.password }

    /// Many small epochs: 128 digits rows, batches of 32, so commits are a large part of the time.
    private func train(_ data: String, epochs: Int, name: String) -> [String] {
        ["train", "--data", data, "--layers", "32,10", "--optimizer", "adam", "--batch-size", "32",
         "--epochs", "\(epochs)", "--seed", "5", "--name", name]
    }

    private func runID(_ stderr: String) -> String? {
        stderr.split(separator: "\n").first { $0.hasPrefix("training run ") }.map { String($0.split(separator: " ")[2]) }
    }

    /// Every epoch of `run` equals the same epoch of `reference`: tensors, optimizer and RNG state.
    private func assertSameEpochs(_ uri: String, _ run: String, _ reference: String, epochs: Int,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let store = try Store(path: uri, readOnly: true)
        let a = try store.resolveRun(run).id, b = try store.resolveRun(reference).id
        XCTAssertEqual(try store.latestEpoch(runID: a), epochs, file: file, line: line)
        for epoch in 0...epochs {
            let left = try store.loadCheckpoint(runID: a, epoch: epoch), right = try store.loadCheckpoint(runID: b, epoch: epoch)
            XCTAssertEqual(left.tensors, right.tensors, "epoch \(epoch) differs from the uninterrupted run", file: file, line: line)
            XCTAssertEqual(left.optimizerState, right.optimizerState, "epoch \(epoch)", file: file, line: line)
            XCTAssertEqual(left.rngState, right.rngState, "epoch \(epoch)", file: file, line: line)
        }
    }

    private func assertVerifies(_ uri: String, _ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let workspace = try XCTUnwrap(workspace)
        let verify = try workspace.run(["--store", uri, "verify"])
        XCTAssertEqual(verify.status, 0, "\(label): \(verify.stdout) \(verify.stderr)", file: file, line: line)
    }

    // MARK: SIGKILL

    /// SIGKILL at 12 seeded random instants (commits included) of train / resume;
    /// after each the store verifies and every epoch reported committed is listed;
    /// resuming to the end gives the uninterrupted run's epochs bit for bit.
    func testSIGKILLAtRandomInstantsThenResumeIsBitExact() throws {
        let workspace = try XCTUnwrap(workspace)
        let (_, uri) = try newDatabase()
        let data = try Reliability.digits(rows: 128, in: workspace.directory)
        let epochs = 80
        try workspace.ok(["--store", uri] + train(data, epochs: epochs, name: "reference"))

        var random = SplitMix64(seed: 17)
        var run: String?
        var reported = Set<Int>()
        var kills = 0
        for _ in 0..<40 where kills < 12 {
            let arguments = run.map { ["resume", $0] } ?? train(data, epochs: epochs, name: "killed")
            let process = try workspace.start(["--store", uri] + arguments)
            let target = Int.random(in: 0...2, using: &random)
            _ = waitFor(60, every: 0.001) {
                !process.process.isRunning || Reliability.committedEpochs(process.stderrSoFar).count > target
            }
            usleep(UInt32.random(in: 0...25_000, using: &random))
            let wasRunning = process.process.isRunning
            if wasRunning { kill(process.process.processIdentifier, SIGKILL) }
            let result = process.wait()
            if wasRunning {
                kills += 1
                XCTAssertTrue(result.signalled, "status \(result.status): \(result.stderr)")
            } else {
                XCTAssertEqual(result.status, 0, result.stderr)
            }
            if run == nil { run = runID(result.stderr) }
            reported.formUnion(Reliability.committedEpochs(result.stderr))
            try assertVerifies(uri, "after kill \(kills)")
            guard let run else { continue }
            let listed = try XCTUnwrap(Reliability.listedEpochs(uri, run: run, in: workspace.directory))
            XCTAssertTrue(reported.isSubset(of: Set(listed)), "reported \(reported.sorted()) but listed \(listed)")
            if listed.last == epochs { break }
        }
        XCTAssertGreaterThanOrEqual(kills, 10)
        let killed = try XCTUnwrap(run)
        let finish = try workspace.run(["--store", uri, "resume", killed])
        XCTAssertTrue(finish.status == 0 || finish.stderr.contains("already at epoch \(epochs)"), finish.stderr)
        try assertVerifies(uri, "at the end")
        try assertSameEpochs(uri, "killed", "reference", epochs: epochs)
    }

    // MARK: Terminated connections

    /// The trainer's connections (commits and lease heartbeat) terminated three times
    /// while it trains: it reconnects each time and finishes; nothing is lost or doubled.
    func testTerminatedConnectionsReconnectAndTrainingFinishesBitExact() throws {
        let workspace = try XCTUnwrap(workspace)
        let (database, uri) = try newDatabase()
        let data = try Reliability.digits(rows: 128, in: workspace.directory)
        let epochs = 400
        try workspace.ok(["--store", uri] + train(data, epochs: epochs, name: "reference"))

        let process = try workspace.start(["--store", uri] + train(data, epochs: epochs, name: "dropped"))
        let adminConnection = try PostgresConnection(uri: admin)
        var terminated = 0
        for round in 1...3 {
            XCTAssertTrue(waitFor(60, every: 0.002) {
                !process.process.isRunning || Reliability.committedEpochs(process.stderrSoFar).count > round * 20
            })
            guard process.process.isRunning else { break }
            let result = try adminConnection.execute("""
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = $1 AND application_name = 'fcstore' AND pid <> pg_backend_pid()
                """, [.text(database)])
            terminated += result.rowCount
        }
        let result = process.wait()
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stderr.contains("error"), result.stderr)
        XCTAssertFalse(result.stderr.contains(password))
        XCTAssertGreaterThanOrEqual(terminated, 3, "the trainer finished before its connections were terminated")
        XCTAssertEqual(Reliability.committedEpochs(result.stderr), Array(0...epochs))
        try assertVerifies(uri, "after the terminations")
        try assertSameEpochs(uri, "dropped", "reference", epochs: epochs)
    }

    // MARK: Server restart

    /// The server stopped (fast shutdown: every connection closed) for 2 s and started
    /// again on the same port while a run trains: the trainer reconnects within its
    /// retry window and finishes; the run equals the uninterrupted one.
    func testServerRestartDuringTrainingReconnectsAndFinishesBitExact() throws {
        let workspace = try XCTUnwrap(workspace)
        let (_, uri) = try newDatabase()
        let data = try Reliability.digits(rows: 128, in: workspace.directory)
        let epochs = 300
        try workspace.ok(["--store", uri] + train(data, epochs: epochs, name: "reference"))
        let server = try Server(admin: admin)

        let process = try workspace.start(["--store", uri] + train(data, epochs: epochs, name: "restarted"))
        XCTAssertTrue(waitFor(60, every: 0.002) {
            !process.process.isRunning || Reliability.committedEpochs(process.stderrSoFar).count > 20
        })
        XCTAssertTrue(process.process.isRunning, "the run finished before the restart")
        let committedBefore = Reliability.committedEpochs(process.stderrSoFar).count
        try server.stop()
        defer { try? server.startIfStopped() }
        sleep(2)
        XCTAssertTrue(process.process.isRunning, "the trainer gave up within 2 s: \(process.stderrSoFar)")
        try server.start()
        let result = process.wait()
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stderr.contains("error"), result.stderr)
        XCTAssertLessThan(committedBefore, epochs, "the restart came after the last epoch")
        XCTAssertEqual(Reliability.committedEpochs(result.stderr), Array(0...epochs))
        try assertVerifies(uri, "after the restart")
        try assertSameEpochs(uri, "restarted", "reference", epochs: epochs)
    }

    /// The server stopped for longer than the trainer's retry window: one error line
    /// naming the last committed epoch and the resume command, no password; after the
    /// server is back, `resume` finishes bit for bit.
    func testServerDownBeyondTheRetryWindowGivesOneLineThenResumeIsBitExact() throws {
        let workspace = try XCTUnwrap(workspace)
        let (_, uri) = try newDatabase()
        let data = try Reliability.digits(rows: 128, in: workspace.directory)
        let epochs = 300
        try workspace.ok(["--store", uri] + train(data, epochs: epochs, name: "reference"))
        let server = try Server(admin: admin)

        let process = try CLI.start(["--store", uri] + train(data, epochs: epochs, name: "stranded"), in: workspace.directory,
                                    environment: ["FCSTORE_RECONNECT_SECONDS": "1"])
        XCTAssertTrue(waitFor(60, every: 0.002) {
            !process.process.isRunning || Reliability.committedEpochs(process.stderrSoFar).count > 20
        })
        XCTAssertTrue(process.process.isRunning, "the run finished before the stop")
        try server.stop()
        defer { try? server.startIfStopped() }
        let result = process.wait()
        try server.start()
        let last = try XCTUnwrap(Reliability.committedEpochs(result.stderr).last)
        XCTAssertEqual(result.status, 1, result.stderr)
        let errorLines = result.stderrLines.filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(errorLines.count, 1, result.stderr)
        XCTAssertEqual(result.stderrLines.last, errorLines.first)
        let line = try XCTUnwrap(errorLines.first)
        XCTAssertTrue(line.hasPrefix("error: Lost the connection to the store (postgresql://fcstore_test:***@"), line)
        let run = try XCTUnwrap(runID(result.stderr))
        XCTAssertTrue(line.hasSuffix("; run \(run) has epochs up to \(last) committed; 'fcstore resume \(run)' continues from there."), line)
        XCTAssertFalse(result.stderr.contains(password))

        try assertVerifies(uri, "after the stop")
        XCTAssertEqual(try XCTUnwrap(Reliability.listedEpochs(uri, run: run, in: workspace.directory)).last, last)
        try workspace.ok(["--store", uri, "resume", run])
        try assertVerifies(uri, "after the resume")
        try assertSameEpochs(uri, "stranded", "reference", epochs: epochs)
    }
}

/// The test cluster's server, stopped and started with `pg_ctl` on its data directory
/// (found with `SHOW data_directory`) as the directory's owner, on the same address,
/// port and socket folder.
private struct Server {
    let pgCtl: URL
    let dataDirectory: String
    let options: String
    let log: String
    let admin: String

    init(admin: String) throws {
        self.admin = admin
        let connection = try PostgresConnection(uri: admin)
        func show(_ name: String) throws -> String { try connection.execute("SHOW \(name)", []).string(0, 0) }
        dataDirectory = try show("data_directory")
        options = "-c listen_addresses=\(try show("listen_addresses")) -p \(try show("port")) "
            + "-k \(try show("unix_socket_directories")) -c max_connections=\(try show("max_connections"))"
        log = (dataDirectory as NSString).deletingLastPathComponent + "/server-restart.log"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        let found = versions.sorted { $0.compare($1, options: .numeric) == .orderedDescending }
            .map { URL(fileURLWithPath: "/usr/lib/postgresql/\($0)/bin/pg_ctl") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        pgCtl = try XCTUnwrap(found, "no pg_ctl under /usr/lib/postgresql/*/bin")
    }

    /// `pg_ctl ARGS`, as the postgres user when this process is root; its exit status.
    /// Spawned and reaped directly (`posix_spawn`, `waitpid`) with its output to /dev/null:
    /// the server it starts lives on, and Foundation's `Process` was seen never to reap it.
    private func pgCtl(_ arguments: [String]) throws -> Int32 {
        let argv = (getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []) + [pgCtl.path] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    func stop() throws {
        XCTAssertEqual(try pgCtl(["-D", dataDirectory, "-m", "fast", "-w", "stop"]), 0, "pg_ctl stop")
    }

    func start() throws {
        XCTAssertEqual(try pgCtl(["-D", dataDirectory, "-l", log, "-w", "-t", "60", "start", "-o", options]), 0,
                       "pg_ctl start (see \(log))")
    }

    func startIfStopped() throws {
        if (try? PostgresConnection(uri: admin)) == nil { try start() }
    }
}

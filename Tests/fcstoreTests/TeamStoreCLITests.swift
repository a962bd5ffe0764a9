import FCPostgres
import Foundation
import XCTest

/// Issue #17's team store on PostgreSQL with the real binary: many trainers and readers
/// at once, names raced for, leases seen from another host, the two least-privilege
/// roles of the README, and a password that never shows. Needs FCSTORE_TEST_POSTGRES
/// (scripts/with-postgres).
final class TeamStoreCLITests: XCTestCase {
    private var cluster: TestCluster!

    override func setUpWithError() throws { cluster = try TestCluster() }
    override func tearDownWithError() throws { cluster?.dropAll() }

    /// `--json` output without what differs between two stores by nature (ids, times, digests, hosts).
    private func comparable(_ json: Any) -> Any {
        if let object = json as? [String: Any] {
            var result: [String: Any] = [:]
            for (key, value) in object where !["id", "short_id", "created_at", "digest", "parent_digest", "run", "run_id",
                                               "wall_time_s", "samples_per_s", "owner", "started_at", "ended_at", "head",
                                               "signature", "updated_at", "time"].contains(key) {
                result[key] = comparable(value)
            }
            return result
        }
        if let array = json as? [Any] { return array.map(comparable) }
        return json
    }

    private func canonical(_ json: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: comparable(json), options: [.sortedKeys]), as: UTF8.self)
    }

    /// The tensor bytes of a safetensors file after its header (whose metadata names the run).
    private func tensorBytes(_ path: String) throws -> Data {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = data.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        return data.dropFirst(8 + headerLength)
    }

    /// A reader process: `runs --json`, `show NAME --json` (once the run is listed) and `verify`
    /// in a loop until `done` exists; prints "LOOPS FAILURES", failed commands' stderr in `errors`.
    private func startReader(uri: String, names: [String], done: String, errors: String, in directory: URL) throws -> RunningProcess {
        let script = """
            n=0; f=0; i=0
            while [ ! -e "$DONE" ]; do
              out=$("$BIN" runs --json 2>>"$ERRORS") || f=$((f+1))
              set -- $NAMES; shift $((i % $#)); name=$1; i=$((i+1))
              case "$out" in *"\\"$name\\""*) "$BIN" show "$name" --json >/dev/null 2>>"$ERRORS" || f=$((f+1));; esac
              "$BIN" verify >/dev/null 2>>"$ERRORS" || f=$((f+1))
              n=$((n+1))
            done
            echo "$n $f"
            """
        let environment = CLI.environment(["FCSTORE_DB": uri, "BIN": CLI.binary.path, "DONE": done, "ERRORS": errors,
                                           "NAMES": names.joined(separator: " ")], in: directory)
        return try Subprocess.start(URL(fileURLWithPath: "/bin/sh"), ["-c", script], in: directory, environment: environment)
    }

    /// 8 trainers and 2 readers on one PostgreSQL store at once: 0 errors anywhere, `verify`
    /// passes, and every run equals the same run trained alone on SQLite, bit for bit.
    func testEightTrainersAndTwoReadersAtOnceMatchRunsTrainedAloneOnSQLite() throws {
        let workspace = try Workspace()
        let uri = try cluster.newDatabase()
        let data = try Reliability.digits(rows: 400, in: workspace.directory)
        let names = (0..<8).map { "t\($0)" }
        func arguments(_ index: Int) -> [String] {
            ["train", "--data", data, "--layers", index % 2 == 0 ? "16,10" : "24,12,10", "--epochs", "4", "--validation-split", "0.2",
             "--seed", String(index + 1), "--learning-rate", index < 4 ? "0.1" : "0.3", "--name", names[index]]
        }
        let done = workspace.path("done"), errors = [workspace.path("reader0.err"), workspace.path("reader1.err")]
        // The store is created by the racing trainers' first opens (one migrator at a time).
        let trainers = try (0..<8).map { try CLI.start(["--store", uri] + arguments($0), in: workspace.directory) }
        let readers = try errors.map { try startReader(uri: uri, names: names, done: done, errors: $0, in: workspace.directory) }
        let trained = trainers.map { $0.wait() }
        _ = FileManager.default.createFile(atPath: done, contents: nil)
        let read = readers.map { $0.wait() }
        for (index, result) in trained.enumerated() {
            XCTAssertEqual(result.status, 0, "trainer \(index): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("error"), "trainer \(index): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains(cluster.password) || result.stdout.contains(cluster.password))
        }
        for (index, result) in read.enumerated() {
            XCTAssertEqual(result.status, 0, result.stderr)
            let counts = result.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            XCTAssertEqual(counts.count, 2, result.stdout)
            XCTAssertGreaterThanOrEqual(counts.first ?? 0, 1, "reader \(index) ran at least one loop")
            XCTAssertEqual(counts.last, 0, "reader \(index) failures: " + ((try? String(contentsOfFile: errors[index], encoding: .utf8)) ?? ""))
        }
        XCTAssertEqual(try workspace.ok(["--store", uri, "verify"]).stdout, "ok: the store verified (tensor hashes, digest chains, run heads)\n")

        // The same runs, one after another, on a SQLite file.
        for index in 0..<8 { try workspace.ok(["--store", workspace.store] + arguments(index)) }
        for name in names {
            let alone = try workspace.json(["--store", workspace.store, "show", name])
            let together = try workspace.json(["--store", uri, "show", name])
            XCTAssertEqual(try canonical(alone), try canonical(together), name)
            XCTAssertEqual((together["epochs"] as? [Any])?.count, 5, name)
            for epoch in 0...4 {
                let sqliteFile = workspace.path("\(name)-\(epoch)-s.safetensors"), postgresFile = workspace.path("\(name)-\(epoch)-p.safetensors")
                try workspace.ok(["--store", workspace.store, "export", "\(name)@\(epoch)", "--format", "safetensors", "--output", sqliteFile])
                try workspace.ok(["--store", uri, "export", "\(name)@\(epoch)", "--format", "safetensors", "--output", postgresFile])
                let weights = try tensorBytes(sqliteFile)
                XCTAssertGreaterThan(weights.count, 64 * 16 * 4, "\(name)@\(epoch)")
                XCTAssertEqual(weights, try tensorBytes(postgresFile), "\(name)@\(epoch): the weights differ")
            }
        }
    }

    /// Trainers racing for one run name: one gets it, every other one gets SQLite's one line.
    func testTrainersRacingForOneNameGetSQLitesNameTakenLine() throws {
        let workspace = try Workspace()
        let uri = try cluster.newDatabase()
        let train = ["train", "--data", CLI.iris, "--layers", "3", "--epochs", "1", "--name", "shared"]
        try workspace.ok(["--store", workspace.store] + train)
        let expected = try workspace.run(["--store", workspace.store] + train)
        XCTAssertEqual(expected.status, 1)
        XCTAssertEqual(expected.stderr, "error: A run named \"shared\" already exists. Choose another name.\n")
        try workspace.ok(["--store", uri, "runs"])  // the schema first: the race is for the name
        for round in 0..<3 {
            let name = "shared\(round)"
            let racers = try (0..<6).map { _ in try CLI.start(["--store", uri, "train", "--data", CLI.iris, "--layers", "3", "--epochs", "1", "--name", name],
                                                              in: workspace.directory) }
            let results = racers.map { $0.wait() }
            XCTAssertEqual(results.filter { $0.status == 0 }.count, 1, results.map(\.stderr).joined(separator: "\n---\n"))
            for loser in results where loser.status != 0 {
                XCTAssertEqual(loser.status, 1)
                XCTAssertEqual(loser.stderr, expected.stderr.replacingOccurrences(of: "shared", with: name))
            }
        }
        let runs = try XCTUnwrap(try workspace.json(["--store", uri, "runs"])["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.compactMap { $0["name"] as? String }.sorted(), ["shared0", "shared1", "shared2"])
        XCTAssertEqual(try workspace.ok(["--store", uri, "verify"]).stdout, "ok: the store verified (tensor hashes, digest chains, run heads)\n")
    }

    func testAKilledOwnerOnAnotherHostIsRefusedUntilItsLeaseExpiresOnPostgreSQL() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try LeaseScenarios(store: try cluster.newDatabase(), directory: directory).killedOwnerIsRefusedUntilItsLeaseExpires(lease: 8)
    }

    func testTwoResumesRacingForAnExpiredLeaseOneWinsOnPostgreSQL() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try LeaseScenarios(store: try cluster.newDatabase(), directory: directory).twoResumesRacingForAnExpiredLeaseOneWins(lease: 2)
    }
}

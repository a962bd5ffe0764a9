import FCPostgres
import Foundation
import XCTest

/// The real binary on a PostgreSQL store (`--store postgresql://...`), side by side
/// with the same commands on a SQLite file: same training bit for bit, same output
/// apart from ids and times, the password never shown; hostile URIs and databases
/// get one line and change nothing. Needs FCSTORE_TEST_POSTGRES (scripts/with-postgres).
final class PostgresCLITests: XCTestCase {
    private var cluster: TestCluster!
    private var admin: String { cluster.admin }

    override func setUpWithError() throws {
        cluster = try TestCluster()
    }

    override func tearDownWithError() throws { cluster?.dropAll() }

    /// A new, empty database on the test cluster; its URI (password included).
    private func newDatabase() throws -> String { try cluster.newDatabase(prefix: "fcstore_cli_") }

    private var password: String { cluster.password }

    /// The tables of the database at `uri`, sorted.
    private func tables(_ uri: String) throws -> [String] {
        let result = try PostgresConnection(uri: uri).execute(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'public' ORDER BY 1", [])
        return (0..<result.rowCount).map { result.string($0, 0) }
    }

    /// `--json` output with the fields that differ between two stores by nature
    /// (ids, times — of events and segments too —, digests, which cover the creation time) removed.
    private func comparable(_ json: Any) -> Any {
        if let object = json as? [String: Any] {
            var result: [String: Any] = [:]
            for (key, value) in object where !["id", "short_id", "created_at", "digest", "parent_digest", "run", "run_id",
                                               "wall_time_s", "samples_per_s", "owner", "time", "started_at", "ended_at"].contains(key) {
                result[key] = comparable(value)
            }
            return result
        }
        if let array = json as? [Any] { return array.map(comparable) }
        return json
    }

    private func assertSameJSON(_ a: [String: Any], _ b: [String: Any], file: StaticString = #filePath, line: UInt = #line) throws {
        let left = try JSONSerialization.data(withJSONObject: comparable(a), options: [.sortedKeys])
        let right = try JSONSerialization.data(withJSONObject: comparable(b), options: [.sortedKeys])
        XCTAssertEqual(String(decoding: left, as: UTF8.self), String(decoding: right, as: UTF8.self), file: file, line: line)
    }

    func testTrainResumeRunsShowVerifyAndExportMatchSQLite() throws {
        let workspace = try Workspace()
        let uri = try newDatabase()
        let sqlite = ["--store", workspace.store], postgres = ["--store", uri]
        let train = ["train", "--data", CLI.digits, "--layers", "16,10", "--epochs", "3", "--validation-split", "0.2",
                     "--seed", "5", "--name", "digits"]
        let onSQLite = try workspace.ok(sqlite + train), onPostgres = try workspace.ok(postgres + train)
        XCTAssertFalse(onPostgres.stdout.contains(password) || onPostgres.stderr.contains(password))
        XCTAssertEqual(onSQLite.stdout.split(separator: "\n").count, onPostgres.stdout.split(separator: "\n").count)
        // Resume continues bit for bit on both; a fork too.
        try workspace.ok(sqlite + ["resume", "digits", "--epochs", "5"])
        try workspace.ok(postgres + ["resume", "digits", "--epochs", "5"])
        try workspace.ok(sqlite + ["resume", "digits@2", "--epochs", "4", "--name", "fork", "--learning-rate", "0.2"])
        try workspace.ok(postgres + ["resume", "digits@2", "--epochs", "4", "--name", "fork", "--learning-rate", "0.2"])

        try assertSameJSON(try workspace.json(sqlite + ["runs"]), try workspace.json(postgres + ["runs"]))
        for ref in ["digits", "digits@best", "fork@3"] {
            try assertSameJSON(try workspace.json(sqlite + ["show", ref]), try workspace.json(postgres + ["show", ref]))
        }
        for ref in ["digits@5", "fork"] {
            try workspace.ok(sqlite + ["export", ref, "--format", "safetensors", "--output", workspace.path("s.safetensors")])
            try workspace.ok(postgres + ["export", ref, "--format", "safetensors", "--output", workspace.path("p.safetensors")])
            // The tensor bytes after the header (whose metadata names the run and its digest).
            func tensorBytes(_ name: String) throws -> Data {
                let data = try Data(contentsOf: URL(fileURLWithPath: workspace.path(name)))
                let headerLength = data.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
                return data.dropFirst(8 + headerLength)
            }
            let weights = try tensorBytes("s.safetensors")
            XCTAssertGreaterThan(weights.count, 1000)
            XCTAssertEqual(weights, try tensorBytes("p.safetensors"), "\(ref): the weights differ")
            try FileManager.default.removeItem(atPath: workspace.path("s.safetensors"))
            try FileManager.default.removeItem(atPath: workspace.path("p.safetensors"))
        }

        let verified = try workspace.ok(postgres + ["verify"])
        XCTAssertEqual(verified.stdout, "ok: the store verified (tensor hashes, digest chains, run heads)\n")
        try assertSameJSON(try workspace.json(sqlite + ["verify"]), try workspace.json(postgres + ["verify"]))
        let replay = try workspace.json(postgres + ["verify", "--replay", "digits@4"])
        XCTAssertEqual((replay["replay"] as? [String: Any])?["identical"] as? Bool, true, "\(replay)")

        // The same text output, ids and times aside.
        let shown = try workspace.ok(postgres + ["show", "digits"])
        XCTAssertFalse(shown.stdout.contains(password))
        // FCSTORE_DB takes the URI as --store does.
        let viaEnvironment = try CLI.run(["runs", "--json"], in: workspace.directory, environment: ["FCSTORE_DB": uri])
        XCTAssertEqual(viaEnvironment.status, 0, viaEnvironment.stderr)
        XCTAssertEqual(viaEnvironment.stdout, try workspace.ok(postgres + ["runs", "--json"]).stdout)
        // A bundle is a SQLite file: one line.
        let bundle = try workspace.run(postgres + ["export", "digits", "--format", "bundle", "--output", workspace.path("b.fcbundle")])
        XCTAssertEqual(bundle.status, 1)
        XCTAssertEqual(bundle.stderr.split(separator: "\n").count, 1, bundle.stderr)
        XCTAssertTrue(bundle.stderr.contains("works on SQLite store files only"), bundle.stderr)
        XCTAssertFalse(bundle.stderr.contains(password), bundle.stderr)

        // A run moved from the SQLite store to a new PostgreSQL one keeps its digests and verifies there.
        let moved = try newDatabase()
        try workspace.ok(sqlite + ["export", "fork", "--format", "bundle", "--output", workspace.path("fork.fcbundle")])
        try workspace.ok(["--store", moved, "import", workspace.path("fork.fcbundle")])
        XCTAssertEqual(try workspace.ok(["--store", moved, "verify"]).stdout, "ok: the store verified (tensor hashes, digest chains, run heads)\n")
        let original = try XCTUnwrap(try workspace.json(sqlite + ["show", "fork"])["epochs"] as? [[String: Any]])
        let copied = try XCTUnwrap(try workspace.json(["--store", moved, "show", "fork"])["epochs"] as? [[String: Any]])
        XCTAssertEqual(original.count, 5)
        XCTAssertEqual(original.map { $0["digest"] as? String }, copied.map { $0["digest"] as? String })
    }

    /// A trigger planted on a store table (it could rewrite what is written) stops every write, as on SQLite.
    func testAPlantedTriggerStopsWrites() throws {
        let workspace = try Workspace()
        let uri = try newDatabase()
        try workspace.ok(["--store", uri, "train", "--data", CLI.iris, "--layers", "3", "--epochs", "1", "--name", "iris"])
        try PostgresConnection(uri: uri).execute("""
            CREATE FUNCTION sneaky() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
            CREATE TRIGGER sneaky BEFORE INSERT ON checkpoints FOR EACH ROW EXECUTE FUNCTION sneaky();
            """)
        let refused = try workspace.run(["--store", uri, "resume", "iris", "--epochs", "2"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("The store has a trigger sneaky that fcstore's schema does not define"), refused.stderr)
        XCTAssertEqual(try XCTUnwrap(try workspace.json(["--store", uri, "runs"])["runs"] as? [[String: Any]]).first?["last_epoch"] as? Int, 1)
    }

    /// Wrong password, unreachable host, a database of another application:
    /// one error line each, without the password, exit 1, nothing changed.
    func testHostileURIsAndForeignDatabasesGetOneLineAndChangeNothing() throws {
        let workspace = try Workspace()
        let uri = try newDatabase()
        var wrong = try XCTUnwrap(URLComponents(string: uri))
        wrong.password = "Wr0ngSecret"
        let wrongURI = try XCTUnwrap(wrong.string)
        let refusedLogin = try workspace.run(["--store", wrongURI, "runs"])
        XCTAssertEqual(refusedLogin.status, 1)
        XCTAssertEqual(refusedLogin.stdout, "")
        XCTAssertEqual(refusedLogin.stderr.split(separator: "\n").count, 1, refusedLogin.stderr)
        XCTAssertTrue(refusedLogin.stderr.hasPrefix("error: Could not connect to the PostgreSQL store postgresql://fcstore_test:***@"), refusedLogin.stderr)
        XCTAssertTrue(refusedLogin.stderr.contains("password authentication failed"), refusedLogin.stderr)
        XCTAssertFalse(refusedLogin.stderr.contains("Wr0ngSecret"), refusedLogin.stderr)
        XCTAssertEqual(try tables(uri), [], "a refused login created nothing")

        let started = Date()
        let unreachable = try workspace.run(["--store", "postgresql://ann:Sup3rSecret@127.0.0.1:1/runs?connect_timeout=3", "runs"])
        XCTAssertEqual(unreachable.status, 1)
        XCTAssertEqual(unreachable.stderr.split(separator: "\n").count, 1, unreachable.stderr)
        XCTAssertTrue(unreachable.stderr.hasPrefix("error: Could not connect to the PostgreSQL store postgresql://ann:***@127.0.0.1:1/runs?connect_timeout=3: "),
                      unreachable.stderr)
        XCTAssertFalse(unreachable.stderr.contains("Sup3rSecret"), unreachable.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)

        let foreign = try newDatabase()
        try PostgresConnection(uri: foreign).execute("CREATE TABLE customers (id integer PRIMARY KEY, name text); INSERT INTO customers VALUES (1, 'ann')")
        for command in [["runs"], ["train", "--data", CLI.iris, "--layers", "3", "--epochs", "1"]] {
            let refused = try workspace.run(["--store", foreign] + command)
            XCTAssertEqual(refused.status, 1)
            XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)
            XCTAssertTrue(refused.stderr.contains("is not an fcstore store: it is a PostgreSQL database of another application"), refused.stderr)
            XCTAssertFalse(refused.stderr.contains(password), refused.stderr)
        }
        XCTAssertEqual(try tables(foreign), ["customers"])
    }
}

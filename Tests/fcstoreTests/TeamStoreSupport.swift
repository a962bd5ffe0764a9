import FCPostgres
import Foundation
import XCTest

/// The throwaway cluster of `scripts/with-postgres` (FCSTORE_TEST_POSTGRES): new empty
/// databases and roles for one test, dropped afterwards.
final class TestCluster {
    let admin: String
    private var databases: [String] = []
    private var roles: [String] = []

    /// Skips the test (one line) when FCSTORE_TEST_POSTGRES is not set.
    init() throws {
        guard let uri = ProcessInfo.processInfo.environment["FCSTORE_TEST_POSTGRES"], !uri.isEmpty else {
            throw XCTSkip("FCSTORE_TEST_POSTGRES is not set: PostgreSQL tests skipped (run them with scripts/with-postgres swift test)")
        }
        admin = uri
    }

    /// Drops what this cluster object created.
    func dropAll() {
        guard let connection = try? PostgresConnection(uri: admin) else { return }
        for database in databases { _ = try? connection.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)") }
        for role in roles { _ = try? connection.execute("DROP ROLE IF EXISTS \(role)") }
    }

    /// The admin's password (the cluster's superuser).
    var password: String { (URLComponents(string: admin)?.password).map { String($0) } ?? "unknown-password" }

    static func uniqueName(_ prefix: String) -> String {
        prefix + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
    }

    /// A new, empty database; its URI as the admin (password included).
    func newDatabase(prefix: String = "fcstore_team_") throws -> String {
        try newNamedDatabase(prefix: prefix).uri
    }

    /// A new, empty database: its name and its URI as the admin.
    func newNamedDatabase(prefix: String = "fcstore_team_") throws -> (name: String, uri: String) {
        let name = Self.uniqueName(prefix)
        try PostgresConnection(uri: admin).execute("CREATE DATABASE \(name)")
        databases.append(name)
        return (name, try uri(database: name))
    }

    /// `admin` with another database and, when given, another user and password.
    func uri(database: String, user: String? = nil, password: String? = nil) throws -> String {
        var components = try XCTUnwrap(URLComponents(string: admin))
        components.path = "/" + database
        if let user { components.user = user }
        if let password { components.password = password }
        return try XCTUnwrap(components.string)
    }

    /// Creates a login role with `password` (dropped afterwards).
    func createRole(_ name: String, password: String) throws {
        try PostgresConnection(uri: admin).execute("CREATE ROLE \(name) LOGIN PASSWORD '\(password)'")
        roles.append(name)
    }

    /// Runs `sql` on the database of `uri`.
    func execute(_ sql: String, on uri: String) throws {
        _ = try PostgresConnection(uri: uri).execute(sql)
    }

    /// Every table's row count in the database of `uri`: what a refused write must leave as it was.
    func rowCounts(_ uri: String) throws -> [String: Int64] {
        let connection = try PostgresConnection(uri: uri)
        let tables = try connection.execute("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'public' ORDER BY 1", [])
        var counts: [String: Int64] = [:]
        for row in 0..<tables.rowCount {
            let table = tables.string(row, 0)
            counts[table] = try connection.execute("SELECT count(*) FROM \(table)", []).int64(0, 0)
        }
        return counts
    }
}

/// The lease scenarios of `LeaseCLITests`, on any store (a SQLite file or a PostgreSQL URI).
struct LeaseScenarios {
    let store: String
    let directory: URL

    func start(_ arguments: [String], host: String? = nil, lease: Double) throws -> RunningProcess {
        var environment = ["FCSTORE_LEASE_SECONDS": "\(lease)"]
        if let host { environment["FCSTORE_HOST"] = host }
        return try CLI.start(["--store", store] + arguments, in: directory, environment: environment)
    }

    func runCLI(_ arguments: [String], host: String? = nil, lease: Double) throws -> ProcessResult {
        try start(arguments, host: host, lease: lease).wait()
    }

    /// Starts a long training and waits for its second committed epoch.
    func startTraining(lease: Double) throws -> (process: RunningProcess, run: String) {
        let data = try Reliability.digits(rows: 300, in: directory)
        let training = try start(["train", "--data", data, "--layers", "64,10", "--batch-size", "1", "--epochs", "100000"], lease: lease)
        XCTAssertTrue(waitFor(60, every: 0.005) { Reliability.committedEpochs(training.process.isRunning ? training.stderrSoFar : "").count >= 2 })
        let line = try XCTUnwrap(training.stderrSoFar.split(separator: "\n").first { $0.hasPrefix("training run ") })
        return (training, String(line.split(separator: " ")[2]))
    }

    /// A killed owner seen from another host: refused while its lease is valid, taken over once it expired.
    func killedOwnerIsRefusedUntilItsLeaseExpires(lease: Double = 8) throws {
        let (training, runID) = try startTraining(lease: lease)
        kill(training.process.processIdentifier, SIGKILL)
        let killedAt = Date()
        _ = training.wait()
        let epochs = try XCTUnwrap(try Reliability.listedEpochs(store, run: runID, in: directory))
        let target = String((epochs.last ?? 0) + 2)

        let refused = try runCLI(["resume", runID, "--epochs", target], host: "elsewhere", lease: lease)
        XCTAssertLessThan(Date().timeIntervalSince(killedAt), lease - 2, "the refusal came while the lease was still valid")
        Reliability.assertRefused(refused, "resume on another host while the lease is valid")
        XCTAssertTrue(refused.stderr.contains("is being trained on another host ("), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("its lease runs until "), refused.stderr)
        XCTAssertEqual(try Reliability.listedEpochs(store, run: runID, in: directory), epochs, "a refused resume adds no epoch")

        Thread.sleep(until: killedAt.addingTimeInterval(lease + 0.5))
        let taken = try runCLI(["resume", runID, "--epochs", target], host: "elsewhere", lease: lease)
        XCTAssertEqual(taken.status, 0, taken.stderr)
        XCTAssertTrue(taken.stderr.contains("resuming \(runID)@\(epochs.last ?? 0)"), taken.stderr)
        XCTAssertEqual(try Reliability.listedEpochs(store, run: runID, in: directory), Array(0...((epochs.last ?? 0) + 2)))
        XCTAssertEqual(try Reliability.run(["--store", store, "verify"], in: directory).status, 0)
        let shown = try Reliability.run(["--store", store, "show", runID, "--json"], in: directory)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["status"] as? String, "completed")
        let hosts = try XCTUnwrap(object["segments"] as? [[String: Any]]).map { $0["host"] as? String }
        XCTAssertEqual(hosts.last, "elsewhere")
    }

    /// Two resumes on two other hosts once the lease expired: exactly one takes the run.
    func twoResumesRacingForAnExpiredLeaseOneWins(lease: Double = 2) throws {
        let (training, runID) = try startTraining(lease: lease)
        kill(training.process.processIdentifier, SIGKILL)
        let killedAt = Date()
        _ = training.wait()
        let last = try XCTUnwrap(try Reliability.listedEpochs(store, run: runID, in: directory)?.last)
        Thread.sleep(until: killedAt.addingTimeInterval(lease + 0.5))
        let target = String(last + 40)
        let a = try start(["resume", runID, "--epochs", target], host: "host-a", lease: 30)
        let b = try start(["resume", runID, "--epochs", target], host: "host-b", lease: 30)
        let results = [a.wait(), b.wait()]
        let winners = results.filter { $0.status == 0 }, losers = results.filter { $0.status != 0 }
        XCTAssertEqual(winners.count, 1, results.map(\.stderr).joined(separator: "\n---\n"))
        XCTAssertEqual(losers.count, 1)
        if let loser = losers.first {
            Reliability.assertRefused(loser, "the second resume")
            XCTAssertTrue(loser.stderr.contains("is being trained on another host (host-"), loser.stderr)
        }
        XCTAssertEqual(try Reliability.listedEpochs(store, run: runID, in: directory), Array(0...(last + 40)))
        XCTAssertEqual(try Reliability.run(["--store", store, "verify"], in: directory).status, 0)
    }
}

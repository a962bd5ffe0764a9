import FCPostgres
import Foundation
import XCTest

/// The README's two roles on the throwaway cluster, run from the README's own SQL block:
/// a trainer trains and resumes; an auditor reads, verifies and exports, and every write
/// it tries stops with one line and changes nothing. No password ever shows.
final class TeamStoreRolesCLITests: XCTestCase {
    private var cluster: TestCluster!

    override func setUpWithError() throws { cluster = try TestCluster() }
    override func tearDownWithError() throws { cluster?.dropAll() }

    /// The README's `-- fcstore roles` SQL block.
    private func readmeRolesSQL() throws -> String {
        let readme = try String(contentsOf: CLI.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try XCTUnwrap(readme.range(of: "-- fcstore roles"), "README has no roles block")
        let end = try XCTUnwrap(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        return readme[start.lowerBound..<end.lowerBound].split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n")
    }

    func testTheReadmesTrainerAndAuditorRolesHaveLeastPrivileges() throws {
        let workspace = try Workspace()
        let owner = try cluster.newDatabase()
        let database = try XCTUnwrap(URLComponents(string: owner)?.path.dropFirst()).description
        // The owner creates the store (its tables) with a first run.
        try workspace.ok(["--store", owner, "train", "--data", CLI.iris, "--layers", "3", "--epochs", "2", "--seed", "3", "--name", "first"])

        let trainerRole = TestCluster.uniqueName("trainer_"), auditorRole = TestCluster.uniqueName("auditor_")
        let trainerPassword = "Tr41ner-" + UUID().uuidString.prefix(8), auditorPassword = "Aud1tor-" + UUID().uuidString.prefix(8)
        let sql = try readmeRolesSQL()
            .replacingOccurrences(of: "fcstore_trainer", with: trainerRole)
            .replacingOccurrences(of: "fcstore_auditor", with: auditorRole)
            .replacingOccurrences(of: "'trainer-secret'", with: "'\(trainerPassword)'")
            .replacingOccurrences(of: "'auditor-secret'", with: "'\(auditorPassword)'")
            .replacingOccurrences(of: "DATABASE fcstore ", with: "DATABASE \(database) ")
        XCTAssertTrue(sql.contains("GRANT SELECT ON ALL TABLES"), sql)
        try cluster.execute(sql, on: owner)
        defer { _ = try? cluster.execute("DROP OWNED BY \(trainerRole), \(auditorRole)", on: owner) }
        let trainer = try cluster.uri(database: database, user: trainerRole, password: trainerPassword)
        let auditor = try cluster.uri(database: database, user: auditorRole, password: auditorPassword)
        let secrets = [trainerPassword, auditorPassword, cluster.password]
        var outputs: [String] = []

        // The trainer trains and resumes, its own run and the owner's.
        let trained = try workspace.ok(["--store", trainer, "train", "--data", CLI.iris, "--layers", "4", "--epochs", "2", "--name", "second"])
        let resumed = try workspace.ok(["--store", trainer, "resume", "first", "--epochs", "4"])
        outputs += [trained.stdout, trained.stderr, resumed.stdout, resumed.stderr]
        XCTAssertEqual(try workspace.json(["--store", trainer, "show", "first"])["status"] as? String, "completed")
        // The trainer cannot rewrite what a run recorded, nor delete, prune or tag.
        let beforeTrainer = try cluster.rowCounts(owner)
        let listedBefore = try workspace.ok(["--store", owner, "runs", "--json"]).stdout
        for arguments in [["rename", "first", "renamed"], ["tag", "first", "team=train"], ["note", "first", "trained"],
                          ["prune", "first", "--keep-last", "1"], ["rm", "second"], ["gc"]] {
            let refused = try workspace.run(["--store", trainer] + arguments)
            outputs += [refused.stdout, refused.stderr]
            XCTAssertEqual(refused.status, 1, "trainer \(arguments): \(refused.stderr)")
            XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, "trainer \(arguments): \(refused.stderr)")
            XCTAssertTrue(refused.stderr.contains("refused access (insufficient privilege for this command)"), "trainer \(arguments): \(refused.stderr)")
        }
        XCTAssertEqual(try cluster.rowCounts(owner), beforeTrainer)
        XCTAssertEqual(try workspace.ok(["--store", owner, "runs", "--json"]).stdout, listedBefore)
        XCTAssertThrowsError(try cluster.execute("UPDATE runs SET config = '{}'", on: trainer))
        // No DDL for the trainer.
        XCTAssertThrowsError(try cluster.execute("CREATE TABLE planted (id integer)", on: trainer))
        XCTAssertThrowsError(try cluster.execute("ALTER TABLE runs ADD COLUMN planted integer", on: trainer))
        XCTAssertThrowsError(try cluster.execute("DELETE FROM checkpoints", on: trainer))

        // The auditor reads, verifies and exports.
        for arguments in [["runs"], ["runs", "--json"], ["show", "first"], ["show", "second", "--json"], ["verify"], ["verify", "--json"],
                          ["export", "first@3", "--format", "safetensors", "--output", workspace.path("audit.safetensors")]] {
            let result = try workspace.ok(["--store", auditor] + arguments)
            outputs += [result.stdout, result.stderr]
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: workspace.path("audit.safetensors")))
        try workspace.ok(["--store", workspace.store, "train", "--data", CLI.iris, "--layers", "3", "--epochs", "1", "--name", "elsewhere"])
        try workspace.ok(["--store", workspace.store, "export", "elsewhere", "--format", "bundle", "--output", workspace.path("elsewhere.fcbundle")])

        // Every write the auditor tries: one line, nothing changed.
        let before = try cluster.rowCounts(owner)
        let runsBefore = try workspace.ok(["--store", owner, "runs", "--json"]).stdout
        for arguments in [["train", "--data", CLI.iris, "--layers", "3", "--epochs", "1", "--name", "audit"],
                          ["resume", "first", "--epochs", "6"], ["rename", "first", "renamed"], ["tag", "first", "team=audit"],
                          ["note", "first", "audited"], ["prune", "first", "--keep-last", "1"], ["rm", "second"], ["gc"],
                          ["import", workspace.path("elsewhere.fcbundle")]] {
            let refused = try workspace.run(["--store", auditor] + arguments)
            outputs += [refused.stdout, refused.stderr]
            XCTAssertEqual(refused.status, 1, "\(arguments): \(refused.stderr)")
            XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, "\(arguments): \(refused.stderr)")
            XCTAssertTrue(refused.stderr.hasPrefix("error: "), "\(arguments): \(refused.stderr)")
            XCTAssertTrue(refused.stderr.contains("refused access (insufficient privilege for this command)"), "\(arguments): \(refused.stderr)")
            XCTAssertEqual(try cluster.rowCounts(owner), before, "\(arguments) changed the store")
        }
        XCTAssertEqual(try workspace.ok(["--store", owner, "runs", "--json"]).stdout, runsBefore)

        // Errors too: a wrong password and a missing run.
        var wrong = try XCTUnwrap(URLComponents(string: auditor))
        wrong.password = auditorPassword + "x"
        outputs += [try workspace.run(["--store", try XCTUnwrap(wrong.string), "runs"]).stderr,
                    try workspace.run(["--store", auditor, "show", "nothing"]).stderr,
                    try workspace.run(["--store", trainer, "resume", "nothing"]).stderr]
        // Nothing shown, and nothing recorded in the store (configs, segments, events, heads), holds a password.
        let connection = try PostgresConnection(uri: owner)
        for table in ["runs", "segments", "events", "run_heads", "run_tags", "run_notes", "schema_migrations"] {
            let rows = try connection.execute("SELECT coalesce(string_agg(t::text, ' '), '') FROM \(table) AS t", [])
            outputs.append(rows.string(0, 0))
        }
        let first = try workspace.json(["--store", trainer, "show", "first"])
        outputs.append(String(decoding: try JSONSerialization.data(withJSONObject: first), as: UTF8.self))
        XCTAssertTrue(outputs.joined().contains("\(auditorRole):***@"), "the URI is shown, without its password")
        for secret in secrets {
            XCTAssertFalse(outputs.contains { $0.contains(secret) }, "a password showed: \(outputs.first { $0.contains(secret) } ?? "")")
        }
        XCTAssertEqual(try workspace.ok(["--store", owner, "verify"]).stdout, "ok: the store verified (tensor hashes, digest chains, run heads)\n")
    }
}

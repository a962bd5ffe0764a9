@testable import FCStorage
import FCSQLite
import Foundation
import XCTest

/// The tamper campaign of issue #15 over copies of a real store: the real
/// binary trains and signs, the sqlite3 shell (or the store's own SQLite
/// layer, for forgeries that recompute digests) edits a copy, and `verify`
/// must report each edit with exit status 2 and a finding naming it.
final class TamperCampaignTests: XCTestCase {
    private var workspace: Workspace!
    private var keyPath = "", trustedPath = ""
    private var first = "", second = "", fork = ""
    private var pristine = ""

    override func setUpWithError() throws {
        _ = try SQLite.requireShell()
        workspace = try Workspace()
        keyPath = workspace.path("signing/key.pem")
        let created = try signed(["key", "new", "--output", keyPath])
        XCTAssertEqual(created.status, 0, created.stderr)
        trustedPath = try workspace.write("trusted.keys", "# the team's keys\n" + created.stdout)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int, 0o600)

        first = try trainSigned(["--name", "first"], epochs: 6)
        second = try trainSigned(["--name", "second"], epochs: 3)
        let forked = try signed(["resume", "first@3", "--learning-rate", "0.05", "--epochs", "5", "--name", "branch"])
        XCTAssertEqual(forked.status, 0, forked.stderr)
        fork = try XCTUnwrap(forked.lastLine)
        pristine = workspace.path("pristine.db")
        try FileManager.default.copyItem(atPath: workspace.store, toPath: pristine)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.store + "-wal"), "the store was checkpointed on close")
        let clean = try verify(pristine, trusted: true)
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
    }

    override func tearDown() { workspace = nil }

    // MARK: Helpers

    private func signed(_ arguments: [String], store: String? = nil) throws -> CLIResult {
        try CLI.run(arguments + (store.map { ["--store", $0] } ?? []), in: workspace.directory,
                    environment: ["COLUMNS": "80", "FCSTORE_KEY": keyPath])
    }

    private func trainSigned(_ extra: [String], epochs: Int) throws -> String {
        let result = try signed(["train", "--data", CLI.iris, "--layers", "8,3", "--epochs", String(epochs)] + extra)
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(result.lastLine)
    }

    /// A fresh copy of the store, edited by `sql` through the sqlite3 shell.
    private func tampered(_ name: String, _ sql: String) throws -> String {
        let copy = workspace.path("\(name).db")
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: pristine, toPath: copy)
        if !sql.isEmpty { try SQLite.execute(sql, on: copy) }
        return copy
    }

    private func verify(_ store: String, trusted: Bool = false) throws -> CLIResult {
        try CLI.run(["verify", "--store", store] + (trusted ? ["--trusted-keys", trustedPath] : []), in: workspace.directory)
    }

    /// `verify` exits 2 and one of its findings contains each of `expected`.
    private func assertReported(_ store: String, trusted: Bool = false, _ expected: [String],
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try verify(store, trusted: trusted)
        XCTAssertEqual(result.status, 2, result.stdout + result.stderr, file: file, line: line)
        for text in expected {
            XCTAssertTrue(result.stdout.split(separator: "\n").contains { $0.contains(text) },
                          "no finding contains \"\(text)\":\n\(result.stdout)", file: file, line: line)
        }
    }

    private func short(_ id: String) -> String { String(id.prefix(8)) }

    // MARK: The campaign

    func testDeletingTheNewestEpochsIsReported() throws {
        let store = try tampered("truncated", "PRAGMA foreign_keys = ON; DELETE FROM checkpoints WHERE run_id = '\(first)' AND epoch >= 5;")
        try assertReported(store, ["\(short(first)): its head records epoch 6, but its last epoch is 4: epochs 5...6 were deleted"])
    }

    func testDeletingAWholeRunIsReported() throws {
        let store = try tampered("deleted", "PRAGMA foreign_keys = ON; DELETE FROM runs WHERE id = '\(second)';")
        try assertReported(store, ["\(short(second)): the run is missing: it was deleted outside fcstore"])
        // Deleting its ledger row too leaves a gap in the ledger.
        try SQLite.execute("DELETE FROM run_heads WHERE run_id = '\(second)';", on: store)
        try assertReported(store, ["the run ledger (run_heads) record 2 is missing"])
    }

    func testSwappingTwoRunsHistoriesIsReported() throws {
        // Rows, then heads, moved between the two root runs: no digest recomputed.
        let placeholder = "00000000-0000-0000-0000-000000000000"
        let store = try tampered("swapped", """
            PRAGMA foreign_keys = OFF;
            UPDATE checkpoints SET run_id = '\(placeholder)' WHERE run_id = '\(first)';
            UPDATE checkpoints SET run_id = '\(first)' WHERE run_id = '\(second)';
            UPDATE checkpoints SET run_id = '\(second)' WHERE run_id = '\(placeholder)';
            CREATE TEMP TABLE h AS SELECT run_id, epoch, digest FROM run_heads;
            UPDATE run_heads SET epoch = (SELECT epoch FROM h WHERE h.run_id <> run_heads.run_id AND h.run_id IN ('\(first)', '\(second)')),
                                 digest = (SELECT digest FROM h WHERE h.run_id <> run_heads.run_id AND h.run_id IN ('\(first)', '\(second)'))
            WHERE run_id IN ('\(first)', '\(second)');
            """)
        try assertReported(store, ["\(short(first))@0: the checkpoint digest does not match its content",
                                   "\(short(second))@0: the checkpoint digest does not match its content"])
    }

    func testPruningByHandThenGCIsReported() throws {
        let store = try tampered("pruned", "UPDATE checkpoints SET pruned_at = '2026-12-01T00:00:00.000Z' WHERE run_id = '\(first)' AND epoch <= 2;")
        let gc = try CLI.run(["gc", "--store", store], in: workspace.directory)
        XCTAssertEqual(gc.status, 0, gc.stderr)
        try assertReported(store, [
            "\(short(first))@0: epoch 0 is pruned (prune always keeps it)",
            "\(short(first))@1: it is marked pruned at 2026-12-01T00:00:00.000Z, but no prune record lists it",
        ])
        // A forged prune record does not make pruning epoch 0 legal.
        try SQLite.execute("INSERT INTO prunes (run_id, pruned_at, epochs) VALUES ('\(first)', '2026-12-01T00:00:00.000Z', '[0,1,2]');", on: store)
        try assertReported(store, ["\(short(first))@0: epoch 0 is pruned (prune always keeps it)"])
        // The fork point and the latest epoch are protected the same way.
        let forkPoint = try tampered("forkpoint", "UPDATE checkpoints SET pruned_at = '2026-12-01T00:00:00.000Z' WHERE run_id = '\(first)' AND epoch IN (3, 6);")
        try assertReported(forkPoint, ["\(short(fork)): its fork point \(short(first))@3 is pruned",
                                       "\(short(first))@6: its latest epoch 6 is pruned"])
        // Pruning through fcstore is recorded and verifies.
        let legal = try tampered("legal", "")
        XCTAssertEqual(try CLI.run(["prune", "first", "--keep-last", "1", "--store", legal], in: workspace.directory).status, 0)
        XCTAssertEqual(try CLI.run(["gc", "--store", legal], in: workspace.directory).status, 0)
        XCTAssertEqual(try verify(legal, trusted: true).status, 0)
    }

    func testAPlantedTriggerAndARewrittenViewAreReported() throws {
        let trigger = try tampered("trigger", "CREATE TRIGGER keep_quiet AFTER INSERT ON checkpoints BEGIN DELETE FROM checkpoints WHERE epoch = 3; END;")
        try assertReported(trigger, ["the store has a trigger keep_quiet (on checkpoints) that fcstore's schema does not define"])
        // Nor does fcstore write through it: a checkpoint would be reported committed, then gone.
        let resumed = try CLI.run(["resume", "first", "--epochs", "8", "--store", trigger], in: workspace.directory)
        XCTAssertEqual(resumed.status, 1, resumed.stderr)
        XCTAssertTrue(resumed.stderrLines.last?.hasPrefix("error: The store has a trigger keep_quiet that fcstore's schema does not define;") ?? false,
                      resumed.stderr)
        let epochs = try SQLite.execute("SELECT group_concat(epoch) FROM (SELECT epoch FROM checkpoints WHERE run_id = '\(first)' ORDER BY epoch);", on: trigger)
        XCTAssertEqual(epochs, "0,1,2,3,4,5,6\n")
        let view = try tampered("view", "DROP VIEW run_summary; CREATE VIEW run_summary AS SELECT id AS run_id FROM runs WHERE name <> 'second';")
        try assertReported(view, ["the view run_summary differs from fcstore's schema"])
    }

    func testChangedConfigOrOptimizerStateIsReportedAndRefusedByReaders() throws {
        let config = try tampered("config", "UPDATE runs SET config = json_set(config, '$.epochs', 99) WHERE id = '\(first)';")
        try assertReported(config, ["\(short(first)): the run digest does not match"])
        let optimizer = try tampered("optimizer", """
            UPDATE checkpoints SET optimizer_state = replace(optimizer_state, '"step"', '"steps"') WHERE run_id = '\(second)' AND epoch = 3;
            """)
        try assertReported(optimizer, ["\(short(second))@3: the checkpoint digest does not match its content"])

        for (store, ref, subject) in [(config, "first", "Run \(short(first))"), (optimizer, "second", "Checkpoint \(short(second))@3")] {
            let before = try Data(contentsOf: URL(fileURLWithPath: store))
            for arguments in [["resume", ref, "--epochs", "9"], ["export", ref, "--format", "json", "--output", workspace.path("out.json")],
                              ["predict", ref, "--data", CLI.iris]] {
                let result = try CLI.run(arguments + ["--store", store], in: workspace.directory)
                XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)")
                XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
                XCTAssertTrue(result.stderr.hasPrefix("error: \(subject) was changed after it was written:"), result.stderr)
                XCTAssertTrue(result.stderr.contains("run 'fcstore verify'"), result.stderr)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.path("out.json")))
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: store)), before, "the refused commands wrote nothing")
        }
    }

    /// The forger knows the recipes and recomputes every SHA-256 after the edit:
    /// only the signature, checked against the trusted keys, catches it.
    func testRecomputingEverySHA256IsCaughtOnlyByTheSignature() throws {
        let store = try tampered("forged", "")
        let db = try Database(path: store, readOnly: false, busyTimeoutMilliseconds: 1000)
        try db.execute("UPDATE checkpoints SET optimizer_state = replace(optimizer_state, '\"step\"', '\"steps\"') WHERE run_id = ? AND epoch = 3",
                       [.text(second)])
        let snapshot = try StoreSnapshot(db)
        let checkpoint = try XCTUnwrap(snapshot.checkpoints[second]?[3])
        var metrics: [String: Double] = [:]
        for (name, value) in checkpoint.metrics { if case let .real(number) = value { metrics[name] = number } else { metrics[name] = .nan } }
        let entries = try checkpoint.tensors.map {
            CheckpointDigest.TensorEntry(layer: $0.layer, role: $0.role, shape: try XCTUnwrap(ShapeText.decode($0.shapeText)), hash: $0.hash)
        }
        let digest = CheckpointDigest.compute(epoch: 3, createdAt: checkpoint.createdAt, parentDigest: checkpoint.parentDigest, tensors: entries,
                                              metrics: metrics, optimizerState: checkpoint.optimizerState, rngState: checkpoint.rngState,
                                              runID: second)
        try db.execute("UPDATE checkpoints SET digest = ? WHERE id = ?", [.blob(digest), .integer(checkpoint.id)])
        try db.execute("UPDATE run_heads SET digest = ? WHERE run_id = ?", [.blob(digest), .text(second)])
        // And a changed configuration with its run digest recomputed.
        let run = try XCTUnwrap(snapshot.runs[first])
        let config = run.config.replacingOccurrences(of: "\"epochs\":6", with: "\"epochs\":7")
        XCTAssertNotEqual(config, run.config)
        let runDigest = RunDigest.compute(id: first, createdAt: run.createdAt, config: config, seed: run.seed, parent: run.parent)
        try db.execute("UPDATE runs SET config = ?, digest = ? WHERE id = ?", [.text(config), .blob(runDigest), .text(first)])
        try db.execute("UPDATE run_heads SET run_digest = ? WHERE run_id = ?", [.blob(runDigest), .text(first)])

        // Every digest agrees; the signatures, made before the edit, do not.
        try assertReported(store, [
            "\(short(second)): the signature of its head does not match",
            "\(short(first)): the signature of its head does not match",
        ])
        try assertReported(store, trusted: true, [
            "\(short(second)): the signature of its head does not match",
            "\(short(first)): the signature of its head does not match",
        ])
        // Stripped of their signatures, the forged heads pass plain verify: only the trusted keys tell.
        try db.execute("UPDATE run_heads SET public_key = NULL, signature = NULL WHERE run_id IN (?, ?)", [.text(first), .text(second)])
        let plain = try verify(store)
        XCTAssertEqual(plain.status, 0, "without a secret the forgery is consistent: \(plain.stdout)")
        try assertReported(store, trusted: true, [
            "\(short(second)): its head (epoch 3) is not signed",
            "\(short(first)): its head (epoch 6) is not signed",
        ])
        // Signed again with a key nobody trusts: consistent, and reported as an unknown key.
        let stranger = try SigningKey.generate()
        let message = HeadSignature.message(runID: first, runDigest: runDigest, epoch: 6,
                                            digest: try XCTUnwrap(snapshot.checkpoints[first]?[6]?.digest))
        try db.execute("UPDATE run_heads SET public_key = ?, signature = ? WHERE run_id = ?",
                       [.blob(stranger.publicKey.raw), .blob(try stranger.sign(message)), .text(first)])
        XCTAssertEqual(try verify(store).status, 0)
        try assertReported(store, trusted: true, [
            "\(short(first)): its head is signed by an unknown key \(stranger.publicKey.fingerprint)",
        ])
    }

    /// Signatures travel in bundles: an exported run imports into another store
    /// with its signed head, and that store verifies against the same keys.
    func testSignaturesTravelInBundles() throws {
        let bundle = workspace.path("first.fcbundle")
        XCTAssertEqual(try CLI.run(["export", "branch", "--format", "bundle", "--output", bundle], in: workspace.directory).status, 0)
        let other = workspace.path("other.db")
        let imported = try CLI.run(["import", bundle, "--store", other], in: workspace.directory)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let result = try verify(other, trusted: true)
        // The fork's head is the signed one; its parent came only up to the fork point: an unsigned partial head.
        XCTAssertEqual(result.status, 2, result.stdout)
        XCTAssertEqual(result.stdout, "\(short(first)): its head (epoch 3) is not signed\n")
        XCTAssertEqual(try verify(other).status, 0)

        // An imported run's data path is a hint: resume asks for --data.
        let resume = try CLI.run(["resume", "branch", "--epochs", "6", "--store", other], in: workspace.directory)
        assertError(resume, "Run \(short(fork)) came from a bundle: its recorded data path \(CLI.iris) is only a hint, so it is not opened; pass --data FILE with the data it was trained on (fingerprint \(try fingerprint(fork).prefix(16))).", status: 1)
        let resumed = try CLI.run(["resume", "branch", "--epochs", "6", "--data", CLI.iris, "--store", other], in: workspace.directory)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
    }

    private func fingerprint(_ runID: String) throws -> String {
        let text = try SQLite.execute("SELECT json_extract(config, '$.data.fingerprint') FROM runs WHERE id = '\(runID)';", on: pristine)
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

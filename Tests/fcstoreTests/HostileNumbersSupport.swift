import Foundation
import XCTest
@testable import FCStorage
import FCSQLite

/// Fixtures of the hostile-numbers corpus: a real store with a root run ("seed", epochs
/// 0-3, from the reliability corpus bundle) and a fork of it at epoch 1, edited through
/// SQL and then resealed (every run and checkpoint digest recomputed with the store's own
/// recipes), so that a changed number reaches the code that reads it instead of stopping
/// at the digest check.
enum HostileNumbers {
    /// The numbers at the edges, as SQL literals (NaN is NULL to SQLite; 9e999 is +Inf).
    static let edges: [(label: String, sql: String)] = [
        ("0", "0"), ("-1", "-1"), ("2^31", "2147483648"), ("2^32", "4294967296"),
        ("2^63-1", "9223372036854775807"), ("NaN", "NULL"), ("+Inf", "9e999"), ("-Inf", "-9e999"),
    ]

    /// The same numbers as JSON literals (SQLite writes ±Inf in JSON as ±9e999; NaN has none).
    static let jsonEdges: [(label: String, json: String)] = [
        ("0", "0"), ("-1", "-1"), ("2^31", "2147483648"), ("2^32", "4294967296"),
        ("2^63-1", "9223372036854775807"), ("+Inf", "9e999"), ("-Inf", "-9e999"), ("1.5", "1.5"),
    ]

    static var bundle: String {
        CLI.packageRoot.appendingPathComponent("Tests/reliability/corpus/bundle/iris-seed.fcbundle").path
    }

    /// Builds the template store in `workspace`: the corpus bundle, one more epoch of its
    /// run (so the run has data recorded here), and a fork at epoch 1.
    /// - Returns: the root run's and the fork's ids.
    static func makeStore(in workspace: Workspace) throws -> (root: String, fork: String) {
        try workspace.ok(["import", bundle])
        let root = try XCTUnwrap(try workspace.ok(["resume", "seed", "--data", CLI.iris, "--epochs", "3"]).lastLine)
        let fork = try XCTUnwrap(try workspace.ok(["resume", "seed@1", "--data", CLI.iris, "--learning-rate", "0.05",
                                                   "--epochs", "2"]).lastLine)
        return (root, fork)
    }

    /// Copies the template store to `name` in the same folder.
    static func copy(_ store: String, to name: String, in workspace: Workspace) throws -> String {
        let target = workspace.path(name)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: target + suffix) }
        try FileManager.default.copyItem(atPath: store, toPath: target)
        return target
    }

    /// Runs `sql` on the store file; false when SQLite (a CHECK or NOT NULL constraint of
    /// the schema) refuses the value, which then never reaches fcstore.
    static func edit(_ path: String, _ sql: String) throws -> Bool {
        let db = try Database(path: path, readOnly: false, busyTimeoutMilliseconds: 1000)
        do {
            try db.execute(sql)
            return true
        } catch let error as SQLiteError where error.code == ResultCode.constraint {
            return false
        }
    }

    /// Recomputes every run digest and every checkpoint digest chain (roots before forks,
    /// epochs ascending) the way the store writes them.
    static func reseal(_ path: String) throws {
        let db = try Database(path: path, readOnly: false, busyTimeoutMilliseconds: 1000)
        try db.execute("BEGIN IMMEDIATE")
        struct Run { var id: String; var parent: CheckpointLocation? }
        var runs: [Run] = []
        var runDigests: [(String, [UInt8])] = []
        let runRows = try db.prepare("SELECT id, created_at, config, seed, parent_run_id, parent_epoch FROM runs ORDER BY created_at, id")
        try runRows.forEachRow { row in
            let parent = row.optionalString(at: 4).map { CheckpointLocation(runID: $0, epoch: Int(row.int64(at: 5))) }
            runs.append(Run(id: row.string(at: 0), parent: parent))
            runDigests.append((row.string(at: 0), RunDigest.compute(
                id: row.string(at: 0), createdAt: row.string(at: 1), config: row.string(at: 2),
                seed: UInt64(bitPattern: row.int64(at: 3)), parent: parent)))
        }
        for (id, digest) in runDigests {
            try db.execute("UPDATE runs SET digest = ? WHERE id = ?", [.blob(digest), .text(id)])
        }
        var digests: [CheckpointLocation: [UInt8]] = [:]
        let checkpointRows = try db.prepare("""
            SELECT id, epoch, created_at, optimizer_state, rng_state FROM checkpoints WHERE run_id = ? ORDER BY epoch
            """)
        let tensorRows = try db.prepare("SELECT layer, role, shape, hash FROM tensors WHERE checkpoint_id = ?")
        let metricRows = try db.prepare("SELECT name, value FROM metrics WHERE checkpoint_id = ?")
        for run in runs {
            var previous: [UInt8]? = run.parent.flatMap { digests[$0] }
            try checkpointRows.bind([.text(run.id)])
            var rows: [(id: Int64, epoch: Int, createdAt: String, optimizer: String, rng: [UInt8])] = []
            try checkpointRows.forEachRow { rows.append(($0.int64(at: 0), Int($0.int64(at: 1)), $0.string(at: 2), $0.string(at: 3), $0.bytes(at: 4))) }
            for row in rows {
                var tensors: [CheckpointDigest.TensorEntry] = []
                try tensorRows.bind([.integer(row.id)])
                try tensorRows.forEachRow { tensor in
                    let shape = ShapeText.decode(tensor.string(at: 2)) ?? []
                    tensors.append(.init(layer: Int(tensor.int64(at: 0)), role: tensor.string(at: 1), shape: shape,
                                         hash: tensor.bytes(at: 3)))
                }
                var metrics: [String: Double] = [:]
                try metricRows.bind([.integer(row.id)])
                try metricRows.forEachRow { metric in
                    metrics[metric.string(at: 0)] = metric.isNull(at: 1) ? .nan : metric.double(at: 1)
                }
                let digest = CheckpointDigest.compute(
                    epoch: row.epoch, createdAt: row.createdAt, parentDigest: previous, tensors: tensors,
                    metrics: metrics, optimizerState: row.optimizer, rngState: row.rng)
                try db.execute("UPDATE checkpoints SET digest = ?, parent_digest = ? WHERE id = ?",
                               [.blob(digest), previous.map { .blob($0) } ?? .null, .integer(row.id)])
                digests[CheckpointLocation(runID: run.id, epoch: row.epoch)] = digest
                previous = digest
            }
        }
        // Schema 4: each run's head (run digest, last visible epoch and its digest) follows,
        // unsigned, as a forger without the key would leave it.
        if try db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'run_heads'")?.int64 == 1 {
            try db.execute("""
                WITH RECURSIVE lineage (run_id, owner_run_id, min_epoch, max_epoch, next_run_id, next_epoch) AS (
                    SELECT id, id, coalesce(parent_epoch + 1, 0), 9223372036854775807, parent_run_id, parent_epoch FROM runs
                    UNION ALL
                    SELECT l.run_id, p.id, coalesce(p.parent_epoch + 1, 0), min(l.max_epoch, l.next_epoch), p.parent_run_id, p.parent_epoch
                    FROM lineage AS l JOIN runs AS p ON p.id = l.next_run_id
                ),
                visible (run_id, epoch, digest) AS (
                    SELECT l.run_id, c.epoch, c.digest FROM lineage AS l
                    JOIN checkpoints AS c ON c.run_id = l.owner_run_id AND c.epoch BETWEEN l.min_epoch AND l.max_epoch
                )
                UPDATE run_heads SET
                    run_digest = (SELECT digest FROM runs WHERE id = run_heads.run_id),
                    epoch = (SELECT v.epoch FROM visible AS v WHERE v.run_id = run_heads.run_id ORDER BY v.epoch DESC LIMIT 1),
                    digest = (SELECT v.digest FROM visible AS v WHERE v.run_id = run_heads.run_id ORDER BY v.epoch DESC LIMIT 1),
                    public_key = NULL, signature = NULL
                WHERE run_id IN (SELECT id FROM runs)
                """)
        }
        try db.execute("COMMIT")
    }

    /// The contract for one command on a hostile input: no signal and no trap; exit 0 (the
    /// value is harmless there), 2 (`verify` reports it) or 1 with exactly one `error:` line
    /// on stderr; when `mustRefuse`, exit 1 with a line that contains one of `names`.
    static func check(_ outcome: Reliability.Outcome, _ label: String, mustRefuse: Bool, names: [String],
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(outcome.signalled, "\(label): killed by a signal; stderr: \(outcome.stderr)", file: file, line: line)
        XCTAssertFalse(outcome.stderr.contains("Fatal error"), "\(label): \(outcome.stderr)", file: file, line: line)
        XCTAssertTrue([0, 1, 2].contains(outcome.status), "\(label): exit status \(outcome.status); \(outcome.stderr)", file: file, line: line)
        if outcome.status == 1 {
            XCTAssertEqual(outcome.stderrLines.count, 1, "\(label): stderr should be one line: \(outcome.stderr)", file: file, line: line)
            XCTAssertTrue(outcome.stderrLines.first?.hasPrefix("error: ") ?? false, "\(label): \(outcome.stderr)", file: file, line: line)
        }
        if mustRefuse {
            XCTAssertEqual(outcome.status, 1, "\(label): should be refused; stdout: \(outcome.stdout.prefix(300)) stderr: \(outcome.stderr)",
                           file: file, line: line)
            let text = outcome.stderrLines.first ?? ""
            XCTAssertTrue(names.contains { text.contains($0) }, "\(label): the message should name one of \(names): \(text)",
                          file: file, line: line)
        }
    }
}

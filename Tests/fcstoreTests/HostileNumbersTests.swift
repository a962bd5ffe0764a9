import Foundation
import XCTest
@testable import FCStorage

/// The hostile-numbers corpus: the numbers at the edges (0, -1, 2^31, 2^32, 2^63-1, NaN,
/// ±Inf) in every numeric field of a store, of a bundle and of each model format, each run
/// through the real binary. Every command ends with exit 0, 2 (`verify` reporting it) or 1
/// and one `error:` line, never a signal or a trap; the commands that use the value refuse
/// it naming the field; a refused command leaves the store as it was. Store and bundle
/// edits are resealed (digests recomputed) so that the number check itself is exercised.
final class HostileNumbersTests: XCTestCase {
    /// A field of the store: the SQL that sets it to `$V`, the words its message names, and
    /// the commands that must refuse an out-of-range value.
    struct Field {
        var name: String
        var sql: String
        var names: [String]
        var refusedBy: Set<String>
        /// Values the field accepts (no refusal required).
        var accepted: Set<String> = []
        /// Whether `$V` takes a JSON literal (config and optimizer state) instead of SQL.
        var json = false
    }

    private var workspace: Workspace!
    private var root = ""
    private var fork = ""

    override func setUpWithError() throws {
        workspace = try Workspace()
        (root, fork) = try HostileNumbers.makeStore(in: workspace)
    }

    override func tearDown() {
        workspace = nil
    }

    private func checkpointID(_ run: String, _ epoch: Int) -> String {
        "(SELECT id FROM checkpoints WHERE run_id = '\(run)' AND epoch = \(epoch))"
    }

    /// The commands run on each hostile store, resume last (it may write).
    private func commands(run: String) -> [(String, [String])] {
        let output = workspace.path("out.json")
        return [
            ("runs", ["runs"]), ("show", ["show", run]),
            ("predict", ["predict", run, "--data", CLI.iris]), ("evaluate", ["evaluate", run, "--data", CLI.iris]),
            ("export", ["export", run, "--format", "json", "--output", output, "--force"]),
            ("verify", ["verify"]),
            ("resume", ["resume", run, "--data", CLI.iris, "--epochs", "9"]),
        ]
    }

    private var storeFields: [Field] {
        let last = checkpointID(root, 3)
        let reading: Set<String> = ["runs", "show", "predict", "evaluate", "export", "resume"]
        let loading: Set<String> = ["predict", "evaluate", "export", "resume"]
        func config(_ path: String, _ names: [String], refusedBy: Set<String> = loading, accepted: Set<String> = []) -> Field {
            Field(name: "runs.config \(path)", sql: "UPDATE runs SET config = json_set(config, '\(path)', json('$V')) WHERE id = '\(root)'",
                  names: names + ["cannot read"], refusedBy: refusedBy, accepted: accepted, json: true)
        }
        func optimizer(_ key: String, accepted: Set<String>) -> Field {
            Field(name: "checkpoints.optimizer_state \(key)",
                  sql: "UPDATE checkpoints SET optimizer_state = json_set(optimizer_state, '$.\(key)', json('$V')) WHERE id = \(last)",
                  names: [key, "optimizer state"], refusedBy: ["resume"], accepted: accepted, json: true)
        }
        return [
            Field(name: "checkpoints.epoch", sql: "UPDATE checkpoints SET epoch = $V WHERE id = \(last)",
                  names: ["checkpoints.epoch"], refusedBy: reading),
            Field(name: "runs.parent_epoch", sql: "UPDATE runs SET parent_epoch = $V WHERE id = '\(fork)'",
                  names: ["runs.parent_epoch"], refusedBy: reading, accepted: ["0"]),
            Field(name: "runs.seed", sql: "UPDATE runs SET seed = $V WHERE id = '\(root)'", names: ["seed"], refusedBy: [],
                  accepted: ["0", "-1", "2^31", "2^32", "2^63-1", "+Inf", "-Inf"]),
            Field(name: "tensors.shape", sql: "UPDATE tensors SET shape = '[$V,4]' WHERE layer = 1 AND role = 'weight' AND checkpoint_id = \(last)",
                  names: ["shape"], refusedBy: loading),
            Field(name: "tensors.layer", sql: "UPDATE tensors SET layer = $V WHERE layer = 2 AND role = 'bias' AND checkpoint_id = \(last)",
                  names: ["layer"], refusedBy: loading),
            Field(name: "blobs.size", sql: """
                UPDATE blobs SET size = $V WHERE hash = (SELECT hash FROM tensors WHERE layer = 1 AND role = 'weight' AND checkpoint_id = \(last))
                """, names: ["bytes"], refusedBy: ["predict", "evaluate", "export"]),
            config("$.training.spec.layerSizes[0]", ["Layer 1", "layer size"]),
            config("$.training.spec.inputSize", ["input size", "normalises"]),
            config("$.epochs", ["epochs"], refusedBy: ["predict", "export", "resume"], accepted: ["0"]),
            config("$.training.batchSize", ["batchSize"], refusedBy: ["predict", "export", "resume"]),
            config("$.data.rows", ["data.rows"], refusedBy: ["predict", "export", "resume"], accepted: ["0", "2^31", "2^32"]),
            optimizer("step", accepted: ["0", "2^31", "2^32"]),
            optimizer("schedulePosition", accepted: ["0", "2^31", "2^32"]),
            optimizer("epoch", accepted: []),
        ]
    }

    func testEveryNumericFieldOfAStore() throws {
        let template = workspace.store
        var exercised = 0
        for field in storeFields {
            let values = field.json ? HostileNumbers.jsonEdges.map { ($0.label, $0.json) } : HostileNumbers.edges.map { ($0.label, $0.sql) }
            for (label, value) in values {
                let name = "\(field.name) = \(label)"
                let store = try HostileNumbers.copy(template, to: "hostile.db", in: workspace)
                guard try HostileNumbers.edit(store, field.sql.replacingOccurrences(of: "$V", with: value)) else { continue }  // the schema refused it
                try HostileNumbers.reseal(store)
                exercised += 1
                let before = try Reliability.fingerprint(store, in: workspace.directory)
                var changed = false
                for (command, arguments) in commands(run: field.name == "runs.parent_epoch" ? fork : root) {
                    let outcome = try Reliability.run(["--store", store] + arguments, in: workspace.directory)
                    let mustRefuse = field.refusedBy.contains(command) && !field.accepted.contains(label)
                    HostileNumbers.check(outcome, "\(name): \(command)", mustRefuse: mustRefuse, names: field.names)
                    if command == "resume", outcome.status == 0 { changed = true }
                }
                if !changed {
                    XCTAssertEqual(try Reliability.fingerprint(store, in: workspace.directory), before, "\(name): the store changed")
                }
            }
        }
        XCTAssertGreaterThan(exercised, 60, "most edge values pass the schema's own checks")
    }

    /// The same fields in a bundle: `import` refuses what `verify` finds, and what it
    /// accepts is refused by the commands that use it, naming the field.
    func testEveryNumericFieldOfABundle() throws {
        let bundle = workspace.path("template.fcbundle")
        try workspace.ok(["export", root, fork, "--format", "bundle", "--output", bundle])
        let model = workspace.path("model.json")
        try workspace.ok(["export", root, "--format", "json", "--output", model])
        let fields = storeFields.filter { ["checkpoints.epoch", "runs.parent_epoch", "tensors.shape", "tensors.layer",
                                           "runs.config $.training.spec.layerSizes[0]", "checkpoints.optimizer_state step"].contains($0.name) }
        var refusedOnImport = 0, refusedOnUse = 0
        for field in fields {
            let values = field.json ? HostileNumbers.jsonEdges.map { ($0.label, $0.json) } : HostileNumbers.edges.map { ($0.label, $0.sql) }
            for (label, value) in values {
                let name = "bundle \(field.name) = \(label)"
                let hostile = try HostileNumbers.copy(bundle, to: "hostile.fcbundle", in: workspace)
                guard try HostileNumbers.edit(hostile, field.sql.replacingOccurrences(of: "$V", with: value)) else { continue }
                try HostileNumbers.reseal(hostile)
                let store = workspace.path("target.db")
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) }
                try workspace.ok(["--store", store, "import", model])
                let before = try Reliability.fingerprint(store, in: workspace.directory)
                let imported = try Reliability.run(["--store", store, "import", hostile], in: workspace.directory)
                HostileNumbers.check(imported, "\(name): import", mustRefuse: false, names: field.names)
                guard imported.status == 0 else {
                    refusedOnImport += 1
                    XCTAssertEqual(try Reliability.fingerprint(store, in: workspace.directory), before, "\(name): the store changed")
                    continue
                }
                for (command, arguments) in commands(run: field.name == "runs.parent_epoch" ? fork : root) where command != "verify" {
                    let outcome = try Reliability.run(["--store", store] + arguments, in: workspace.directory)
                    let mustRefuse = field.refusedBy.contains(command) && !field.accepted.contains(label)
                    HostileNumbers.check(outcome, "\(name): \(command)", mustRefuse: mustRefuse, names: field.names)
                    if mustRefuse { refusedOnUse += 1 }
                }
            }
        }
        // Both paths are taken: verify's findings refuse some bundles; configuration and
        // optimizer numbers pass verify (their digests match) and are refused on use.
        XCTAssertGreaterThan(refusedOnImport, 10)
        XCTAssertGreaterThan(refusedOnUse, 10)
    }

    /// The same edges on the command line: a usage error (64) or one error line (1) naming
    /// the option or the value, never a trap (`--layers 4294967296,4294967296` once trapped
    /// in the parameter count of its own "too large" message).
    func testCommandLineNumbers() throws {
        let values = ["0", "-1", "2147483648", "4294967296", "9223372036854775807", "9223372036854775808", "nan", "inf", "-inf"]
        let store = workspace.path("cli.db")
        for value in values {
            let cases: [(String, [String], [String])] = [
                ("--layers", ["train", "--data", CLI.iris, "--layers", "\(value),\(value)", "--store", store], ["Layer 1", "layer size", "--layers"]),
                ("--layers last", ["train", "--data", CLI.iris, "--layers", "3,\(value)", "--store", store], ["Layer 2", "layer size", "--layers"]),
                ("--epochs", ["train", "--data", CLI.iris, "--layers", "3", "--epochs", value, "--store", store], ["--epochs"]),
                ("--batch-size", ["train", "--data", CLI.iris, "--layers", "3", "--batch-size", value, "--store", store], ["--batch-size"]),
                ("resume --epochs", ["resume", root, "--data", CLI.iris, "--epochs", value], ["--epochs", "already at epoch"]),
                ("REF@epoch", ["show", "\(root)@\(value)"], ["epoch", "<ref>"]),
                ("--top", ["diff", "\(root)@0", "\(root)@1", "--top", value], ["--top"]),
                ("--keep-last", ["prune", root, "--keep-last", value, "--dry-run"], ["--keep-last"]),
            ]
            for (label, arguments, names) in cases {
                let outcome = try Reliability.run(arguments, in: workspace.directory)
                let name = "\(label) \(value)"
                XCTAssertFalse(outcome.signalled, "\(name): killed by a signal; \(outcome.stderr)")
                XCTAssertFalse(outcome.stderr.contains("Fatal error"), "\(name): \(outcome.stderr)")
                guard outcome.status != 0 else { continue }  // a value the option takes (--top 0, --epochs 0...)
                XCTAssertTrue([1, 64].contains(outcome.status), "\(name): exit \(outcome.status); \(outcome.stderr)")
                XCTAssertEqual(outcome.stderrLines.count, 1, "\(name): \(outcome.stderr)")
                let line = outcome.stderrLines.first ?? ""
                XCTAssertTrue(names.contains { line.contains($0) }, "\(name): the message should name one of \(names): \(line)")
            }
        }
    }
}

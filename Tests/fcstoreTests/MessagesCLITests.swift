import Foundation
import XCTest

/// Help text and the main error messages, exactly, against the built binary.
/// Every error: non-zero exit, one line on stderr, nothing on stdout.
final class MessagesCLITests: XCTestCase {
    func testRootHelpListsTheSubcommands() throws {
        let workspace = try Workspace()
        for arguments in [["--help"], ["help"], ["-h"]] {
            let result = try workspace.run(arguments)
            XCTAssertEqual(result.status, 0, "\(arguments)")
            XCTAssertEqual(result.stderr, "")
            XCTAssertEqual(result.stdout, Self.rootHelp, "\(arguments)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.store), "help creates no store")
    }

    func testSubcommandHelp() throws {
        let workspace = try Workspace()
        for arguments in [["train", "--help"], ["help", "train"]] {
            let result = try workspace.run(arguments)
            XCTAssertEqual(result.status, 0)
            XCTAssertEqual(result.stderr, "")
            XCTAssertTrue(result.stdout.hasPrefix("OVERVIEW: Train a new run, committing a checkpoint every epoch.\n"), result.stdout)
            XCTAssertTrue(result.stdout.contains("\nUSAGE: fcstore train [<options>] --data <file>\n"), result.stdout)
            XCTAssertTrue(result.stdout.contains("  --layers <sizes>        Hidden and output layer sizes, e.g. 32,10; the input\n"), result.stdout)
        }
        let show = try workspace.run(["show", "--help"])
        XCTAssertTrue(show.stdout.contains("\nUSAGE: fcstore show [--store <path>] [--json] <ref> [--history]\n"), show.stdout)
    }

    func testVersion() throws {
        let result = try Workspace().run(["--version"])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.hasPrefix("fcstore 0.2.0 (SQLite "), result.stdout)
        XCTAssertEqual(result.stdout.split(separator: "\n").count, 1)
    }

    /// FCStorage states the facts (typed errors); the CLI names the flag.
    func testRemovingARunWithForksNamesForce() throws {
        let workspace = try Workspace()
        let base = try workspace.train(["--name", "base"], data: CLI.iris, layers: "3", epochs: 2)
        let fork = try XCTUnwrap(try workspace.ok(["resume", "base@1", "--data", CLI.iris, "--epochs", "3", "--name", "child"]).lastLine)
        let forkID = try XCTUnwrap(try workspace.runs().first { $0["name"] as? String == "child" }?["id"] as? String, fork)
        assertError(try workspace.run(["rm", "base"]),
                    "Run \(base.prefix(8)) has forks (\(forkID.prefix(8))). Use --force to detach them first.", status: 1)
    }

    func testUnknownRun() throws {
        let workspace = try Workspace()
        _ = try workspace.train(data: CLI.iris, layers: "3", epochs: 0)
        for command in [["show", "zzz"], ["resume", "zzz"], ["diff", "zzz", "zzz"], ["export", "zzz", "--format", "json", "--output", "m.json"],
                        ["predict", "zzz", "--data", CLI.iris], ["verify", "zzz"], ["rm", "zzz"]] {
            assertError(try workspace.run(command), "No run matches \"zzz\". Run 'fcstore runs' to list runs.", status: 1)
        }
    }

    func testAmbiguousPrefix() throws {
        let workspace = try Workspace()
        var byDigit: [Character: [String]] = [:]
        while !byDigit.values.contains(where: { $0.count >= 2 }) {
            let id = try workspace.train(data: CLI.iris, layers: "3", epochs: 0)
            byDigit[try XCTUnwrap(id.first), default: []].append(id)
        }
        let (digit, _) = try XCTUnwrap(byDigit.first { $0.value.count >= 2 })
        // The store lists candidates oldest first, as `runs` does.
        let candidates = try workspace.runs().compactMap { $0["id"] as? String }.filter { $0.first == digit }
        let list = candidates.map { String($0.prefix(8)) }.joined(separator: ", ")
        assertError(try workspace.run(["show", String(digit)]),
                    "\"\(digit)\" matches \(candidates.count) runs: \(list). Give more characters of the id.", status: 1)
        // A name is never ambiguous, and a longer prefix resolves.
        XCTAssertEqual(try workspace.show(String(candidates[0].prefix(12)))["id"] as? String, candidates[0])
    }

    func testEpochOutOfRange() throws {
        let workspace = try Workspace()
        let id = try workspace.train(data: CLI.iris, layers: "3", epochs: 2)
        let short = String(id.prefix(8))
        for command in [["show", "\(short)@7"], ["diff", short, "\(short)@7"], ["resume", "\(short)@7"]] {
            assertError(try workspace.run(command),
                        "Run \(short) has no checkpoint at epoch 7. Run 'fcstore show \(short)' to list its epochs.", status: 1)
        }
        assertError(try workspace.run(["show", "\(short)@x"]),
                    "The value '\(short)@x' is invalid for '<ref>'. \(CLIParsingTests.refSyntax) Run 'fcstore show --help' for usage.", status: 64)
    }

    func testDataOfAnotherWidthIsRefused() throws {
        let workspace = try Workspace()
        let id = try workspace.train(epochs: 1)
        for command in ["evaluate", "predict"] {
            assertError(try workspace.run([command, id, "--data", CLI.iris]),
                        "iris.csv: expected 64 features, found 4 (columns 'p0', 'p1' and 62 more are missing).", status: 1)
        }
        assertError(try workspace.run(["train", "--data", CLI.iris, "--init", id, "--epochs", "1"]),
                    "iris.csv has 4 feature columns but the --init model takes 64 inputs.", status: 1)
    }

    func testMissingDataFile() throws {
        let workspace = try Workspace()
        assertError(try workspace.run(["train", "--data", "nope.csv", "--layers", "3"]),
                    "nope.csv does not exist; check the path given with --data.", status: 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.store), "a failed first train leaves no store behind")
        let id = try workspace.train(data: CLI.iris, layers: "3", epochs: 0)
        for command in ["evaluate", "predict"] {
            assertError(try workspace.run([command, id, "--data", "nope.csv"]),
                        "nope.csv does not exist; check the path given with --data.", status: 1)
        }
    }

    func testMissingStore() throws {
        let workspace = try Workspace()
        for command in [["runs"], ["show", "abc"], ["resume", "abc"], ["verify"], ["gc"], ["diff", "a", "b"], ["predict", "a", "--data", CLI.iris]] {
            assertError(try workspace.run(command),
                        "No store at fcstore.db; train a run first, or pass --store PATH (or set FCSTORE_DB).", status: 1)
        }
        assertError(try workspace.run(["--store", "elsewhere.db", "runs"]),
                    "No store at elsewhere.db; train a run first, or pass --store PATH (or set FCSTORE_DB).", status: 1)
        let fromEnvironment = try CLI.run(["runs"], in: workspace.directory, environment: ["FCSTORE_DB": "env.db"])
        assertError(fromEnvironment, "No store at env.db; train a run first, or pass --store PATH (or set FCSTORE_DB).", status: 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: workspace.directory.path).filter { $0.hasSuffix(".db") }, [],
                       "reading commands create no store")
    }

    func testAStoreThatIsAFolderIsRefused() throws {
        let workspace = try Workspace()
        try FileManager.default.createDirectory(atPath: workspace.path("models"), withIntermediateDirectories: false)
        for command in [["--store", "models", "runs"], ["--store", "models", "train", "--data", CLI.iris, "--layers", "3"]] {
            assertError(try workspace.run(command),
                        "models is a folder; the store is a file: pass --store PATH/fcstore.db (or set FCSTORE_DB).", status: 1)
        }
    }

    func testNonNumericCSVCellNamesFileLineAndColumn() throws {
        let workspace = try Workspace()
        try workspace.write("bad.csv", "a,b,label\n1,2,0\n3,x,1\n")
        assertError(try workspace.run(["train", "--data", "bad.csv", "--layers", "2"]), "bad.csv:3:2: \"x\" is not a number.", status: 1)
        try workspace.write("ragged.csv", "a,b,label\n1,2,0\n3,1\n")
        let ragged = try workspace.run(["train", "--data", "ragged.csv", "--layers", "2"])
        XCTAssertEqual(ragged.stdout, "")
        XCTAssertEqual(ragged.stderrLines.count, 1)
        XCTAssertTrue(ragged.stderr.hasPrefix("error: ragged.csv:3"), ragged.stderr)
    }

    func testMalformedLayers() throws {
        let workspace = try Workspace()
        for (layers, shown) in [("16,x", "16,x"), ("3,0", "3,0"), ("", ""), ("16,,10", "16,,10")] {
            assertError(try workspace.run(["train", "--data", CLI.iris, "--layers", layers]),
                        "--layers takes positive sizes separated by commas, e.g. 32,10 (got \"\(shown)\"). Run 'fcstore train --help' for usage.",
                        status: 64)
        }
        assertError(try workspace.run(["train", "--data", CLI.iris]),
                    "Pass --layers with the hidden and output sizes (e.g. --layers 32,10), or --init REF. Run 'fcstore train --help' for usage.",
                    status: 64)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.store))
    }

    func testUsageErrorsAreOneLine() throws {
        let workspace = try Workspace()
        assertError(try workspace.run(["runs", "--bogus"]), "Unknown option '--bogus'. Run 'fcstore runs --help' for usage.", status: 64)
        assertError(try workspace.run(["show"]), "Missing expected argument '<ref>'. Run 'fcstore show --help' for usage.", status: 64)
        assertError(try workspace.run(["frobnicate"]), "Unknown command 'frobnicate'. Run 'fcstore --help' for the list of commands.", status: 64)
    }

    static let rootHelp = """
        OVERVIEW: A persistent model store for fully-connected neural networks.

        Every epoch of every run is committed to one store: a SQLite file or a
        PostgreSQL database (--store PATH or postgresql://URI, else $FCSTORE_DB, else
        ./fcstore.db). A checkpoint reference REF is RUN (its latest epoch), RUN@EPOCH
        or RUN@best; RUN is an id prefix or a unique run name.

        USAGE: fcstore [--store <path>] <subcommand> [<arguments>]

        OPTIONS:
          --version               Show the version.
          -h, --help              Show help information.

        SUBCOMMANDS:
          train                   Train a new run, committing a checkpoint every epoch.
          runs                    List runs: id, name, parent, status, epochs, best
                                  validation loss, created.
          show                    Show a run's configuration, architecture, data,
                                  lineage and per-epoch metrics.
          resume                  Continue training from a checkpoint.
          diff                    Per-layer change between two checkpoints.
          predict                 Predict with a stored model: one line per data row.
          evaluate                Loss and metrics of a stored model on labelled data.
          plot                    Plot loss and accuracy per epoch of one or more runs
                                  as an SVG file.
          export                  Write a checkpoint as a model file, or whole runs as
                                  a bundle.
          import                  Read a model file or a bundle into the store.
          push                    Copy runs to another store (only what it lacks).
          pull                    Copy runs from another store (only what this lacks).
          verify                  Check the integrity of the whole store or of one run.
          prune                   Release the tensors of old epochs of a run (metrics
                                  and digests stay).
          rm                      Delete a run and its checkpoints.
          gc                      Delete tensors no checkpoint uses, then compact the
                                  store file.
          ui                      Serve a read-only dashboard of the store in the
                                  browser.
          key                     Manage the Ed25519 key that signs run heads.
          tag                     Set or remove a run's tags (key=value); without any,
                                  list them.
          note                    Set a run's note (replacing the previous one);
                                  without text, print it.
          rename                  Give a run a new name.

          See 'fcstore help <subcommand>' for detailed help.

        """
}

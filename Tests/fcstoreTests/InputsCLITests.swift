import Foundation
import XCTest
@testable import FCStorage

/// Bounded inputs, overwrite rules, escaped untrusted text and SQLite errors as
/// sentences, through the built binary.
final class InputsCLITests: XCTestCase {
    private var workspace: Workspace!

    override func setUpWithError() throws {
        workspace = try Workspace()
    }

    override func tearDown() {
        workspace = nil
    }

    private func fifo(_ name: String) throws -> String {
        let path = workspace.path(name)
        XCTAssertEqual(mkfifo(path, 0o600), 0, "mkfifo \(path)")
        return path
    }

    /// A run to point commands at: the corpus bundle's "seed".
    private func importSeed() throws {
        try workspace.ok(["import", HostileNumbers.bundle])
    }

    // MARK: Regular files only

    func testPipesAndDevicesAreRefusedWithoutWaiting() throws {
        try importSeed()
        let pipe = try fifo("data.fifo")
        let cases: [(String, [String], String)] = [
            ("--data", ["train", "--data", pipe, "--layers", "3", "--store", workspace.path("new.db")], "is a named pipe (FIFO), not a regular file"),
            ("--validation", ["train", "--data", CLI.iris, "--validation", pipe, "--layers", "3", "--store", workspace.path("new.db")],
             "is a named pipe (FIFO), not a regular file"),
            ("--data of predict", ["predict", "seed", "--data", pipe], "is a named pipe (FIFO), not a regular file"),
            ("--data /dev/zero", ["evaluate", "seed", "--data", "/dev/zero"], "/dev/zero: is a device, not a regular file"),
            ("import", ["import", pipe], "is a named pipe (FIFO), not a regular file"),
            ("--store", ["--store", pipe, "runs"], "it is a named pipe (FIFO), not a regular file"),
            ("--store of train", ["--store", pipe, "train", "--data", CLI.iris, "--layers", "3"], "it is a named pipe (FIFO), not a regular file"),
        ]
        for (label, arguments, message) in cases {
            // A hang would stop the test here: the refusal comes from stat, before any open.
            let outcome = try Reliability.run(arguments, in: workspace.directory)
            Reliability.assertRefused(outcome, label)
            XCTAssertTrue(outcome.stderr.contains(message), "\(label): \(outcome.stderr)")
        }
    }

    /// A bundle's recorded data path is a hint only: `resume` never opens it (a pipe
    /// there would block), it asks for --data with the recorded fingerprint instead.
    func testARecordedDataPathThatIsAPipeIsNeverOpened() throws {
        let pipe = try fifo("recorded.fifo")
        try FileManager.default.copyItem(atPath: HostileNumbers.bundle, toPath: workspace.path("b.fcbundle"))
        XCTAssertTrue(try HostileNumbers.edit(workspace.path("b.fcbundle"),
                                              "UPDATE runs SET config = json_set(config, '$.data.path', '\(pipe)')"))
        try HostileNumbers.reseal(workspace.path("b.fcbundle"))
        try workspace.ok(["import", workspace.path("b.fcbundle")])
        let outcome = try Reliability.run(["resume", "seed", "--epochs", "3"], in: workspace.directory)
        Reliability.assertRefused(outcome, "resume")
        XCTAssertTrue(outcome.stderr.contains("came from a bundle: its recorded data path \(pipe) is only a hint, so it is not opened; pass --data FILE"),
                      outcome.stderr)
        // Given as --data, the pipe is refused by stat, without waiting.
        let given = try Reliability.run(["resume", "seed", "--epochs", "3", "--data", pipe], in: workspace.directory)
        Reliability.assertRefused(given, "resume --data pipe")
        XCTAssertTrue(given.stderr.contains("\(pipe): is a named pipe (FIFO), not a regular file"), given.stderr)
    }

    // MARK: Size caps, headers before bodies

    /// Runs under a 1 GB address-space limit: reading a 3 GB file whole would fail there,
    /// so a clean refusal shows that the size or header was checked first.
    private func runLimited(_ arguments: [String]) throws -> Reliability.Outcome {
        try Reliability.run(arguments, in: workspace.directory,
                            wrapper: ["/bin/sh", "-c", "ulimit -v 1500000; exec \"$0\" \"$@\""])
    }

    private func sparseFile(_ name: String, size: Int64, head: String) throws -> String {
        let path = workspace.path(name)
        FileManager.default.createFile(atPath: path, contents: Data(head.utf8))
        XCTAssertEqual(truncate(path, off_t(size)), 0)
        return path
    }

    func testLargeFilesAreRefusedBeforeTheyAreRead() throws {
        try importSeed()
        let csv = try sparseFile("big.csv", size: 3 << 30, head: "a,b,label\n1,2,0\n")
        var outcome = try runLimited(["train", "--data", csv, "--layers", "2", "--store", workspace.path("new.db")])
        Reliability.assertRefused(outcome, "3 GB CSV")
        XCTAssertTrue(outcome.stderr.contains("fcstore reads CSV files of at most 2147483648 bytes (2 GiB)"), outcome.stderr)

        let garbage = try sparseFile("garbage.bin", size: 3 << 30, head: "garbage!{\"x\":1}")
        outcome = try runLimited(["import", garbage])
        Reliability.assertRefused(outcome, "3 GB garbage")
        XCTAssertTrue(outcome.stderr.contains("is not a model file or bundle (binary data of no known kind)"), outcome.stderr)

        // A ZIP's directory is at its end: an npz-looking 3 GB file without one is refused
        // from its last 64 KiB.
        let zip = try sparseFile("garbage.npz", size: 3 << 30, head: "PK\u{3}\u{4}garbage")
        outcome = try runLimited(["import", zip])
        Reliability.assertRefused(outcome, "3 GB npz without an end record")
        XCTAssertTrue(outcome.stderr.contains("no ZIP end-of-central-directory record"), outcome.stderr)

        let json = try sparseFile("big.json", size: (1 << 30) + 1, head: "{\"format\": \"fcstore-model\"")
        outcome = try runLimited(["import", json])
        Reliability.assertRefused(outcome, "1 GiB + 1 JSON")
        XCTAssertTrue(outcome.stderr.contains("is 1.0 GiB; fcstore refuses JSON models over 1.0 GiB."), outcome.stderr)
    }

    func testOneHugeCSVLineIsRefusedNamingTheLimit() throws {
        let line = String(repeating: "1,", count: (4 << 20) / 2 + 10) + "0"
        let path = try workspace.write("wide.csv", "a,label\n1,0\n\(line)\n")
        let outcome = try Reliability.run(["train", "--data", path, "--layers", "2"], in: workspace.directory)
        Reliability.assertRefused(outcome, "huge line")
        XCTAssertEqual(outcome.stderrLines, ["error: wide.csv:3: the line is longer than 4 MiB, the limit for one CSV line."])
    }

    // MARK: Export of a deep model

    /// 2,000 layers of width 2 export in every format with every layer in place (the
    /// export used to rebuild every layer on each layer read: cubic in the depth).
    func testADeepNarrowModelExports() throws {
        let layers = (Array(repeating: "2", count: 1_999) + ["3"]).joined(separator: ",")
        try workspace.ok(["train", "--data", CLI.iris, "--layers", layers, "--epochs", "0", "--name", "deep"])
        for format in ["safetensors", "npz", "json", "onnx"] {
            try workspace.ok(["export", "deep", "--format", format, "--output", workspace.path("deep.\(format)")])
        }
        let safetensors = [UInt8](try workspace.bytes("deep.safetensors"))
        let length = Int(safetensors[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let header = String(decoding: safetensors[8..<(8 + length)], as: UTF8.self)
        XCTAssertTrue(header.contains(#""layers.1999.weight":{"dtype":"F32","shape":[2,2]"#))
        XCTAssertTrue(header.contains(#""layers.2000.weight":{"dtype":"F32","shape":[3,2]"#))
        XCTAssertTrue(header.contains(#""layers.1.weight":{"dtype":"F32","shape":[2,4]"#))
        try workspace.ok(["import", workspace.path("deep.json"), "--name", "deep-again"])
        let shown = try workspace.ok(["show", "deep-again"]).stdout
        XCTAssertTrue(shown.contains("network    4-" + Array(repeating: "2", count: 1_999).joined(separator: "-") + "-3 "), String(shown.prefix(300)))
    }

    // MARK: plot --output

    func testPlotFollowsExportsOverwriteRules() throws {
        try importSeed()
        let svg = workspace.path("plot.svg")
        try "keep me".write(toFile: svg, atomically: true, encoding: .utf8)
        var outcome = try Reliability.run(["plot", "seed", "--output", svg], in: workspace.directory)
        Reliability.assertRefused(outcome, "plot over a file")
        XCTAssertEqual(outcome.stderrLines, ["error: \(svg) exists; pass --force to replace it."])
        XCTAssertEqual(try String(contentsOfFile: svg, encoding: .utf8), "keep me")

        try workspace.ok(["plot", "seed", "--output", svg, "--force"])
        XCTAssertTrue(try String(contentsOfFile: svg, encoding: .utf8).hasPrefix("<svg") ||
                      String(contentsOfFile: svg, encoding: .utf8).hasPrefix("<?xml"))

        let link = workspace.path("link.svg")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: svg)
        let target = try String(contentsOfFile: svg, encoding: .utf8)
        // plot takes .svg names only (a usage error otherwise), so its non-regular target
        // is a named pipe called .svg; export's is /dev/null.
        let pipe = workspace.path("pipe.svg")
        XCTAssertEqual(mkfifo(pipe, 0o600), 0)
        let cases: [(String, String, [String])] = [
            (link, "a symbolic link", ["plot", "seed"]), (link, "a symbolic link", ["export", "seed", "--format", "json"]),
            (pipe, "a named pipe (FIFO)", ["plot", "seed"]), ("/dev/null", "a device", ["export", "seed", "--format", "json"]),
        ]
        for (path, kind, command) in cases {
            outcome = try Reliability.run(command + ["--output", path, "--force"], in: workspace.directory)
            Reliability.assertRefused(outcome, "\(command[0]) over \(kind)")
            XCTAssertEqual(outcome.stderrLines, [
                "error: \(path) exists and is \(kind); fcstore replaces regular files only, even with --force. Choose another output file.",
            ])
        }
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), svg, "the link is still a link")
        XCTAssertEqual(try String(contentsOfFile: svg, encoding: .utf8), target, "its target was not written")
    }

    // MARK: Untrusted text

    func testControlCharactersInACSVCellCannotForgeALine() throws {
        let path = try workspace.write("evil.csv", "a,label\n\"1\nerror: forged \u{1B}]0;title\u{07}\u{1B}[31m\u{9B}2J\",0\n")
        let outcome = try Reliability.run(["train", "--data", path, "--layers", "2"], in: workspace.directory)
        Reliability.assertRefused(outcome, "evil cell")
        let line = try XCTUnwrap(outcome.stderrLines.first)
        XCTAssertEqual(line, #"error: evil.csv:2:1: "1\nerror: forged \u{1b}]0;title\u{7}\u{1b}[31m\u{9b}2J" is not a number."#)
        XCTAssertFalse(outcome.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B })
    }

    func testStoreTextIsEscapedOnTheTerminalAndInJSON() throws {
        try importSeed()
        // A run name is not covered by the run's digest: anyone can set it, to anything.
        let name = "seed\u{1B}]0;pwned\u{07}\u{1B}[2J\nerror: forged\u{9B}\u{7F}"
        XCTAssertTrue(try HostileNumbers.edit(workspace.store, "UPDATE runs SET name = '\(name)'"))
        for arguments in [["runs"], ["show", "d4f67e1a"]] {
            let outcome = try Reliability.run(arguments, in: workspace.directory)
            XCTAssertEqual(outcome.status, 0, outcome.stderr)
            for text in [outcome.stdout, outcome.stderr] {
                XCTAssertFalse(text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B || $0.value == 0x7F }, text)
                XCTAssertFalse(text.split(separator: "\n").contains { $0.hasPrefix("error: forged") }, text)
            }
            XCTAssertTrue(outcome.stdout.contains(#"seed\u{1b}]0;pwned\u{7}\u{1b}[2J\nerror: forged\u{9b}\u{7f}"#), outcome.stdout)
        }
        let json = try Reliability.run(["runs", "--json"], in: workspace.directory)
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertFalse(json.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B || $0.value == 0x7F })
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let runs = try XCTUnwrap(object["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.first?["name"] as? String, name, "JSON keeps the text exactly, in JSON escapes")
    }

    // MARK: SQLite errors

    func testSQLiteFailuresAreSentencesNamingTheStore() throws {
        try importSeed()
        // A schema object in the way of a migration: "index ... already exists".
        XCTAssertTrue(try HostileNumbers.edit(workspace.store, "DELETE FROM schema_migrations WHERE version = 2; PRAGMA user_version = 1"))
        var outcome = try Reliability.run(["runs"], in: workspace.directory)
        Reliability.assertRefused(outcome, "schema conflict")
        XCTAssertTrue(outcome.stderr.hasPrefix(
            "error: The store fcstore.db has a schema fcstore did not create (index metrics_val_loss already exists); run 'fcstore verify', or use another store."),
            outcome.stderr)

        // A store in a folder that does not exist: "unable to open database file".
        outcome = try Reliability.run(["--store", "missing/folder/s.db", "import", HostileNumbers.bundle], in: workspace.directory)
        Reliability.assertRefused(outcome, "cannot open")
        XCTAssertTrue(outcome.stderr.hasPrefix(
            "error: The store missing/folder/s.db cannot be opened; check that its folder exists and that you may read and write both."),
            outcome.stderr)
    }
}

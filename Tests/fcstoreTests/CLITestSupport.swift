import Foundation
import XCTest

/// A temporary folder with a store in it (`fcstore.db`, the default name, so
/// commands run there need no `--store`), and helpers to run the binary.
final class Workspace {
    let directory: URL
    var store: String { directory.appendingPathComponent("fcstore.db").path }

    init() throws {
        directory = try CLI.temporaryDirectory()
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs `fcstore ARGS` here; COLUMNS fixed so help text wraps the same everywhere.
    @discardableResult
    func run(_ arguments: [String]) throws -> CLIResult {
        try CLI.run(arguments, in: directory, environment: ["COLUMNS": "80"])
    }

    func start(_ arguments: [String]) throws -> RunningCLI {
        try CLI.start(arguments, in: directory, environment: ["COLUMNS": "80"])
    }

    /// Runs a command that must succeed.
    @discardableResult
    func ok(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let result = try run(arguments)
        XCTAssertEqual(result.status, 0, "fcstore \(arguments.joined(separator: " ")) failed:\n\(result.stderr)", file: file, line: line)
        return result
    }

    /// Runs a command with `--json` that must succeed and parses its one JSON document.
    func json(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let result = try ok(arguments + ["--json"], file: file, line: line)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(result.stdout)", file: file, line: line)
    }

    /// Trains a run and returns its id (the last stdout line).
    func train(_ extra: [String] = [], data: String = CLI.digits, layers: String = "16,10", epochs: Int = 5,
               file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try ok(["train", "--data", data, "--layers", layers, "--epochs", String(epochs)] + extra, file: file, line: line)
        return try XCTUnwrap(result.lastLine, file: file, line: line)
    }

    func runs() throws -> [[String: Any]] {
        try XCTUnwrap(try json(["runs"])["runs"] as? [[String: Any]])
    }

    func run(id: String) throws -> [String: Any] {
        try XCTUnwrap(try runs().first { $0["id"] as? String == id }, "no run \(id)")
    }

    func show(_ ref: String) throws -> [String: Any] { try json(["show", ref]) }

    /// `show --json`'s epochs: epoch → digest.
    func digests(_ ref: String) throws -> [Int: String] {
        let epochs = try XCTUnwrap(try show(ref)["epochs"] as? [[String: Any]])
        var result: [Int: String] = [:]
        for epoch in epochs { result[try XCTUnwrap(epoch["epoch"] as? Int)] = epoch["digest"] as? String }
        return result
    }

    func diff(_ a: String, _ b: String) throws -> [String: Any] { try json(["diff", a, b]) }

    /// Asserts a diff says identical and every tensor's change is exactly zero.
    func assertIdentical(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let diff = try self.diff(a, b)
        XCTAssertEqual(diff["identical"] as? Bool, true, "\(a) vs \(b)", file: file, line: line)
        let layers = try XCTUnwrap(diff["layers"] as? [[String: Any]], file: file, line: line)
        XCTAssertFalse(layers.isEmpty, file: file, line: line)
        for layer in layers {
            XCTAssertEqual(layer["changed"] as? Int, 0, "\(layer)", file: file, line: line)
            XCTAssertEqual(layer["l2"] as? Double, 0, "\(layer)", file: file, line: line)
            XCTAssertEqual(layer["max_abs"] as? Double, 0, "\(layer)", file: file, line: line)
        }
    }

    /// `predict --json` outputs, row by row.
    func predictions(_ ref: String, data: String) throws -> [[Double]] {
        let rows = try XCTUnwrap(try json(["predict", ref, "--data", data])["predictions"] as? [[String: Any]])
        return try rows.map { try XCTUnwrap($0["outputs"] as? [Double]) }
    }

    func bytes(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path(name))) }

    /// Writes a text file here and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }
}

extension CLIResult {
    var lastLine: String? { stdout.split(separator: "\n").last.map(String.init) }
}

/// The CLI contract for errors: non-zero exit, exactly one line on stderr, nothing on stdout.
func assertError(_ result: CLIResult, _ message: String, status: Int32? = nil, file: StaticString = #filePath, line: UInt = #line) {
    if let status {
        XCTAssertEqual(result.status, status, file: file, line: line)
    } else {
        XCTAssertNotEqual(result.status, 0, file: file, line: line)
    }
    XCTAssertEqual(result.stdout, "", "stdout", file: file, line: line)
    XCTAssertEqual(result.stderrLines, ["error: " + message], file: file, line: line)
    XCTAssertTrue(result.stderr.hasSuffix("\n"), "the line ends with a newline", file: file, line: line)
}

/// Raw SQL against a store file through the `sqlite3` command-line shell.
enum SQLite {
    static var shell: String? {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(folder)/sqlite3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func requireShell() throws -> String {
        guard let shell else { throw XCTSkip("The sqlite3 shell is not installed; this test tampers with a store through it.") }
        return shell
    }

    /// Runs `sql` (read from stdin) against `database`; returns stdout.
    @discardableResult
    static func execute(_ sql: String, on database: String) throws -> String {
        let result = try Subprocess.run(URL(fileURLWithPath: try requireShell()), ["-batch", database], input: Data(sql.utf8))
        guard result.status == 0, result.stderr.isEmpty else {
            throw NSError(domain: "sqlite3", code: Int(result.status), userInfo: [NSLocalizedDescriptionKey: result.stderr])
        }
        return result.stdout
    }

    /// Flips one byte of the blob behind one tensor (chosen by `where`, a condition on
    /// `tensors AS t`), the way disk corruption or tampering would.
    static func flipBlobByte(in database: String, where condition: String, offset: Int = 5) throws {
        let row = try execute("""
            SELECT b.id, hex(b.data) FROM blobs AS b JOIN tensors AS t ON t.hash = b.hash
            WHERE \(condition) ORDER BY t.checkpoint_id DESC LIMIT 1;
            """, on: database).trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = row.split(separator: "|")
        guard parts.count == 2, var bytes = hexBytes(String(parts[1])), offset < bytes.count else {
            throw NSError(domain: "sqlite3", code: 0, userInfo: [NSLocalizedDescriptionKey: "no blob for \(condition): \(row)"])
        }
        bytes[offset] ^= 0x01
        let hex = bytes.map { String(format: "%02X", $0) }.joined()
        try execute("UPDATE blobs SET data = X'\(hex)' WHERE id = \(parts[0]);", on: database)
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// The package's Python venv (created by scripts/setup --test), or a skip.
enum Python {
    static var interpreter: URL { CLI.packageRoot.appendingPathComponent(".venv/bin/python") }

    static func requireVenv() throws -> URL {
        guard FileManager.default.isExecutableFile(atPath: interpreter.path) else {
            throw XCTSkip("No .venv in the package root; run scripts/setup --test to enable the Python checks.")
        }
        return interpreter
    }

    /// Runs Tests/interop/SCRIPT ARGS; fails the test with its output when it fails.
    static func run(_ script: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try Subprocess.run(
            try requireVenv(), [CLI.packageRoot.appendingPathComponent("Tests/interop/\(script)").path] + arguments,
            mergingOutput: true)
        XCTAssertEqual(result.status, 0, "\(script) failed:\n\(result.stdout)", file: file, line: line)
    }
}

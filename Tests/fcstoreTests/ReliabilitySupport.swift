import Foundation
import XCTest
@testable import FCStorage

/// Helpers of the reliability tests: a process runner that can wrap the binary
/// (setpriv, ulimit), data fixtures, and store fingerprints.
enum Reliability {
    typealias Outcome = ProcessResult

    /// Runs `fcstore ARGS` in `directory`, optionally through a wrapper
    /// (`["/bin/sh", "-c", "ulimit -f N; exec \"$0\" \"$@\""]`, `setpriv ...`).
    static func run(_ arguments: [String], in directory: URL, wrapper: [String] = []) throws -> Outcome {
        let argv = wrapper + [CLI.binary.path] + arguments
        return try Subprocess.run(URL(fileURLWithPath: argv[0]), Array(argv.dropFirst()), in: directory, environment: CLI.environment(in: directory))
    }

    /// The first `rows` rows of examples/digits.csv (64 features, labels 0-9).
    static func digits(rows: Int, in directory: URL) throws -> String {
        let text = try String(contentsOfFile: CLI.digits, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(rows + 1)
        let path = directory.appendingPathComponent("digits-\(rows).csv").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// SHA-256 of the store file and its -wal, and `runs --json`: equal before
    /// and after a refused command means the command changed nothing.
    static func fingerprint(_ store: String, in directory: URL) throws -> String {
        var parts: [String] = []
        for suffix in ["", "-wal"] {
            // An empty -wal (left by a reader that may not delete it) holds nothing.
            if let data = FileManager.default.contents(atPath: store + suffix), !data.isEmpty {
                parts.append("\(suffix):\(SHA256Hasher.hex(SHA256Hasher.hash([UInt8](data))))")
            }
        }
        let runs = try run(["--store", store, "runs", "--json"], in: directory)
        parts.append(runs.stdout)
        return parts.joined(separator: "\n")
    }

    /// The epochs `show --json` lists for a run.
    static func listedEpochs(_ store: String, run: String, in directory: URL) throws -> [Int]? {
        let shown = try Reliability.run(["--store", store, "show", run, "--json"], in: directory)
        guard shown.status == 0, let data = shown.stdout.data(using: .utf8),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let epochs = object["epochs"] as? [[String: Any]] else { return nil }
        return epochs.compactMap { $0["epoch"] as? Int }
    }

    /// Epoch numbers of the "epoch E/N ... committed" lines on stderr.
    static func committedEpochs(_ stderr: String) -> [Int] {
        stderr.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("epoch "), line.hasSuffix("committed") else { return nil }
            return Int(line.dropFirst(6).prefix { $0.isNumber })
        }
    }

    /// Asserts the refusal contract: exit 1, exactly one `error: ...` line on
    /// stderr, no signal, no Swift runtime trap.
    static func assertRefused(_ outcome: Outcome, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(outcome.signalled, "\(label): killed by a signal", file: file, line: line)
        XCTAssertEqual(outcome.status, 1, "\(label): exit status; stderr: \(outcome.stderr)", file: file, line: line)
        XCTAssertEqual(outcome.stderrLines.count, 1, "\(label): stderr should be one line: \(outcome.stderr)", file: file, line: line)
        XCTAssertTrue(outcome.stderrLines.first?.hasPrefix("error: ") ?? false, "\(label): \(outcome.stderr)", file: file, line: line)
        XCTAssertFalse(outcome.stderr.contains("Fatal error"), "\(label): \(outcome.stderr)", file: file, line: line)
    }
}

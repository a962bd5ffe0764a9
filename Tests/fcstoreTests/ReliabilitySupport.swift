import Foundation
import XCTest
@testable import FCStorage

/// Helpers of the reliability tests: a process runner that can wrap the binary
/// (setpriv, ulimit), data fixtures, and store fingerprints.
enum Reliability {
    struct Outcome {
        var status: Int32
        var signalled: Bool
        var stdout: String
        var stderr: String

        /// The non-empty lines of stderr.
        var errorLines: [String] { stderr.split(separator: "\n").map(String.init).filter { !$0.isEmpty } }
    }

    /// Runs `fcstore ARGS` in `directory`, optionally through a wrapper
    /// (`["/bin/sh", "-c", "ulimit -f N; exec \"$0\" \"$@\""]`, `setpriv ...`).
    static func run(_ arguments: [String], in directory: URL, wrapper: [String] = [], stdin: Data? = nil) throws -> Outcome {
        let process = Process()
        let argv = wrapper + [CLI.binary.path] + arguments
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "FCSTORE_DB")
        process.environment = environment
        let out = directory.appendingPathComponent(".out-\(UUID().uuidString)")
        let err = directory.appendingPathComponent(".err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        chmod(out.path, 0o666)
        chmod(err.path, 0o666)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        return Outcome(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                       stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
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
        XCTAssertEqual(outcome.errorLines.count, 1, "\(label): stderr should be one line: \(outcome.stderr)", file: file, line: line)
        XCTAssertTrue(outcome.errorLines.first?.hasPrefix("error: ") ?? false, "\(label): \(outcome.stderr)", file: file, line: line)
        XCTAssertFalse(outcome.stderr.contains("Fatal error"), "\(label): \(outcome.stderr)", file: file, line: line)
    }

    /// Waits until `condition` holds or `timeout` passes.
    static func wait(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(2_000)
        }
        return condition()
    }
}

/// A seeded generator (SplitMix64) for reproducible kill instants and tampering.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

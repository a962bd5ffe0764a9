import Foundation
import XCTest

/// First contact: the README's Quick start is two commands that set up what they
/// need (scripts/setup), CI runs the second one as written, and a machine without
/// OpenBLAS gets one line that says what to install.
final class SetupTests: XCTestCase {
    private var root: URL { CLI.packageRoot }

    /// The fenced `sh` blocks of the README's Quick start section, in order.
    private func quickStartBlocks() throws -> [String] {
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.components(separatedBy: "\n")
        let start = try XCTUnwrap(lines.firstIndex(of: "## Quick start"), "the README has no Quick start section")
        let section = lines[(start + 1)...].prefix { !$0.hasPrefix("## ") }
        var blocks: [String] = []
        var current: [String]?
        for line in section {
            if current == nil, line.hasPrefix("```") {
                XCTAssertEqual(line, "```sh", "every fenced block in the Quick start is a sh block")
                current = []
            } else if current != nil, line == "```" {
                blocks.append(current?.joined(separator: "\n") ?? "")
                current = nil
            } else if current != nil {
                current?.append(line)
            }
        }
        XCTAssertNil(current, "an unclosed block in the Quick start")
        return blocks
    }

    func testQuickStartIsTwoCommandsThatSetUpFirst() throws {
        let blocks = try quickStartBlocks()
        XCTAssertEqual(blocks.count, 2, "\(blocks)")
        guard blocks.count == 2 else { return }
        // The first trains the bundled example and shows the run.
        XCTAssertTrue(blocks[0].hasPrefix("scripts/setup && swift run -c release fcstore train --data examples/digits.csv"), blocks[0])
        XCTAssertTrue(blocks[0].hasSuffix("&& .build/release/fcstore show digits"), blocks[0])
        // The second runs the whole suite.
        XCTAssertEqual(blocks[1], "scripts/setup --test && scripts/with-postgres swift test")
    }

    /// .ci/run runs the README's test command and installs nothing itself.
    func testCIRunsTheReadmesTestCommandAndInstallsNothingItself() throws {
        let script = try String(contentsOf: root.appendingPathComponent(".ci/run"), encoding: .utf8)
        for installer in ["apt-get", "brew ", "pip ", "setup-venv"] {
            XCTAssertFalse(script.contains(installer), ".ci/run mentions \(installer): one install path is scripts/setup")
        }
        // The command CI runs is the README's test command, word for word.
        let readmeCommand = try XCTUnwrap(try quickStartBlocks().last)
        XCTAssertTrue(script.contains("(\(readmeCommand)) 2>&1 | tee"), "CI must run the README's test command: \(readmeCommand)")
    }

    /// The suite runs after `scripts/setup --test`, so on this machine it finds
    /// nothing missing: exit 0 and not a word (a complete machine installs nothing).
    func testSetupFindsNothingMissingAfterTheReadmesTestCommand() throws {
        let result = try shell([root.appendingPathComponent("scripts/setup").path, "--test", "--check"])
        XCTAssertEqual(result.status, 0, "scripts/setup --test --check: \(result.stderr)")
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr, "")
        let usage = try shell([root.appendingPathComponent("scripts/setup").path, "--tset"])
        XCTAssertEqual(usage.status, 64)
        XCTAssertEqual(usage.stderr, "setup: unknown option '--tset' (use --test, --check or nothing)\n")
    }

    /// Without a loadable OpenBLAS, a command that trains stops with one line that
    /// names the library and what to do, exit 1, before any store is created.
    func testAMissingOpenBLASIsOneErrorLine() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try CLI.run(["train", "--data", CLI.iris, "--layers", "3", "--epochs", "1"], in: directory,
                                 environment: ["FCSTORE_OPENBLAS": "/nonexistent/libopenblas.so.0"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("error: Could not load OpenBLAS from FCSTORE_OPENBLAS=/nonexistent/libopenblas.so.0 ("),
                      result.stderr)
        XCTAssertTrue(result.stderr.hasSuffix("; fix or unset the variable.\n"), result.stderr)
        // Refused before the store was opened: no store file was created.
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("fcstore.db").path))
    }

    private func shell(_ arguments: [String]) throws -> CLIResult {
        try Subprocess.run(URL(fileURLWithPath: "/usr/bin/env"), ["bash"] + arguments, in: root)
    }
}

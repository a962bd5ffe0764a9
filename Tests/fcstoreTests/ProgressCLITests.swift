import Foundation
import XCTest

/// Training and loading progress on stderr: piped, one plain line per epoch;
/// on a terminal (a pseudo-terminal from util-linux `script`), a live line
/// with the running loss and the run's ETA, and a loading line for a slow file.
final class ProgressCLITests: XCTestCase {
    /// A CSV of `rows` rows (a block of 1,000 random rows repeated) of 20 features and
    /// a label 0-2, large enough to take a while.
    /// 20 features and a label a row; with `quoted` labels (`"2"`), which the general
    /// reader parses record by record, several times slower than the fast path.
    private func bigCSV(_ workspace: Workspace, rows: Int, quoted: Bool = false) throws -> String {
        var generator = SystemRandomNumberGenerator()
        var block = ""
        for row in 0..<1000 {
            block += (0..<20).map { _ in String(Int.random(in: 0..<100_000, using: &generator)) }.joined(separator: ",")
            block += quoted ? ",\"\(row % 3)\"\n" : ",\(row % 3)\n"
        }
        let header = (0..<20).map { "f\($0)" }.joined(separator: ",") + ",label\n"
        return try workspace.write("big.csv", header + String(repeating: block, count: rows / 1000))
    }

    func testPipedProgressIsOneLinePerEpoch() throws {
        let workspace = try Workspace()
        let result = try workspace.ok(["train", "--data", CLI.iris, "--layers", "4,3", "--epochs", "3", "--batch-size", "1",
                                       "--validation-split", "0.2"])
        XCTAssertFalse(result.stderr.contains("\r"), result.stderr)
        XCTAssertFalse(result.stderr.contains("\u{1B}"), result.stderr)
        let lines = result.stderrLines
        XCTAssertEqual(lines.count, 6, result.stderr)
        XCTAssertEqual(lines.first, "training run \(try XCTUnwrap(result.lastLine?.prefix(8))) to epoch 3 on 120 samples, 120 batches per epoch")
        XCTAssertTrue(lines[1].hasPrefix("epoch 0/3  val_loss "), lines[1])
        for (index, line) in lines[2...4].enumerated() {
            XCTAssertTrue(line.hasPrefix("epoch \(index + 1)/3  loss "), line)
            XCTAssertTrue(line.hasSuffix("  committed"), line)
        }
        XCTAssertTrue(lines[5].hasSuffix("completed: epoch 3 committed"), lines[5])
    }

    /// Runs `fcstore ARGS` with stderr on a pseudo-terminal; returns what the terminal got.
    private func onTerminal(_ workspace: Workspace, _ arguments: [String]) throws -> String {
        let script = "/usr/bin/script"
        guard FileManager.default.isExecutableFile(atPath: script) else {
            throw XCTSkip("util-linux script is not installed; the terminal form is not tested.")
        }
        let command = ([CLI.binary.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let result = try Subprocess.run(
            URL(fileURLWithPath: script), ["-qfec", command, "/dev/null"], in: workspace.directory,
            environment: ["PATH": "/usr/bin:/bin", "TERM": "xterm", "HOME": workspace.directory.path])
        XCTAssertEqual(result.status, 0)
        return result.stdout
    }

    func testTheLiveLineShowsTheRunningLossAndTheRunsETA() throws {
        let workspace = try Workspace()
        let data = try bigCSV(workspace, rows: 60_000)
        // Wide enough that an epoch takes about a second, so the line (redrawn every 0.1 s) is drawn within each epoch.
        let output = try onTerminal(workspace, ["train", "--data", data, "--layers", "512,512,3", "--epochs", "3", "--batch-size", "8"])
        let redraws = output.components(separatedBy: "\r\u{1B}[2K").filter { !$0.isEmpty }
        // Live lines: `epoch E/3 [bar] B/7500  loss L  N samples/s  run ETA T`.
        let pattern = try NSRegularExpression(
            pattern: #"^epoch ([1-3])/3 \[[= ]{24}\] (\d+)/7500  loss (\d\.\d{4}|-)  \d+ samples/s  run ETA (\S+)"#)
        var live: [(epoch: Int, batch: Int, loss: String, eta: String)] = []
        for text in redraws {
            let range = NSRange(text.startIndex..., in: text)
            guard let match = pattern.firstMatch(in: text, range: range) else { continue }
            func group(_ index: Int) -> String { String(text[Range(match.range(at: index), in: text)!]) }
            live.append((Int(group(1)) ?? 0, Int(group(2)) ?? 0, group(3), group(4)))
        }
        XCTAssertGreaterThan(live.count, 3, output)
        // Past the first batch the loss is the epoch's own running mean, labelled; before it, "loss -".
        for line in live where line.batch > 0 { XCTAssertNotEqual(line.loss, "-", "\(line)") }
        // The ETA covers the whole run: at the same point of an epoch it is about three
        // times longer in epoch 1 (three epochs to go) than in epoch 3 (one to go);
        // an ETA of the epoch alone would be about the same in both.
        func seconds(_ text: String) -> Double? {
            if text.hasSuffix("s"), !text.contains("m") { return Double(text.dropLast()) }
            let parts = text.split(whereSeparator: { $0 == "m" || $0 == "s" || $0 == "h" }).compactMap { Double($0) }
            if text.contains("h") { return parts.count == 2 ? parts[0] * 3600 + parts[1] * 60 : nil }
            return parts.count == 2 ? parts[0] * 60 + parts[1] : nil
        }
        func eta(inEpoch epoch: Int) -> Double? {
            live.filter { $0.epoch == epoch && (500...5000).contains($0.batch) }.compactMap { seconds($0.eta) }.first
        }
        let first = try XCTUnwrap(eta(inEpoch: 1), output)
        let third = try XCTUnwrap(eta(inEpoch: 3), output)
        XCTAssertGreaterThan(first, 1.8 * third, "run ETA \(first) s in epoch 1, \(third) s in epoch 3")
        // The committed epochs still come as one line each.
        for epoch in 1...3 {
            XCTAssertTrue(output.contains("epoch \(epoch)/3  loss "), output)
        }
    }

    func testLoadingASlowFileShowsBytesRowsAndRateOnATerminalOnly() throws {
        let workspace = try Workspace()
        // Large enough to take over 0.5 s to parse in a debug build: quoted cells keep it
        // on the general reader.
        let data = try bigCSV(workspace, rows: 150_000, quoted: true)
        let output = try onTerminal(workspace, ["train", "--data", data, "--layers", "3", "--epochs", "0"])
        let loading = try NSRegularExpression(
            pattern: #"loading big\.csv: \d+\.\d [KM]iB of \d+\.\d MiB, \d+ rows, \d+\.\d [KM]iB/s"#)
        XCTAssertNotNil(loading.firstMatch(in: output, range: NSRange(output.startIndex..., in: output)), output)
        let loaded = try NSRegularExpression(
            pattern: #"loaded big\.csv: \d+\.\d MiB, 150000 rows in \S+ \(\d+\.\d [KM]iB/s\)\r?\n"#)
        XCTAssertNotNil(loaded.firstMatch(in: output, range: NSRange(output.startIndex..., in: output)), output)
        // Piped: nothing about loading.
        let piped = try workspace.ok(["train", "--data", data, "--layers", "3", "--epochs", "0"])
        XCTAssertFalse(piped.stderr.contains("load"), piped.stderr)
        XCTAssertEqual(piped.stderrLines.count, 3, piped.stderr)
    }
}

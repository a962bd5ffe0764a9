import Foundation
import XCTest

/// `fcstore ui` in a real browser: Debian's chromium, headless, driven by selenium
/// through chromium-driver from the package venv (Tests/interop/check_dashboard.py).
/// Skipped with one line when chromium, its driver or the venv's selenium is missing;
/// the README's test command (`scripts/setup --test`) installs all three.
final class DashboardBrowserTests: XCTestCase {
    /// Strings that would run script if a page put them in unescaped.
    static let corpus = [
        "<script>window.__xss=1</script>",
        "\"><img src=x onerror=window.__xss=2>",
        "'><svg onload=window.__xss=3>",
        "<script>window.__xss=4</script>metric",
    ]

    func testPagesSortingFilteringCompareDiffXSSAndHTTPRulesInChromium() throws {
        try Browser.require()
        let workspace = try Workspace()
        let iris = CLI.iris
        var runs: [String: String] = [:]
        func train(_ name: String, data: String = iris, _ extra: [String]) throws {
            let result = try workspace.ok(["train", "--data", data, "--layers", "8,3", "--validation-split", "0.2", "--name", name] + extra)
            runs[name] = try XCTUnwrap(result.lastLine)
        }
        try train("alpha", ["--epochs", "4"])
        try train("beta", ["--epochs", "2", "--learning-rate", "0.05"])
        let fork = try workspace.ok(["resume", "alpha@2", "--learning-rate", "0.02", "--name", "fork"])
        runs["fork"] = try XCTUnwrap(fork.lastLine)
        // The corpus as run names, as a data path in a configuration, and as a metric name.
        let hostileData = workspace.path(Self.corpus[1] + ".csv")
        try FileManager.default.copyItem(atPath: iris, toPath: hostileData)
        try train(Self.corpus[0], data: hostileData, ["--epochs", "3"])
        try train(Self.corpus[2], ["--epochs", "1"])
        let hostile = try XCTUnwrap(runs[Self.corpus[0]])
        if SQLite.shell != nil {
            try SQLite.execute("""
                INSERT INTO metrics (checkpoint_id, name, value)
                SELECT id, '\(Self.corpus[3])', 0.25 + epoch FROM checkpoints WHERE run_id = '\(hostile)';
                """, on: workspace.store)
        }
        let fingerprint = try Browser.sha256(workspace.store)

        let server = try Browser.startServer(workspace, idleTimeout: 2)
        defer { server.stop() }
        let ids = runs.mapValues { $0 }
        let encodedMetric = try XCTUnwrap(Self.corpus[3].addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        let screenshot = ProcessInfo.processInfo.environment["FCSTORE_UI_SCREENSHOT"] ?? workspace.path("dashboard.png")
        let spec: [String: Any] = [
            "url": server.url, "host": "127.0.0.1", "port": server.port, "idle_timeout": 2,
            "runs": ids, "main": "alpha", "corpus": Self.corpus,
            "epochs": ["alpha": 4, "beta": 2, "fork": 4],
            "metrics": ["train_loss", "val_loss", "train_accuracy", "val_accuracy"],
            "tensors": 4, "filter": "alph", "filtered": [ids["alpha"]],
            "compare": ["alpha", "beta"], "differing": ["epochs", "training.optimizer.learningRate"],
            "xss_pages": [
                "runs/\(hostile)", "runs/\(hostile)?metric=\(encodedMetric)&log=1",
                "compare?run=\(hostile)&run=\(ids[Self.corpus[2]] ?? "")", "diff?a=\(hostile)@0&b=\(hostile)@3",
                "runs/\(hostile)/weights", "runs/\(hostile)/verify",
            ],
            "pages": ["runs/\(ids["fork"] ?? "")", "runs/\(ids["alpha"] ?? "")/weights", "runs/\(ids["alpha"] ?? "")/verify"],
            "screenshot": screenshot,
        ]
        try Browser.check("browse", spec, in: workspace)
        server.stop()
        XCTAssertEqual(try Browser.sha256(workspace.store), fingerprint, "the store's bytes are unchanged after the browser tests")
        XCTAssertTrue(FileManager.default.fileExists(atPath: screenshot), "the screenshot was written")
    }

    func testARunTrainedWhileItsPageIsOpenGainsItsNewEpochWithoutAReload() throws {
        try Browser.require()
        let workspace = try Workspace()
        let run = try XCTUnwrap(workspace.ok(["train", "--data", CLI.iris, "--layers", "8,3", "--validation-split", "0.2",
                                              "--epochs", "2", "--name", "live"]).lastLine)
        let server = try Browser.startServer(workspace, idleTimeout: 10)
        defer { server.stop() }
        try Browser.check("live", [
            "url": server.url, "run": run, "epochs_before": 3, "new_epoch": 3, "cwd": workspace.directory.path,
            "train": [CLI.binary.path, "resume", run, "--epochs", "3"],
        ], in: workspace)
    }
}

/// The browser, the server and the script, for `DashboardBrowserTests`.
enum Browser {
    static let chromium = "/usr/bin/chromium", driver = "/usr/bin/chromedriver"

    static func require() throws {
        guard FileManager.default.isExecutableFile(atPath: chromium), FileManager.default.isExecutableFile(atPath: driver) else {
            throw XCTSkip("chromium and chromium-driver are not installed; run scripts/setup --test to enable the dashboard tests.")
        }
        let python = try Python.requireVenv()
        let probe = Process()
        probe.executableURL = python
        probe.arguments = ["-c", "import selenium"]
        probe.standardError = FileHandle.nullDevice
        try probe.run()
        probe.waitUntilExit()
        guard probe.terminationStatus == 0 else {
            throw XCTSkip("The venv has no selenium; run scripts/setup --test to enable the dashboard tests.")
        }
    }

    struct Server {
        let process: RunningCLI
        let url: String
        let port: Int
        func stop() {
            if process.process.isRunning {
                process.process.terminate()
                process.process.waitUntilExit()
            }
        }
    }

    /// `fcstore ui --port 0` in the workspace; its first stdout line is the URL.
    static func startServer(_ workspace: Workspace, idleTimeout: Int) throws -> Server {
        let process = try workspace.start(["ui", "--port", "0", "--idle-timeout", String(idleTimeout)])
        var url: String?
        _ = waitFor(20) {
            let text = (try? String(contentsOf: process.stdoutURL, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first, text.contains("\n") { url = String(line) }
            return url != nil || !process.process.isRunning
        }
        guard let url, let components = URLComponents(string: url), let port = components.port else {
            if process.process.isRunning { process.process.terminate() }
            let result = process.wait()
            throw NSError(domain: "fcstore ui", code: 1, userInfo: [NSLocalizedDescriptionKey: "no URL on stdout: \(result.stdout) \(result.stderr)"])
        }
        XCTAssertEqual(components.host, "127.0.0.1", "binds to 127.0.0.1 by default")
        return Server(process: process, url: url, port: port)
    }

    /// Runs check_dashboard.py MODE with the spec as a JSON file.
    static func check(_ mode: String, _ spec: [String: Any], in workspace: Workspace, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = workspace.path("spec-\(mode).json")
        try JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: path))
        try Python.run("check_dashboard.py", [mode, path], file: file, line: line)
    }

    /// The file's SHA-256, by coreutils' sha256sum.
    static func sha256(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }
}

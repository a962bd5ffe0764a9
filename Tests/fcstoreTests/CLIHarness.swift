import Foundation
import XCTest
// The process runner, the poller and SplitMix64, for every file of this target.
@_exported import FCTestSupport

/// Runs the built `fcstore` binary as a subprocess in a temporary folder.
typealias CLIResult = ProcessResult
/// A started `fcstore` (`CLI.start`).
typealias RunningCLI = RunningProcess

enum CLI {
    /// The folder holding the built products (the test bundle's neighbour).
    static var productsDirectory: URL {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL
    }

    static var binary: URL { productsDirectory.appendingPathComponent("fcstore") }

    /// The package root (for the bundled example data).
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var digits: String { packageRoot.appendingPathComponent("examples/digits.csv").path }
    static var iris: String { packageRoot.appendingPathComponent("examples/iris.csv").path }

    /// Runs `fcstore ARGS` in `directory` and waits for it.
    @discardableResult
    static func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws -> CLIResult {
        let process = try start(arguments, in: directory, environment: environment)
        return process.wait()
    }

    static func start(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws -> RunningCLI {
        try Subprocess.start(binary, arguments, in: directory, environment: Self.environment(environment, in: directory))
    }

    /// This process's environment without FCSTORE_DB and without the user's signing key
    /// (tests that sign pass FCSTORE_KEY themselves; XDG_CONFIG_HOME points into the
    /// test's `directory`, so a default key is never the user's), plus `extra`.
    static func environment(_ extra: [String: String] = [:], in directory: URL) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "FCSTORE_DB")
        env.removeValue(forKey: "FCSTORE_KEY")
        env["XDG_CONFIG_HOME"] = directory.appendingPathComponent(".config").path
        for (key, value) in extra { env[key] = value }
        return env
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fcstore-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

import Foundation
import XCTest

/// Runs the built `fcstore` binary as a subprocess in a temporary folder.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

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
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "FCSTORE_DB")
        // No signing key of the user's: tests that sign pass FCSTORE_KEY themselves.
        env.removeValue(forKey: "FCSTORE_KEY")
        env["XDG_CONFIG_HOME"] = directory.appendingPathComponent(".config").path
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = directory.appendingPathComponent(".stdout-\(UUID().uuidString)")
        let err = directory.appendingPathComponent(".stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return RunningCLI(process: process, stdoutURL: out, stderrURL: err)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fcstore-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

struct RunningCLI {
    let process: Process
    let stdoutURL: URL
    let stderrURL: URL

    func wait() -> CLIResult {
        process.waitUntilExit()
        let stdout = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: stdoutURL)
        try? FileManager.default.removeItem(at: stderrURL)
        return CLIResult(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }

    /// What the process has written to stderr so far.
    var stderrSoFar: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
}

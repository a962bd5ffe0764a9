import Foundation

/// How a finished process ended and what it wrote.
public struct ProcessResult {
    public var status: Int32
    /// Whether a signal ended it (`status` is then the signal's number).
    public var signalled: Bool
    public var stdout: String
    public var stderr: String

    public init(status: Int32, signalled: Bool = false, stdout: String, stderr: String) {
        self.status = status
        self.signalled = signalled
        self.stdout = stdout
        self.stderr = stderr
    }

    /// The non-empty lines of stderr.
    public var stderrLines: [String] { stderr.split(separator: "\n").map(String.init).filter { !$0.isEmpty } }
}

/// A started process. Its stdout and stderr go to files (no pipe can fill up and stall it),
/// so a test can watch stderr while it runs, signal it, then wait.
public struct RunningProcess {
    public let process: Process
    public let stdoutURL: URL
    public let stderrURL: URL?
    let stdinURL: URL?

    /// Waits for the process; returns its status and output (text that is not UTF-8 reads as "")
    /// and removes the output files.
    public func wait() -> ProcessResult {
        process.waitUntilExit()
        let stdout = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
        let stderr = stderrURL.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
        for url in [stdoutURL, stderrURL, stdinURL].compactMap({ $0 }) { try? FileManager.default.removeItem(at: url) }
        return ProcessResult(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                             stdout: stdout, stderr: stderr)
    }

    /// What the process has written to stderr so far.
    public var stderrSoFar: String { stderrURL.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? "" }
}

/// The tests' one way to run a program.
public enum Subprocess {
    /// Starts `executable ARGUMENTS`.
    /// - Parameters:
    ///   - directory: its working directory (nil: this process's). The output files are in the
    ///     temporary folder, writable by every user (for a process run as another user), and
    ///     removed by `wait`.
    ///   - environment: its whole environment (nil: this process's).
    ///   - input: what it reads on stdin (nil: /dev/null).
    ///   - mergingOutput: stderr goes to the stdout file (`stderr` is then "").
    public static func start(
        _ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil,
        input: Data? = nil, mergingOutput: Bool = false
    ) throws -> RunningProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        let folder = FileManager.default.temporaryDirectory
        func file(_ kind: String, _ contents: Data? = nil) -> URL {
            let url = folder.appendingPathComponent("fcstore-test-\(kind)-\(UUID().uuidString)")
            FileManager.default.createFile(atPath: url.path, contents: contents)
            chmod(url.path, 0o666)
            return url
        }
        let out = file("stdout"), err = mergingOutput ? nil : file("stderr")
        let stdout = try FileHandle(forWritingTo: out)
        process.standardOutput = stdout
        process.standardError = try err.map { try FileHandle(forWritingTo: $0) } ?? stdout
        let inURL = input.map { file("stdin", $0) }
        process.standardInput = try inURL.map { try FileHandle(forReadingFrom: $0) } ?? FileHandle.nullDevice
        try process.run()
        return RunningProcess(process: process, stdoutURL: out, stderrURL: err, stdinURL: inURL)
    }

    /// `start`, then `wait`.
    public static func run(
        _ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil,
        input: Data? = nil, mergingOutput: Bool = false
    ) throws -> ProcessResult {
        try start(executable, arguments, in: directory, environment: environment, input: input, mergingOutput: mergingOutput).wait()
    }
}

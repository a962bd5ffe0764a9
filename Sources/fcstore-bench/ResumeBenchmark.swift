import ArgumentParser
import FCCore
import FCNet
import FCTraining
import Foundation

/// `fcstore-bench resume`: how long `fcstore resume` of the W3 model takes to start
/// training, as a user runs it. Writes W3's data as IDX files (20,000 28×28 images, the
/// engine benchmark's synthetic data from a fixed seed), trains one epoch with the real
/// `fcstore train`, then starts `fcstore resume RUN --epochs 100` several times with
/// `FCSTORE_TIMINGS=1` and places its phase lines on this process's clock, from just
/// before `posix_spawn`. Each resume is killed (SIGKILL, as a crash would end it) as
/// soon as training has started, so every repeat resumes the same epoch-1 checkpoint
/// of a run whose owner is gone (the path of an interrupted run differs only in the
/// owner check). SIGINT is not used: the CLI's handler may not be in place yet when the
/// first batch starts, and a missed SIGINT would let the resume train on.
struct ResumeBenchmark: ParsableCommand {
    /// The prefix of the lines `fcstore` writes with `FCSTORE_TIMINGS=1` (its `PhaseTimings`).
    static let timingPrefix = "fcstore-timing: "

    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Time 'fcstore resume' of the W3 model from process start to its first batch.",
        discussion: """
            Reported as medians: spawn -> main (exec, dynamic loading, Swift runtime), \
            spawn -> training-started (the first epoch's first batch is next), data loading \
            (data-begin -> data-end: read, parse, normalise, fingerprint) and the rest \
            (the total less data loading), then the median length of each phase.
            """)

    @Option(help: "The fcstore binary to time (default: next to this one).") var fcstore: String?
    @Option(help: "Timed resumes (the median is reported).") var repeats = 7
    @Option(help: "A folder for the data and the store (kept; default: a temporary folder, removed).")
    var folder: String?
    @Flag(help: "Resume with --fork (a new run each time) instead of continuing the run in place.")
    var fork = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1.") }
    }

    func run() throws {
        let binary = fcstore ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("fcstore").path
        let directory = folder ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("fcstore-resume-\(getpid())")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { if folder == nil { try? FileManager.default.removeItem(atPath: directory) } }
        let images = (directory as NSString).appendingPathComponent("w3-images-idx3-ubyte")
        let labels = (directory as NSString).appendingPathComponent("w3-labels-idx1-ubyte")
        let store = (directory as NSString).appendingPathComponent("w3.db")

        if !FileManager.default.fileExists(atPath: store) {
            try Self.writeW3(images: images, labels: labels)
            let train = try Self.spawn(binary, ["train", "--store", store, "--data", images, "--labels", labels,
                                                "--layers", "1024,1024,10", "--batch-size", "256", "--epochs", "1",
                                                "--seed", "1", "--name", "w3"])
            guard train.status == 0 else { throw ValidationError("fcstore train failed:\n\(train.stderr)") }
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: images)[.size] as? NSNumber)?.intValue ?? 0
        print(String(format: "W3 784-1024-1024-10, batch 256, %d samples (%.1f MB IDX); store %@", 20_000, Double(size) / 1e6, store))

        let arguments = ["resume", "--store", store, "w3", "--epochs", "100"] + (fork ? ["--fork"] : [])
        var samples: [[String: Double]] = []
        var order: [String] = []
        for index in 0...repeats {
            let result = try Self.spawn(binary, arguments, timings: true, stopAt: "training-started")
            guard result.phases["training-started"] != nil else {
                throw ValidationError("fcstore resume did not report training-started (exit status \(result.status)):\n\(result.stderr)")
            }
            if index == 0 { order = result.order; continue }  // untimed: warms the page cache
            samples.append(result.phases)
        }

        func median(_ values: [Double]) -> Double {
            let sorted = values.sorted(), mid = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        }
        func column(_ body: ([String: Double]) -> Double?) -> [Double] { samples.compactMap(body) }
        let total = column { $0["training-started"] }
        let data = column { p in p["data-end"].flatMap { end in p["data-begin"].map { end - $0 } } }
        let rest = column { p in
            p["training-started"].flatMap { t in p["data-end"].flatMap { end in p["data-begin"].map { t - (end - $0) } } }
        }
        let format = { (values: [Double]) -> String in
            String(format: "%7.1f ms  (min %.1f, max %.1f)", median(values), values.min() ?? .nan, values.max() ?? .nan)
        }
        print("fcstore \(arguments.joined(separator: " ")): medians of \(samples.count) runs, from posix_spawn")
        print("  spawn -> main             \(format(column { $0["main"] }))")
        print("  spawn -> training-started \(format(total))")
        print("  data loading              \(format(data))")
        print("  the rest                  \(format(rest))  goal 50 ms")
        print("phases (median length; each ends at its name):")
        var previous: String?
        for phase in order {
            let lengths = column { p in p[phase].map { $0 - (previous.flatMap { p[$0] } ?? 0) } }
            print("  \(phase.padding(toLength: 18, withPad: " ", startingAt: 0))" + String(format: "%7.1f ms", median(lengths)))
            previous = phase
        }
    }

    // MARK: Data

    /// W3's synthetic data (the engine benchmark's, features in [0, 1)) as IDX bytes.
    static func writeW3(images: String, labels: String) throws {
        let w3 = EngineBenchmark.all.first { $0.name == "W3" }!
        let data = try EngineBenchmark.syntheticData(w3)
        func bigEndian(_ values: [Int]) -> [UInt8] {
            values.flatMap { v in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
        }
        var imageBytes: [UInt8] = [0, 0, 8, 3] + bigEndian([data.count, 28, 28])
        imageBytes.reserveCapacity(imageBytes.count + data.features.count)
        for value in data.features { imageBytes.append(UInt8(min(255, max(0, (value * 255).rounded())))) }
        let labelBytes: [UInt8] = [0, 0, 8, 1] + bigEndian([data.count]) + data.labels.map { UInt8($0) }
        try Data(imageBytes).write(to: URL(fileURLWithPath: images))
        try Data(labelBytes).write(to: URL(fileURLWithPath: labels))
    }

    // MARK: Spawning

    struct SpawnResult {
        var status: Int32
        var stderr: String
        /// Milliseconds from just before posix_spawn to each phase line's clock_ns.
        var phases: [String: Double]
        var order: [String]
    }

    /// Runs `binary` with stdout to /dev/null and stderr read through a pipe; with
    /// `stopAt`, kills it (SIGKILL) once that phase is reported and waits for the exit.
    static func spawn(_ binary: String, _ arguments: [String], timings: Bool = false, stopAt: String? = nil) throws -> SpawnResult {
        var cArguments = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var environment = ProcessInfo.processInfo.environment.filter { $0.key != "FCSTORE_TIMINGS" }.map { "\($0.key)=\($0.value)" }
        if timings { environment.append("FCSTORE_TIMINGS=1") }
        var cEnvironment = environment.map { strdup($0) } + [nil]
        defer { for pointer in cEnvironment { free(pointer) } }

        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw ValidationError("pipe failed.") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        posix_spawn_file_actions_addclose(&actions, pipeEnds[1])

        var pid: pid_t = 0
        // posix_spawn + waitpid: Foundation's Process.waitUntilExit polls in 50 ms steps.
        let start = MonotonicClock.nanoseconds()
        guard posix_spawn(&pid, binary, &actions, nil, &cArguments, &cEnvironment) == 0 else {
            close(pipeEnds[0]); close(pipeEnds[1])
            throw ValidationError("Cannot start \(binary).")
        }
        close(pipeEnds[1])

        var text = [UInt8](), phases: [String: Double] = [:], order: [String] = []
        var lineStart = 0, stopped = false
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipeEnds[0], &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            text += buffer[0..<count]
            while let newline = text[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: text[lineStart..<newline], as: UTF8.self)
                lineStart = newline + 1
                guard line.hasPrefix(Self.timingPrefix) else { continue }
                var fields: [String: String] = [:]
                for pair in line.dropFirst(Self.timingPrefix.count).split(separator: " ") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
                }
                guard let phase = fields["phase"], let clock = fields["clock_ns"].flatMap(UInt64.init) else { continue }
                phases[phase] = Double(Int64(bitPattern: clock &- start)) / 1e6
                order.append(phase)
                if phase == stopAt, !stopped {
                    stopped = true
                    kill(pid, SIGKILL)
                }
            }
        }
        close(pipeEnds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return SpawnResult(status: exitStatus, stderr: String(decoding: text, as: UTF8.self), phases: phases, order: order)
    }
}

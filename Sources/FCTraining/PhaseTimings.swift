import Foundation

/// `FCSTORE_TIMINGS=1`: the CLI writes one line to stderr as each phase of a
/// command ends, for measuring where start-up time goes:
///
///     fcstore-timing: phase=checkpoint-loaded ms=12.408 clock_ns=8123456789012
///
/// `ms` counts from `start()`, which `fcstore` calls first thing in `main` (the
/// dynamic loader and the Swift runtime have run by then; `fcstore-bench resume`
/// measures that part from its own `posix_spawn`). `clock_ns` is
/// `CLOCK_MONOTONIC`, the same clock in every process, so another program can
/// place the phases on its own time line. Phases are printed in the order they
/// end; `resume` prints `main`, `parsed`, `store-opened`, `checkpoint-loaded`,
/// `data-begin`, `data-end`, `trainer-ready`, `run-claimed`, `training-started`.
///
/// Off (the variable unset, or anything but `1`), `mark` is one test of a
/// constant: nothing is read, formatted or written.
public enum PhaseTimings {
    /// Whether `FCSTORE_TIMINGS` is `1`; read once.
    public static let enabled: Bool = {
        guard let value = getenv("FCSTORE_TIMINGS") else { return false }
        return String(cString: value) == "1"
    }()

    /// The line prefix, for programs that read the lines.
    public static let prefix = "fcstore-timing: "

    nonisolated(unsafe) private static var origin: UInt64 = 0

    /// Starts the clock and prints `phase=main` (call first thing in `main`).
    public static func start() {
        guard enabled else { return }
        origin = now()
        write("main", at: origin)
    }

    /// Prints `phase=NAME` with the time since `start()`.
    public static func mark(_ phase: StaticString) {
        guard enabled else { return }
        write(phase, at: now())
    }

    private static func write(_ phase: StaticString, at clock: UInt64) {
        if origin == 0 { origin = clock }
        let ms = Double(clock - origin) / 1e6
        let line = "\(prefix)phase=\(phase) ms=\(String(format: "%.3f", ms)) clock_ns=\(clock)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// `CLOCK_MONOTONIC` in nanoseconds.
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

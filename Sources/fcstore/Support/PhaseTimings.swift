import FCCore
import FCNet
import FCTraining
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
/// place the phases on its own time line. Each line is printed as its phase ends;
/// `resume` prints, in order:
///
/// - `main`: `fcstore`'s first statement (ms 0);
/// - `parsed`: the arguments are parsed;
/// - `store-opened`: the store is open and its schema checked;
/// - `checkpoint-loaded`: the checkpoint is read, every tensor's SHA-256 checked and
///   the engine's state decoded;
/// - `data-begin`, `data-end`: data loading (read, parse, split, normalise, and both
///   fingerprints: the file's, checked against the run's record, and the normalised
///   training set's, which the trainer checks against the checkpoint's);
/// - `trainer-ready`: the engine's trainer is built (OpenBLAS loaded, buffers allocated);
/// - `run-claimed`: the run is claimed, or the fork committed;
/// - `training-started`: the engine's first poll of the stop flag, right before the
///   first epoch's shuffle and first batch.
///
/// Off (the variable unset, or anything but `1`), `mark` is one test of a
/// constant: nothing is read, formatted or written.
enum PhaseTimings {
    /// Whether `FCSTORE_TIMINGS` is `1`; read once.
    static let enabled: Bool = {
        guard let value = getenv("FCSTORE_TIMINGS") else { return false }
        return String(cString: value) == "1"
    }()

    /// The line prefix, for programs that read the lines.
    static let prefix = "fcstore-timing: "

    nonisolated(unsafe) private static var origin: UInt64 = 0

    /// Starts the clock and prints `phase=main` (call first thing in `main`).
    static func start() {
        guard enabled else { return }
        origin = now()
        write("main", at: origin)
    }

    /// Prints `phase=NAME` with the time since `start()`.
    static func mark(_ phase: String) {
        guard enabled else { return }
        write(phase, at: now())
    }

    private static func write(_ phase: String, at clock: UInt64) {
        if origin == 0 { origin = clock }
        let ms = Double(clock - origin) / 1e6
        let line = "\(prefix)phase=\(phase) ms=\(String(format: "%.3f", ms)) clock_ns=\(clock)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// `CLOCK_MONOTONIC` in nanoseconds.
    static func now() -> UInt64 { MonotonicClock.nanoseconds() }
}

/// The CLI's `TrainingObserver`: phases go to `PhaseTimings` (`FCSTORE_TIMINGS=1`), data
/// loading to the terminal's `LoadingReporter` (when stderr is a terminal).
final class CLITrainingObserver: TrainingObserver {
    func phaseEnded(_ phase: TrainingPhase) { PhaseTimings.mark(phase.rawValue) }
    func dataLoading(_ report: LoadingProgress.Report) { LoadingReporter.shared?.report(report) }
}

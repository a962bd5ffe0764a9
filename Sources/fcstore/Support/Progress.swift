import FCNet
import Foundation

/// The one line on a terminal's stderr that is redrawn in place (`\r`, erase
/// line). Any other stderr line (`Console.err`) erases it first.
enum LiveLine {
    nonisolated(unsafe) private(set) static var isDrawn = false

    static func draw(_ text: String) {
        Console.errRaw("\r\u{1B}[2K" + text)
        isDrawn = true
    }

    static func clear() {
        guard isDrawn else { return }
        isDrawn = false
        Console.errRaw("\r\u{1B}[2K")
    }
}

/// Training progress on stderr: a live line redrawn in place when stderr is a
/// terminal, one plain line per committed epoch either way (logs, pipes, CI
/// get only those).
final class ProgressReporter {
    private let live: Bool
    private let totalEpochs: Int
    private let startEpoch: Int
    private let samplesPerEpoch: Int
    private var lastDraw = Date.distantPast
    private var runStart = Date()
    private var epochStart = Date()
    private var epochsDone = 0

    /// - Parameters:
    ///   - startEpoch: the epoch training starts after (0 for a new run).
    ///   - samplesPerEpoch: the training samples of one epoch.
    init(totalEpochs: Int, startEpoch: Int = 0, samplesPerEpoch: Int, live: Bool = Console.stderrIsTerminal) {
        self.totalEpochs = totalEpochs
        self.startEpoch = startEpoch
        self.samplesPerEpoch = samplesPerEpoch
        self.live = live
    }

    func epochStarted() { epochStart = Date() }

    /// Called between batches; redraws at most ten times a second.
    /// - Parameters:
    ///   - samples: samples of this epoch trained so far.
    ///   - loss: their mean train loss (nil before the first batch).
    func batch(epoch: Int, batch: Int, batches: Int, samples: Int, loss: Double?) {
        guard live else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 || batch == batches else { return }
        lastDraw = now
        let epochSeconds = now.timeIntervalSince(epochStart)
        let done = Double(epochsDone * samplesPerEpoch + samples)
        let total = Double(max(0, totalEpochs - startEpoch) * samplesPerEpoch)
        let runSeconds = now.timeIntervalSince(runStart)
        let remaining = done > 0 ? runSeconds * (total - done) / done : .nan
        LiveLine.draw(Self.liveLine(
            epoch: epoch, totalEpochs: totalEpochs, batch: batch, batches: batches, loss: loss,
            samplesPerSecond: epochSeconds > 0 ? Double(samples) / epochSeconds : 0, runRemaining: remaining))
    }

    /// The live line: `epoch 3/10 [======      ] 12/40  loss 0.4123  5210 samples/s  run ETA 1m05s`.
    /// `loss` is the running mean train loss of the epoch in progress; the ETA is
    /// for the rest of the run, not just this epoch.
    static func liveLine(epoch: Int, totalEpochs: Int, batch: Int, batches: Int, loss: Double?,
                         samplesPerSecond: Double, runRemaining: Double) -> String {
        let fraction = batches > 0 ? Double(batch) / Double(batches) : 1
        let width = 24
        let filled = max(0, min(width, Int(fraction * Double(width))))
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let lossText = loss.map { "loss \(Format.metric($0))" } ?? "loss -"
        return String(format: "epoch %d/%d [%@] %d/%d  %@  %.0f samples/s  run ETA %@",
                      epoch, totalEpochs, bar, batch, batches, lossText, samplesPerSecond, Format.duration(runRemaining))
    }

    /// Called once an epoch's checkpoint is committed.
    func epochCommitted(epoch: Int, metrics: [String: Double]) {
        if epoch > startEpoch { epochsDone += 1 }
        Console.err(Self.epochLine(epoch: epoch, totalEpochs: totalEpochs, metrics: metrics))
    }

    /// The line for a committed epoch: `epoch 3/10  loss 0.4123  val_loss ...  committed`.
    static func epochLine(epoch: Int, totalEpochs: Int, metrics: [String: Double]) -> String {
        var parts = ["epoch \(epoch)/\(totalEpochs)"]
        if let loss = metrics["train_loss"] { parts.append("loss \(Format.metric(loss))") }
        if let loss = metrics["val_loss"] { parts.append("val_loss \(Format.metric(loss))") }
        if let accuracy = metrics["val_accuracy"] { parts.append("val_acc \(Format.percent(accuracy))") }
        if let rate = metrics["samples_per_s"] { parts.append(String(format: "%.0f samples/s", rate)) }
        if let seconds = metrics["wall_time_s"] { parts.append(Format.duration(seconds)) }
        parts.append("committed")
        return parts.joined(separator: "  ")
    }

    func finish() { LiveLine.clear() }
}

/// Data loading on a terminal: once a file has taken 0.5 s, a live line with
/// the bytes parsed, the rows and the rate; at the end, one line saying how
/// long it took. Nothing when stderr is not a terminal, nor for a quick load.
final class LoadingReporter {
    private var started = Date()
    private var lastDraw = Date.distantPast
    private var shown = false
    /// 0.5 s; `FCSTORE_PROGRESS_DELAY` (seconds) changes it, so tests can see the
    /// live line of a transfer that a fast machine finishes in less.
    static let delay: Double = ProcessInfo.processInfo.environment["FCSTORE_PROGRESS_DELAY"]
        .flatMap(Double.init).map { max(0, min($0, 60)) } ?? 0.5

    /// The reporter `install` made; nil when stderr is not a terminal.
    nonisolated(unsafe) private(set) static var shared: LoadingReporter?

    /// Sets `LoadingProgress.observer` when stderr is a terminal.
    static func install(live: Bool = Console.stderrIsTerminal) {
        guard live else { return }
        let reporter = LoadingReporter()
        shared = reporter
        LoadingProgress.observer = { reporter.report($0) }
    }

    func report(_ report: LoadingProgress.Report) {
        let now = Date()
        if report.rows == 0 && !report.finished {
            started = now
            shown = false
            return
        }
        let seconds = now.timeIntervalSince(started)
        if report.finished {
            if shown { Console.err(Self.line(report, seconds: seconds, finished: true)) }
            shown = false
            return
        }
        // Shown after `delay`, redrawn at most ten times a second.
        guard seconds >= Self.delay, now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        shown = true
        LiveLine.draw(Self.line(report, seconds: seconds, finished: false))
    }

    /// `loading mnist_train.csv: 41.2 MiB of 104.1 MiB, 23552 rows, 18.3 MiB/s`, or once done
    /// `loaded mnist_train.csv: 104.1 MiB, 60000 rows in 5.70s (18.3 MiB/s)`.
    static func line(_ report: LoadingProgress.Report, seconds: Double, finished: Bool) -> String {
        let rate = seconds > 0 ? Format.bytes(Int64(Double(report.bytesRead) / seconds)) + "/s" : "-"
        if finished {
            return "loaded \(report.file): \(Format.bytes(Int64(report.totalBytes))), \(Format.count(report.rows, "row")) in \(Format.duration(seconds)) (\(rate))"
        }
        return "loading \(report.file): \(Format.bytes(Int64(report.bytesRead))) of \(Format.bytes(Int64(report.totalBytes))), \(Format.count(report.rows, "row")), \(rate)"
    }
}

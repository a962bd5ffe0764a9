import Foundation

/// Training progress on stderr: a live bar redrawn in place when stderr is a
/// terminal, one plain line per epoch otherwise (logs, pipes, CI).
final class ProgressReporter {
    private let live: Bool
    private let totalEpochs: Int
    private var lastDraw = Date.distantPast
    private var epochStart = Date()
    private var drewLine = false

    init(totalEpochs: Int, live: Bool = Console.stderrIsTerminal) {
        self.totalEpochs = totalEpochs
        self.live = live
    }

    func epochStarted() { epochStart = Date() }

    /// Called after each batch; redraws at most ten times a second.
    func batch(epoch: Int, batch: Int, batches: Int, samples: Int, loss: Double) {
        guard live else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 || batch == batches else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(epochStart)
        let rate = elapsed > 0 ? Double(samples) / elapsed : 0
        let fraction = batches > 0 ? Double(batch) / Double(batches) : 1
        let remaining = fraction > 0 ? elapsed / fraction - elapsed : 0
        let width = 24
        let filled = min(width, Int(fraction * Double(width)))
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        // The loss shown is the last committed epoch's (none before the first).
        let lossText = loss.isFinite ? String(format: "  loss %.4f", loss) : ""
        let text = String(format: "epoch %d/%d [%@] %d/%d%@  %.0f samples/s  ETA %@",
                          epoch, totalEpochs, bar, batch, batches, lossText, rate, Format.duration(remaining))
        Console.errRaw("\r\u{1B}[2K" + text)
        drewLine = true
    }

    /// Called once an epoch's checkpoint is committed.
    func epochCommitted(epoch: Int, metrics: [String: Double]) {
        if drewLine {
            Console.errRaw("\r\u{1B}[2K")
            drewLine = false
        }
        var parts = ["epoch \(epoch)/\(totalEpochs)"]
        if let loss = metrics["train_loss"] { parts.append("loss \(Format.metric(loss))") }
        if let loss = metrics["val_loss"] { parts.append("val_loss \(Format.metric(loss))") }
        if let accuracy = metrics["val_accuracy"] { parts.append("val_acc \(Format.percent(accuracy))") }
        if let rate = metrics["samples_per_s"] { parts.append(String(format: "%.0f samples/s", rate)) }
        if let seconds = metrics["wall_time_s"] { parts.append(Format.duration(seconds)) }
        parts.append("committed")
        Console.err(parts.joined(separator: "  "))
    }

    func finish() {
        if drewLine {
            Console.errRaw("\r\u{1B}[2K")
            drewLine = false
        }
    }
}

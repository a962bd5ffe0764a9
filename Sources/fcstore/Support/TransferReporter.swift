import FCStorage
import Foundation

/// Runs a push or pull for the CLI: resolves the runs, shows a progress bar on a
/// terminal for long transfers, and reports in text or JSON.
enum TransferCommand {
    enum Direction: String {
        case push, pull
        var past: String { self == .push ? "pushed to" : "pulled from" }
    }

    static func run(_ direction: Direction, local: Store, remote: Store, remoteLocation: String, runs: [String], json: Bool) throws {
        let (source, destination) = direction == .push ? (local, remote) : (remote, local)
        let shown = Store.displayLocation(remoteLocation)
        let runIDs = runs.isEmpty ? nil : try runs.map { try source.resolveRun($0).id }
        let clock = ContinuousClock.now
        let bar = TransferProgressBar(verb: direction == .push ? "pushing" : "pulling")
        let summary: TransferSummary
        do {
            summary = try Transfer(from: source, to: destination).run(runIDs: runIDs) { bar.report($0) }
        } catch TransferError.refused(let refusal) {
            bar.finish()
            throw CLIError("Nothing was \(direction.past) \(shown): \(refusal.transferReason).")
        } catch {
            bar.finish()
            throw error
        }
        bar.finish()
        let elapsed = clock.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        for renamed in summary.renamed {
            Console.err("run \(renamed.runID.prefix(8)) was \(direction == .push ? "pushed" : "pulled") as \(RunName.quoted(renamed.newName)): the name \(RunName.quoted(renamed.bundleName)) \(renamed.reason)")
        }
        if json {
            try Console.json(TransferJSON(direction: direction.rawValue, store: shown, summary: summary, seconds: seconds))
            return
        }
        if summary.isNoOp {
            Console.err("nothing to \(direction.rawValue): \(direction == .push ? shown : "this store") already has every run and checkpoint\(runs.isEmpty ? "" : " asked for")")
        } else {
            Console.err("\(direction.past) \(shown): \(Format.count(summary.runsAdded.count, "run")) added, \(summary.runsExtended.count) extended, \(summary.runsUnchanged.count) unchanged; \(Format.count(summary.checkpointsSent, "checkpoint")) and \(Format.count(summary.blobsSent, "tensor")) (\(Format.bytes(summary.bytesSent))) sent in \(Format.duration(seconds))")
        }
        for id in summary.runsAdded + summary.runsExtended { Console.out(id) }
    }
}

/// `--json` of push and pull.
struct TransferJSON: Encodable {
    var direction: String
    var store: String
    var summary: TransferSummary
    var seconds: Double

    enum CodingKeys: String, CodingKey {
        case direction, store, seconds
        case runsAdded = "runs_added", runsExtended = "runs_extended", runsUnchanged = "runs_unchanged"
        case checkpointsSent = "checkpoints_sent", checkpointsSkipped = "checkpoints_skipped"
        case blobsSent = "blobs_sent", blobsSkipped = "blobs_skipped", bytesSent = "bytes_sent", renamed
    }

    struct Renamed: Encodable {
        var runID: String, name: String, newName: String
        enum CodingKeys: String, CodingKey { case runID = "run_id", name, newName = "new_name" }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(direction, forKey: .direction)
        try container.encode(store, forKey: .store)
        try container.encode((seconds * 1000).rounded() / 1000, forKey: .seconds)
        try container.encode(summary.runsAdded, forKey: .runsAdded)
        try container.encode(summary.runsExtended, forKey: .runsExtended)
        try container.encode(summary.runsUnchanged, forKey: .runsUnchanged)
        try container.encode(summary.checkpointsSent, forKey: .checkpointsSent)
        try container.encode(summary.checkpointsSkipped, forKey: .checkpointsSkipped)
        try container.encode(summary.blobsSent, forKey: .blobsSent)
        try container.encode(summary.blobsSkipped, forKey: .blobsSkipped)
        try container.encode(summary.bytesSent, forKey: .bytesSent)
        try container.encode(summary.renamed.map { Renamed(runID: $0.runID, name: $0.bundleName, newName: $0.newName) }, forKey: .renamed)
    }
}

/// A transfer's live line on a terminal, once it has taken 0.5 s:
/// `pushing [=========               ] 61.2 MiB of 143.1 MiB  85.3 MiB/s  ETA 0.96s  8/20 epochs`.
final class TransferProgressBar {
    private let verb: String
    private let live: Bool
    private let started = Date()
    private var lastDraw = Date.distantPast

    init(verb: String, live: Bool = Console.stderrIsTerminal) {
        self.verb = verb
        self.live = live
    }

    func report(_ progress: TransferProgress) {
        guard live else { return }
        let now = Date()
        let seconds = now.timeIntervalSince(started)
        guard seconds >= LoadingReporter.delay, now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        LiveLine.draw(Self.line(verb: verb, progress, seconds: seconds))
    }

    static func line(verb: String, _ progress: TransferProgress, seconds: Double) -> String {
        let fraction = progress.bytesTotal > 0 ? Double(progress.bytesSent) / Double(progress.bytesTotal)
            : progress.checkpointsTotal > 0 ? Double(progress.checkpointsSent) / Double(progress.checkpointsTotal) : 1
        let width = 24
        let filled = max(0, min(width, Int(fraction * Double(width))))
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let rate = seconds > 0 ? Double(progress.bytesSent) / seconds : 0
        let remaining = rate > 0 ? Double(progress.bytesTotal - progress.bytesSent) / rate : .nan
        return "\(verb) [\(bar)] \(Format.bytes(progress.bytesSent)) of \(Format.bytes(progress.bytesTotal))  \(Format.bytes(Int64(rate)))/s  ETA \(Format.duration(remaining))  \(progress.checkpointsSent)/\(progress.checkpointsTotal) epochs"
    }

    func finish() { if live { LiveLine.clear() } }
}

import ArgumentParser
import FCStorage
import Foundation

struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List runs: id, name, parent, status, epochs, best validation loss, created.")

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: JSONOption

    /// `runs --json`: `{"runs": [RunJSON]}`, oldest first.
    struct RunJSON: Encodable {
        var id: String
        var shortID: String
        var name: String?
        var parent: ParentJSON?
        var status: String
        var firstEpoch: Int?
        var lastEpoch: Int?
        var epochs: Int
        var bestValLoss: Double?
        var bestValEpoch: Int?
        var latestMetrics: [String: Double]
        var createdAt: String
        /// The early stop a completed run ended with (its latest epoch's marker), or null.
        var earlyStop: EarlyStopJSON?

        enum CodingKeys: String, CodingKey {
            case id, name, parent, status, epochs
            case shortID = "short_id"
            case firstEpoch = "first_epoch"
            case lastEpoch = "last_epoch"
            case bestValLoss = "best_val_loss"
            case bestValEpoch = "best_val_epoch"
            case latestMetrics = "latest_metrics"
            case createdAt = "created_at"
            case earlyStop = "early_stop"
        }

        func encode(to encoder: Encoder) throws {
            // Absent values are null rather than missing keys, so the keys are stable.
            // Concrete types throughout: the encoder's generic path (optionals,
            // dictionaries) costs a dynamic cast per value, which adds up to
            // tens of milliseconds over a thousand runs.
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(shortID, forKey: .shortID)
            try container.encodeOrNull(name, forKey: .name)
            if let parent {
                var nested = container.nestedContainer(keyedBy: ParentJSON.CodingKeys.self, forKey: .parent)
                try nested.encode(parent.run, forKey: .run)
                try nested.encode(parent.epoch, forKey: .epoch)
            } else {
                try container.encodeNil(forKey: .parent)
            }
            try container.encode(status, forKey: .status)
            try container.encodeOrNull(firstEpoch, forKey: .firstEpoch)
            try container.encodeOrNull(lastEpoch, forKey: .lastEpoch)
            try container.encode(epochs, forKey: .epochs)
            try container.encodeOrNull(bestValLoss, forKey: .bestValLoss)
            try container.encodeOrNull(bestValEpoch, forKey: .bestValEpoch)
            var metrics = container.nestedContainer(keyedBy: MetricKey.self, forKey: .latestMetrics)
            for (name, value) in latestMetrics { try metrics.encode(value, forKey: MetricKey(name)) }
            try container.encode(createdAt, forKey: .createdAt)
            if let earlyStop { try container.encode(earlyStop, forKey: .earlyStop) } else { try container.encodeNil(forKey: .earlyStop) }
        }
    }

    /// A metric name as a JSON key.
    struct MetricKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    struct ParentJSON: Encodable {
        var run: String
        var epoch: Int

        enum CodingKeys: String, CodingKey { case run, epoch }
    }

    func run() throws {
        // The latest metrics say whether a completed run stopped early.
        let summaries = try store.openExisting().runs(latestMetrics: true)
        func earlyStop(_ summary: RunSummary) -> EarlyStopJSON? {
            EarlyStopJSON(status: summary.run.status, latestEpoch: summary.lastEpoch, latestMetrics: summary.latestMetrics, monitor: nil)
        }
        if output.json {
            let runs = summaries.map { summary in
                RunJSON(
                    id: summary.run.id, shortID: summary.run.shortID, name: summary.run.name,
                    parent: summary.run.parent.map { ParentJSON(run: $0.runID, epoch: $0.epoch) },
                    status: summary.run.status.rawValue, firstEpoch: summary.firstEpoch, lastEpoch: summary.lastEpoch,
                    epochs: summary.checkpointCount, bestValLoss: summary.bestValidationLoss,
                    bestValEpoch: summary.bestValidationEpoch, latestMetrics: summary.latestMetrics,
                    createdAt: Format.timestamp(summary.run.createdAt), earlyStop: earlyStop(summary))
            }
            try Console.json(["runs": runs])
            return
        }
        guard !summaries.isEmpty else {
            Console.out("No runs yet. Train one with 'fcstore train --data FILE --layers 32,10'.")
            return
        }
        var table = TextTable("ID", "NAME", "PARENT", "STATUS", "EPOCHS", "BEST VAL LOSS", "CREATED")
        for summary in summaries {
            let run = summary.run
            let epochs = summary.lastEpoch.map { "\(summary.firstEpoch ?? 0)-\($0)" } ?? "-"
            let best = summary.bestValidationLoss.map { "\(Format.metric($0))@\(summary.bestValidationEpoch ?? 0)" } ?? "-"
            table.add([
                run.shortID, run.name ?? "-", run.parent.map { "\($0.runID.prefix(8))@\($0.epoch)" } ?? "-",
                run.status.rawValue + (earlyStop(summary) == nil ? "" : " (stopped early)"), epochs, best, Format.timestamp(run.createdAt),
            ])
        }
        Console.out(lines: table.lines)
    }
}

import FCNet
import FCStorage
import FCTraining

/// How a run that stopped early says so (`show`, `runs`, their `--json`): the stored status
/// stays `completed`; the epoch that stopped carries `Trainer.earlyStopMetric`, the best epoch.
struct EarlyStopJSON: Encodable, Equatable {
    /// The epoch after which training stopped (the run's latest).
    var stoppedEpoch: Int
    /// The epoch whose monitored value was best (`RUN@best`).
    var bestEpoch: Int
    /// The monitored metric, when the run's configuration names it.
    var monitor: String?

    enum CodingKeys: String, CodingKey {
        case monitor
        case stoppedEpoch = "stopped_epoch"
        case bestEpoch = "best_epoch"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(stoppedEpoch, forKey: .stoppedEpoch)
        try container.encode(bestEpoch, forKey: .bestEpoch)
        if let monitor { try container.encode(monitor, forKey: .monitor) } else { try container.encodeNil(forKey: .monitor) }
    }

    /// From a run's latest epoch and its metrics; nil unless the run is completed and that
    /// epoch is an early stop.
    init?(status: RunStatus, latestEpoch: Int?, latestMetrics: [String: Double], monitor: String?) {
        guard status == .completed, let latestEpoch,
              let marker = latestMetrics[Trainer.earlyStopMetric], let best = Int(exactly: marker) else { return nil }
        stoppedEpoch = latestEpoch
        bestEpoch = best
        self.monitor = monitor
    }

    init?(run: RunRecord, checkpoints: [CheckpointSummary], config: RunConfig) {
        guard let latest = checkpoints.last else { return nil }
        self.init(status: run.status, latestEpoch: latest.epoch, latestMetrics: latest.metrics,
                  monitor: config.training.earlyStopping?.monitor.rawValue)
    }

    /// `stopped early after epoch 14, val_loss best at epoch 9`.
    var text: String {
        "stopped early after epoch \(stoppedEpoch), \(monitor ?? "the monitored metric") best at epoch \(bestEpoch)"
    }
}

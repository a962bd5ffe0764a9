/// The one rule for a run's best epoch, over the values a metric took in the
/// run's own epochs (a fork's are those after its fork point: the fork point
/// and earlier are its parent's results): the lowest value (the highest with
/// `lowerIsBetter: false`), the earliest epoch among equal values, NaN ignored
/// (the store keeps NaN as NULL). `Store.bestEpoch`, `prune --keep-best`, the
/// best column of `runs` (`Store.runs`) and `RUN@best` (`Workflow.select`) use it.
///
/// The SQL view `run_summary.best_val_loss` (migrations/0003_view_hashes.sql)
/// mirrors it for `val_loss`: `min(m.value)` over the run's own checkpoints,
/// where `min` skips NULL. Change both together (a new view needs a migration).
public enum BestEpoch {
    /// The best `(epoch, value)` among `candidates`, or nil when none has a value.
    public static func pick<S: Sequence>(_ candidates: S, lowerIsBetter: Bool = true) -> (epoch: Int, value: Double)?
    where S.Element == (epoch: Int, value: Double) {
        var best: (epoch: Int, value: Double)?
        for candidate in candidates where !candidate.value.isNaN {
            guard let current = best else { best = candidate; continue }
            let better = lowerIsBetter ? candidate.value < current.value : candidate.value > current.value
            if better || (candidate.value == current.value && candidate.epoch < current.epoch) { best = candidate }
        }
        return best
    }
}

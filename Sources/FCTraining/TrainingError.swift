/// Errors of the train / resume / import workflow: one sentence each that says
/// what to do next.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// `field`: where decoding failed (`training.spec.layerSizes[0]`), when known.
    case unreadableConfig(run: String, field: String? = nil)
    case noData(run: String)
    case dataChanged(path: String, run: String)
    case busy(run: String, owner: String)
    case nothingToDo(run: String, epoch: Int, target: Int)
    case invalid(String)
    case incompatible(String)

    public var description: String {
        switch self {
        case let .unreadableConfig(run, field):
            return "Run \(run) has a configuration this version of fcstore cannot read\(field.map { " (at \($0))" } ?? "")."
        case let .noData(run):
            return "Run \(run) has no training data recorded (it was imported); train a new run from it with 'fcstore train --init \(run) --data FILE'."
        case let .dataChanged(path, run):
            return "\(path) is not the data run \(run) was trained on (its fingerprint differs); pass the original file with --data, or start a new run with 'fcstore train --init \(run)'."
        case let .busy(run, owner):
            return "Run \(run) is being trained by another process (\(owner)); wait for it to finish or stop it first."
        case let .nothingToDo(run, epoch, target):
            return "Run \(run) is already at epoch \(epoch); pass --epochs with a number above \(epoch) to train further (asked for \(target))."
        case let .invalid(message), let .incompatible(message):
            return message
        }
    }
}

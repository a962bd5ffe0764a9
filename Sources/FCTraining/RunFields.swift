import FCCore
import FCStorage
import Foundation

/// The keys a run can be found, sorted and listed by, and their values for the
/// runs of one listing. Resolution, in order:
///
/// - run fields: `id`, `short_id`, `name`, `status`, `parent` (`RUN@EPOCH`),
///   `created_at`, `last_epoch`, `best_epoch`, `best_val_loss`, `tags`, `note`;
/// - `tag.KEY`: the run's tag (tags only with the prefix, so a new tag never
///   changes what an existing query means);
/// - configuration fields by their `train` option names: `learning_rate`,
///   `momentum`, `optimizer`, `batch_size` (missing for full batch), `epochs`
///   (the epoch the run trains to), `seed`, `layers` (`32,10`), `architecture`
///   (`64-32-10`), `activation`, `output_activation`, `loss`, `input_size`,
///   `normalize`, `data` (its path);
/// - metrics of the latest epoch: `train_loss`, `train_accuracy`, `val_loss`,
///   `val_accuracy`, `wall_time_s`, `samples_per_s`, or any stored metric name;
///   `metric.NAME` for one shadowed by a configuration key (`metric.learning_rate`);
/// - `best_NAME`: metric NAME of the best epoch (`best_val_accuracy`);
/// - any other configuration field by its snake_case path (`config.training.optimizer.beta1`,
///   or `training.optimizer.beta1`), or its last component when only one path ends with it (`beta1`).
///
/// An imported model has no optimizer, batch size, seed or epochs: those are missing.
public struct RunFields {
    /// Where a key's value comes from.
    public enum Source: Equatable, Sendable {
        case run(String), tag(String), config(String), latestMetric(String), bestMetric(String)
    }

    public struct Field: Equatable, Sendable {
        public var key: String
        public var source: Source
        /// A metric (the CLI shows it with 4 significant decimals).
        public var isMetric: Bool {
            switch source {
            case .latestMetric, .bestMetric: return true
            case .run(let name): return name == "best_val_loss"
            default: return false
            }
        }
    }

    public static let runKeys = ["id", "short_id", "name", "status", "parent", "created_at", "last_epoch", "best_epoch",
                                 "best_val_loss", "tags", "note"]
    public static let configKeys: [String: String] = [
        "learning_rate": "training.optimizer.learning_rate", "momentum": "training.optimizer.momentum",
        "optimizer": "training.optimizer.kind", "batch_size": "training.batch_size", "epochs": "epochs",
        "seed": "training.seed", "layers": "training.spec.layer_sizes", "activation": "training.spec.hidden_activation",
        "output_activation": "training.spec.output_activation", "loss": "training.spec.loss",
        "input_size": "training.spec.input_size", "normalize": "normalization", "data": "data.path",
        "architecture": "architecture",
    ]
    public static let standardMetrics = ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "wall_time_s", "samples_per_s"]

    let store: Store
    public let summaries: [RunSummary]
    private var configs: [[String: RunValue]]?
    private var bestMetrics: [Int: [String: Double]] = [:]

    /// - Parameter summaries: a listing with its latest metrics (`Store.runs(latestMetrics: true)`).
    public init(store: Store, summaries: [RunSummary]) {
        self.store = store
        self.summaries = summaries
    }

    /// Whether resolving `key` may need the latest metrics (`Store.runs(latestMetrics: true)`):
    /// false for run fields, tags and configuration fields by name or `config.` path.
    public static func mayNeedLatestMetrics(_ key: String) -> Bool {
        !(runKeys.contains(key) || key.hasPrefix("tag.") || configKeys[key] != nil || key.hasPrefix("config."))
    }

    /// The field `key` names.
    /// - Throws: `RunQueryError.unknownKey` with the valid keys.
    public mutating func field(_ key: String) throws -> Field {
        func field(_ source: Source) -> Field { Field(key: key, source: source) }
        if Self.runKeys.contains(key) { return field(.run(key)) }
        if key.hasPrefix("tag."), RunMetadata.keyFlaw(String(key.dropFirst(4))) == nil { return field(.tag(String(key.dropFirst(4)))) }
        if let path = Self.configKeys[key] { return field(.config(path)) }
        if key.hasPrefix("metric."), key.count > 7 { return field(.latestMetric(String(key.dropFirst(7)))) }
        let observed = Set(summaries.flatMap(\.latestMetrics.keys)).union(Self.standardMetrics)
        if key.hasPrefix("best_"), observed.contains(String(key.dropFirst(5))) { return field(.bestMetric(String(key.dropFirst(5)))) }
        if observed.contains(key) { return field(.latestMetric(key)) }
        let paths = Set(flattenedConfigs().flatMap(\.keys))
        let path = key.hasPrefix("config.") ? String(key.dropFirst(7)) : key
        if paths.contains(path) { return field(.config(path)) }
        let ending = paths.filter { $0.hasSuffix("." + key) }
        if ending.count == 1, let only = ending.first { return field(.config(only)) }
        let valid = Self.runKeys + Self.configKeys.keys.sorted() + Self.standardMetrics
            + ["best_<metric>", "metric.<name>", "tag.<key>", "config.<path>"]
        throw RunQueryError.unknownKey(key, valid: valid)
    }

    /// The value of `field` for the run at `index` of `summaries`; nil when it has none.
    public mutating func value(_ field: Field, at index: Int) throws -> RunValue? {
        let summary = summaries[index]
        switch field.source {
        case .run(let name):
            let run = summary.run
            switch name {
            case "id": return .text(run.id)
            case "short_id": return .text(run.shortID)
            case "name": return run.name.map(RunValue.text)
            case "status": return .text(run.status.rawValue)
            case "parent": return run.parent.map { .text("\($0.runID.prefix(8))@\($0.epoch)") }
            case "created_at": return .text(run.createdAt.formatted(Date.ISO8601FormatStyle()))
            case "last_epoch": return summary.lastEpoch.map { .number(Double($0)) }
            case "best_epoch": return summary.bestValidationEpoch.map { .number(Double($0)) }
            case "best_val_loss": return summary.bestValidationLoss.map(RunValue.number)
            case "tags": return summary.tags.isEmpty ? nil : .text(summary.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))
            case "note": return summary.note.map(RunValue.text)
            default: return nil
            }
        case .tag(let key): return summary.tags[key].map(RunValue.text)
        case .config(let path): return flattenedConfigs()[index][path]
        case .latestMetric(let name): return summary.latestMetrics[name].map(RunValue.number)
        case .bestMetric(let name):
            if name == "val_loss" { return summary.bestValidationLoss.map(RunValue.number) }
            guard let epoch = summary.bestValidationEpoch else { return nil }
            if bestMetrics[index] == nil { bestMetrics[index] = try store.metrics(runID: summary.run.id, epoch: epoch) }
            return bestMetrics[index]?[name].map(RunValue.number)
        }
    }

    /// Every run's configuration as snake_case paths to scalar values (arrays of
    /// scalars joined with ","), parsed once.
    private mutating func flattenedConfigs() -> [[String: RunValue]] {
        if let configs { return configs }
        // Every run has mostly the same keys: each one's snake_case path is made once.
        var paths: [String: String] = [:]
        let parsed = summaries.map { summary -> [String: RunValue] in
            var result: [String: RunValue] = [:]
            guard let object = try? JSONSerialization.jsonObject(with: Data(summary.run.config.utf8)) else { return result }
            Self.flatten(object, path: "", into: &result, paths: &paths)
            if let sizes = result["training.spec.layer_sizes"], let input = result["training.spec.input_size"] {
                result["architecture"] = .text(input.text + "-" + sizes.text.replacingOccurrences(of: ",", with: "-"))
            }
            if summary.run.status == .imported {
                // Placeholders: an imported model was not trained here.
                for path in result.keys where path.hasPrefix("training.optimizer.") { result[path] = nil }
                for path in ["training.batch_size", "training.seed", "epochs"] { result[path] = nil }
            }
            return result
        }
        configs = parsed
        return parsed
    }

    private static func flatten(_ value: Any, path: String, into result: inout [String: RunValue], paths: inout [String: String]) {
        if let object = value as? [String: Any] {
            for (key, member) in object {
                let joined = path + "\u{0}" + key
                let child: String
                if let known = paths[joined] {
                    child = known
                } else {
                    child = path.isEmpty ? KeyCase.snakeCase(key) : path + "." + KeyCase.snakeCase(key)
                    paths[joined] = child
                }
                flatten(member, path: child, into: &result, paths: &paths)
            }
        } else if let array = value as? [Any] {
            let items = array.compactMap(scalar)
            if items.count == array.count, !path.isEmpty { result[path] = .text(items.map(\.text).joined(separator: ",")) }
        } else if let item = scalar(value), !path.isEmpty {
            result[path] = item
        }
    }

    private static func scalar(_ value: Any) -> RunValue? {
        if let text = value as? String { return .text(text) }
        if let number = value as? NSNumber { return .number(number.doubleValue) }
        return nil
    }

}

import FCFormats
import FCNet
import FCStorage
import Foundation

/// Everything a run was started with, stored as the run's `config` JSON in the
/// store (`runs.config`). The checkpoints hold the state; this holds the recipe:
/// the network, the optimizer, the batch size, the seed, where the data came
/// from and its fingerprint, and how the inputs are normalised.
public struct RunConfig: Codable, Equatable, Sendable {
    /// The layout of this JSON document; bumped when keys change meaning.
    public var format: Int = 1
    public var training: TrainingConfig
    /// The epoch the run trains to (`--epochs`); `resume` continues towards it.
    public var epochs: Int
    public var data: DataSource?
    public var validation: ValidationSource?
    public var normalization: Normalizer.Kind
    /// `RUN@EPOCH` of the checkpoint whose weights started this run (`--init`), by full id.
    public var initializedFrom: String?
    /// The OpenBLAS kernel and thread limit the run was trained with: a bit-exact
    /// resume needs the same.
    public var blasCore: String?
    public var blasThreads: Int?
    public var fcstoreVersion: String
    /// Where an imported model came from (file name, format, its own metadata).
    public var provenance: [String: String]?
    /// The feature columns, label column and task the model was trained with; nil for
    /// runs created before signatures existed and for imported model files without one.
    public var signature: ModelSignature?

    public init(
        training: TrainingConfig, epochs: Int, data: DataSource?, validation: ValidationSource?,
        normalization: Normalizer.Kind, initializedFrom: String? = nil,
        blasCore: String? = nil, blasThreads: Int? = nil, signature: ModelSignature? = nil
    ) {
        self.signature = signature
        self.training = training
        self.epochs = epochs
        self.data = data
        self.validation = validation
        self.normalization = normalization
        self.initializedFrom = initializedFrom
        self.blasCore = blasCore
        self.blasThreads = blasThreads
        self.fcstoreVersion = FCStoreVersion.current
    }

    public var spec: NetworkSpec { training.spec }

    /// The JSON text stored in the run row (sorted keys, so equal configs are equal text).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// - Throws: `TrainingError.unreadableConfig` when the text is not a run configuration,
    ///   `.invalid` naming the field when a number in it is out of range (see `check()`).
    public static func decode(_ text: String, run: String) throws -> RunConfig {
        let config: RunConfig
        do {
            config = try JSONDecoder().decode(RunConfig.self, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw TrainingError.unreadableConfig(run: run, field: Self.field(of: error))
        } catch {
            throw TrainingError.unreadableConfig(run: run)
        }
        do {
            try config.check()
        } catch let error as ConfigRangeError {
            throw TrainingError.configOutOfRange(run: run, reason: error.message)
        } catch let error as FCNetError {
            throw TrainingError.invalid("Run \(run)'s stored configuration cannot be used: \(error.description)")
        }
        return config
    }

    /// The coding path of a decoding error as `training.spec.layerSizes[0]`.
    static func field(of error: DecodingError) -> String? {
        let path: [CodingKey]
        switch error {
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context): path = context.codingPath
        case let .keyNotFound(key, context): path = context.codingPath + [key]
        @unknown default: return nil
        }
        guard !path.isEmpty else { return nil }
        return path.reduce("") { text, key in
            key.intValue.map { "\(text)[\($0)]" } ?? (text.isEmpty ? key.stringValue : "\(text).\(key.stringValue)")
        }
    }

    /// The largest batch size (`--batch-size`), and the largest row or column count recorded for a data source.
    public static let maximumBatchSize = Int(Int32.max)
    public static let maximumRows = 1 << 32

    /// Checks every number a stored (or new) configuration holds against its limit: the
    /// network (`NetworkSpec.validate`), the optimizer (weight decay included), dropout and
    /// early stopping (`TrainingConfig.validateRegularization`), `epochs` and the batch size
    /// (`StoreLimits.epochs`, `maximumBatchSize`), the validation fraction, the data's
    /// row and column counts.
    /// - Throws: `ConfigRangeError` naming the field, or `FCNetError.invalidConfiguration`.
    public func check() throws {
        try training.spec.validate()
        try training.optimizer.validate()
        try training.validateRegularization()
        func range(_ field: String, _ value: Int, _ limits: ClosedRange<Int>) throws {
            guard limits.contains(value) else {
                throw ConfigRangeError(message: "\(field) is \(value), outside \(limits.lowerBound)...\(limits.upperBound)")
            }
        }
        try range("epochs", epochs, StoreLimits.epochs)
        if let size = training.batchSize { try range("training.batchSize", size, 1...Self.maximumBatchSize) }
        if let threads = blasThreads { try range("blasThreads", threads, 0...65_536) }
        var sources: [(String, DataSource)] = data.map { [("data", $0)] } ?? []
        switch validation {
        case .file(let source)?: sources.append(("validation", source))
        case .split(let fraction)?:
            guard fraction.isFinite, fraction > 0, fraction < 1 else {
                throw ConfigRangeError(message: "validation.split.fraction is \(fraction), not between 0 and 1")
            }
        case nil: break
        }
        for (field, source) in sources {
            try range("\(field).rows", source.rows, 0...Self.maximumRows)
            try range("\(field).columns", source.columns, 0...Self.maximumRows)
        }
    }
}

/// A number of a run configuration outside its limit: `message` names the field.
public struct ConfigRangeError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Where training data comes from: a CSV file, or a pair of MNIST IDX files.
public struct DataSource: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case csv, idx }

    public var kind: Kind
    /// An absolute path (so `resume` works from any directory).
    public var path: String
    /// The IDX label file, for `kind == .idx`.
    public var labels: String?
    /// `--label` as given (a column name or 0-based index); nil for the default.
    public var labelColumn: String?
    public var task: Dataset.Task
    /// `Dataset.fingerprint` of the rows as loaded (before any split).
    public var fingerprint: String
    /// For IDX data: the SHA-256 of the label file's bytes (nil for CSV and for runs
    /// recorded before it existed), to tell which of the two files changed.
    public var labelsFingerprint: String?
    public var rows: Int
    public var columns: Int

    public init(kind: Kind, path: String, labels: String? = nil, labelColumn: String?, task: Dataset.Task,
                fingerprint: String = "", rows: Int = 0, columns: Int = 0) {
        self.kind = kind
        self.path = path
        self.labels = labels
        self.labelColumn = labelColumn
        self.task = task
        self.fingerprint = fingerprint
        self.rows = rows
        self.columns = columns
    }
}

/// The validation set: its own file, or a seeded fraction held out of the training file.
public enum ValidationSource: Codable, Equatable, Sendable {
    case file(DataSource)
    case split(fraction: Double)
}

public enum FCStoreVersion {
    public static let current = "0.2.0"
}

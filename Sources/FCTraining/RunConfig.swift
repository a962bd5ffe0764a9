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

    /// - Throws: `TrainingError.unreadableConfig` when the text is not a run configuration.
    public static func decode(_ text: String, run: String) throws -> RunConfig {
        do {
            return try JSONDecoder().decode(RunConfig.self, from: Data(text.utf8))
        } catch {
            throw TrainingError.unreadableConfig(run: run)
        }
    }
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

import FCCore
import FCFormats
import FCNet
import FCStorage
import Foundation

/// The model signature of a run being trained, and the columns of a data file
/// found for a signature (`predict`, `evaluate`).
///
/// Rules, for a CSV file (which always has a header row):
/// - A signature that names its features (`matching: name`) finds each feature
///   column by its name, in any order. A feature that is not there refuses the
///   file; a column that is neither a feature nor the label is ignored (and
///   reported in `Matched.ignored`).
/// - The label column is the signature's, or `--label` (a name, or a 0-based index,
///   that must exist). A file without it is unlabelled.
/// - Without names (IDX training data, imported models without a signature, runs
///   from before signatures), features are taken by position: every column but the
///   label (`--label`, the recorded label column, else `label` or the last column;
///   none when the file is exactly as wide as the model's input).
public enum ModelColumns {
    /// A data file read for a model.
    public struct Matched {
        /// The features in the model's input order, and the labels (0 when unlabelled).
        public var data: Dataset
        public var labelled: Bool
        /// The label column looked for, when it has a name (for messages).
        public var labelColumn: String?
        /// Columns of the file that are neither a feature nor the label, in file order.
        public var ignored: [String]
        public var matching: ModelSignature.Matching
    }

    /// The signature of a model of `spec` trained on `data`, read from `source`.
    static func signature(for data: Dataset, source: DataSource, spec: NetworkSpec) throws -> ModelSignature {
        let task: ModelSignature.Task = source.task == .regression ? .regression : .classification
        let classes = task == .classification ? (0..<max(spec.outputSize, 2)).map(String.init) : nil
        guard source.kind == .csv else {
            return ModelSignature(features: nil, featureCount: data.width, label: nil, task: task, classes: classes)
        }
        let file = (source.path as NSString).lastPathComponent
        guard let names = CSVLoader.headerNames(path: source.path),
              let index = try CSVLoader(label: source.labelColumn.map { .name($0) } ?? .automatic).labelIndex(in: names, file: file),
              names.count == data.width + 1 else {
            throw TrainingError.invalid("\(file) changed while it was read; train again.")
        }
        let label = names[index]
        return ModelSignature(features: data.featureNames, featureCount: data.width, label: label, task: task,
                              classes: classes, target: task == .regression ? label : nil)
    }

    /// Reads `path` for a model with `signature` (see the rules above).
    /// - Parameters:
    ///   - labels: the IDX label file, when `path` is an IDX image file.
    ///   - labelOverride: `--label`: a column name or 0-based index that must exist.
    ///   - recordedLabel: the run's recorded `--label`, for runs without a signature.
    ///   - inputSize: N_0, the model's inputs.
    /// - Throws: `TrainingError.incompatible` when a feature column is missing or the
    ///   width is wrong; `FCNetError.data` for unreadable data or a `--label` that does not exist.
    public static func load(path: String, labels: String? = nil, labelOverride: String?, signature: ModelSignature?,
                            recordedLabel: String? = nil, inputSize: Int, task: Dataset.Task) throws -> Matched {
        let absolute = DataLoading.absolutePath(path)
        let file = (path as NSString).lastPathComponent
        guard FileManager.default.fileExists(atPath: absolute) else {
            throw TrainingError.dataMissing(path: path)
        }
        // A FIFO or device is refused by stat before anything opens it (opening one blocks).
        try InputFile.checkRegular(absolute)
        if !DataLoading.isIDX(absolute), let signature, signature.matching == .name, let features = signature.features,
           Set(features).count == features.count, let names = CSVLoader.headerNames(path: absolute) {
            return try byName(absolute, file: file, names: names, features: features, label: signature.label,
                              labelOverride: labelOverride, task: task)
        }
        var labelColumn = labelOverride
        if labelOverride == nil, let recordedLabel, let names = CSVLoader.headerNames(path: absolute),
           names.contains(recordedLabel) || Int(recordedLabel).map({ $0 >= 0 && $0 < names.count }) == true {
            labelColumn = recordedLabel
        }
        let (data, labelled) = try DataLoading.loadForModel(path: path, labels: labels, labelColumn: labelColumn,
                                                             inputSize: inputSize, task: task)
        return Matched(data: data, labelled: labelled, labelColumn: nil, ignored: [], matching: .position)
    }

    private static func byName(_ path: String, file: String, names: [String], features: [String], label: String?,
                               labelOverride: String?, task: Dataset.Task) throws -> Matched {
        var labelIndex: Int? = nil
        var labelName = label
        if let labelOverride {
            labelIndex = try CSVLoader(label: .name(labelOverride)).labelIndex(in: names, file: file)
            labelName = labelIndex.map { names[$0] }
        } else if let label {
            labelIndex = names.firstIndex(of: label)
        }
        var columns: [Int] = []
        var missing: [String] = []
        for name in features {
            let found = names.indices.filter { names[$0] == name && $0 != labelIndex }
            guard found.count <= 1 else {
                throw TrainingError.incompatible("\(file): column \(quoted(name)) appears \(found.count) times; the model's features are matched by name, so each must appear once.")
            }
            if let index = found.first { columns.append(index) } else { missing.append(name) }
        }
        if !missing.isEmpty {
            let available = names.count - (labelIndex == nil ? 0 : 1)
            let which = missingText(missing)
            throw TrainingError.incompatible(available < features.count
                ? "\(file): expected \(features.count) \(features.count == 1 ? "feature" : "features"), found \(available) (\(which))."
                : "\(file): \(which).")
        }
        let raw = try CSVLoader(label: labelIndex.map { .index($0) } ?? .none, task: task).load(path: path)
        // raw holds every column but the label, in file order: file column c is raw column c or c - 1.
        let rawColumns = columns.map { c in labelIndex.map { c > $0 ? c - 1 : c } ?? c }
        let width = features.count, rawWidth = raw.width
        var values = [Float](repeating: 0, count: raw.count * width)
        raw.features.withUnsafeBufferPointer { source in
            values.withUnsafeMutableBufferPointer { target in
                for r in 0..<raw.count {
                    for (j, c) in rawColumns.enumerated() { target[r * width + j] = source[r * rawWidth + c] }
                }
            }
        }
        let data = try Dataset(features: values, labels: raw.labels, width: width, task: task, featureNames: features, source: raw.source)
        let used = Set(columns)
        let ignored = names.indices.filter { $0 != labelIndex && !used.contains($0) }.map { names[$0] }
        return Matched(data: data, labelled: labelIndex != nil, labelColumn: labelName, ignored: ignored, matching: .name)
    }

    /// "column 'a' is missing", "columns 'a' and 'b' are missing", "columns 'a', 'b' and 3 more are missing".
    static func missingText(_ missing: [String]) -> String {
        let names = missing.map(quoted)
        switch names.count {
        case 1: return "column \(names[0]) is missing"
        case 2: return "columns \(names[0]) and \(names[1]) are missing"
        case 3: return "columns \(names[0]), \(names[1]) and \(names[2]) are missing"
        default: return "columns \(names[0]), \(names[1]) and \(names.count - 2) more are missing"
        }
    }

    /// A column name from a data file in single quotes, control characters escaped
    /// (the name is shown on a terminal).
    public static func quoted(_ name: String) -> String { "'" + escaped(name) + "'" }

    /// `text` with control characters escaped (see `ControlCharacters`).
    public static func escaped(_ name: String) -> String { ControlCharacters.escape(name) }
}

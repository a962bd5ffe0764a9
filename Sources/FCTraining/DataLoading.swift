import FCNet
import FCStorage
import Foundation

/// Loads training, validation and prediction data: CSV, or MNIST IDX image and
/// label files (recognised by their magic bytes, not their names).
public enum DataLoading {
    /// Loads `path` and describes it for the run configuration. The fingerprint is computed
    /// once and kept with the data set (`Dataset.cacheFingerprint()`).
    /// - Parameters:
    ///   - labels: the IDX label file; found next to the images when nil
    ///     (`train-images-idx3-ubyte` → `train-labels-idx1-ubyte`).
    ///   - labelColumn: a CSV column name or 0-based index; nil for `label`, else the last.
    ///   - classes: the output layer's class count, to refuse labels out of range.
    /// - Throws: `FCNetError.data` naming file, line and column; `TrainingError.invalid`.
    ///   - file: which of a run's files this is, for errors (`TrainingError.dataMissing`).
    public static func load(
        path: String, labels: String? = nil, labelColumn: String? = nil,
        task: Dataset.Task = .classification, classes: Int? = nil, file: DataFile = .training
    ) throws -> (data: Dataset, source: DataSource) {
        var (data, source) = try read(path: path, labels: labels, labelColumn: labelColumn, task: task, classes: classes, file: file)
        data.cacheFingerprint()
        source.fingerprint = data.fingerprint
        if let labels = source.labels { source.labelsFingerprint = labelsFingerprint(labels) }
        return (data, source)
    }

    /// The SHA-256 of an IDX label file's bytes (nil when unreadable): tells, when an IDX
    /// data set's fingerprint differs, whether its labels are the file that changed.
    static func labelsFingerprint(_ path: String) -> String? {
        guard let bytes = FileManager.default.contents(atPath: path) else { return nil }
        return SHA256Digest.hex([UInt8](bytes))
    }

    /// Refuses a path that does not exist or is a folder, naming the file it stands for.
    static func requireFile(_ path: String, file: DataFile, recordedBy run: String? = nil) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolutePath(path), isDirectory: &isDirectory) else {
            throw TrainingError.dataMissing(path: path, file: file, recordedBy: run)
        }
        guard !isDirectory.boolValue else { throw TrainingError.dataIsFolder(path: path, file: file) }
    }

    /// As `load`, without the fingerprint (`source.fingerprint` is empty).
    static func read(
        path: String, labels: String?, labelColumn: String?, task: Dataset.Task, classes: Int?, file: DataFile = .training
    ) throws -> (data: Dataset, source: DataSource) {
        let absolute = absolutePath(path)
        try requireFile(path, file: file)
        // A pipe or a device would block the first read below.
        try InputFile.checkRegular(absolute)
        if isIDX(absolute) {
            let labelPath = try labels.map(absolutePath) ?? siblingLabels(of: absolute)
            if let labels { try requireFile(labels, file: .labels) }
            try InputFile.checkRegular(labelPath)
            let data = try IDXLoader.load(images: absolute, labels: labelPath, classes: classes)
            let source = DataSource(kind: .idx, path: absolute, labels: labelPath, labelColumn: nil, task: data.task,
                                    rows: data.count, columns: data.width)
            return (data, source)
        }
        let column: CSVLoader.LabelColumn = labelColumn.map { .name($0) } ?? .automatic
        let data = try CSVLoader(label: column, task: task, classes: classes).load(path: absolute)
        let source = DataSource(kind: .csv, path: absolute, labelColumn: labelColumn, task: task,
                                rows: data.count, columns: data.width + 1)
        return (data, source)
    }

    /// Loads a recorded source again and checks that it is the same data.
    /// - Parameter path: another location of the same file (`--data` on resume), or nil.
    /// - Throws: `TrainingError.dataChanged` when the fingerprint differs.
    public static func reload(_ source: DataSource, from path: String? = nil, labels: String? = nil, run: String,
                              classes: Int? = nil, file: DataFile = .training) throws -> Dataset {
        let data = try reread(source, from: path, labels: labels, run: run, classes: classes, file: file)
        try check(data, matches: source, from: path, labels: labels, run: run, file: file)
        return data
    }

    /// The paths a recorded source is read from: `path` (a moved copy) or the recorded
    /// path; for IDX images, `labels`, else the recorded label file when the images are
    /// read from their recorded path, else the label file beside the moved images.
    static func paths(_ source: DataSource, from path: String?, labels: String?) -> (data: String, labels: String?) {
        (path ?? source.path, labels ?? (path == nil ? source.labels : nil))
    }

    /// Reads a recorded source again without checking it (see `check(_:matches:from:run:)`).
    /// A missing recorded file is refused as recorded by `run` (the user named no path for it).
    static func reread(_ source: DataSource, from path: String? = nil, labels: String? = nil, run: String,
                       classes: Int? = nil, file: DataFile = .training) throws -> Dataset {
        let (dataPath, labelPath) = paths(source, from: path, labels: labels)
        try requireFile(dataPath, file: file, recordedBy: path == nil ? run : nil)
        if source.kind == .idx, let labelPath { try requireFile(labelPath, file: .labels, recordedBy: labels == nil ? run : nil) }
        return try read(path: dataPath, labels: source.kind == .idx ? labelPath : nil,
                        labelColumn: source.labelColumn, task: source.task, classes: classes, file: file).data
    }

    /// - Throws: `TrainingError.dataChanged` when `data`'s fingerprint is not the recorded one,
    ///   naming the label file when it is an IDX data set's labels that differ.
    static func check(_ data: Dataset, matches source: DataSource, from path: String? = nil, labels: String? = nil,
                      run: String, file: DataFile = .training) throws {
        guard data.fingerprint == source.fingerprint else { throw changed(source, from: path, labels: labels, run: run, file: file) }
    }

    /// Which file differs when `source`'s data read from `path` (and `labels`) has another fingerprint.
    static func changed(_ source: DataSource, from path: String?, labels: String?, run: String, file: DataFile) -> TrainingError {
        let (dataPath, labelPath) = paths(source, from: path, labels: labels)
        if source.kind == .idx, let recorded = source.labelsFingerprint,
           let labelPath = labelPath ?? (try? siblingLabels(of: absolutePath(dataPath))),
           labelsFingerprint(absolutePath(labelPath)) != recorded {
            return .dataChanged(path: labelPath, run: run, file: .labels)
        }
        return .dataChanged(path: dataPath, run: run, file: file)
    }

    /// Loads data for `predict` / `evaluate`: features of the model's input width,
    /// with or without a label column.
    /// - Returns: the data set and whether it had labels.
    public static func loadForModel(path: String, labels: String? = nil, labelColumn: String? = nil,
                                    inputSize: Int, task: Dataset.Task) throws -> (data: Dataset, labelled: Bool) {
        let absolute = absolutePath(path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory), !isDirectory.boolValue {
            // A pipe or a device would block the first read below; a folder is refused by `load`.
            try InputFile.checkRegular(absolute)
        }
        if FileManager.default.fileExists(atPath: absolute), isIDX(absolute) {
            let (data, _) = try load(path: path, labels: labels, task: task)
            try checkWidth(data, inputSize: inputSize, path: path)
            return (data, true)
        }
        guard FileManager.default.fileExists(atPath: absolute) else {
            throw TrainingError.dataMissing(path: path)
        }
        // Without an explicit label column, a file exactly as wide as the input has no labels.
        if labelColumn == nil, let columns = try csvColumnCount(absolute), columns == inputSize {
            let data = try CSVLoader(label: .none, task: task).load(path: absolute)
            return (data, false)
        }
        let (data, _) = try load(path: path, labelColumn: labelColumn, task: task)
        try checkWidth(data, inputSize: inputSize, path: path)
        return (data, true)
    }

    static func checkWidth(_ data: Dataset, inputSize: Int, path: String) throws {
        guard data.width == inputSize else {
            throw TrainingError.incompatible(
                "\((path as NSString).lastPathComponent): expected \(inputSize) \(inputSize == 1 ? "feature" : "features"), found \(data.width).")
        }
    }

    /// The number of fields in the header line (quotes respected), or nil for an empty file.
    static func csvColumnCount(_ path: String) throws -> Int? {
        try InputFile.checkRegular(path)
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 1 << 20)) ?? Data()
        var count = 1, inQuotes = false, sawAny = false
        for byte in head {
            if byte == UInt8(ascii: "\"") { inQuotes.toggle() }
            if !inQuotes, byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") { break }
            if !inQuotes, byte == UInt8(ascii: ",") { count += 1 }
            sawAny = true
        }
        return sawAny ? count : nil
    }

    /// IDX files start with two zero bytes, the type byte 0x08 (unsigned byte) and the rank.
    static func isIDX(_ path: String) -> Bool {
        guard (try? InputFile.checkRegular(path)) != nil, let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 4), head.count == 4 else { return false }
        return head[head.startIndex] == 0 && head[head.startIndex + 1] == 0 && head[head.startIndex + 2] == 8
            && head[head.startIndex + 3] >= 1 && head[head.startIndex + 3] <= 4
    }

    static func siblingLabels(of images: String) throws -> String {
        let folder = (images as NSString).deletingLastPathComponent
        let name = (images as NSString).lastPathComponent
        let candidates = [
            name.replacingOccurrences(of: "images-idx3", with: "labels-idx1"),
            name.replacingOccurrences(of: "images.idx3", with: "labels.idx1"),
            name.replacingOccurrences(of: "images", with: "labels").replacingOccurrences(of: "idx3", with: "idx1"),
        ]
        for candidate in candidates where candidate != name {
            let path = (folder as NSString).appendingPathComponent(candidate)
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw TrainingError.idxLabelsMissing(file: name)
    }

    public static func absolutePath(_ path: String) -> String {
        let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        return url.standardizedFileURL.path
    }
}

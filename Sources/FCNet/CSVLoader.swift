#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Reads a numeric CSV file with a header row into a `Dataset`.
///
/// Accepted: a UTF-8 byte-order mark, LF, CRLF or CR line ends, quoted fields (`"1.5"`,
/// `"a ""b"""`), spaces around numbers, blank lines. Refused, each with
/// `file:line:column: sentence` (line and column 1-based, as an editor counts them):
/// an empty file, a header without data rows, ragged rows, empty or non-numeric cells,
/// NaN and infinite values, and class labels that are negative, fractional, or (with
/// `classes`) too large for the output layer.
public struct CSVLoader: Sendable {
    /// Which column holds the label.
    public enum LabelColumn: Equatable, Sendable {
        /// The column named `label`, else the last column.
        case automatic
        /// The column with this name; if none has it and the text is a whole number, that
        /// 0-based index (so `--label 4` and `--label species` both work).
        case name(String)
        /// The 0-based column index.
        case index(Int)
        /// No label column: every column is a feature and every label is 0 (for prediction
        /// on unlabelled data).
        case none
    }

    /// How the records after the header are parsed. Every strategy gives the same data set,
    /// or the same error, for any bytes; only the speed differs.
    public enum Strategy: Equatable, Sendable {
        /// The fast path (`CSVChunks`) in chunks on two threads, one chunk below 1 MiB.
        case automatic
        /// The fast path in this many chunks (at least 1), whatever the size: for tests and
        /// fuzzing, to place chunk boundaries in small files.
        case chunks(Int)
        /// The general reader alone, record by record on one thread (the parser before the
        /// fast path): the reference the others are checked against.
        case general
    }

    public var label: LabelColumn
    public var task: Dataset.Task
    /// When set, class labels must be below it (the output layer's class count).
    public var classes: Int?
    public var strategy: Strategy

    public init(label: LabelColumn = .automatic, task: Dataset.Task = .classification, classes: Int? = nil,
                strategy: Strategy = .automatic) {
        self.label = label
        self.task = task
        self.classes = classes
        self.strategy = strategy
    }

    /// Reads and parses the file at `path`; messages name the file by its last path component.
    /// - Throws: `FCNetError.data` with file, line and column.
    public func load(path: String) throws -> Dataset {
        let name = (path as NSString).lastPathComponent
        return try parse(InputFile.read(path, limit: Self.maximumFileBytes, what: "CSV files"), file: name)
    }

    /// The largest CSV file read (2 GiB).
    public static let maximumFileBytes = 1 << 31
    /// The longest record (line) of a CSV file (4 MiB): a record's fields are indexed as
    /// they are read, so one huge line would take many times its size in memory.
    public static let maximumLineBytes = 1 << 22

    /// Parses CSV text (for tests and in-memory data).
    public func parse(_ text: String, file: String = "data.csv") throws -> Dataset {
        try parse(Array(text.utf8), file: file)
    }

    /// Parses CSV bytes.
    /// - Throws: `FCNetError.data` with file, line and column.
    public func parse(_ bytes: [UInt8], file: String) throws -> Dataset {
        var reader = Reader(bytes: bytes, file: file)
        func fail(_ line: Int, _ column: Int?, _ message: String) -> FCNetError {
            .data(file: file, line: line, column: column, message: message)
        }
        guard let header = try reader.nextRecord() else {
            throw fail(1, nil, "the file is empty; expected a header row and data rows.")
        }
        let names = header.fields.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) }
        guard names.count >= 2 || (label == .none && names.count >= 1) else {
            throw fail(header.line, nil, "the header has \(names.count) column; it needs at least one feature column and a label column.")
        }
        let labelIndex = try self.labelIndex(in: names, file: file, line: header.line)
        let width = labelIndex == nil ? names.count : names.count - 1
        let observer = LoadingProgress.observer
        observer?(.init(file: file, bytesRead: reader.i, totalBytes: bytes.count, rows: 0, finished: false))
        // The fast path takes records from the header on, in parallel, until one it leaves to
        // the general reader (a quoted field, anything it refuses); the reader goes on from there.
        var features: [Float] = [], labels: [Float] = []
        var rest: (offset: Int, line: Int)? = (reader.i, reader.line)
        let chunks: Int? = switch strategy {
        case .automatic: bytes.count - reader.i < CSVChunks.parallelBytes ? 1 : CSVChunks.chunksPerBody
        case let .chunks(n): max(n, 1)
        case .general: nil
        }
        if let chunks {
            let layout = CSVChunks.Layout(columns: names.count, labelIndex: labelIndex, classLabels: task == .classification,
                                          classes: classes)
            (features, labels, rest) = CSVChunks.parse(bytes, body: reader.i, line: reader.line, layout: layout, chunks: chunks,
                                                       file: file, observer: observer)
        } else {
            features.reserveCapacity(bytes.count / 2)
        }
        if let rest {
            reader.i = rest.offset
            reader.line = rest.line
            try records(&reader, columns: names.count, labelIndex: labelIndex, features: &features, labels: &labels, observer: observer)
        }
        guard !labels.isEmpty else {
            throw fail(reader.line, nil, "the file has a header but no data rows.")
        }
        observer?(.init(file: file, bytesRead: bytes.count, totalBytes: bytes.count, rows: labels.count, finished: true))
        var featureNames = names
        if let labelIndex { featureNames.remove(at: labelIndex) }
        // Both paths refuse values that are not finite, so the features are not scanned again.
        return try Dataset(finiteFeatures: features, labels: labels, width: width, task: task, featureNames: featureNames, source: file)
    }

    /// The general path: the records from `reader`'s position to the end, each checked and
    /// appended to `features` and `labels` (the parser as it was before the fast path).
    /// - Throws: `FCNetError.data` for the first record, then field, that is refused.
    func records(_ reader: inout Reader, columns: Int, labelIndex: Int?, features: inout [Float], labels: inout [Float],
                 observer: ((LoadingProgress.Report) -> Void)?) throws {
        let file = reader.file
        func fail(_ line: Int, _ column: Int?, _ message: String) -> FCNetError {
            .data(file: file, line: line, column: column, message: message)
        }
        var scratch = [CChar](repeating: 0, count: 64)
        while let record = try reader.nextRecord() {
            if let observer, labels.count % LoadingProgress.interval == 0, !labels.isEmpty {
                observer(.init(file: file, bytesRead: reader.i, totalBytes: reader.bytes.count, rows: labels.count, finished: false))
            }
            guard record.fields.count == columns else {
                throw fail(
                    record.line, min(record.fields.count, columns) + 1,
                    "the row has \(record.fields.count) \(record.fields.count == 1 ? "field" : "fields") but the header has \(columns).")
            }
            for (c, field) in record.fields.enumerated() {
                let column = c + 1
                let text = { String(decoding: field, as: UTF8.self) }
                guard let value = Self.number(field, &scratch) else {
                    let t = text().trimmingCharacters(in: .whitespaces)
                    throw fail(record.line, column, t.isEmpty ? "the cell is empty; expected a number." : "\"\(t)\" is not a number.")
                }
                guard value.isFinite, Float(value).isFinite else {
                    throw fail(record.line, column, "\"\(text().trimmingCharacters(in: .whitespaces))\" is not a finite number.")
                }
                if c == labelIndex {
                    if task == .classification {
                        let t = text().trimmingCharacters(in: .whitespaces)
                        guard value >= 0, value == value.rounded(), value < 16_777_216 else {
                            throw fail(record.line, column, "\"\(t)\" is not a class label; labels must be whole numbers 0, 1, 2, ...")
                        }
                        if let k = classes, Int(value) >= k {
                            throw fail(record.line, column, "the label \"\(t)\" is out of range; the output layer has \(k) classes, labelled 0 to \(k - 1).")
                        }
                    }
                    labels.append(Float(value))
                } else {
                    features.append(Float(value))
                }
            }
            if labelIndex == nil { labels.append(0) }
        }
    }

    /// The 0-based index of the label column among the header's `names`, or nil for `.none`.
    /// - Throws: `FCNetError.data` when the named or numbered column does not exist.
    public func labelIndex(in names: [String], file: String, line: Int = 1) throws -> Int? {
        func fail(_ message: String) -> FCNetError { .data(file: file, line: line, column: nil, message: message) }
        switch label {
        case .none:
            return nil
        case .automatic:
            return names.firstIndex(of: "label") ?? names.count - 1
        case let .name(n):
            if let i = names.firstIndex(of: n) { return i }
            if let i = Int(n) {
                guard i >= 0, i < names.count else {
                    throw fail("there is no column \(i); the columns are numbered 0 to \(names.count - 1).")
                }
                return i
            }
            throw fail("no column is named \"\(n)\"; the columns are \(names.joined(separator: ", ")).")
        case let .index(i):
            guard i >= 0, i < names.count else {
                throw fail("there is no column \(i); the columns are numbered 0 to \(names.count - 1).")
            }
            return i
        }
    }

    /// The column names of a CSV file's header row (trimmed, quotes removed), read
    /// from the start of the file only; nil when the file is empty or unreadable.
    public static func headerNames(path: String) -> [String]? {
        // Only a regular file: opening a FIFO would block (the load that follows names it).
        guard (try? InputFile.checkRegular(path)) != nil, let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var head: [UInt8] = []
        // Read until a line end outside quotes (or the end of the file), at most 64 MiB.
        var inQuotes = false, sawText = false, complete = false
        while !complete, head.count < 1 << 26, let chunk = try? handle.read(upToCount: 1 << 16), !chunk.isEmpty {
            for byte in chunk where !complete {
                if byte == UInt8(ascii: "\"") { inQuotes.toggle() }
                if byte == 0x0A || byte == 0x0D {
                    if !inQuotes, sawText { complete = true }
                } else {
                    sawText = true
                }
            }
            head += chunk
        }
        var reader = Reader(bytes: head, file: (path as NSString).lastPathComponent)
        guard let record = try? reader.nextRecord() else { return nil }
        return record.fields.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
@testable import FCNet

/// Today's CSV parser as it was before the fast path (fcstore 0.2.0, commit 5367e12), kept
/// unchanged in the test target as the reference the fast parser is compared with, value for
/// value and error for error. Only the progress reports and `headerNames` are left out, and
/// the label choice is `CSVLoader.LabelColumn`.
///
/// Reads a numeric CSV file with a header row into a `Dataset`.
///
/// Accepted: a UTF-8 byte-order mark, LF, CRLF or CR line ends, quoted fields (`"1.5"`,
/// `"a ""b"""`), spaces around numbers, blank lines. Refused, each with
/// `file:line:column: sentence` (line and column 1-based, as an editor counts them):
/// an empty file, a header without data rows, ragged rows, empty or non-numeric cells,
/// NaN and infinite values, and class labels that are negative, fractional, or (with
/// `classes`) too large for the output layer.
struct ReferenceCSVLoader: Sendable {
    typealias LabelColumn = CSVLoader.LabelColumn

    var label: LabelColumn
    var task: Dataset.Task
    /// When set, class labels must be below it (the output layer's class count).
    var classes: Int?

    init(label: LabelColumn = .automatic, task: Dataset.Task = .classification, classes: Int? = nil) {
        self.label = label
        self.task = task
        self.classes = classes
    }

    /// Reads and parses the file at `path`; messages name the file by its last path component.
    /// - Throws: `FCNetError.data` with file, line and column.
    func load(path: String) throws -> Dataset {
        let name = (path as NSString).lastPathComponent
        return try parse(InputFile.read(path, limit: Self.maximumFileBytes, what: "CSV files"), file: name)
    }

    /// The largest CSV file read (2 GiB).
    static let maximumFileBytes = 1 << 31
    /// The longest record (line) of a CSV file (4 MiB): a record's fields are indexed as
    /// they are read, so one huge line would take many times its size in memory.
    static let maximumLineBytes = 1 << 22

    /// Parses CSV text (for tests and in-memory data).
    func parse(_ text: String, file: String = "data.csv") throws -> Dataset {
        try parse(Array(text.utf8), file: file)
    }

    /// Parses CSV bytes.
    /// - Throws: `FCNetError.data` with file, line and column.
    func parse(_ bytes: [UInt8], file: String) throws -> Dataset {
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
        var features: [Float] = []
        var labels: [Float] = []
        features.reserveCapacity(bytes.count / 2)
        var scratch = [CChar](repeating: 0, count: 64)
        while let record = try reader.nextRecord() {
            guard record.fields.count == names.count else {
                throw fail(
                    record.line, min(record.fields.count, names.count) + 1,
                    "the row has \(record.fields.count) \(record.fields.count == 1 ? "field" : "fields") but the header has \(names.count).")
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
        guard !labels.isEmpty else {
            throw fail(reader.line, nil, "the file has a header but no data rows.")
        }
        var featureNames = names
        if let labelIndex { featureNames.remove(at: labelIndex) }
        return try Dataset(features: features, labels: labels, width: width, task: task, featureNames: featureNames, source: file)
    }

    /// The 0-based index of the label column among the header's `names`, or nil for `.none`.
    /// - Throws: `FCNetError.data` when the named or numbered column does not exist.
    func labelIndex(in names: [String], file: String, line: Int = 1) throws -> Int? {
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

    /// Parses a whole field as a number with strtod (C locale), allowing surrounding blanks.
    static func number(_ field: ArraySlice<UInt8>, _ scratch: inout [CChar]) -> Double? {
        var lo = field.startIndex, hi = field.endIndex
        while lo < hi, field[lo] == 0x20 || field[lo] == 0x09 { lo += 1 }
        while hi > lo, field[hi - 1] == 0x20 || field[hi - 1] == 0x09 { hi -= 1 }
        let n = hi - lo
        guard n > 0 else { return nil }
        if scratch.count < n + 1 { scratch = [CChar](repeating: 0, count: n + 1) }
        return scratch.withUnsafeMutableBufferPointer { s -> Double? in
            for i in 0..<n { s[i] = CChar(bitPattern: field[lo + i]) }
            s[n] = 0
            let start = s.baseAddress!
            var end: UnsafeMutablePointer<CChar>? = start
            let v = strtod(start, &end)
            guard let end, end - start == n else { return nil }
            return v
        }
    }

    /// Splits bytes into records of fields, tracking 1-based line numbers.
    struct Reader {
        let bytes: [UInt8]
        let file: String
        var i = 0
        /// The line the reader is on.
        var line = 1

        init(bytes: [UInt8], file: String) {
            self.bytes = bytes
            self.file = file
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        }

        struct Record {
            let line: Int
            let fields: [ArraySlice<UInt8>]
        }

        /// The next non-blank record, or nil at the end.
        mutating func nextRecord() throws -> Record? {
            while i < bytes.count {
                // Blank line?
                if bytes[i] == 0x0A { i += 1; line += 1; continue }
                if bytes[i] == 0x0D {
                    i += 1
                    if i < bytes.count && bytes[i] == 0x0A { i += 1 }
                    line += 1
                    continue
                }
                return try record()
            }
            return nil
        }

        private mutating func record() throws -> Record {
            let startLine = line
            let start = i
            var fields: [ArraySlice<UInt8>] = []
            func tooLong() -> FCNetError {
                FCNetError.data(file: file, line: startLine, column: nil,
                                message: "the line is longer than \(InputFile.describe(ReferenceCSVLoader.maximumLineBytes)), the limit for one CSV line.")
            }
            while true {
                guard i - start <= ReferenceCSVLoader.maximumLineBytes else { throw tooLong() }
                let column = fields.count + 1
                if i < bytes.count && bytes[i] == 0x22 {
                    // Quoted field: "" is a quote; may span lines.
                    let quoteLine = line
                    i += 1
                    var value: [UInt8] = []
                    var closed = false
                    while i < bytes.count {
                        let b = bytes[i]
                        if b == 0x22 {
                            if i + 1 < bytes.count && bytes[i + 1] == 0x22 { value.append(0x22); i += 2; continue }
                            i += 1; closed = true; break
                        }
                        if b == 0x0A { line += 1 }
                        value.append(b); i += 1
                        if value.count > ReferenceCSVLoader.maximumLineBytes { throw tooLong() }
                    }
                    guard closed else {
                        throw FCNetError.data(file: file, line: quoteLine, column: column, message: "a quoted field is not closed; add the closing quote.")
                    }
                    guard i >= bytes.count || bytes[i] == 0x2C || bytes[i] == 0x0A || bytes[i] == 0x0D else {
                        throw FCNetError.data(file: file, line: line, column: column, message: "unexpected text after a closing quote; quote the whole field.")
                    }
                    fields.append(value[...])
                } else {
                    let fieldStart = i
                    while i < bytes.count && bytes[i] != 0x2C && bytes[i] != 0x0A && bytes[i] != 0x0D { i += 1 }
                    guard i - start <= ReferenceCSVLoader.maximumLineBytes else { throw tooLong() }
                    fields.append(bytes[fieldStart..<i])
                }
                if i < bytes.count && bytes[i] == 0x2C { i += 1; continue }
                // End of record.
                if i < bytes.count {
                    if bytes[i] == 0x0D { i += 1; if i < bytes.count && bytes[i] == 0x0A { i += 1 } } else { i += 1 }
                    line += 1
                }
                return Record(line: startLine, fields: fields)
            }
        }
    }
}

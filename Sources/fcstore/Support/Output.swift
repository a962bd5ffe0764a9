import FCCore
import Foundation

/// Where the CLI writes: results to stdout, progress and diagnostics to stderr.
///
/// Every line goes through `Untrusted.escape`: run names, tensor roles, paths and CSV cells
/// come from stores, bundles and data files, and must neither forge a second line nor
/// send escape sequences to the terminal.
enum Console {
    /// One line on stdout.
    static func out(_ line: String = "") {
        FileHandle.standardOutput.write(Data((Untrusted.escape(line) + "\n").utf8))
    }

    /// Several lines on stdout (a table, a report), each escaped on its own.
    static func out(lines: [String]) {
        FileHandle.standardOutput.write(Data(lines.map { Untrusted.escape($0) + "\n" }.joined().utf8))
    }

    /// One line on stderr, escaped; a live progress line is erased first.
    static func err(_ line: String) {
        LiveLine.clear()
        FileHandle.standardError.write(Data((Untrusted.escape(line) + "\n").utf8))
    }

    /// Writes to stderr without a newline (for a progress line redrawn with `\r`).
    static func errRaw(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// One JSON document on stdout, keys sorted so the output is stable.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = Untrusted.escapeJSON(try encoder.encode(value))
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}

extension KeyedEncodingContainer {
    /// Encodes `value`, or null when it is nil, through the concrete overloads.
    mutating func encodeOrNull(_ value: String?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    mutating func encodeOrNull(_ value: Int?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    mutating func encodeOrNull(_ value: Double?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}

/// A plain text table: a header row, then rows, columns padded to their widest cell.
/// Numeric-looking columns are right-aligned.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) { self.headers = headers }
    init(_ headers: [String]) { self.headers = headers }

    /// Adds a row; cells are escaped here so that widths count what the terminal shows.
    mutating func add(_ cells: [String]) { rows.append(cells.map(Untrusted.escape)) }

    var rendered: String { lines.joined(separator: "\n") }

    /// The header line, then one line per row.
    var lines: [String] {
        let columns = headers.count
        var widths = headers.map(\.count)
        var numeric = [Bool](repeating: true, count: columns)
        var anyNumber = [Bool](repeating: false, count: columns)
        for row in rows {
            for (index, cell) in row.prefix(columns).enumerated() {
                widths[index] = max(widths[index], cell.count)
                guard !cell.isEmpty, cell != "-" else { continue }
                if !TextTable.isNumber(cell) {
                    numeric[index] = false
                } else {
                    anyNumber[index] = true
                }
            }
        }
        for index in 0..<columns where !anyNumber[index] { numeric[index] = false }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for index in 0..<columns {
                let cell = index < cells.count ? cells[index] : ""
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                parts.append(numeric[index] ? padding + cell : cell + padding)
            }
            var text = parts.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        return [line(headers)] + rows.map(line)
    }

    /// Whether `cell` reads as a number once its "%" signs are dropped ("12.5%", "0.1063@19" does not).
    static func isNumber(_ cell: String) -> Bool {
        // Most cells have no "%": parse them as they are, without building a new String.
        guard cell.utf8.contains(UInt8(ascii: "%")) else { return Double(cell) != nil }
        return Double(String(String.UnicodeScalarView(cell.unicodeScalars.filter { $0 != "%" }))) != nil
    }
}

enum Format {
    /// A metric for a table cell: 4 significant decimals, "-" when absent.
    static func metric(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        if value != 0, abs(value) < 1e-3 || abs(value) >= 1e6 { return String(format: "%.3e", value) }
        return String(format: "%.4f", value)
    }

    /// "1 thread", "2 threads": a count and its noun, plural unless the count is 1.
    static func count(_ count: Int, _ noun: String, plural: String? = nil) -> String {
        "\(count) \(count == 1 ? noun : plural ?? noun + "s")"
    }

    static func percent(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        return String(format: "%.2f%%", value * 100)
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while abs(value) >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 10 { return String(format: "%.2fs", seconds) }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let total = Int(seconds.rounded())
        if total < 3600 { return String(format: "%dm%02ds", total / 60, total % 60) }
        return String(format: "%dh%02dm", total / 3600, (total % 3600) / 60)
    }

    /// ISO 8601 in UTC, to the second.
    static func timestamp(_ date: Date) -> String {
        date.formatted(timestampStyle)
    }

    /// One style for every timestamp: building a formatter per call costs more
    /// than the rest of a `runs` listing of a thousand runs.
    private static let timestampStyle = Date.ISO8601FormatStyle()

    /// The short form of a run id shown in listings.
    static func shortID(_ id: String) -> String { String(id.prefix(8)) }
}

/// Text that came from a store, a bundle, a model or a data file, made safe to print.
enum Untrusted {
    /// `text` with every control character escaped (see `ControlCharacters`).
    static func escape(_ text: String) -> String { ControlCharacters.escape(text) }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool { ControlCharacters.isControl(scalar) }

    /// JSONEncoder writes C0 controls as `\u00XX` but DEL and C1 controls (U+009B is a CSI
    /// to some terminals) as they are: write those as `\u00XX` too. They can only occur
    /// inside JSON strings, where the escape means the same character.
    static func escapeJSON(_ data: Data) -> Data {
        let text = String(decoding: data, as: UTF8.self)
        guard text.unicodeScalars.contains(where: isControl) else { return data }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value >= 0x7F, isControl(scalar) {
                result.append(contentsOf: String(format: "\\u%04x", scalar.value).unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return Data(String(result).utf8)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The general CSV reader: records of fields with quotes, and numbers through strtod. It
/// reads the header, and every record the fast path (`CSVChunks`) leaves to it: quoted
/// fields and every refused record, so that errors are found and worded in one place.
extension CSVLoader {
    /// Parses a whole field as a number with strtod (C locale), allowing surrounding blanks.
    /// One definition for the general reader's fields (array slices) and the fast path's
    /// (slices of the file's buffer).
    static func number<Field: Collection>(_ field: Field, _ scratch: inout [CChar]) -> Double?
    where Field.Element == UInt8, Field.Index == Int {
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
                                message: "the line is longer than \(InputFile.describe(CSVLoader.maximumLineBytes)), the limit for one CSV line.")
            }
            while true {
                guard i - start <= CSVLoader.maximumLineBytes else { throw tooLong() }
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
                        if value.count > CSVLoader.maximumLineBytes { throw tooLong() }
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
                    guard i - start <= CSVLoader.maximumLineBytes else { throw tooLong() }
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

import FCCore
/// NumPy's `.npy` format (numpy `lib/_format_impl.py`, NEP 1): the magic
/// `\x93NUMPY`, a version, a little-endian header length, a Python-literal dict
/// `{'descr': ..., 'fortran_order': ..., 'shape': (...), }` padded with spaces
/// and a newline so the data starts at a multiple of 64 bytes, then the data.
///
/// fcstore writes version 1.0, `'<f4'`, C order, laid out byte for byte as
/// `numpy.save` lays it out (including numpy's spare spaces after the dict).
/// The reader accepts versions 1.0, 2.0 and 3.0, `'<f4'` (and `'<f8'`,
/// rounded to float32), `fortran_order: False` only, headers of at most
/// 10,000 bytes (numpy's own cap), and exactly the array's bytes after it.
public enum NPY {
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    /// numpy's `_MAX_HEADER_SIZE`.
    public static let maximumHeaderLength = 10_000

    /// Writes `tensor` as a version 1.0 `.npy` file of dtype `'<f4'`.
    public static func encode(_ tensor: TensorValue) -> [UInt8] {
        header(descr: "<f4", shape: tensor.shape) + tensor.littleEndianBytes
    }

    /// Reads a float32 (or float64, rounded) array in C order.
    /// - Throws: `ModelFormatError` (format `.npy`) naming the first problem.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws -> TensorValue {
        let array = try parse(bytes)
        switch array.descr {
        case "<f4":
            return try TensorValue(shape: array.shape, littleEndianBytes: array.data)
        case "<f8":
            let data = array.data
            let values = try ModelFile.narrowing(data.count / 8, tensor: "the array", format: .npy) {
                Double(bitPattern: readUInt64LE(data, at: data.startIndex + 8 * $0))
            }
            return try TensorValue(shape: array.shape, values: values)
        case ">f4", ">f8":
            throw ModelFormatError(.npy, "The array is big-endian ('\(array.descr)'); fcstore reads little-endian float32 ('<f4'). Convert it with array.astype('<f4').")
        default:
            throw ModelFormatError(.npy, "The array has dtype '\(array.descr)'; fcstore reads float32 ('<f4', or '<f8' which it rounds). Convert it with array.astype('<f4').")
        }
    }

    /// A zero-dimensional unicode array (`'<U<n>'`, UTF-32LE), as
    /// `numpy.save(f, numpy.array(string))` writes it; numpy reads it back
    /// without pickle and `.item()` returns the string.
    static func encodeString(_ string: String) -> [UInt8] {
        let scalars = Array(string.unicodeScalars)
        var bytes = header(descr: "<U\(max(scalars.count, 1))", shape: [])
        for scalar in scalars { bytes += littleEndianBytes(scalar.value) }
        if scalars.isEmpty { bytes += [0, 0, 0, 0] }
        return bytes
    }

    /// Reads a zero-dimensional `'<U<n>'` array back into a string (trailing
    /// NUL code points, numpy's padding, removed).
    static func decodeString(_ bytes: ArraySlice<UInt8>) throws -> String {
        let array = try parse(bytes)
        guard array.descr.hasPrefix("<U"), array.shape.isEmpty else {
            throw ModelFormatError(.npy, "The array has dtype '\(array.descr)' and shape \(array.shape); a zero-dimensional unicode string ('<U...', shape ()) was expected.")
        }
        var scalars = String.UnicodeScalarView()
        for offset in stride(from: array.data.startIndex, to: array.data.endIndex, by: 4) {
            let value = readUInt32LE(array.data, at: offset)
            guard let scalar = Unicode.Scalar(value) else {
                throw ModelFormatError(.npy, "The unicode array holds the invalid code point 0x\(String(value, radix: 16)).")
            }
            scalars.append(scalar)
        }
        while scalars.last == "\0" { scalars.removeLast() }
        return String(scalars)
    }

    /// The header numpy writes: the dict with keys sorted, numpy's spare
    /// spaces for growing the first axis, padding to 64 and a newline.
    static func header(descr: String, shape: [Int]) -> [UInt8] {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        if let first = shape.first { dict += String(repeating: " ", count: max(0, 21 - String(first).count)) }
        let textLength = dict.utf8.count + 1
        let padding = 64 - (10 + textLength) % 64
        return magic + [1, 0] + littleEndianBytes(UInt16(textLength + padding)) + Array(dict.utf8)
            + [UInt8](repeating: 0x20, count: padding) + [0x0A]
    }

    struct RawArray {
        var descr: String
        var shape: [Int]
        var data: ArraySlice<UInt8>
    }

    /// Parses the header and checks the data length (exactly count × item size).
    static func parse(_ bytes: ArraySlice<UInt8>) throws -> RawArray {
        func fail(_ message: String) -> ModelFormatError { ModelFormatError(.npy, message) }
        let start = bytes.startIndex
        guard bytes.count >= 10, Array(bytes[start..<(start + 6)]) == magic else {
            throw fail("The data does not start with the .npy magic \\x93NUMPY; it is not a NumPy array file.")
        }
        let major = bytes[start + 6], minor = bytes[start + 7]
        let headerLength: Int, headerStart: Int
        switch (major, minor) {
        case (1, 0):
            headerLength = Int(readUInt16LE(bytes, at: start + 8)); headerStart = start + 10
        case (2, 0), (3, 0):
            guard bytes.count >= 12 else { throw fail("The .npy file is truncated inside its header length.") }
            headerLength = Int(readUInt32LE(bytes, at: start + 8)); headerStart = start + 12
        default:
            throw fail("The .npy format version \(major).\(minor) is not supported; versions 1.0, 2.0 and 3.0 are.")
        }
        guard headerLength <= maximumHeaderLength else {
            throw fail("The .npy header is \(headerLength) bytes long, more than the limit of \(maximumHeaderLength).")
        }
        guard headerLength <= bytes.endIndex - headerStart else {
            throw fail("The .npy header length \(headerLength) is larger than the \(bytes.endIndex - headerStart) bytes that follow it; the file is truncated.")
        }
        let text = bytes[headerStart..<(headerStart + headerLength)]
        guard text.allSatisfy({ $0 < 0x80 }) else { throw fail("The .npy header holds non-ASCII bytes.") }
        var parser = HeaderParser(bytes: text, index: text.startIndex)
        let dict: [String: HeaderParser.Value]
        do {
            dict = try parser.parseDict()
        } catch {
            throw fail("The .npy header is not a valid dict literal: \(error.message) at byte \(error.offset - text.startIndex) of the header.")
        }
        guard Set(dict.keys) == ["descr", "fortran_order", "shape"] else {
            throw fail("The .npy header has the keys \(dict.keys.sorted()); it must have exactly descr, fortran_order and shape.")
        }
        guard case let .string(descr)? = dict["descr"] else { throw fail("The .npy header's descr is not a string; structured dtypes are not supported.") }
        guard case let .bool(fortranOrder)? = dict["fortran_order"] else { throw fail("The .npy header's fortran_order is not True or False.") }
        guard !fortranOrder else {
            throw fail("The array is stored in Fortran (column-major) order; fcstore reads C order. Save numpy.ascontiguousarray(array) instead.")
        }
        guard case let .tuple(shape)? = dict["shape"] else { throw fail("The .npy header's shape is not a tuple of integers.") }

        let itemSize: Int
        switch descr {
        case "<f4", ">f4": itemSize = 4
        case "<f8", ">f8": itemSize = 8
        case _ where descr.hasPrefix("<U") && descr.count > 2 && descr.count <= 11
            && descr.dropFirst(2).allSatisfy({ $0.isASCII && $0.isNumber }):
            guard let n = Int(descr.dropFirst(2)), n >= 1 else { throw fail("The .npy dtype '\(descr)' has no length.") }
            itemSize = n * 4
        default:
            throw fail("The array has dtype '\(descr)'; fcstore reads float32 ('<f4', or '<f8' which it rounds). Convert it with array.astype('<f4').")
        }
        guard let count = TensorValue.elementCount(shape),
              case let (byteCount, overflow) = count.multipliedReportingOverflow(by: itemSize), !overflow else {
            throw fail("The .npy shape \(shape) is too large: its byte size overflows.")
        }
        let dataStart = headerStart + headerLength
        let available = bytes.endIndex - dataStart
        guard byteCount <= available else {
            throw fail("The .npy array of shape \(shape) and dtype '\(descr)' needs \(byteCount) bytes but only \(available) follow the header; the file is truncated.")
        }
        guard byteCount == available else {
            throw fail("The .npy file has \(available - byteCount) trailing bytes after the array data.")
        }
        return RawArray(descr: descr, shape: shape, data: bytes[dataStart...])
    }

    /// The subset of Python literal syntax `.npy` headers use: a dict of
    /// quoted string keys to strings, True/False and tuples of non-negative
    /// integers. Duplicate keys are refused.
    struct HeaderParser {
        enum Value { case string(String), bool(Bool), tuple([Int]) }

        let bytes: ArraySlice<UInt8>
        var index: Int

        mutating func skipSpaces() {
            while index < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        func error(_ message: String) -> JSONError { JSONError(message: message, offset: index) }

        mutating func expect(_ character: Character) throws(JSONError) {
            skipSpaces()
            guard index < bytes.endIndex, bytes[index] == character.asciiValue! else { throw error("expected '\(character)'") }
            index += 1
        }

        mutating func peek(_ character: Character) -> Bool {
            skipSpaces()
            return index < bytes.endIndex && bytes[index] == character.asciiValue!
        }

        mutating func parseDict() throws(JSONError) -> [String: Value] {
            try expect("{")
            var dict: [String: Value] = [:]
            while !peek("}") {
                let key = try parseString()
                guard dict[key] == nil else { throw error("duplicate key '\(key)'") }
                try expect(":")
                dict[key] = try parseValue()
                if peek(",") { index += 1 } else { break }
            }
            try expect("}")
            skipSpaces()
            guard index == bytes.endIndex else { throw error("unexpected characters after the dict") }
            return dict
        }

        mutating func parseString() throws(JSONError) -> String {
            skipSpaces()
            guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "'") || bytes[index] == UInt8(ascii: "\"") else {
                throw error("expected a quoted string")
            }
            let quote = bytes[index]
            index += 1
            let start = index
            while index < bytes.endIndex, bytes[index] != quote {
                guard bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 else { throw error("escapes and control characters are not supported in strings") }
                index += 1
            }
            guard index < bytes.endIndex else { throw error("unterminated string") }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            index += 1
            return text
        }

        mutating func parseWord() -> String {
            skipSpaces()
            let start = index
            while index < bytes.endIndex, bytes[index] < 0x80, Character(Unicode.Scalar(bytes[index])).isLetter
                || Character(Unicode.Scalar(bytes[index])).isNumber || bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "_") {
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func parseValue() throws(JSONError) -> Value {
            skipSpaces()
            guard index < bytes.endIndex else { throw error("unexpected end of the header") }
            switch bytes[index] {
            case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "("):
                index += 1
                var numbers: [Int] = []
                var sawComma = false
                while !peek(")") {
                    let word = parseWord()
                    guard !word.isEmpty, word.count <= 19, word.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(word) else {
                        throw error(word.hasPrefix("-") ? "negative dimension \(word)" : "expected a non-negative integer")
                    }
                    numbers.append(number)
                    if peek(",") { index += 1; sawComma = true } else { sawComma = false; break }
                }
                try expect(")")
                guard numbers.count != 1 || sawComma else { throw error("(n) is an integer, not a tuple") }
                return .tuple(numbers)
            default:
                let word = parseWord()
                switch word {
                case "True": return .bool(true)
                case "False": return .bool(false)
                default: throw error("unexpected value '\(word)'")
                }
            }
        }
    }
}

import FCCore
/// The safetensors format (huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of UTF-8 JSON, then the tensors' bytes.
///
/// fcstore writes `layers.<l>.weight` (shape [N_l, N_{l-1}]) and
/// `layers.<l>.bias` ([N_l]) as F32, l = 1...L, in that order and packed
/// without gaps, so `torch.nn.Linear` (weight is out × in) loads them as they
/// are. `__metadata__` comes first with its keys sorted (see `ModelFile`'s
/// metadata keys); the header starts with `{` and is padded with spaces to a
/// multiple of 8 bytes. The same model always gives the same bytes.
///
/// The reader treats every file as hostile: header length capped at
/// 100,000,000 bytes and at the file size, strict UTF-8 and JSON with
/// duplicate keys refused, tensor offsets that must tile the data section
/// exactly, sizes checked with overflow-checked arithmetic.
public enum Safetensors {
    /// The reference implementation's `MAX_HEADER_SIZE`.
    public static let maximumHeaderLength = 100_000_000

    /// The dtypes `readTensors` converts to float32: F32 as is, F64 rounded to
    /// nearest, F16 and BF16 exactly.
    public static let readableDTypes = ["F32", "F64", "F16", "BF16"]

    /// The dtypes the safetensors specification knows, for clearer refusals.
    static let knownDTypes: Set<String> = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
                                           "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
                                           "C64", "F64", "I64", "U64"]

    /// Writes `model` as safetensors bytes.
    /// - Throws: `ModelFormatError` (format `.model`) when `model.validate()` fails.
    public static func encode(_ model: ModelFile) throws -> [UInt8] {
        try model.validate()
        var header = "{\"__metadata__\":" + JSONWriter.object(model.formatMetadata())
        var offset = 0
        for (name, tensor) in model.namedTensors() {
            let end = offset + tensor.byteCount
            header += "," + JSONWriter.quote(name) + ":{\"dtype\":\"F32\",\"shape\":["
                + tensor.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)

        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + headerBytes.count + offset)
        bytes += littleEndianBytes(UInt64(headerBytes.count))
        bytes += headerBytes
        for (_, tensor) in model.namedTensors() { bytes += tensor.littleEndianBytes }
        return bytes
    }

    /// Reads a safetensors file written by fcstore, PyTorch or numpy into a model.
    ///
    /// Minimal requirements for a file fcstore did not write: tensors named
    /// `layers.<l>.weight` / `layers.<l>.bias` for l = 1...L (no other tensors),
    /// dtype F32 (F64, F16, BF16 are converted), and the metadata key
    /// `fcstore.activations` (e.g. "relu,softmax"). `fcstore.loss`,
    /// `fcstore.normalization` and `fcstore.architecture` are optional.
    /// - Throws: `ModelFormatError` (format `.safetensors`) naming the first problem.
    public static func decode(_ bytes: [UInt8]) throws -> ModelFile {
        let (tensors, metadata) = try readTensors(bytes)
        return try ModelFile.assemble(tensors: tensors, metadata: metadata, format: .safetensors)
    }

    /// Checks the 8-byte header length against the limit and the file's size, before the
    /// rest of the file is read.
    /// - Parameters:
    ///   - prefix: the file's first bytes (8 or more unless the file is shorter).
    ///   - fileSize: the size of the whole file.
    /// - Returns: the header length.
    /// - Throws: `ModelFormatError` (format `.safetensors`).
    public static func checkHeaderLength(_ prefix: some Collection<UInt8>, fileSize: Int) throws -> Int {
        func fail(_ message: String) -> ModelFormatError { ModelFormatError(.safetensors, message) }
        guard fileSize >= 8, prefix.count >= 8 else {
            throw fail("The file is \(fileSize) bytes long, too short for a safetensors file, which starts with an 8-byte header length.")
        }
        let declared = readUInt64LE(Array(prefix.prefix(8)), at: 0)
        guard declared <= UInt64(maximumHeaderLength) else {
            throw fail("The safetensors header length \(declared) is larger than the limit of \(maximumHeaderLength) bytes; the file is damaged or not a safetensors file.")
        }
        let headerLength = Int(declared)
        guard headerLength <= fileSize - 8 else {
            throw fail("The safetensors header length \(headerLength) is larger than the \(fileSize - 8) bytes that follow it; the file is truncated or not a safetensors file.")
        }
        return headerLength
    }

    /// Reads every tensor of a safetensors file as float32, plus `__metadata__`.
    /// - Throws: `ModelFormatError` (format `.safetensors`) naming the first problem.
    public static func readTensors(_ bytes: [UInt8]) throws -> (tensors: [String: TensorValue], metadata: [String: String]) {
        func fail(_ message: String) -> ModelFormatError { ModelFormatError(.safetensors, message) }

        let headerLength = try checkHeaderLength(bytes.prefix(8), fileSize: bytes.count)
        let headerBytes = bytes[8..<(8 + headerLength)]
        if let bad = firstInvalidUTF8Offset(headerBytes) {
            throw fail("The safetensors header is not valid UTF-8 (byte \(bad) of the header).")
        }
        let header: JSONValue
        do {
            header = try JSONParser.parse(headerBytes)
        } catch {
            throw fail("The safetensors header is not valid JSON: \(error.message) at byte \(error.offset) of the header.")
        }
        guard case let .object(members) = header else {
            throw fail("The safetensors header is \(header.kindName), not a JSON object.")
        }

        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in members {
            if name == "__metadata__" {
                guard case let .object(pairs) = value else {
                    throw fail("The safetensors \"__metadata__\" is \(value.kindName); it must be an object of strings.")
                }
                for (key, item) in pairs {
                    guard case let .string(text) = item else {
                        throw fail("The safetensors metadata value for \"\(key)\" is \(item.kindName); metadata values must be strings.")
                    }
                    metadata[key] = text
                }
                continue
            }
            guard case let .object(fields) = value else {
                throw fail("The safetensors entry for tensor \"\(name)\" is \(value.kindName), not an object with dtype, shape and data_offsets.")
            }
            var dtype: String?, shape: [Int]?, offsets: [Int]?
            for (key, field) in fields {
                switch key {
                case "dtype":
                    guard case let .string(text) = field else { throw fail("The dtype of tensor \"\(name)\" is \(field.kindName), not a string.") }
                    dtype = text
                case "shape", "data_offsets":
                    guard case let .array(elements) = field else { throw fail("The \(key) of tensor \"\(name)\" is \(field.kindName), not an array.") }
                    var numbers: [Int] = []
                    for element in elements {
                        guard let number = element.nonNegativeInt else {
                            throw fail("The \(key) of tensor \"\(name)\" holds \(describe(element)); it must hold non-negative integers.")
                        }
                        numbers.append(number)
                    }
                    if key == "shape" { shape = numbers } else { offsets = numbers }
                default:
                    continue // Unknown keys are ignored, as the reference reader does.
                }
            }
            guard let dtype else { throw fail("Tensor \"\(name)\" has no dtype.") }
            guard let shape else { throw fail("Tensor \"\(name)\" has no shape.") }
            guard let offsets else { throw fail("Tensor \"\(name)\" has no data_offsets.") }
            guard offsets.count == 2 else {
                throw fail("The data_offsets of tensor \"\(name)\" hold \(offsets.count) numbers; they must be [begin, end].")
            }
            guard knownDTypes.contains(dtype) else {
                throw fail("Tensor \"\(name)\" has the unknown dtype \"\(dtype)\"; dtypes are upper case, e.g. F32.")
            }
            guard let size = elementSize(dtype) else {
                throw fail("Tensor \"\(name)\" has dtype \(dtype); fcstore reads F32 tensors (and converts F64, F16 and BF16). Save the tensor as float32.")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end else {
                throw fail("The data_offsets [\(begin), \(end)] of tensor \"\(name)\" end before they begin.")
            }
            guard end <= dataLength else {
                throw fail("Tensor \"\(name)\" ends at data byte \(end) but the data section has only \(dataLength) bytes; the file is truncated.")
            }
            guard let count = TensorValue.elementCount(shape),
                  case let (byteCount, overflow) = count.multipliedReportingOverflow(by: size), !overflow else {
                throw fail("The shape \(shape) of tensor \"\(name)\" is too large: its byte size overflows.")
            }
            guard byteCount == end - begin else {
                throw fail("Tensor \"\(name)\" has shape \(shape) and dtype \(dtype), which take \(byteCount) bytes, but its data_offsets [\(begin), \(end)] span \(end - begin) bytes.")
            }
            entries.append((name, dtype, shape, begin, end))
        }

        // The offsets must tile the data section: sorted by begin, the first at 0,
        // each starting where the previous ended, the last ending at the file's end.
        var position = 0
        for entry in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard entry.begin <= position else {
                throw fail("There is a gap of \(entry.begin - position) bytes before tensor \"\(entry.name)\" at data byte \(position); tensors must be packed without gaps.")
            }
            guard entry.begin == position else {
                throw fail("Tensor \"\(entry.name)\" at data bytes [\(entry.begin), \(entry.end)] overlaps the tensor before it, which ends at \(position).")
            }
            position = entry.end
        }
        guard position == dataLength else {
            throw fail("The tensors cover \(position) of the \(dataLength) data bytes; the file has \(dataLength - position) trailing bytes that belong to no tensor.")
        }

        var tensors: [String: TensorValue] = [:]
        for entry in entries {
            let raw = bytes[(dataStart + entry.begin)..<(dataStart + entry.end)]
            tensors[entry.name] = try convert(raw, dtype: entry.dtype, shape: entry.shape, name: entry.name)
        }
        return (tensors, metadata)
    }

    private static func describe(_ value: JSONValue) -> String {
        if case let .number(text) = value { return "the number \(text)" }
        return value.kindName
    }

    private static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F32": return 4
        case "F64": return 8
        case "F16", "BF16": return 2
        default: return nil
        }
    }

    private static func convert(_ raw: ArraySlice<UInt8>, dtype: String, shape: [Int], name: String) throws -> TensorValue {
        switch dtype {
        case "F32":
            return try TensorValue(shape: shape, littleEndianBytes: raw)
        case "F64":
            let values = try ModelFile.narrowing(raw.count / 8, tensor: "tensor \"\(name)\"", format: .safetensors) {
                Double(bitPattern: readUInt64LE(raw, at: raw.startIndex + 8 * $0))
            }
            return try TensorValue(shape: shape, values: values)
        case "F16":
            let values = stride(from: raw.startIndex, to: raw.endIndex, by: 2).map { floatFromHalf(readUInt16LE(raw, at: $0)) }
            return try TensorValue(shape: shape, values: values)
        default: // BF16
            let values = stride(from: raw.startIndex, to: raw.endIndex, by: 2).map { Float(bitPattern: UInt32(readUInt16LE(raw, at: $0)) << 16) }
            return try TensorValue(shape: shape, values: values)
        }
    }

    /// IEEE 754 binary16 to binary32, exactly (subnormals, infinities and NaN included).
    static func floatFromHalf(_ half: UInt16) -> Float {
        let sign: UInt32 = UInt32(half & 0x8000) << 16
        let exponent = UInt32(half >> 10) & 0x1F
        let mantissa = UInt32(half & 0x3FF)
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 31:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }
}

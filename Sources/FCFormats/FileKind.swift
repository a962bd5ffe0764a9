#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a file holds, judged from its first bytes (never from its name), so
/// that each kind of file gets its own message before any parser runs.
///
/// `import` reads the kinds `isImportable` says; the others are named in its
/// refusal ("not a model file or bundle (looks like CSV)").
public enum FileKind: String, Equatable, Sendable, CaseIterable {
    /// An SQLite database: an fcstore bundle, or another application's file
    /// (the bundle importer tells them apart by `application_id`).
    case bundle
    /// A little-endian u64 header length (at most 100 MB, so its high bytes
    /// are zero) followed by a JSON object; also a truncated such file.
    case safetensors
    /// A zip archive (numpy's `savez` writes npz files as zip archives).
    case npz
    /// A JSON object or array, with or without a UTF-8 byte order mark.
    case json
    /// An ONNX model: a protobuf `ModelProto` that starts with `ir_version`.
    case onnx
    /// One NumPy array (`.npy`), not an archive of them.
    case npy
    /// A Python pickle, or a PyTorch checkpoint (a zip archive of pickles).
    case pickle
    case hdf5
    case gzip
    /// UTF-8 text whose first lines have the same number (at least one) of
    /// commas, semicolons or tabs.
    case csv
    case text
    case empty
    /// Bytes of no kind listed here.
    case binary

    /// How many leading bytes `detect` looks at.
    public static let headLength = 4096

    /// The kinds `fcstore import` reads.
    public var isImportable: Bool { [.bundle, .safetensors, .npz, .json].contains(self) }

    /// The kind in words, for "not a model file or bundle (...)".
    public var phrase: String {
        switch self {
        case .bundle: return "an SQLite database"
        case .safetensors: return "a safetensors file"
        case .npz: return "a zip archive"
        case .json: return "JSON"
        case .onnx: return "an ONNX model"
        case .npy: return "looks like a single NumPy array (.npy); save every layer's arrays together with numpy.savez"
        case .pickle: return "looks like a Python pickle, such as a PyTorch .pt file; save the weights as safetensors"
        case .hdf5: return "looks like HDF5, such as a Keras .h5 file; save the weights as safetensors"
        case .gzip: return "looks like gzip-compressed data; decompress it first"
        case .csv: return "looks like CSV"
        case .text: return "looks like text"
        case .empty: return "it is empty"
        case .binary: return "binary data of no known kind"
        }
    }

    /// The kind of the file at `path`, from its first `headLength` bytes.
    /// - Throws: `FileReadError` when the file cannot be opened or read, or is not a regular file.
    public static func detect(path: String) throws -> FileKind {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw FileReadError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw FileReadError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FileReadError.notRegularFile(path: path)
        }
        let (head, filled) = try ModelFileReader.fill(descriptor, count: headLength, path: path)
        return detect(head: Array(head.prefix(filled)), fileSize: Int(info.st_size))
    }

    /// The kind of a file of `fileSize` bytes whose first bytes are `head`
    /// (at most `headLength` of them are looked at).
    public static func detect(head: [UInt8], fileSize: Int) -> FileKind {
        let head = Array(head.prefix(headLength))
        guard !head.isEmpty else { return .empty }
        if head.starts(with: Array("SQLite format 3\0".utf8)) { return .bundle }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            // PyTorch's torch.save writes a zip whose first member is <name>/data.pkl.
            return firstZipMember(head)?.hasSuffix(".pkl") == true ? .pickle : .npz
        }
        if looksLikeSafetensors(head, fileSize: fileSize) { return .safetensors }
        if head.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) { return .npy }
        if looksLikeJSON(head) { return .json }
        if looksLikeONNX(head) { return .onnx }
        if head.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return .hdf5 }
        if head.starts(with: [0x1F, 0x8B]) { return .gzip }
        if head.count >= 2, head[0] == 0x80, (2...5).contains(head[1]) { return .pickle }
        if let lines = textLines(head, truncated: head.count < fileSize) {
            return looksLikeCSV(lines) ? .csv : .text
        }
        return .binary
    }

    /// The UTF-8 byte order mark, which some editors put before JSON.
    public static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// An 8-byte little-endian length n with 2 <= n <= 100,000,000, then `{`
    /// (or the end of a truncated file). Text cannot match: its bytes 4-7 are never zero.
    /// A header object (`{"`) after 8 bytes that are not text is safetensors too, whatever
    /// length they declare: a damaged header length then gets the safetensors reader's
    /// message, which names it, instead of "no known kind".
    static func looksLikeSafetensors(_ head: [UInt8], fileSize: Int) -> Bool {
        guard head.count >= 8 else { return false }
        let length = head[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if head.count >= 10, head[8] == UInt8(ascii: "{"), head[9] == UInt8(ascii: "\""),
           head[0..<8].contains(where: { $0 < 0x20 || $0 >= 0x7F }) {
            return true
        }
        guard length >= 2, length <= UInt64(Safetensors.maximumHeaderLength) else { return false }
        return head.count == 8 ? fileSize == 8 : head[8] == UInt8(ascii: "{")
    }

    /// The name of the first member of a zip archive, from its local file header.
    static func firstZipMember(_ head: [UInt8]) -> String? {
        guard head.count >= 30, head.starts(with: [0x50, 0x4B, 0x03, 0x04]) else { return nil }
        let length = Int(head[26]) | Int(head[27]) << 8
        guard head.count >= 30 + length else { return nil }
        return String(decoding: head[30..<(30 + length)], as: UTF8.self)
    }

    /// Optional BOM, JSON whitespace, then `{` or `[`.
    static func looksLikeJSON(_ head: [UInt8]) -> Bool {
        var bytes = head[...]
        if bytes.starts(with: byteOrderMark) { bytes = bytes.dropFirst(3) }
        guard let first = bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else { return false }
        return first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
    }

    /// A protobuf `ModelProto`: field 1 (`ir_version`, a small varint) first,
    /// then only fields ModelProto defines, with their wire types, as far as
    /// the head reaches (a length-delimited field may run past it).
    static func looksLikeONNX(_ head: [UInt8]) -> Bool {
        guard head.first == 0x08 else { return false }
        var index = 0
        func varint() -> UInt64? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard index < head.count else { return nil }
                let byte = head[index]
                index += 1
                value |= UInt64(byte & 0x7F) << UInt64(shift)
                if byte & 0x80 == 0 { return value }
            }
            return nil
        }
        let lengthFields: Set<UInt64> = [2, 3, 4, 6, 7, 8, 14, 20, 25, 26]
        var fields = 0
        while index < head.count {
            guard let key = varint() else { break }
            let field = key >> 3, wireType = key & 7
            if fields == 0 {
                guard field == 1, wireType == 0, let version = varint(), (1...100).contains(version) else { return false }
            } else if field == 5, wireType == 0 {
                guard varint() != nil else { break }
            } else if lengthFields.contains(field), wireType == 2 {
                guard let length = varint() else { break }
                guard length <= UInt64(Int.max - index) else { return false }
                index += Int(length)
            } else {
                return false
            }
            fields += 1
        }
        return fields >= 2
    }

    /// The lines of `head` when it is UTF-8 text (no NUL or other control
    /// characters than tab, CR, LF and form feed). When the file goes on past
    /// the head (`truncated`), its last line and a character cut at its end are ignored.
    static func textLines(_ head: [UInt8], truncated: Bool) -> [ArraySlice<UInt8>]? {
        var bytes = head[...]
        if bytes.starts(with: byteOrderMark) { bytes = bytes.dropFirst(3) }
        guard !bytes.contains(where: { ($0 < 0x20 && ![0x09, 0x0A, 0x0D, 0x0C].contains($0)) || $0 == 0x7F }) else { return nil }
        if let bad = firstInvalidUTF8Offset(bytes) {
            guard truncated, bytes.count - bad <= 3 else { return nil }
        }
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if truncated, lines.count > 1 { lines.removeLast() }
        return lines.map { $0.last == 0x0D ? $0.dropLast() : $0 }.filter { !$0.isEmpty }
    }

    /// Up to five lines, each with the same number (at least one) of one delimiter.
    static func looksLikeCSV(_ lines: [ArraySlice<UInt8>]) -> Bool {
        let sample = lines.prefix(5)
        guard !sample.isEmpty else { return false }
        for delimiter in [UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "\t")] {
            let counts = sample.map { line in line.reduce(0) { $0 + ($1 == delimiter ? 1 : 0) } }
            if counts[0] >= 1, counts.allSatisfy({ $0 == counts[0] }) { return true }
        }
        return false
    }
}

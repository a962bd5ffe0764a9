#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a model file from disk under the size policy every import obeys: files over
/// `maximumBytes` (JSON: over `JSONModel.maximumBytes`) are refused before they are read,
/// a safetensors header length is checked against its cap and the file's size before the
/// body is read, and the bytes are read into one array and decoded completely.
public enum ModelFileReader {
    /// Model files larger than this are refused before they are read.
    public static let maximumBytes = 4 << 30

    /// Reads and decodes the model file at `path`, of the `kind` `FileKind.detect` found,
    /// and `digest` of its bytes; the bytes are released when this returns.
    /// - Throws: `FileReadError` (unreadable, too large, changed while read) or
    ///   `ModelFormatError` (not a valid model of its format, or a kind fcstore does not read).
    public static func read(path: String, kind: FileKind, digest: ([UInt8]) -> String) throws -> (model: ModelFile, digest: String) {
        guard let format = ModelFileFormat(kind), format.isReadable else {
            throw ModelFormatError(.model, "\(path) is not a model file fcstore reads (\(kind.phrase)).")
        }
        let size = fileSize(path)
        guard size <= maximumBytes else { throw FileReadError.tooLarge(path: path, size: size, limit: maximumBytes) }
        if format == .json, size > JSONModel.maximumBytes {
            throw FileReadError.jsonTooLarge(path: path, size: size, limit: JSONModel.maximumBytes)
        }
        if format == .safetensors {
            // The header length is checked against its cap and the file's size before
            // the body is read: a large file with a damaged header is refused unread.
            _ = try Safetensors.checkHeaderLength(try readAll(path, expected: min(size, 8), partial: true), fileSize: size)
        }
        if format == .npz {
            // A ZIP archive's directory is at its end: the end record is found and its
            // directory bounds checked before the body is read.
            try ZIP.checkEndRecord(try readTail(path, count: min(size, 22 + 0xFFFF)), fileSize: size)
        }
        let bytes = try readAll(path, expected: size)
        return (try format.decode(bytes), digest(bytes))
    }

    /// The last `count` bytes of the file.
    static func readTail(_ path: String, count: Int) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileReadError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        guard lseek(descriptor, -off_t(count), SEEK_END) >= 0 else {
            throw FileReadError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        let (bytes, filled) = try fill(descriptor, count: count, path: path)
        guard filled == count else { throw FileReadError.changedWhileRead(path: path, read: filled, expected: count) }
        return bytes
    }

    /// The size of a file in bytes (0 when it cannot be read).
    public static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    /// Up to `count` bytes from `descriptor` into one array of that length, and how many
    /// were read (fewer at the end of the file); EINTR is retried.
    static func fill(_ descriptor: Int32, count: Int, path: String) throws -> (bytes: [UInt8], filled: Int) {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let read = bytes.withUnsafeMutableBytes { readBytes(descriptor, $0.baseAddress! + filled, count - filled) }
            if read < 0 {
                if errno == EINTR { continue }
                throw FileReadError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            guard read > 0 else { break }
            filled += read
        }
        return (bytes, filled)
    }

    /// The file's bytes, read into one array (no intermediate copy); with `partial`,
    /// its first `expected` bytes.
    static func readAll(_ path: String, expected: Int, partial: Bool = false) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileReadError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        let (bytes, filled) = try fill(descriptor, count: expected, path: path)
        guard filled == expected || partial else { throw FileReadError.changedWhileRead(path: path, read: filled, expected: expected) }
        return bytes
    }
}

/// read(2), outside `ModelFileReader` whose `read` would shadow it.
private func readBytes(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(descriptor, buffer, count) }

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Reads the files a user names (data, labels, models): regular files only, up to a size
/// limit, checked before a byte is read. A named pipe or a device would block the read
/// forever or never end, so `stat` refuses them before `open`, and `open` uses
/// `O_NONBLOCK` so that a file swapped for a pipe in between cannot hang it either
/// (`fstat` on the open descriptor decides).
public enum InputFile {
    /// Throws unless `path` (after symbolic links) is a regular file.
    /// - Throws: `FCNetError.data` naming the file and what it is instead.
    public static func checkRegular(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw failure(path, errno: errno) }
        try checkKind(info, path: path)
    }

    /// The file's bytes.
    /// - Parameters:
    ///   - limit: the largest size accepted, in bytes; the error states it.
    ///   - what: what the file is, for the size message ("a CSV file").
    ///   - header: how many leading bytes `checkHeader` needs.
    ///   - checkHeader: called with those bytes (fewer if the file is shorter) and the file's
    ///     size before the rest is read, so that a file whose header is wrong is not read whole.
    /// - Throws: `FCNetError.data` for a missing, unreadable, non-regular or too large file;
    ///   what `checkHeader` throws.
    public static func read(_ path: String, limit: Int, what: String, header: Int = 0,
                            checkHeader: (_ head: UnsafeBufferPointer<UInt8>, _ size: Int) throws -> Void = { _, _ in }) throws -> [UInt8] {
        try checkRegular(path)
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(path, errno: errno) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw failure(path, errno: errno) }
        try checkKind(info, path: path)
        let size = Int(info.st_size)
        guard size <= limit else {
            throw FCNetError.data(file: path, line: nil, column: nil,
                                  message: "is \(size) bytes; fcstore reads \(what) of at most \(limit) bytes (\(describe(limit))).")
        }
        var failed: Int32 = 0
        let bytes = try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var offset = 0
            var checked = header <= 0
            while offset < size {
                let count = systemRead(descriptor, buffer.baseAddress! + offset, (checked ? size : min(size, header)) - offset)
                if count < 0, errno == EINTR { continue }
                if count < 0 { failed = errno; break }
                if count == 0 { break }  // the file shrank meanwhile: take what is there
                offset += count
                if !checked, offset >= min(size, header) {
                    checked = true
                    initialized = offset
                    try checkHeader(UnsafeBufferPointer(start: buffer.baseAddress, count: offset), size)
                }
            }
            if !checked { try checkHeader(UnsafeBufferPointer(start: buffer.baseAddress, count: offset), size) }
            initialized = offset
        }
        guard failed == 0 else { throw failure(path, errno: failed) }
        return bytes
    }

    /// "2 GiB", "16 MiB" for a power-of-two limit, else the byte count.
    public static func describe(_ bytes: Int) -> String {
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift) \(unit)"
        }
        return "\(bytes) bytes"
    }

    static func checkKind(_ info: stat, path: String) throws {
        let kind: String
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: kind = "a folder"
        case S_IFIFO: kind = "a named pipe (FIFO)"
        case S_IFCHR, S_IFBLK: kind = "a device"
        case S_IFSOCK: kind = "a socket"
        default: kind = "not a file"
        }
        throw FCNetError.data(file: path, line: nil, column: nil, message: "is \(kind), not a regular file; pass a regular file.")
    }

    static func failure(_ path: String, errno code: Int32) -> FCNetError {
        let reason = code == ENOENT ? "" : " (\(String(cString: strerror(code))))"
        return .data(file: path, line: nil, column: nil, message: "cannot be read\(reason); check that the file exists and is readable.")
    }
}

/// read(2), named apart from `InputFile.read`.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

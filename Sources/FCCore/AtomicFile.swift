#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The one way fcstore writes a file that must be complete or absent (exported models,
/// plots, bundles): the bytes go to a temporary file beside the target
/// (`.<name>.<random>.partial`), which is fsynced and then moved into place with
/// `rename(2)` (replacing) or `link(2)` (never replacing: it fails with `EEXIST` if the
/// target appeared meanwhile), and the folder is fsynced.
public enum AtomicFile {
    /// A temporary path beside `path`, in the same folder (so that rename and link work).
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).partial").path
    }

    /// Writes `bytes` to `path` completely or not at all.
    /// - Parameter replace: true to rename over an existing file; false to fail with
    ///   `AtomicFileError.exists` if `path` exists (checked atomically by link(2)).
    /// - Throws: `AtomicFileError`; `path` is then as it was and no temporary file is left.
    public static func write(_ bytes: some ContiguousBytes, to path: String, replace: Bool) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw AtomicFileError.isFolder(path: path)
        }
        guard FileManager.default.fileExists(atPath: folder) else { throw AtomicFileError.folderMissing(path: path, folder: folder) }
        let temporary = temporaryPath(for: path)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AtomicFileError.cannotCreate(path: path, reason: errorText()) }
        var failure: AtomicFileError?
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = .failed(path: path, operation: "write \(temporary)", reason: errorText())
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = .failed(path: path, operation: "fsync \(temporary)", reason: errorText()) }
        close(descriptor)
        if let failure {
            unlink(temporary)
            throw failure
        }
        try place(temporary, at: path, replace: replace)
    }

    /// Makes the finished file at `temporary` (beside `path`, closed) the file at `path`:
    /// fsync, then rename or link as in `write`.
    /// - Throws: `AtomicFileError`; the temporary file is removed on failure.
    public static func publish(_ temporary: String, as path: String, replace: Bool) throws {
        let descriptor = open(temporary, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let failure = AtomicFileError.failed(path: path, operation: "open \(temporary)", reason: errorText())
            unlink(temporary)
            throw failure
        }
        let synced = fsync(descriptor) == 0
        let reason = synced ? "" : errorText()
        close(descriptor)
        guard synced else {
            unlink(temporary)
            throw AtomicFileError.failed(path: path, operation: "fsync \(temporary)", reason: reason)
        }
        try place(temporary, at: path, replace: replace)
    }

    /// rename or link, then fsync of the folder (best effort: the file is in place by then).
    private static func place(_ temporary: String, at path: String, replace: Bool) throws {
        var failure: AtomicFileError?
        if replace {
            if rename(temporary, path) != 0 { failure = .failed(path: path, operation: "rename \(temporary) to \(path)", reason: errorText()) }
        } else if link(temporary, path) != 0 {
            failure = errno == EEXIST ? .exists(path: path) : .failed(path: path, operation: "link \(temporary) to \(path)", reason: errorText())
        } else {
            unlink(temporary)
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
        let folder = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}

/// Why an atomic write failed; the target is as it was.
public enum AtomicFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The target is a folder.
    case isFolder(path: String)
    /// The target's folder does not exist.
    case folderMissing(path: String, folder: String)
    /// The temporary file could not be created.
    case cannotCreate(path: String, reason: String)
    /// Writing `path`: `operation` (e.g. `fsync /tmp/.a.partial`, `rename A to B`) failed for `reason`.
    case failed(path: String, operation: String, reason: String)
    /// The target exists (it appeared after the caller checked) and replacing was not allowed.
    case exists(path: String)

    public var description: String {
        switch self {
        case let .isFolder(path): return "\(path) is a folder; give a file name to write."
        case let .folderMissing(path, folder): return "Cannot write \(path): the folder \(folder) does not exist."
        case let .cannotCreate(path, reason): return "Cannot write \(path): \(reason)."
        case let .failed(_, operation, reason): return "Could not \(operation): \(reason)."
        case let .exists(path): return "\(path) already exists; it was not replaced."
        }
    }
}

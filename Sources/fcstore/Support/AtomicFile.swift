import Foundation

/// Writes a file so that it is either complete or absent: into a temporary file
/// beside it, fsynced, then renamed over the target.
enum AtomicFile {
    /// The overwrite rule of `export` and `plot --output`: an existing path is replaced only
    /// with `--force`, and only when it is a regular file (not a symbolic link, a device, a
    /// pipe or a folder), checked with `lstat` so that a link is not followed.
    /// - Throws: `CLIError` saying what is there and what to do.
    static func checkTarget(_ path: String, force: Bool) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        let kind: String
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            if force { return }
            throw CLIError("\(path) exists; pass --force to replace it.")
        case S_IFDIR: throw CLIError("\(path) is a folder; give a file name to write.")
        case S_IFLNK: kind = "a symbolic link"
        case S_IFIFO: kind = "a named pipe (FIFO)"
        case S_IFCHR, S_IFBLK: kind = "a device"
        case S_IFSOCK: kind = "a socket"
        default: kind = "not a regular file"
        }
        throw CLIError("\(path) exists and is \(kind); fcstore replaces regular files only, even with --force. Choose another output file.")
    }

    /// - Parameter replace: false to fail if `path` appeared since `checkTarget` (link(2)
    ///   refuses atomically), true to rename over it.
    static func write(_ data: Data, to path: String, replace: Bool = true) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CLIError("\(path) is a folder; give a file name to write.")
        }
        guard FileManager.default.fileExists(atPath: folder.path) else {
            throw CLIError("Cannot write \(path): the folder \(folder.path) does not exist.")
        }
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).partial")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CLIError("Cannot write \(path): \(String(cString: strerror(errno))).")
        }
        var failure: String?
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = String(cString: strerror(errno)) }
        close(descriptor)
        if failure == nil {
            if replace {
                if rename(temporary.path, path) != 0 { failure = String(cString: strerror(errno)) }
            } else if link(temporary.path, path) != 0 {
                failure = errno == EEXIST ? "it was created meanwhile; pass --force to replace it" : String(cString: strerror(errno))
            } else {
                unlink(temporary.path)
            }
        }
        if let failure {
            unlink(temporary.path)
            throw CLIError("Cannot write \(path): \(failure). Nothing was written.")
        }
        let folderDescriptor = open(folder.path, O_RDONLY | O_DIRECTORY)
        if folderDescriptor >= 0 {
            fsync(folderDescriptor)
            close(folderDescriptor)
        }
    }
}

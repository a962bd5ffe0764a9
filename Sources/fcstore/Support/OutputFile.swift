import FCCore
import Foundation

/// The output files of `export` and `plot`: the overwrite rule, and the CLI's wording of
/// `AtomicFile`'s errors (the one atomic write, in FCCore).
enum OutputFile {
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

    /// Writes `data` to `path` through `AtomicFile` (complete or absent), with the CLI's wording
    /// of its errors.
    /// - Parameter replace: false to fail if `path` appeared since `checkTarget` (link(2)
    ///   refuses atomically), true to rename over it.
    static func write(_ data: Data, to path: String, replace: Bool = true) throws {
        do {
            try AtomicFile.write(data, to: path, replace: replace)
        } catch let error as AtomicFileError {
            throw CLIError(message(for: error))
        }
    }

    static func message(for error: AtomicFileError) -> String {
        switch error {
        case .isFolder, .folderMissing, .cannotCreate: return error.description
        case let .failed(path, _, reason): return "Cannot write \(path): \(reason). Nothing was written."
        case let .exists(path): return "Cannot write \(path): it was created meanwhile; pass --force to replace it. Nothing was written."
        }
    }
}

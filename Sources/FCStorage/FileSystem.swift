import Foundation

/// The few POSIX file operations the store needs.
enum FileSystem {
    static func error(_ what: String) -> StoreError {
        StoreError.invalidInput("Could not \(what): \(String(cString: strerror(errno))).")
    }

    /// `fsync` of a file or folder.
    static func sync(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw error("open \(path)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw error("fsync \(path)") }
    }

    static func size(path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    /// A new folder only this user can read (`mkdtemp`, mode 0700).
    static func privateTemporaryFolder() throws -> String {
        var template = Array((FileManager.default.temporaryDirectory.path + "/fcstore-import-XXXXXX").utf8CString)
        guard let result = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw error("create a private temporary folder")
        }
        return String(cString: result)
    }

    /// Copies a regular file, refusing a symbolic link (`O_NOFOLLOW`), a
    /// folder or device, and an empty file. `refuse` makes the error.
    static func copyRefusingLinks(from source: String, to destination: String, refuse: (String) -> StoreError) throws {
        let input = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard input >= 0 else {
            if errno == ELOOP { throw refuse("it is a symbolic link; give the path of the file itself") }
            throw refuse("it cannot be read (\(String(cString: strerror(errno))))")
        }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { throw refuse("it is not a regular file") }
        guard info.st_size > 0 else { throw refuse("it is empty") }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw error("create \(destination)") }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 { if errno == EINTR { continue }; throw refuse("it cannot be read (\(String(cString: strerror(errno))))") }
            if count == 0 { break }
            var written = 0
            while written < count {
                let result = buffer.withUnsafeBytes { write(output, $0.baseAddress! + written, count - written) }
                if result < 0 { if errno == EINTR { continue }; throw error("write \(destination)") }
                written += result
            }
        }
    }
}

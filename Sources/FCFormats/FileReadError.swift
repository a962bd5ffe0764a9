/// Why a model file could not be read, with the facts; the CLI words it for the user.
public enum FileReadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// open, fstat or read failed; `reason` is the system's text for errno.
    case unreadable(path: String, reason: String)
    /// The path names a folder, a device, a pipe or another non-regular file.
    case notRegularFile(path: String)
    /// The file is larger than `limit` bytes (`ModelFileReader.maximumBytes`).
    case tooLarge(path: String, size: Int, limit: Int)
    /// A JSON model is larger than `limit` bytes (`JSONModel.maximumBytes`).
    case jsonTooLarge(path: String, size: Int, limit: Int)
    /// The file held `read` bytes where its size said `expected`.
    case changedWhileRead(path: String, read: Int, expected: Int)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path) cannot be read: \(reason)."
        case let .notRegularFile(path): return "\(path) is not a regular file; give a model file or a bundle."
        case let .tooLarge(path, size, limit): return "\(path) is \(size) bytes; model files over \(limit) bytes are refused."
        case let .jsonTooLarge(path, size, limit): return "\(path) is \(size) bytes; JSON models over \(limit) bytes are refused."
        case let .changedWhileRead(path, read, expected): return "\(path) changed while it was read (\(read) of \(expected) bytes); try again."
        }
    }
}

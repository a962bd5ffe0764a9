/// Every error the engine throws: one sentence each, saying what is wrong and where.
public enum FCNetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Bad input data: `file:line:column: message` (line and column 1-based, when known).
    case data(file: String, line: Int?, column: Int?, message: String)
    /// OpenBLAS could not be loaded.
    case blasUnavailable(String)
    /// A configuration, specification or start value that cannot be used.
    case invalidConfiguration(String)
    /// A checkpoint that does not fit the network or the data.
    case incompatibleState(String)

    public var description: String {
        switch self {
        case let .data(file, line, column, message):
            var location = file
            if let line { location += ":\(line)" }
            if let column { location += ":\(column)" }
            return "\(location): \(message)"
        case let .blasUnavailable(message), let .invalidConfiguration(message),
            let .incompatibleState(message):
            return message
        }
    }
}

extension FCNetError: CustomDebugStringConvertible {
    public var debugDescription: String { description }
}

/// What may follow the one statement a `Statement` compiles: white space,
/// `-- line` and `/* block */` comments, and empty statements (`;`).
enum SQLText {
    /// Whether `text` holds no statement.
    static func isEmpty(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), 0x0B, 0x0C, UInt8(ascii: ";"):
                index += 1
            case UInt8(ascii: "-") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "-"):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "/") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "*"):
                index += 2
                // An unterminated block comment runs to the end, as in SQLite.
                while index < bytes.count && !(bytes[index] == UInt8(ascii: "*") && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "/")) {
                    index += 1
                }
                index += 2
            default:
                return false
            }
        }
        return true
    }

    /// The first line of `text` without its leading white space, shortened, for a message.
    static func firstLine(_ text: String) -> String {
        let trimmed = text.drop(while: { $0.isWhitespace || $0 == ";" })
        let line = trimmed.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return line.count > 80 ? String(line.prefix(80)) + "…" : line
    }
}

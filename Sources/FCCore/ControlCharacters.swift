/// Text from stores, bundles and data files shown on a terminal: control characters
/// (C0, DEL, C1) written as escapes, so a newline cannot forge a second line and ANSI or
/// OSC sequences reach the terminal as text. The CLI's output boundary and the libraries'
/// messages (column names, for example) use this one function.
public enum ControlCharacters {
    /// `text` with every control character written as `\n`, `\r`, `\t`, else `\u{1b}`.
    /// Other characters, backslashes included, are left as they are.
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard isControl(scalar) else { result.append(scalar); continue }
            let escaped: String
            switch scalar {
            case "\n": escaped = "\\n"
            case "\r": escaped = "\\r"
            case "\t": escaped = "\\t"
            default: escaped = "\\u{\(String(scalar.value, radix: 16))}"
            }
            result.append(contentsOf: escaped.unicodeScalars)
        }
        return String(result)
    }

    /// C0 controls, DEL and C1 controls.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}

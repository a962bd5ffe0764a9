/// The rules for run names, so that every name can be typed as a reference
/// and no name can be mistaken for an id:
///
/// - not empty;
/// - no `@` (it separates the run from the epoch in `RUN@EPOCH`);
/// - no control characters or line breaks (they would forge terminal output);
/// - not shaped like an id prefix: only hex digits and `-` with 8 or more hex
///   digits (`deadbeef`, `0a1b2c3d-4e`), since 8 hex digits is how runs are shown.
///
/// `Store.createRun` and `forkRun` refuse a name that breaks them; a bundle's
/// run whose name breaks them is imported under `RunName.replacement`.
public enum RunName {
    /// What is wrong with `name`, as a clause ("looks like a run id (8 or more
    /// hex digits)"), or nil when it is a valid run name.
    public static func flaw(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.unicodeScalars.contains(where: isForbiddenScalar) {
            return "contains a control character or line break"
        }
        if name.contains("@") { return "contains '@', which separates a run from its epoch in references (RUN@EPOCH)" }
        if looksLikeID(name) { return "looks like a run id (8 or more hex digits)" }
        return nil
    }

    /// Refuses a name that breaks the rules, in one sentence.
    /// - Throws: `StoreError.invalidInput`.
    public static func validate(_ name: String) throws {
        guard let flaw = flaw(name) else { return }
        if name.isEmpty { throw StoreError.invalidInput("A run name cannot be empty; leave it out instead.") }
        throw StoreError.invalidInput("The run name \(quoted(name)) \(flaw); choose another name.")
    }

    /// Only hex digits and dashes, with at least 8 hex digits.
    public static func looksLikeID(_ name: String) -> Bool {
        var digits = 0
        for scalar in name.unicodeScalars {
            if scalar == "-" { continue }
            guard scalar.isASCII, Character(scalar).isHexDigit else { return false }
            digits += 1
        }
        return digits >= 8
    }

    /// A valid name for a run whose given name breaks the rules: the name with
    /// control characters, line breaks and `@` replaced by `-`, or
    /// `run-<first 8 characters of the id>` when that is still not valid.
    public static func replacement(for name: String, runID: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in name.unicodeScalars {
            scalars.append(isForbiddenScalar(scalar) || scalar == "@" ? "-" : scalar)
        }
        let cleaned = String(scalars)
        if flaw(cleaned) == nil, cleaned.contains(where: { $0 != "-" }) { return cleaned }
        return "run-\(runID.prefix(8))"
    }

    /// A name in double quotes with control characters escaped, for messages.
    public static func quoted(_ name: String) -> String {
        var out = "\""
        for scalar in name.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where isForbiddenScalar(scalar):
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
    static func isForbiddenScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }
}

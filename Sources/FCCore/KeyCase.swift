/// The spelling of keys users see: the stored configuration's camelCase keys
/// become snake_case in `--json` output and in `runs --where` keys, by one rule.
public enum KeyCase {
    /// `learningRate` → `learning_rate`, `blasCore` → `blas_core`; snake_case keys are unchanged.
    public static func snakeCase(_ key: String) -> String {
        var result = ""
        for character in key {
            if character.isUppercase {
                if !result.isEmpty, result.last != "_" { result.append("_") }
                result += character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// The tensor-name vocabulary shared by the engine, the store and the file formats:
/// one place that spells `layers.<l>.<role>` and the roles.
///
/// A checkpoint tensor is identified by its layer (1-based, as in the math; 0 for the
/// input normalisation) and its role:
///
/// | role | layer | shape |
/// |---|---|---|
/// | `weight` | 1...L | N_l × N_{l-1} |
/// | `bias` | 1...L | N_l |
/// | `weight.<slot>`, `bias.<slot>` | 1...L | as `weight` / `bias`; slots `velocity` (momentum), `m`, `v` (Adam) |
/// | `normalize.shift`, `normalize.scale` | 0 | N_0 |
///
/// Model files name a layer's parameters `layers.<l>.weight` and `layers.<l>.bias`.
public enum TensorRole {
    /// W^l.
    public static let weight = "weight"
    /// b^l.
    public static let bias = "bias"
    /// The parameter roles, weight first: the order tensors of a layer are listed in.
    public static let parameters = [weight, bias]
    /// The input normalisation's shift, at layer 0.
    public static let normalizeShift = "normalize.shift"
    /// The input normalisation's scale, at layer 0.
    public static let normalizeScale = "normalize.scale"
    /// The layer that holds the normalisation roles.
    public static let normalizationLayer = 0

    /// An optimizer slot of a parameter: `weight.m`, `bias.velocity`.
    public static func slot(_ slot: String, of parameter: String) -> String { "\(parameter).\(slot)" }

    /// The parameter and slot of a role: `weight.m` → ("weight", "m"), `bias` → ("bias", nil);
    /// nil when the role is not a parameter or a parameter's slot.
    public static func parse(_ role: String) -> (parameter: String, slot: String?)? {
        let parts = role.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, first == weight || first == bias else { return nil }
        if parts.count == 1 { return (String(first), nil) }
        guard !parts[1].isEmpty else { return nil }
        return (String(first), String(parts[1]))
    }
}

/// Tensor names of the form `layers.<l>.<role>`.
public enum TensorName {
    /// The prefix of every layer tensor's name.
    public static let prefix = "layers"

    /// `layers.<l>.<role>`, e.g. `layers.1.weight`, `layers.2.bias.m`.
    public static func name(layer: Int, role: String) -> String { "\(prefix).\(layer).\(role)" }
    /// `layers.<l>.weight`.
    public static func weight(layer: Int) -> String { name(layer: layer, role: TensorRole.weight) }
    /// `layers.<l>.bias`.
    public static func bias(layer: Int) -> String { name(layer: layer, role: TensorRole.bias) }

    /// The layer and parameter role of a model-file tensor name: `layers.<l>.weight` or
    /// `layers.<l>.bias`, l counted from 1 in at most 9 decimal digits without a leading
    /// zero; nil for any other name.
    public static func parseParameter(_ name: String) -> (layer: Int, role: String)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == prefix, parts[2] == TensorRole.weight || parts[2] == TensorRole.bias,
              let first = parts[1].first, first != "0", parts[1].count <= 9,
              parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let layer = Int(parts[1]) else { return nil }
        return (layer, String(parts[2]))
    }
}

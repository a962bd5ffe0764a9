/// A per-sample cost C_r; the batch cost is the mean over the batch.
public enum Loss: String, Codable, CaseIterable, Sendable {
    /// C_r = 1/2 Σ_n (y_n − t_n)²
    case mse
    /// C_r = −Σ_n t_n log y_n (softmax output)
    case crossEntropy = "cross-entropy"
    /// C_r = −Σ_n [t_n log y_n + (1 − t_n) log(1 − y_n)] (sigmoid output)
    case binaryCrossEntropy = "binary-cross-entropy"
}

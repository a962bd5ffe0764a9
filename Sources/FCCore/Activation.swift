/// An activation function σ, applied element-wise (softmax: per sample).
public enum Activation: String, Codable, CaseIterable, Sendable {
    case sigmoid, tanh, relu
    case leakyRelu = "leaky-relu"
    case identity, softmax

    /// The slope of leaky-relu for negative inputs.
    public static let leakySlope: Float = 0.01
}

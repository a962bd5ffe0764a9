import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A learning-rate schedule, evaluated at the schedule position p (the number of
/// epochs trained under it; saved with every checkpoint).
public enum LearningRateSchedule: Codable, Equatable, Hashable, Sendable {
    /// η_p = η_0.
    case constant
    /// η_p = η_0 · factor^⌊p / every⌋.
    case stepDecay(every: Int, factor: Double)

    /// The learning rate of the epoch at position `position` (0 for the first epoch).
    public func rate(base: Double, position: Int) -> Double {
        switch self {
        case .constant: return base
        case let .stepDecay(every, factor):
            return base * pow(factor, Double(position / max(every, 1)))
        }
    }
}

/// Which update rule, and its hyper-parameters. g is the batch-mean gradient, η the learning rate.
/// - `sgd`: θ ← θ − η g.
/// - `momentum`: v ← μ v − η g; θ ← θ + v (v starts at 0; slot `velocity`).
/// - `adam`: t ← t + 1; m ← β1 m + (1 − β1) g; v ← β2 v + (1 − β2) g²;
///   θ ← θ − η m̂ / (√v̂ + ε), m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t) (slots `m`, `v`).
///
/// Weight decay λ (`weightDecay`) acts on the weights W^l only, never the biases:
/// - `sgd`, `momentum`: an L2 term λ/2 ‖W‖² in the cost, so g_W ← g_W + λ W before the
///   update (PyTorch's `SGD(weight_decay=λ)`);
/// - `adam`: decoupled (AdamW, as PyTorch's `AdamW(weight_decay=λ)`): W ← W (1 − η λ) first,
///   then the Adam update with the data gradient.
public struct OptimizerConfig: Codable, Equatable, Hashable, Sendable {
    public enum Kind: String, Codable, CaseIterable, Sendable {
        case sgd, momentum, adam
    }
    public var kind: Kind
    public var learningRate: Double
    public var momentum: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var schedule: LearningRateSchedule
    /// λ; nil for none (and left out of the JSON encoding).
    public var weightDecay: Double?

    public init(
        kind: Kind = .sgd, learningRate: Double = 0.1, momentum: Double = 0.9,
        beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
        schedule: LearningRateSchedule = .constant, weightDecay: Double? = nil
    ) {
        self.weightDecay = weightDecay == 0 ? nil : weightDecay
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.schedule = schedule
    }

    /// The state slots of this optimizer, each a buffer with the parameters' layout.
    public var slotNames: [String] { Self.slotNames(kind) }
    public static func slotNames(_ kind: Kind) -> [String] {
        switch kind {
        case .sgd: return []
        case .momentum: return ["velocity"]
        case .adam: return ["m", "v"]
        }
    }

    /// - Throws: `FCNetError.invalidConfiguration` for a hyper-parameter out of range.
    public func validate() throws {
        func fail(_ s: String) -> FCNetError { .invalidConfiguration(s) }
        guard learningRate.isFinite, learningRate > 0 else {
            throw fail("The learning rate must be a positive number (got \(learningRate)).")
        }
        if kind == .momentum, !(momentum >= 0 && momentum < 1) {
            throw fail("The momentum must be in [0, 1) (got \(momentum)).")
        }
        if kind == .adam {
            guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else {
                throw fail("Adam's beta1 and beta2 must be in [0, 1) (got \(beta1), \(beta2)).")
            }
            guard epsilon > 0, epsilon.isFinite else { throw fail("Adam's epsilon must be positive (got \(epsilon)).") }
        }
        if let lambda = weightDecay, !(lambda >= 0 && lambda.isFinite) {
            throw fail("The weight decay must be a number ≥ 0 (got \(lambda)).")
        }
        if case let .stepDecay(every, factor) = schedule {
            guard every >= 1 else { throw fail("A step-decay schedule needs every ≥ 1 epoch (got \(every)).") }
            guard factor > 0, factor.isFinite else {
                throw fail("A step-decay factor must be positive (got \(factor)).")
            }
        }
    }
}

enum Optimizer {
    /// Weight decay of the weights θ[0 ..< count] (weights only: the caller passes W^l
    /// entries), before `update`: g += λ θ for sgd and momentum, θ *= 1 − η λ for adam.
    static func decayWeights(
        _ config: OptimizerConfig, learningRate: Double,
        parameters theta: UnsafeMutablePointer<Float>, gradients g: UnsafeMutablePointer<Float>, count: Int
    ) {
        guard let lambda = config.weightDecay, lambda > 0 else { return }
        switch config.kind {
        case .sgd, .momentum:
            let l = Float(lambda)
            for i in 0..<count { g[i] += l * theta[i] }
        case .adam:
            let keep = Float(1 - learningRate * lambda)
            for i in 0..<count { theta[i] *= keep }
        }
    }

    /// `decayWeights` over the entries [offset, offset + count) of the flat buffer, which may
    /// span weights and biases: the weight entries among them only. θ and g point at `offset`.
    static func decayWeights(
        _ config: OptimizerConfig, learningRate: Double, layout: ParameterLayout,
        parameters theta: UnsafeMutablePointer<Float>, gradients g: UnsafeMutablePointer<Float>,
        count: Int, offset: Int = 0
    ) {
        guard config.weightDecay != nil else { return }
        let slice = offset..<(offset + count)
        for l in 1...layout.layerCount {
            let w = layout.weightRange(l).clamped(to: slice)
            guard !w.isEmpty else { continue }
            decayWeights(config, learningRate: learningRate, parameters: theta + (w.lowerBound - offset),
                         gradients: g + (w.lowerBound - offset), count: w.count)
        }
    }

    /// One update of the whole flat parameter buffer θ with gradient g (one loop).
    /// - Parameters:
    ///   - step: t after this update (Adam's bias correction uses it).
    static func update(
        _ config: OptimizerConfig, learningRate: Double, step: Int,
        parameters theta: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
        slots: [FloatBuffer], count: Int, offset: Int = 0
    ) {
        // `offset`: theta and g already point at entry `offset`; the slots are indexed from it.
        let eta = Float(learningRate)
        switch config.kind {
        case .sgd:
            fck_sgd(theta, g, eta, count)
        case .momentum:
            let v = slots[0].p + offset, mu = Float(config.momentum)
            for i in 0..<count {
                let vi = mu * v[i] - eta * g[i]
                v[i] = vi
                theta[i] += vi
            }
        case .adam:
            let m = slots[0].p + offset, v = slots[1].p + offset
            let b1 = Float(config.beta1), b2 = Float(config.beta2)
            let c1 = Float(learningRate / (1 - pow(config.beta1, Double(step))))
            let c2 = Float(1 / (1 - pow(config.beta2, Double(step))))
            let eps = Float(config.epsilon)
            for i in 0..<count {
                let gi = g[i]
                let mi = b1 * m[i] + (1 - b1) * gi
                let vi = b2 * v[i] + (1 - b2) * gi * gi
                m[i] = mi; v[i] = vi
                theta[i] -= c1 * mi / ((vi * c2).squareRoot() + eps)
            }
        }
    }
}

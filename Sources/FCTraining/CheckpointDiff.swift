import FCCore
import FCStorage
import Foundation

/// Per-tensor change between two checkpoints of the same architecture.
/// Sums run in Double so the statistics do not depend on float32 rounding.
public struct TensorChange: Encodable, Equatable, Sendable {
    public var layer: Int
    public var role: String
    public var shape: [Int]
    /// ||B − A||₂
    public var l2: Double
    /// ||B − A||₂ / ||A||₂ (0 when both are zero, infinity when only A is)
    public var relative: Double
    /// max |B − A|
    public var maxAbs: Double
    /// mean |B − A|
    public var meanAbs: Double
    /// ⟨A, B⟩ / (||A|| ||B||) clamped to [-1, 1]; 1 when both are zero
    public var cosine: Double
    /// entries whose bit patterns differ
    public var changed: Int
    public var count: Int

    enum CodingKeys: String, CodingKey {
        case layer, role, shape, l2, relative, cosine, changed, count
        case maxAbs = "max_abs"
        case meanAbs = "mean_abs"
    }

    public init(layer: Int, role: String, a: TensorValue, b: TensorValue) {
        self.layer = layer
        self.role = role
        shape = a.shape
        count = a.values.count
        var diffSquares = 0.0, aSquares = 0.0, bSquares = 0.0, dot = 0.0
        var maxAbs = 0.0, sumAbs = 0.0
        var changed = 0
        for index in a.values.indices {
            let x = Double(a.values[index]), y = Double(b.values[index])
            let d = y - x
            diffSquares += d * d
            aSquares += x * x
            bSquares += y * y
            dot += x * y
            maxAbs = max(maxAbs, abs(d))
            sumAbs += abs(d)
            if a.values[index].bitPattern != b.values[index].bitPattern { changed += 1 }
        }
        l2 = diffSquares.squareRoot()
        let normA = aSquares.squareRoot(), normB = bSquares.squareRoot()
        relative = normA > 0 ? l2 / normA : (l2 == 0 ? 0 : .infinity)
        self.maxAbs = maxAbs
        meanAbs = count > 0 ? sumAbs / Double(count) : 0
        // Rounding can put the quotient a few ulps outside [-1, 1] (1.0000000000000002
        // for equal tensors): clamp it to the range a cosine has.
        cosine = normA > 0 && normB > 0 ? min(1, max(-1, dot / (normA * normB))) : (normA == normB ? 1 : 0)
        self.changed = changed
    }
}

/// One of the largest single changes: weight w^l_ij (or bias b^l_i, j absent).
public struct EntryChange: Encodable, Equatable, Sendable {
    public var layer: Int
    public var role: String
    public var i: Int
    public var j: Int?
    public var before: Float
    public var after: Float
    public var change: Float { after - before }

    enum CodingKeys: String, CodingKey { case layer, role, i, j, before, after, change }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(layer, forKey: .layer)
        try container.encode(role, forKey: .role)
        try container.encode(i, forKey: .i)
        try container.encodeIfPresent(j, forKey: .j)
        try container.encode(before, forKey: .before)
        try container.encode(after, forKey: .after)
        try container.encode(change, forKey: .change)
    }
}

public enum CheckpointDiff {
    /// The comparison of two checkpoints: one `TensorChange` per weight and bias, layer by
    /// layer (weight first), and the `top` largest single changes.
    public struct Comparison: Equatable, Sendable {
        public var layers: [TensorChange]
        public var top: [EntryChange]
        /// Whether no weight or bias changed a bit.
        public var identical: Bool { layers.allSatisfy { $0.changed == 0 } }
    }

    /// The checkpoints have different architectures: the weight shapes of each.
    public struct ArchitectureMismatch: Error, Equatable, Sendable, CustomStringConvertible {
        public var a: [[Int]]
        public var b: [[Int]]
        public init(a: [[Int]], b: [[Int]]) {
            self.a = a
            self.b = b
        }
        public var description: String {
            "The checkpoints have different architectures (\(CheckpointDiff.architecture(a)) and \(CheckpointDiff.architecture(b)))."
        }
    }

    /// Compares the weights and biases of B with those of A.
    /// - Parameter top: how many of the largest single changes to list (0: none).
    /// - Throws: `ArchitectureMismatch` when the weight shapes differ.
    public static func compare(_ a: [CheckpointTensor], _ b: [CheckpointTensor], top k: Int) throws -> Comparison {
        let shapesA = a.filter { $0.role == TensorRole.weight }.map(\.value.shape)
        let shapesB = b.filter { $0.role == TensorRole.weight }.map(\.value.shape)
        guard shapesA == shapesB else { throw ArchitectureMismatch(a: shapesA, b: shapesB) }
        var byName: [String: TensorValue] = [:]
        for tensor in b where byName[TensorName.name(layer: tensor.layer, role: tensor.role)] == nil {
            byName[TensorName.name(layer: tensor.layer, role: tensor.role)] = tensor.value
        }
        var pairs: [(layer: Int, role: String, a: TensorValue, b: TensorValue)] = []
        for tensor in a where tensor.layer >= 1 && TensorRole.parameters.contains(tensor.role) {
            guard let other = byName[TensorName.name(layer: tensor.layer, role: tensor.role)], other.shape == tensor.value.shape else { continue }
            pairs.append((tensor.layer, tensor.role, tensor.value, other))
        }
        func order(_ role: String) -> Int { role == TensorRole.weight ? 0 : 1 }
        pairs.sort { ($0.layer, order($0.role)) < ($1.layer, order($1.role)) }
        return Comparison(layers: pairs.map { TensorChange(layer: $0.layer, role: $0.role, a: $0.a, b: $0.b) }, top: top(k, pairs: pairs))
    }

    /// `N_0-N_1-...-N_L` from the weight shapes (N_l × N_{l-1}); `?` when there are none.
    public static func architecture(_ shapes: [[Int]]) -> String {
        guard let first = shapes.first, first.count == 2 else { return "?" }
        return ([first[1]] + shapes.map { $0.first ?? 0 }).map(String.init).joined(separator: "-")
    }

    /// The `k` largest |change| entries over all tensors, largest first; ties by position.
    public static func top(_ k: Int, pairs: [(layer: Int, role: String, a: TensorValue, b: TensorValue)]) -> [EntryChange] {
        guard k > 0 else { return [] }
        var best: [(magnitude: Float, entry: EntryChange)] = []
        for pair in pairs {
            let columns = pair.a.shape.count == 2 ? pair.a.shape[1] : 1
            for index in pair.a.values.indices {
                let before = pair.a.values[index], after = pair.b.values[index]
                let magnitude = abs(after - before)
                guard magnitude > 0 || magnitude.isNaN else { continue }
                if best.count == k, let smallest = best.last, !(magnitude > smallest.magnitude) { continue }
                let entry = EntryChange(
                    layer: pair.layer, role: pair.role,
                    i: pair.a.shape.count == 2 ? index / columns : index,
                    j: pair.a.shape.count == 2 ? index % columns : nil,
                    before: before, after: after)
                let position = best.firstIndex { !($0.magnitude >= magnitude) } ?? best.count
                best.insert((magnitude, entry), at: position)
                if best.count > k { best.removeLast() }
            }
        }
        return best.map(\.entry)
    }
}

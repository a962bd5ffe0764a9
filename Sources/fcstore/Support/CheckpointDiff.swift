import FCCore
import FCStorage

/// Per-tensor change between two checkpoints of the same architecture.
/// Sums run in Double so the statistics do not depend on float32 rounding.
struct TensorChange: Encodable {
    var layer: Int
    var role: String
    var shape: [Int]
    /// ||B − A||₂
    var l2: Double
    /// ||B − A||₂ / ||A||₂ (0 when both are zero, infinity when only A is)
    var relative: Double
    /// max |B − A|
    var maxAbs: Double
    /// mean |B − A|
    var meanAbs: Double
    /// ⟨A, B⟩ / (||A|| ||B||) clamped to [-1, 1]; 1 when both are zero
    var cosine: Double
    /// entries whose bit patterns differ
    var changed: Int
    var count: Int

    enum CodingKeys: String, CodingKey {
        case layer, role, shape, l2, relative, cosine, changed, count
        case maxAbs = "max_abs"
        case meanAbs = "mean_abs"
    }

    init(layer: Int, role: String, a: TensorValue, b: TensorValue) {
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
struct EntryChange: Encodable {
    var layer: Int
    var role: String
    var i: Int
    var j: Int?
    var before: Float
    var after: Float
    var change: Float { after - before }

    enum CodingKeys: String, CodingKey { case layer, role, i, j, before, after, change }

    func encode(to encoder: Encoder) throws {
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

enum CheckpointDiff {
    /// The `k` largest |change| entries over all tensors, largest first; ties by position.
    static func top(_ k: Int, pairs: [(layer: Int, role: String, a: TensorValue, b: TensorValue)]) -> [EntryChange] {
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

/// Feature normalisation x' = (x − shift) ⊙ scale, fitted on the training set and kept
/// with the model so prediction applies the same transform.
/// - minmax: shift = min, scale = 1 / (max − min);
/// - standard: shift = mean, scale = 1 / std (population);
/// - none: shift = 0, scale = 1.
/// A feature whose range or std is 0 gets scale 1.
public struct Normalizer: Codable, Equatable, Hashable, Sendable {
    public enum Kind: String, Codable, CaseIterable, Sendable {
        case none, minmax, standard
    }
    public var kind: Kind
    public var shift: [Float]
    public var scale: [Float]

    public init(kind: Kind, shift: [Float], scale: [Float]) {
        self.kind = kind
        self.shift = shift
        self.scale = scale
    }

    /// The identity transform for `width` features.
    public static func identity(width: Int) -> Normalizer {
        Normalizer(kind: .none, shift: .init(repeating: 0, count: width), scale: .init(repeating: 1, count: width))
    }

    /// Fits the transform to `data`'s features (computed in Double).
    public static func fit(_ kind: Kind, to data: Dataset) -> Normalizer {
        let w = data.width, n = data.count
        guard kind != .none, n > 0 else { return .identity(width: w) }
        var shift = [Float](repeating: 0, count: w), scale = [Float](repeating: 1, count: w)
        data.features.withUnsafeBufferPointer { f in
            for j in 0..<w {
                switch kind {
                case .none: break
                case .minmax:
                    var lo = f[j], hi = f[j]
                    for r in 1..<n { let v = f[r * w + j]; lo = min(lo, v); hi = max(hi, v) }
                    shift[j] = lo
                    let range = Double(hi) - Double(lo)
                    scale[j] = range > 0 ? Float(1 / range) : 1
                case .standard:
                    var s = 0.0
                    for r in 0..<n { s += Double(f[r * w + j]) }
                    let mean = s / Double(n)
                    var q = 0.0
                    for r in 0..<n { let d = Double(f[r * w + j]) - mean; q += d * d }
                    let std = (q / Double(n)).squareRoot()
                    shift[j] = Float(mean)
                    scale[j] = std > 0 ? Float(1 / std) : 1
                }
            }
        }
        return Normalizer(kind: kind, shift: shift, scale: scale)
    }

    /// Applies x' = (x − shift) ⊙ scale to row-major features of this width, in place.
    /// - Throws: `FCNetError.invalidConfiguration` when the widths differ.
    public func apply(to features: inout [Float], width: Int) throws {
        try check(width: width)
        guard kind != .none else { return }
        features.withUnsafeMutableBufferPointer { f in
            guard let base = f.baseAddress else { return }
            transform(UnsafePointer(base), into: base, count: f.count)
        }
    }

    /// `data` with normalised features, written in one pass into a new buffer.
    public func applied(to data: Dataset) throws -> Dataset {
        try check(width: data.width)
        guard kind != .none, !data.features.isEmpty else { return data }
        var d = data
        d.features = [Float](unsafeUninitializedCapacity: data.features.count) { out, initialized in
            data.features.withUnsafeBufferPointer { f in
                transform(f.baseAddress!, into: out.baseAddress!, count: f.count)
            }
            initialized = data.features.count
        }
        return d
    }

    func check(width: Int) throws {
        guard width == shift.count, width == scale.count else {
            throw FCNetError.invalidConfiguration(
                "The normaliser has \(shift.count) features but the data has \(width).")
        }
    }

    /// y = (x − shift) ⊙ scale over `count` values, row by row (`x` may be `y`). Plain
    /// subtract-then-multiply in Float, so the vectorised loop gives the bits of a scalar one.
    func transform(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        shift.withUnsafeBufferPointer { s in
            scale.withUnsafeBufferPointer { c in
                let width = s.count
                guard width > 0 else { return }
                var row = 0
                while row < count {
                    // Row pointers and a plain j loop: no overflow checks, so it vectorises.
                    let xr = x + row, yr = y + row, n = min(width, count - row)
                    for j in 0..<n { yr[j] = (xr[j] - s[j]) * c[j] }
                    row += width
                }
            }
        }
    }
}

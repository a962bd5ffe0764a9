/// A fixed-size, zero-initialised Float buffer owned by the engine. Preallocated
/// once; the training loop only reads and writes through `p`.
final class FloatBuffer {
    let p: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        p = .allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
    }

    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        load(values)
    }

    deinit { p.deallocate() }

    /// Copies `values` (same count) into the buffer.
    func load(_ values: [Float]) {
        precondition(values.count == count, "internal: buffer size mismatch")
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { p.update(from: base, count: count) }
        }
    }

    func zero() { p.update(repeating: 0, count: count) }

    /// A copy of the contents.
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
}

/// Where W^l and b^l live in the flat parameter buffer: for l = 1...L, W^l
/// (N_l × N_{l-1}, row-major) then b^l (N_l). Gradients and optimizer slots use
/// the same layout, so an update is one loop over the whole buffer.
struct ParameterLayout: Equatable, Sendable {
    /// N_0 ... N_L.
    let sizes: [Int]
    /// weightOffset[l - 1] is the offset of W^l.
    let weightOffset: [Int]
    /// biasOffset[l - 1] is the offset of b^l.
    let biasOffset: [Int]
    let count: Int

    init(_ spec: NetworkSpec) {
        sizes = spec.sizes
        var w: [Int] = [], b: [Int] = [], offset = 0
        for l in 1..<sizes.count {
            w.append(offset); offset += sizes[l] * sizes[l - 1]
            b.append(offset); offset += sizes[l]
        }
        weightOffset = w; biasOffset = b; count = offset
    }

    var layerCount: Int { sizes.count - 1 }
    func weightCount(_ l: Int) -> Int { sizes[l] * sizes[l - 1] }
    func weightRange(_ l: Int) -> Range<Int> { weightOffset[l - 1]..<weightOffset[l - 1] + weightCount(l) }
    func biasRange(_ l: Int) -> Range<Int> { biasOffset[l - 1]..<biasOffset[l - 1] + sizes[l] }
}

/// A data set in memory: `count` samples of `width` features, row-major, and one label each.
public struct Dataset: Equatable, Sendable {
    /// What the labels are.
    public enum Task: String, Codable, Sendable {
        /// Labels are class indices 0, 1, ..., K−1 (one-hot targets; or t = label with one output).
        case classification
        /// Labels are real targets for a network with one output (mse).
        case regression
    }

    /// count × width, row-major.
    public var features: [Float] { didSet { fingerprintCache = FingerprintCache() } }
    /// count labels: class indices stored as whole Floats, or regression targets.
    public var labels: [Float] { didSet { fingerprintCache = FingerprintCache() } }
    public var count: Int { didSet { fingerprintCache = FingerprintCache() } }
    public var width: Int { didSet { fingerprintCache = FingerprintCache() } }
    public var task: Task { didSet { fingerprintCache = FingerprintCache() } }
    /// Column names of the features (from the CSV header; `pixel0...` for IDX).
    public var featureNames: [String]
    /// Where it came from, for messages (a file name).
    public var source: String
    /// The fingerprint kept by `cacheFingerprint()`; a change to the data drops it.
    private var fingerprintCache = FingerprintCache()

    /// Never makes two data sets unequal.
    private struct FingerprintCache: Equatable, Sendable {
        var value: String?
        static func == (_: Self, _: Self) -> Bool { true }
    }

    /// - Throws: `FCNetError.invalidConfiguration` when the sizes disagree, a value is NaN or
    ///   infinite, or a class label is not a whole number ≥ 0.
    public init(
        features: [Float], labels: [Float], width: Int, task: Task = .classification,
        featureNames: [String]? = nil, source: String = "data"
    ) throws {
        if features.count == labels.count * width, let i = features.firstIndex(where: { !$0.isFinite }) {
            throw FCNetError.invalidConfiguration(
                "\(source): feature \(i % width) of row \(i / width) is \(features[i]); every value must be a finite number.")
        }
        try self.init(finiteFeatures: features, labels: labels, width: width, task: task, featureNames: featureNames, source: source)
    }

    /// As `init(features:labels:width:task:featureNames:source:)` for features that are finite
    /// by construction (IDX bytes), which are not scanned again.
    init(
        finiteFeatures features: [Float], labels: [Float], width: Int, task: Task = .classification,
        featureNames: [String]? = nil, source: String = "data"
    ) throws {
        guard width > 0 else { throw FCNetError.invalidConfiguration("\(source): a data set needs at least one feature.") }
        guard features.count == labels.count * width else {
            throw FCNetError.invalidConfiguration(
                "\(source): \(features.count) feature values do not make \(labels.count) rows of \(width).")
        }
        if let bad = labels.first(where: { !$0.isFinite }) {
            throw FCNetError.invalidConfiguration("\(source): a label is \(bad); every label must be a finite number.")
        }
        if task == .classification,
           let bad = labels.first(where: { !($0 >= 0 && $0 == $0.rounded() && $0 < 16_777_216) }) {
            throw FCNetError.invalidConfiguration("\(source): \(bad) is not a valid class label; labels must be whole numbers from 0.")
        }
        self.features = features
        self.labels = labels
        self.count = labels.count
        self.width = width
        self.task = task
        self.featureNames = featureNames ?? (0..<width).map { "x\($0)" }
        self.source = source
    }

    /// K = largest label + 1 for classification; nil for regression or an empty set.
    public var classCount: Int? {
        guard task == .classification, let m = labels.max() else { return nil }
        return Int(m) + 1
    }

    /// The rows at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        var f = [Float](); f.reserveCapacity(indices.count * width)
        var l = [Float](); l.reserveCapacity(indices.count)
        for i in indices {
            f.append(contentsOf: features[(i * width)..<((i + 1) * width)])
            l.append(labels[i])
        }
        var d = self
        d.features = f; d.labels = l; d.count = indices.count
        return d
    }

    /// A seeded split into training and validation sets: a Fisher–Yates permutation
    /// (xoshiro256** seeded with `seed`) picks round(fraction · count) validation rows;
    /// both parts keep the file order.
    /// - Throws: `FCNetError.invalidConfiguration` when the fraction leaves either part empty.
    public func split(validationFraction: Double, seed: UInt64) throws -> (train: Dataset, validation: Dataset) {
        guard validationFraction > 0, validationFraction < 1 else {
            throw FCNetError.invalidConfiguration(
                "The validation fraction must be between 0 and 1 (got \(validationFraction)).")
        }
        let nVal = Int((validationFraction * Double(count)).rounded())
        guard nVal >= 1, nVal < count else {
            throw FCNetError.invalidConfiguration(
                "A validation fraction of \(validationFraction) of \(count) rows leaves an empty part.")
        }
        var rng = Xoshiro256(seed: seed ^ 0x5EED_5B11_7000_0001)
        var order = (0..<count).map { Int32($0) }
        order.withUnsafeMutableBufferPointer { rng.shuffle($0.baseAddress!, count: count) }
        let val = order[0..<nVal].map { Int($0) }.sorted()
        let train = order[nVal...].map { Int($0) }.sorted()
        return (subset(train), subset(val))
    }

    /// A 64-bit FNV-1a-style hash (hex, 16 digits) over the task, the width, the count and the
    /// bit patterns of every feature and label, taken as 32-bit words (each word is XORed in,
    /// then multiplied by the FNV prime): equal fingerprints mean the same data.
    /// Computed on each read unless `cacheFingerprint()` kept it.
    public var fingerprint: String {
        fingerprintCache.value ?? computedFingerprint()
    }

    /// Computes the fingerprint now and keeps it with this value until the data changes, so
    /// that later reads (the trainer's check against a checkpoint) cost nothing.
    public mutating func cacheFingerprint() {
        fingerprintCache.value = computedFingerprint()
    }

    private func computedFingerprint() -> String {
        var hasher = FingerprintHasher(task: task, width: width, count: count)
        features.withUnsafeBufferPointer { hasher.add($0) }
        labels.withUnsafeBufferPointer { hasher.add($0) }
        return hasher.hex
    }

    /// Normalises the features in place and returns the fingerprint of the data as it was;
    /// the normalised data's fingerprint is computed on the way and kept (as by
    /// `cacheFingerprint()`). No copy of the features is made.
    ///
    /// Each fingerprint is a serial chain of multiplications, latency-bound; one pass
    /// runs both chains side by side with the normalisation, so the processor overlaps
    /// them and both cost about what one alone does.
    /// - Throws: `FCNetError.invalidConfiguration` when the normaliser's width differs.
    public mutating func normalize(with normalizer: Normalizer) throws -> String {
        try normalizer.check(width: width)
        guard normalizer.kind != .none, count > 0 else {
            cacheFingerprint()
            return fingerprint
        }
        var before = FingerprintHasher(task: task, width: width, count: count)
        var after = before
        features.withUnsafeMutableBufferPointer { f in
            FingerprintHasher.normalize(f, shift: normalizer.shift, scale: normalizer.scale, before: &before, after: &after)
        }
        labels.withUnsafeBufferPointer { before.add($0); after.add($0) }
        fingerprintCache.value = after.hex
        return before.hex
    }
}

/// The fingerprint's FNV-1a-style hash, fed in order: task, width, count, features, labels.
struct FingerprintHasher {
    private var h: UInt64 = 0xCBF2_9CE4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01B3

    init(task: Dataset.Task, width: Int, count: Int) {
        mix(task == .classification ? 1 : 2)
        mix(UInt64(UInt32(truncatingIfNeeded: width)))
        mix(UInt64(UInt32(truncatingIfNeeded: count)))
    }

    private mutating func mix(_ word: UInt64) { h = (h ^ word) &* Self.prime }

    /// Each value's bit pattern, as one 32-bit word.
    mutating func add(_ values: UnsafeBufferPointer<Float>) {
        var h = self.h
        for v in values { h = (h ^ UInt64(v.bitPattern)) &* Self.prime }
        self.h = h
    }

    /// x' = (x − shift) ⊙ scale over row-major `features`, in place (the bits of
    /// `Normalizer.apply`), feeding each x to `before` and each x' to `after`.
    static func normalize(_ features: UnsafeMutableBufferPointer<Float>, shift: [Float], scale: [Float],
                          before: inout FingerprintHasher, after: inout FingerprintHasher) {
        guard let base = features.baseAddress else { return }
        var hb = before.h, ha = after.h
        shift.withUnsafeBufferPointer { s in
            scale.withUnsafeBufferPointer { c in
                let width = s.count, total = features.count
                var row = 0
                while row < total {
                    let x = base + row, n = min(width, total - row)
                    for j in 0..<n {
                        let v = x[j]
                        hb = (hb ^ UInt64(v.bitPattern)) &* Self.prime
                        let y = (v - s[j]) * c[j]
                        x[j] = y
                        ha = (ha ^ UInt64(y.bitPattern)) &* Self.prime
                    }
                    row += width
                }
            }
        }
        before.h = hb
        after.h = ha
    }

    /// 16 lowercase hex digits.
    var hex: String {
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

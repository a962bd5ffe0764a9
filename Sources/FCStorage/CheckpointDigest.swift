/// The digest of a checkpoint: a SHA-256 that covers its content and its
/// parent's digest, so the checkpoints of a run form a hash chain and any
/// changed byte is detected by recomputing it.
///
/// Recipe, version 1. Every integer is written as 8 bytes little-endian
/// (signed values as their two's-complement bits); "str(x)" means the u64
/// byte length of x followed by its bytes (text as UTF-8). SHA-256 over:
///
/// 1. str("fcstore.checkpoint.v1")
/// 2. epoch
/// 3. str(created_at): the stored text, ISO 8601 UTC with milliseconds.
/// 4. str(parent digest): 32 bytes, or empty (length 0) for epoch 0 of a run
///    without parent. For a fork's first own epoch k+1 it is the parent run's
///    epoch-k digest. The run id is deliberately NOT included: a fork shares
///    its parent's history, imported copies of a run keep their digests, and
///    a fork detached from its parent (`Store.removeRun(runID:force:)`) owns
///    unchanged copies of the rows it inherited. Moving a row to another run
///    is still detected: it leaves a gap in one run's epochs and breaks the
///    other's chain.
/// 5. the number of tensors, then for each tensor in ascending (layer, role)
///    order, roles compared bytewise as UTF-8:
///    layer, str(role), str("f32"), rank, each dimension, then the 32-byte
///    SHA-256 of the tensor's raw little-endian float32 bytes.
/// 6. the number of metrics, then for each metric in ascending name order
///    (bytewise UTF-8): str(name), the IEEE-754 bit pattern of the value as a
///    u64 (every NaN as 0x7FF8000000000000, since SQLite stores NaN as NULL).
/// 7. str(optimizer state text)
/// 8. str(rng state bytes)
///
/// (Version 1 is unreleased; created_at was added to it before release.)
///
/// Recipe, version 2 (every checkpoint written since schema version 4): as
/// version 1 with the domain str("fcstore.checkpoint.v2") in place of item 1,
/// followed by str(run id), the id of the run that wrote the row
/// (`checkpoints.origin_run_id` when set, else `checkpoints.run_id`). A row
/// moved to another run, or two runs' histories swapped, no longer match
/// their digests. A fork's inherited epochs are its parent's rows and name
/// the parent; a fork detached from its parent owns copies that keep the
/// parent's id in `origin_run_id` and so keep their digests. Rows written
/// before version 4 stay version 1: `verify` and the readers recompute a row
/// as version 2 first, then as version 1.
public enum CheckpointDigest {
    /// One tensor's part of the digest.
    public struct TensorEntry: Sendable {
        public var layer: Int
        public var role: String
        public var shape: [Int]
        /// SHA-256 of the tensor's little-endian float32 bytes.
        public var hash: [UInt8]

        public init(layer: Int, role: String, shape: [Int], hash: [UInt8]) {
            self.layer = layer
            self.role = role
            self.shape = shape
            self.hash = hash
        }
    }

    /// The canonical bit pattern of NaN in the digest and the store.
    static let canonicalNaNBits: UInt64 = 0x7FF8_0000_0000_0000

    /// Computes the digest (see the recipe above).
    /// - Parameter runID: the run that wrote the row (recipe v2); nil for recipe v1.
    public static func compute(epoch: Int, createdAt: String, parentDigest: [UInt8]?, tensors: [TensorEntry],
                               metrics: [String: Double], optimizerState: String, rngState: [UInt8],
                               runID: String? = nil) -> [UInt8] {
        var hasher = SHA256Hasher()
        if let runID {
            hasher.update(lengthPrefixed: "fcstore.checkpoint.v2")
            hasher.update(lengthPrefixed: runID)
        } else {
            hasher.update(lengthPrefixed: "fcstore.checkpoint.v1")
        }
        hasher.update(uint64: UInt64(bitPattern: Int64(epoch)))
        hasher.update(lengthPrefixed: createdAt)
        hasher.update(lengthPrefixed: parentDigest ?? [])
        let orderedTensors = tensors.sorted { lhs, rhs in
            lhs.layer != rhs.layer ? lhs.layer < rhs.layer : lhs.role.utf8.lexicographicallyPrecedes(rhs.role.utf8)
        }
        hasher.update(uint64: UInt64(orderedTensors.count))
        for tensor in orderedTensors {
            hasher.update(uint64: UInt64(bitPattern: Int64(tensor.layer)))
            hasher.update(lengthPrefixed: tensor.role)
            hasher.update(lengthPrefixed: "f32")
            hasher.update(uint64: UInt64(tensor.shape.count))
            for dimension in tensor.shape { hasher.update(uint64: UInt64(bitPattern: Int64(dimension))) }
            hasher.update(tensor.hash)
        }
        let orderedMetrics = metrics.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        hasher.update(uint64: UInt64(orderedMetrics.count))
        for (name, value) in orderedMetrics {
            hasher.update(lengthPrefixed: name)
            hasher.update(uint64: value.isNaN ? canonicalNaNBits : value.bitPattern)
        }
        hasher.update(lengthPrefixed: optimizerState)
        hasher.update(lengthPrefixed: rngState)
        return hasher.finalize()
    }

    /// Whether `digest` is this content's digest by recipe v2 (bound to `runID`) or v1.
    /// - Returns: 2 or 1, or nil when neither matches.
    public static func matchingVersion(_ digest: [UInt8], epoch: Int, createdAt: String, parentDigest: [UInt8]?,
                                       tensors: [TensorEntry], metrics: [String: Double], optimizerState: String,
                                       rngState: [UInt8], runID: String) -> Int? {
        for (version, bound) in [(2, Optional(runID)), (1, nil)] {
            let computed = compute(epoch: epoch, createdAt: createdAt, parentDigest: parentDigest, tensors: tensors,
                                   metrics: metrics, optimizerState: optimizerState, rngState: rngState, runID: bound)
            if computed == digest { return version }
        }
        return nil
    }
}

import FCCore
import Foundation

/// The state of a run, stored as the lowercase name.
public enum RunStatus: String, Sendable, CaseIterable, Codable {
    case running, completed, interrupted, diverged, imported
}

/// The ranges the store accepts for the numbers it reads back: a value outside them
/// was not written by fcstore, and is refused where it is read (`StoreError.outOfRange`).
public enum StoreLimits {
    /// Epochs and parent epochs: 0...2^31 − 1 (also the largest `--epochs`).
    public static let epochs = 0...Int(Int32.max)
    /// Layer numbers of tensors: 0 (the input normalisation) ... 2^24.
    public static let layers = 0...(1 << 24)
}

/// A checkpoint address: a run and one of its epochs.
public struct CheckpointLocation: Hashable, Sendable, Codable {
    public var runID: String
    public var epoch: Int

    public init(runID: String, epoch: Int) {
        self.runID = runID
        self.epoch = epoch
    }
}

/// One row of `runs`.
public struct RunRecord: Equatable, Sendable {
    /// A lowercase UUID, globally unique.
    public var id: String
    public var name: String?
    public var createdAt: Date
    public var status: RunStatus
    /// The training configuration as JSON text, opaque to the store.
    public var config: String
    public var seed: UInt64
    /// The checkpoint this run was forked from; it sees that run's epochs 0...parent.epoch.
    public var parent: CheckpointLocation?
    /// The process training the run while `status` is `.running` (e.g.
    /// "hostname:pid:processStartTime"), nil otherwise.
    public var owner: String?

    /// The first 8 characters of the id, as the CLI shows it.
    public var shortID: String { String(id.prefix(8)) }
}

/// One tensor of a checkpoint.
public struct CheckpointTensor: Equatable, Sendable {
    /// 1...L for W^l and b^l; 0 for the input normalisation.
    public var layer: Int
    /// "weight", "bias", optimizer slots such as "weight.m", or "normalize.shift" at layer 0.
    public var role: String
    public var value: TensorValue

    public init(layer: Int, role: String, value: TensorValue) {
        self.layer = layer
        self.role = role
        self.value = value
    }
}

/// What the engine hands the store for one epoch.
public struct CheckpointInput: Sendable {
    public var epoch: Int
    public var tensors: [CheckpointTensor]
    /// Metric name → value; one row per entry. NaN is stored as NULL and read back as `.nan`.
    public var metrics: [String: Double]
    /// The optimizer's state as text (usually JSON), opaque to the store.
    public var optimizerState: String
    /// The PRNG state bytes.
    public var rngState: [UInt8]

    public init(epoch: Int, tensors: [CheckpointTensor], metrics: [String: Double], optimizerState: String, rngState: [UInt8]) {
        self.epoch = epoch
        self.tensors = tensors
        self.metrics = metrics
        self.optimizerState = optimizerState
        self.rngState = rngState
    }
}

/// A written checkpoint.
public struct CheckpointRecord: Equatable, Sendable {
    public var runID: String
    public var epoch: Int
    public var createdAt: Date
    /// SHA-256, see `CheckpointDigest`.
    public var digest: [UInt8]
    /// The previous checkpoint's digest; nil for epoch 0 of a run without parent.
    public var parentDigest: [UInt8]?

    public var digestHex: String { SHA256Hasher.hex(digest) }
}

/// A checkpoint read back, every tensor verified against its SHA-256.
public struct LoadedCheckpoint: Equatable, Sendable {
    /// The run asked for.
    public var runID: String
    /// The run whose row this is: differs from `runID` for an epoch a fork inherited.
    public var ownerRunID: String
    public var epoch: Int
    public var createdAt: Date
    public var digest: [UInt8]
    public var parentDigest: [UInt8]?
    /// Ordered by layer, then role (bytewise).
    public var tensors: [CheckpointTensor]
    public var metrics: [String: Double]
    public var optimizerState: String
    public var rngState: [UInt8]

    public var inherited: Bool { ownerRunID != runID }
    public var digestHex: String { SHA256Hasher.hex(digest) }

    /// The tensor with this layer and role, if present: a binary search over `tensors` in
    /// their (layer, role) order, so that reading every layer of a deep model stays linear;
    /// a linear search when that misses, for an array built in another order.
    public func tensor(layer: Int, role: String) -> TensorValue? {
        func precedes(_ tensor: CheckpointTensor) -> Bool {
            tensor.layer != layer ? tensor.layer < layer : tensor.role.utf8.lexicographicallyPrecedes(role.utf8)
        }
        var low = 0, high = tensors.count
        while low < high {
            let middle = low + (high - low) / 2
            if precedes(tensors[middle]) { low = middle + 1 } else { high = middle }
        }
        if low < tensors.count, tensors[low].layer == layer, tensors[low].role == role { return tensors[low].value }
        return tensors.first { $0.layer == layer && $0.role == role }?.value
    }
}

/// A run with figures for listings.
public struct RunSummary: Equatable, Sendable {
    public var run: RunRecord
    /// 0 when the run has any checkpoint (epochs are consecutive from 0), else nil.
    public var firstEpoch: Int?
    /// The last epoch the run sees (its own, or the fork point when it has none yet).
    public var lastEpoch: Int?
    /// Checkpoints the run sees, inherited ones included.
    public var checkpointCount: Int
    /// Checkpoints the run owns.
    public var ownCheckpointCount: Int
    /// The metrics of `lastEpoch`.
    public var latestMetrics: [String: Double]
    /// The lowest `val_loss` over the run's own epochs (for a fork, those
    /// after its fork point), if any; the earliest such epoch.
    public var bestValidationLoss: Double?
    public var bestValidationEpoch: Int?
    /// The run's tags and note (schema version 6; empty before).
    public var tags: [String: String] = [:]
    public var note: String?
}

/// A checkpoint in a listing (no tensors).
public struct CheckpointSummary: Equatable, Sendable {
    public var epoch: Int
    public var createdAt: Date
    public var digest: [UInt8]
    public var parentDigest: [UInt8]?
    public var metrics: [String: Double]
    /// The run that owns the row.
    public var ownerRunID: String
    /// True when the run inherited this epoch from an ancestor.
    public var inherited: Bool
    /// True when `Store.prune` released its tensor bytes (its digest, metrics and manifest remain).
    public var pruned: Bool = false

    public var digestHex: String { SHA256Hasher.hex(digest) }
}

/// A problem found by `Store.verify`: where it is (run, epoch, layer and
/// role when they apply) and what is wrong.
public struct Finding: Equatable, Sendable, CustomStringConvertible {
    /// The run whose row is affected (the owner of an inherited checkpoint);
    /// nil for store-wide problems (integrity_check, foreign keys, unused blobs).
    public var runID: String?
    public var epoch: Int?
    public var layer: Int?
    public var role: String?
    /// Says what is wrong; it names the layer and role itself when they apply.
    public var message: String

    public init(runID: String?, epoch: Int? = nil, layer: Int? = nil, role: String? = nil, message: String) {
        self.runID = runID
        self.epoch = epoch
        self.layer = layer
        self.role = role
        self.message = message
    }

    /// `3fa2c1d0@4: layer 2 weight does not match its SHA-256`, `3fa2c1d0: ...` or `store: ...`.
    public var description: String {
        guard let runID else { return "store: \(message)" }
        if let epoch { return "\(runID.prefix(8))@\(epoch): \(message)" }
        return "\(runID.prefix(8)): \(message)"
    }
}

/// Times stored as ISO 8601 UTC text with milliseconds.
enum StoreTimestamp {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func now() -> String { string(Date()) }

    /// To the nearest millisecond. The format truncates, and a time parsed from its own
    /// text can sit a hair below it (x.129 as x.12899994), so without the half
    /// millisecond a time read and written again (a segment merged by a push, pull or
    /// import) would lose one.
    static func string(_ date: Date) -> String { style.format(Date(timeIntervalSince1970: date.timeIntervalSince1970 + 0.0005)) }

    static func isValid(_ text: String) -> Bool {
        (try? style.parse(text)) != nil
    }

    static func date(_ text: String) -> Date {
        (try? style.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text)) ?? Date(timeIntervalSince1970: 0)
    }
}

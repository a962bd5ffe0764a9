// What exporting and importing a bundle report, and why an imported run cannot be loaded.

/// What `Store.exportBundle` wrote.
public struct BundleSummary: Equatable, Sendable {
    public var path: String
    /// Every run in the bundle: those asked for, then ancestors they fork from.
    public var runIDs: [String]
    public var checkpoints: Int
    public var blobs: Int
    /// The bundle file's size.
    public var bytes: Int64
}

/// What `Store.importBundle` changed.
public struct ImportSummary: Equatable, Sendable {
    /// A run imported under another name: its name was taken here, or breaks `RunName`'s rules.
    public struct Renamed: Equatable, Sendable {
        public var runID: String
        public var bundleName: String
        public var newName: String
        /// Why, as a clause after "the name ...": "belongs to another run here",
        /// or the rule it breaks ("looks like a run id (8 or more hex digits)").
        public var reason: String
    }

    /// Runs new to this store.
    public var runsAdded: [String] = []
    /// Runs that existed here and received later epochs.
    public var runsExtended: [String] = []
    /// Runs that existed here with everything the bundle holds.
    public var runsSkipped: [String] = []
    public var checkpointsAdded = 0
    /// Checkpoints already here with the same digest.
    public var checkpointsSkipped = 0
    public var blobsAdded = 0
    /// Tensor contents already here (deduplicated by SHA-256).
    public var blobsSkipped = 0
    public var bytesAdded: Int64 = 0
    public var renamed: [Renamed] = []

    /// True when the import changed nothing.
    public var isNoOp: Bool { runsAdded.isEmpty && runsExtended.isEmpty && checkpointsAdded == 0 && blobsAdded == 0 }
}

extension StoreSnapshot {
    /// Why a run of a bundle could not be loaded after import: it sees no
    /// checkpoint whose tensors were kept (its own, or those it inherits
    /// within the snapshot); nil when it sees at least one.
    func unusable(runID: String) -> String? {
        var seen = 0
        for segment in lineage(of: runID).segments {
            for checkpoint in (checkpoints[segment.ownerRunID] ?? [:]).values
            where segment.lower <= checkpoint.epoch && checkpoint.epoch <= segment.upper {
                if !checkpoint.isPruned { return nil }
                seen += 1
            }
        }
        switch seen {
        case 0: return "has no checkpoint, so nothing of it could be loaded"
        case 1: return "has no usable checkpoint: its only checkpoint was pruned"
        default: return "has no usable checkpoint: all \(seen) of its checkpoints were pruned"
        }
    }
}

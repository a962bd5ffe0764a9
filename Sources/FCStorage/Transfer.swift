import FCSQLite
import Foundation

// Push and pull: runs move from one store to another, both opened as `Store`
// (so through whichever backend each uses), with portable SQL only. The merge
// is planned with `MergePlan` (refusals before any write); then the bytes the
// destination lacks travel first, each in a small transaction of its own, and
// each epoch's rows follow in one transaction, after every hash was checked.
// An interruption leaves the destination with whole epochs only, plus blobs
// that the next transfer does not send again (or `gc` reclaims).

/// What a push or pull did.
public struct TransferSummary: Equatable, Sendable {
    /// Runs new to the destination.
    public var runsAdded: [String] = []
    /// Runs the destination had, which received later epochs.
    public var runsExtended: [String] = []
    /// Runs the destination already had whole.
    public var runsUnchanged: [String] = []
    public var checkpointsSent = 0
    /// Checkpoints the destination already had (same digest).
    public var checkpointsSkipped = 0
    public var blobsSent = 0
    /// Tensor contents the destination already had (same SHA-256), so not sent.
    public var blobsSkipped = 0
    public var bytesSent: Int64 = 0
    /// Runs added under another name (taken at the destination, or against the naming rules).
    public var renamed: [ImportSummary.Renamed] = []

    public var isNoOp: Bool { runsAdded.isEmpty && runsExtended.isEmpty && blobsSent == 0 }
}

/// How far a transfer got, reported after each blob and each committed epoch.
public struct TransferProgress: Equatable, Sendable {
    public var bytesSent: Int64
    public var bytesTotal: Int64
    public var checkpointsSent: Int
    public var checkpointsTotal: Int
}

/// Why a transfer stopped. Whatever was committed before stays, whole epochs only.
public enum TransferError: Error, CustomStringConvertible, Sendable {
    /// The merge was refused before anything was written.
    case refused(MergeRefusal)
    /// Bytes read from the source do not match the SHA-256 they are stored under.
    case corruptBlob(hash: [UInt8])
    /// A checkpoint of the source does not match its digest, or does not chain to the destination's previous epoch.
    case corruptCheckpoint(runID: String, epoch: Int, detail: String)
    /// A run of the source does not match its run digest.
    case corruptRun(runID: String)
    /// The source changed while it was read (a run removed or rewritten).
    case sourceChanged(runID: String, epoch: Int?)

    public var description: String {
        switch self {
        case let .refused(refusal):
            return "Nothing was copied: \(refusal.transferReason)."
        case let .corruptBlob(hash):
            return "The source's bytes for tensor \(SHA256Hasher.hex(hash).prefix(12)) do not match their SHA-256; they were not copied."
        case let .corruptCheckpoint(runID, epoch, detail):
            return "Checkpoint \(runID.prefix(8))@\(epoch) of the source \(detail); it was not copied."
        case let .corruptRun(runID):
            return "Run \(runID.prefix(8)) of the source does not match its digest; it was not copied."
        case let .sourceChanged(runID, epoch):
            return "Run \(runID.prefix(8))\(epoch.map { "@\($0)" } ?? "") changed in the source during the copy; nothing of it after the last whole epoch was copied."
        }
    }
}

/// Copies runs from `source` to `destination`: only what the destination lacks.
public struct Transfer {
    public let source: Store
    public let destination: Store
    /// At most this many bytes of blobs per transaction (one larger blob goes alone).
    public var blobBatchBytes: Int64 = 16 << 20

    public init(from source: Store, to destination: Store) {
        self.source = source
        self.destination = destination
    }

    /// Copies `runIDs` (exact ids) with the ancestors' epochs their lineage needs, or every run when nil.
    /// - Parameter progress: called after each blob and each committed epoch.
    /// - Throws: `TransferError` (`.refused` before any write), `StoreError.noSuchRun`, `.sqlite`.
    public func run(runIDs: [String]? = nil, progress: ((TransferProgress) -> Void)? = nil) throws -> TransferSummary {
        let (snapshot, plan) = try storeErrors { try self.plan(runIDs: runIDs) }
        var summary = TransferSummary()
        summary.runsAdded = plan.summary.runsAdded
        summary.runsExtended = plan.summary.runsExtended
        summary.runsUnchanged = plan.summary.runsSkipped
        summary.checkpointsSkipped = plan.summary.checkpointsSkipped
        summary.blobsSkipped = plan.summary.blobsSkipped
        summary.renamed = plan.summary.renamed
        var report = TransferProgress(bytesSent: 0, bytesTotal: plan.summary.bytesAdded, checkpointsSent: 0,
                                      checkpointsTotal: plan.checkpoints.count)
        let writer = TransferWriter(source: source, destination: destination, snapshot: snapshot, plan: plan)
        var missing = Dictionary(plan.missingBlobs.map { ($0.hash, $0.size) }, uniquingKeysWith: { first, _ in first })
        try storeErrors {
            for group in writer.commitGroups() {
                // The bytes first, in small transactions of their own...
                var batch: [[UInt8]] = []
                var batchBytes: Int64 = 0
                func flush() throws {
                    guard !batch.isEmpty else { return }
                    let sent = try writer.sendBlobs(batch)
                    summary.blobsSent += batch.count
                    summary.bytesSent += sent
                    report.bytesSent += sent
                    batch = []
                    batchBytes = 0
                    progress?(report)
                }
                for checkpoint in group.checkpoints where !checkpoint.isPruned {
                    for tensor in checkpoint.tensors {
                        guard let size = missing.removeValue(forKey: tensor.hash) else { continue }
                        if batchBytes > 0, batchBytes + size > blobBatchBytes { try flush() }
                        batch.append(tensor.hash)
                        batchBytes += size
                    }
                }
                try flush()
                // ...then the epochs' rows in one transaction.
                try writer.commit(group)
                summary.checkpointsSent += group.checkpoints.count
                report.checkpointsSent += group.checkpoints.count
                progress?(report)
            }
            try writer.updateStatuses()
            try writer.mergeMovedRunsMeta()
        }
        return summary
    }

    /// Reads both sides and plans the merge (no writes).
    func plan(runIDs: [String]?) throws -> (StoreSnapshot, MergePlan) {
        try source.db.readTransaction {
            var snapshot = try source.transferSnapshot(runIDs: runIDs)
            var target = try destination.db.readTransaction { try destination.mergeTargetRuns(for: snapshot) }
            try source.loadTensors(into: &snapshot, skipping: target)
            try destination.db.readTransaction { try destination.mergeTargetBlobs(&target, for: snapshot) }
            do {
                return (snapshot, try MergePlan.make(source: snapshot, target: target))
            } catch let refusal as MergeRefusal {
                throw TransferError.refused(refusal)
            }
        }
    }
}


extension Store {
    /// The runs and checkpoint headers (no tensors) a transfer of `runIDs` moves:
    /// each run with the epochs it needs (a run named whole, an ancestor up to the
    /// last epoch a named run inherits), or every run whole. Call inside a read transaction.
    func transferSnapshot(runIDs: [String]?) throws -> StoreSnapshot {
        var snapshot = StoreSnapshot()
        var all: [String: StoreSnapshot.Run] = [:]
        var allOrder: [String] = []
        try db.withCachedStatement("""
            SELECT id, name, created_at, status, config, seed, parent_run_id, parent_epoch, digest FROM runs ORDER BY created_at, id
            """) { row in
            try row.forEachRow { row in
                let parentID = row.optionalString(at: row.column("parent_run_id"))
                let parentEpoch = try row.optionalInt(at: row.column("parent_epoch"), in: StoreLimits.epochs, field: "runs.parent_epoch")
                let run = StoreSnapshot.Run(
                    id: row.string(at: row.column("id")), name: row.optionalString(at: row.column("name")),
                    createdAt: row.string(at: row.column("created_at")), status: row.string(at: row.column("status")),
                    config: row.string(at: row.column("config")), seed: UInt64(bitPattern: row.int64(at: row.column("seed"))),
                    parent: parentID.flatMap { id in parentEpoch.map { CheckpointLocation(runID: id, epoch: $0) } },
                    digest: row.bytes(at: row.column("digest")))
                all[run.id] = run
                allOrder.append(run.id)
            }
        }
        var upper: [String: Int] = [:]
        for id in runIDs ?? allOrder {
            guard all[id] != nil else { throw StoreError.noSuchRun(id) }
            if runIDs == nil {
                upper[id] = Int.max
                continue
            }
            for segment in try lineage(of: id, runs: nil) {
                upper[segment.ownerRunID] = max(upper[segment.ownerRunID] ?? segment.upper, segment.upper)
            }
        }
        if runIDs == nil {
            // Every run's lineage must be whole here too.
            for id in allOrder { _ = try lineage(of: id, runs: nil) }
        }
        snapshot.runOrder = allOrder.filter { upper[$0] != nil }
        for id in snapshot.runOrder { snapshot.runs[id] = all[id] }
        let origin = hasHeads ? "origin_run_id" : "NULL AS origin_run_id"
        try db.withCachedStatement("""
            SELECT id, run_id, epoch, created_at, digest, parent_digest, optimizer_state, rng_state, pruned_at, \(origin)
            FROM checkpoints WHERE run_id = ? AND epoch <= ?
            """) { row in
            for id in snapshot.runOrder {
                try row.bind([.text(id), .integer(Int64(clamping: upper[id] ?? 0))])
                try row.forEachRow { row in
                    let checkpoint = StoreSnapshot.Checkpoint(
                        id: row.int64(at: row.column("id")), runID: id,
                        epoch: try row.int(at: row.column("epoch"), in: StoreLimits.epochs, field: "checkpoints.epoch"),
                        createdAt: row.string(at: row.column("created_at")), digest: row.bytes(at: row.column("digest")),
                        parentDigest: row.optionalBytes(at: row.column("parent_digest")),
                        optimizerState: row.string(at: row.column("optimizer_state")), rngState: row.bytes(at: row.column("rng_state")),
                        prunedAt: row.optionalString(at: row.column("pruned_at")), originRunID: row.optionalString(at: row.column("origin_run_id")))
                    snapshot.checkpoints[id, default: [:]][checkpoint.epoch] = checkpoint
                }
            }
        }
        return snapshot
    }

    /// Reads the tensor rows of the checkpoints `target` lacks, and the sizes of
    /// their blobs. Call inside the read transaction of `transferSnapshot`.
    func loadTensors(into snapshot: inout StoreSnapshot, skipping target: MergeTarget) throws {
        try db.withCachedStatement("SELECT layer, role, shape, dtype, hash FROM tensors WHERE checkpoint_id = ? ORDER BY layer, role") { row in
            for (runID, checkpoints) in snapshot.checkpoints {
                for (epoch, checkpoint) in checkpoints where target.runs[runID]?.epochs[epoch] == nil {
                    var tensors: [StoreSnapshot.Tensor] = []
                    try row.bind([.integer(checkpoint.id)])
                    try row.forEachRow { row in
                        tensors.append(StoreSnapshot.Tensor(
                            layer: try row.int(at: row.column("layer"), in: StoreLimits.layers, field: "tensors.layer"),
                            role: row.string(at: row.column("role")), shapeText: row.string(at: row.column("shape")),
                            dtype: row.string(at: row.column("dtype")), hash: row.bytes(at: row.column("hash"))))
                    }
                    snapshot.checkpoints[runID]?[epoch]?.tensors = tensors
                }
            }
        }
        try db.withCachedStatement("SELECT id, size FROM blobs WHERE hash = ?") { row in
            for hash in MergePlan.candidateHashes(source: snapshot, target: target) {
                try row.bind([.blob(hash)])
                if try row.step() {
                    snapshot.blobs[hash] = StoreSnapshot.Blob(id: row.int64(at: row.column("id")), hash: hash,
                                                              size: row.int64(at: row.column("size")), length: nil)
                }
                try row.reset()
            }
        }
    }
}

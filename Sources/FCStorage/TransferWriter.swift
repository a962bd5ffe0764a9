import FCSQLite
import Foundation

/// Applies a transfer's `MergePlan` to the destination: blobs in small
/// transactions, then each commit group (an epoch, with the pruned epochs
/// before it) in one transaction that re-checks every digest and the chain.
/// Rows are copied column by column from `Schema`'s lists, so a column added
/// there travels without an edit here; segments, tags, notes and events travel
/// by the rules bundles use (TransferWriter+RunMeta.swift).
struct TransferWriter {
    let source: Store
    let destination: Store
    let snapshot: StoreSnapshot
    let plan: MergePlan

    /// Epochs committed together: one complete checkpoint and the pruned ones before
    /// it, so the destination's latest epoch is never a pruned one.
    struct Group {
        var runID: String
        var checkpoints: [StoreSnapshot.Checkpoint]
        var isNewRun: Bool
        var isFirst: Bool
        var isLast: Bool
    }

    func commitGroups() -> [Group] {
        let added = Set(plan.summary.runsAdded)
        var byRun: [String: [StoreSnapshot.Checkpoint]] = [:]
        for checkpoint in plan.checkpoints { byRun[checkpoint.runID, default: []].append(checkpoint) }
        var groups: [Group] = []
        for id in plan.order {
            let checkpoints = byRun[id] ?? []
            let isNew = added.contains(id)
            var runGroups: [[StoreSnapshot.Checkpoint]] = []
            var pending: [StoreSnapshot.Checkpoint] = []
            for checkpoint in checkpoints {
                pending.append(checkpoint)
                if !checkpoint.isPruned {
                    runGroups.append(pending)
                    pending = []
                }
            }
            if !pending.isEmpty { runGroups.append(pending) }
            if runGroups.isEmpty && isNew { runGroups = [[]] }
            for (index, group) in runGroups.enumerated() {
                groups.append(Group(runID: id, checkpoints: group, isNewRun: isNew, isFirst: index == 0,
                                    isLast: index == runGroups.count - 1))
            }
        }
        return groups
    }

    /// The source's status as the destination shows it: a run trained at the source is interrupted here.
    func shownStatus(_ runID: String) -> String {
        let status = snapshot.runs[runID]?.status ?? RunStatus.interrupted.rawValue
        return status == RunStatus.running.rawValue ? RunStatus.interrupted.rawValue : status
    }

    // MARK: Blobs

    /// Reads the bytes of `hash` from the source and checks them against it.
    func sourceBytes(_ hash: [UInt8]) throws -> [UInt8] {
        guard let bytes = try source.db.scalar("SELECT data FROM blobs WHERE hash = ?", [.blob(hash)])?.bytes else {
            throw TransferError.refused(.bytesMissing)
        }
        guard SHA256Hasher.hash(bytes) == hash else { throw TransferError.corruptBlob(hash: hash) }
        return bytes
    }

    func insertBlob(_ hash: [UInt8], _ bytes: [UInt8]) throws {
        try destination.db.execute("INSERT INTO blobs (hash, size, data) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING",
                                   [.blob(hash), .integer(Int64(bytes.count)), .blob(bytes)])
    }

    /// Sends the blobs `hashes` (checked) in one transaction; returns their bytes.
    func sendBlobs(_ hashes: [[UInt8]]) throws -> Int64 {
        let blobs = try hashes.map { (hash: $0, bytes: try sourceBytes($0)) }
        try destination.db.writeTransaction { try destination.db.insertBlobs(blobs) }
        return blobs.reduce(0) { $0 + Int64($1.bytes.count) }
    }

    // MARK: Rows

    /// Commits one group: the run row when new, the epochs' rows, the head.
    func commit(_ group: Group) throws {
        try destination.db.writeTransaction {
            try destination.refusePlantedTriggers()
            if group.isNewRun && group.isFirst {
                try insertRun(group.runID, status: group.isLast ? shownStatus(group.runID) : RunStatus.interrupted.rawValue)
            } else if !group.checkpoints.isEmpty {
                let statement = try destination.db.prepare("SELECT status, owner FROM runs WHERE id = ?")
                try statement.bind([.text(group.runID)])
                guard try statement.step() else { throw TransferError.sourceChanged(runID: group.runID, epoch: nil) }
                if statement.string(at: statement.column("status")) == RunStatus.running.rawValue,
                   let owner = statement.optionalString(at: statement.column("owner")) {
                    throw TransferError.refused(.beingTrained(runID: group.runID, owner: owner))
                }
            }
            for checkpoint in group.checkpoints { try copyCheckpoint(checkpoint) }
            try copySegments(group)
            if group.isNewRun && group.isFirst { try copyRunMeta(ofNewRun: group.runID) }
            try destination.writeHead(runID: group.runID, provided: try sourceSignature(group.runID))
            if group.isNewRun && group.isFirst && destination.hasHeads {
                try destination.db.execute("UPDATE run_heads SET imported_at = ? WHERE run_id = ?",
                                           [.text(StoreTimestamp.now()), .text(group.runID)])
            }
        }
    }

    /// The columns of `row` named in `columns`, as fields to insert.
    static func fields(_ row: Statement, _ columns: [String]) -> [Schema.Field] {
        columns.map { ($0, row.value(at: row.column($0))) }
    }

    static func value(_ fields: [Schema.Field], _ column: String) -> SQLValue {
        fields.first { $0.column == column }?.value ?? .null
    }

    private func insertRun(_ runID: String, status: String) throws {
        if let here = try destination.db.scalar("SELECT digest FROM runs WHERE id = ?", [.text(runID)]) {
            // Added meanwhile by another transfer: the same run, or a conflict.
            guard here.bytes == snapshot.runs[runID]?.digest else { throw TransferError.refused(.runDiffers(runID: runID)) }
            return
        }
        let statement = try source.db.prepare("SELECT \(Schema.Runs.columns.joined(separator: ", ")) FROM runs WHERE id = ?")
        try statement.bind([.text(runID)])
        guard try statement.step() else { throw TransferError.sourceChanged(runID: runID, epoch: nil) }
        var fields = Self.fields(statement, Schema.Runs.columns)
        let digest = Self.value(fields, "digest").bytes
        guard digest == snapshot.runs[runID]?.digest else { throw TransferError.sourceChanged(runID: runID, epoch: nil) }
        let parentID = Self.value(fields, "parent_run_id").string
        let parentEpoch = Self.value(fields, "parent_epoch").int64.map { Int($0) }
        let computed = RunDigest.compute(
            id: runID, createdAt: Self.value(fields, "created_at").string ?? "", config: Self.value(fields, "config").string ?? "",
            seed: UInt64(bitPattern: Self.value(fields, "seed").int64 ?? 0),
            parent: parentID.flatMap { id in parentEpoch.map { CheckpointLocation(runID: id, epoch: $0) } })
        guard computed == digest else { throw TransferError.corruptRun(runID: runID) }
        let name = plan.newRuns.first { $0.run.id == runID }?.name
        for index in fields.indices {
            switch fields[index].column {
            case "name": fields[index].value = name.map(SQLValue.text) ?? .null
            case "status": fields[index].value = .text(status)
            case "owner": fields[index].value = .null
            default: break
            }
        }
        let insert = Schema.insert(into: "runs", fields)
        try destination.db.execute(insert.sql, insert.arguments)
    }

    private func copyCheckpoint(_ planned: StoreSnapshot.Checkpoint) throws {
        let runID = planned.runID, epoch = planned.epoch
        if let here = try destination.db.scalar("SELECT digest FROM checkpoints WHERE run_id = ? AND epoch = ?",
                                                [.text(runID), .integer(Int64(epoch))]) {
            // Committed meanwhile by another transfer.
            guard here.bytes == planned.digest else { throw TransferError.refused(.diverged(runID: runID, epoch: epoch)) }
            return
        }
        let columns = Schema.Checkpoints.columns(withOrigin: source.hasHeads && destination.hasHeads)
        let (row, tensors, metrics) = try source.db.readTransaction { () -> ([Schema.Field], [[Schema.Field]], [[Schema.Field]]) in
            let statement = try source.db.prepare("SELECT id, \(columns.joined(separator: ", ")) FROM checkpoints WHERE run_id = ? AND epoch = ?")
            try statement.bind([.text(runID), .integer(Int64(epoch))])
            guard try statement.step() else { throw TransferError.sourceChanged(runID: runID, epoch: epoch) }
            let id = statement.int64(at: statement.column("id"))
            let row = Self.fields(statement, columns)
            func rows(_ table: String, _ columns: [String]) throws -> [[Schema.Field]] {
                let statement = try source.db.prepare("SELECT \(columns.joined(separator: ", ")) FROM \(table) WHERE checkpoint_id = ?")
                try statement.bind([.integer(id)])
                var result: [[Schema.Field]] = []
                try statement.forEachRow { result.append(Self.fields($0, columns)) }
                return result
            }
            return (row, try rows("tensors", Schema.Tensors.columns), try rows("metrics", Schema.Metrics.columns))
        }
        guard Self.value(row, "digest").bytes == planned.digest else { throw TransferError.sourceChanged(runID: runID, epoch: epoch) }
        try checkDigest(row, tensors: tensors, metrics: metrics, planned: planned)

        // The chain: the parent digest is the digest of the epoch before, as the destination has it.
        var expectedParent: [UInt8]?
        if epoch > 0 || snapshot.runs[runID]?.parent != nil {
            let previous = try destination.checkpointRow(runID: runID, epoch: epoch - 1)
            expectedParent = try destination.db.scalar("SELECT digest FROM checkpoints WHERE id = ?", [.integer(previous.id)])?.bytes
        }
        guard Self.value(row, "parent_digest").bytes == expectedParent else {
            throw TransferError.corruptCheckpoint(runID: runID, epoch: epoch, detail: "does not continue the destination's history of its run")
        }

        let insert = Schema.insert(into: "checkpoints", row)
        guard let checkpointID = try destination.db.scalar(insert.sql + " RETURNING id", insert.arguments)?.int64 else {
            throw TransferError.sourceChanged(runID: runID, epoch: epoch)
        }
        for tensor in tensors {
            let insert = Schema.insert(into: "tensors", [("checkpoint_id", .integer(checkpointID))] + tensor)
            try destination.db.execute(insert.sql, insert.arguments)
        }
        for metric in metrics {
            let insert = Schema.insert(into: "metrics", [("checkpoint_id", .integer(checkpointID))] + metric)
            try destination.db.execute(insert.sql, insert.arguments)
        }
        if planned.isPruned {
            try copyPruneRecords(planned)
        } else {
            // Every tensor's bytes must be here when the epoch becomes visible (a gc
            // between the blobs' transactions and this one could have taken them).
            for tensor in tensors {
                guard let hash = Self.value(tensor, "hash").bytes else { continue }
                if try destination.db.scalar("SELECT 1 FROM blobs WHERE hash = ?", [.blob(hash)]) == nil {
                    try insertBlob(hash, try sourceBytes(hash))
                }
            }
        }
    }

    /// Recomputes the checkpoint's digest from the rows about to be written.
    private func checkDigest(_ row: [Schema.Field], tensors: [[Schema.Field]], metrics: [[Schema.Field]],
                             planned: StoreSnapshot.Checkpoint) throws {
        func corrupt(_ detail: String) -> TransferError {
            .corruptCheckpoint(runID: planned.runID, epoch: planned.epoch, detail: detail)
        }
        var entries: [CheckpointDigest.TensorEntry] = []
        for tensor in tensors {
            guard let layer = Self.value(tensor, "layer").int64, let role = Self.value(tensor, "role").string,
                  let shape = Self.value(tensor, "shape").string.flatMap(ShapeText.decode), Self.value(tensor, "dtype").string == "f32",
                  let hash = Self.value(tensor, "hash").bytes else { throw corrupt("has a malformed tensor row") }
            entries.append(.init(layer: Int(layer), role: role, shape: shape, hash: hash))
        }
        var values: [String: Double] = [:]
        for metric in metrics {
            guard let name = Self.value(metric, "name").string else { throw corrupt("has a malformed metric row") }
            switch Self.value(metric, "value") {
            case .real(let value): values[name] = value
            case .null: values[name] = .nan
            default: throw corrupt("has a metric \(name) that is not a number")
            }
        }
        guard let createdAt = Self.value(row, "created_at").string, let optimizerState = Self.value(row, "optimizer_state").string,
              let rngState = Self.value(row, "rng_state").bytes,
              CheckpointDigest.matchingVersion(planned.digest, epoch: planned.epoch, createdAt: createdAt,
                                               parentDigest: Self.value(row, "parent_digest").bytes, tensors: entries,
                                               metrics: values, optimizerState: optimizerState, rngState: rngState,
                                               runID: planned.boundRunID) != nil else {
            throw corrupt("does not match its digest")
        }
    }

    /// The source's prune records that list a pruned checkpoint being copied.
    private func copyPruneRecords(_ checkpoint: StoreSnapshot.Checkpoint) throws {
        guard source.hasHeads, destination.hasHeads, let prunedAt = checkpoint.prunedAt else { return }
        let statement = try source.db.prepare("SELECT run_id, pruned_at, epochs FROM prunes WHERE (run_id = ? OR run_id = ?) AND pruned_at = ?")
        try statement.bind([.text(checkpoint.runID), .text(checkpoint.boundRunID), .text(prunedAt)])
        var records: [[Schema.Field]] = []
        try statement.forEachRow { records.append(Self.fields($0, ["run_id", "pruned_at", "epochs"])) }
        for record in records {
            let arguments = record.map(\.value)
            if try destination.db.scalar("SELECT 1 FROM prunes WHERE run_id = ? AND pruned_at = ? AND epochs = ?", arguments) == nil {
                let insert = Schema.insert(into: "prunes", record)
                try destination.db.execute(insert.sql, insert.arguments)
            }
        }
    }

    private func sourceSignature(_ runID: String) throws -> HeadSignatureValue? {
        guard source.hasHeads else { return nil }
        let statement = try source.db.prepare("SELECT public_key, signature FROM run_heads WHERE run_id = ?")
        try statement.bind([.text(runID)])
        guard try statement.step(), let key = statement.optionalBytes(at: statement.column("public_key")),
              let signature = statement.optionalBytes(at: statement.column("signature")) else { return nil }
        return HeadSignatureValue(publicKey: key, signature: signature)
    }

    /// Gives each moved run the source's status (running shown as interrupted),
    /// except where the destination trains it.
    func updateStatuses() throws {
        try destination.db.writeTransaction {
            for id in plan.order {
                // Not where the destination holds more epochs than the source moved.
                let moved = snapshot.checkpoints[id]?.keys.max()
                let last = try destination.db.scalar("SELECT max(epoch) AS last FROM checkpoints WHERE run_id = ?", [.text(id)])?.int64
                guard let moved, last.map(Int.init) == moved else { continue }
                let status = shownStatus(id)
                try destination.db.execute("UPDATE runs SET status = ?, owner = NULL WHERE id = ? AND status <> ? AND status <> ?",
                                           [.text(status), .text(id), .text(status), .text(RunStatus.running.rawValue)])
            }
        }
    }
}

import FCCore
import FCSQLite
// The integrity check shared by `Store.verify` and `Store.importBundle`: it
// reads any database with fcstore's schema (the store, or a bundle opened
// read-only) and reports what does not add up, without trusting anything.

/// The rows of one database that verification needs, read once (tensor bytes excluded).
struct StoreSnapshot {
    struct Run {
        var id: String
        var name: String?
        var createdAt: String
        var status: String
        var config: String
        var seed: UInt64
        var parent: CheckpointLocation?
        var digest: [UInt8]
    }

    struct Tensor {
        var layer: Int
        var role: String
        var shapeText: String
        var dtype: String
        var hash: [UInt8]
    }

    struct Checkpoint {
        var id: Int64
        var runID: String
        var epoch: Int
        var createdAt: String
        var digest: [UInt8]
        var parentDigest: [UInt8]?
        var optimizerState: String
        var rngState: [UInt8]
        var prunedAt: String?
        /// `origin_run_id`: the run that wrote a copied row (schema version 4); nil for the run's own rows.
        var originRunID: String?
        var tensors: [Tensor] = []
        /// As stored: `.real`, or `.null` for NaN; anything else is corrupt.
        var metrics: [(name: String, value: SQLValue)] = []

        var isPruned: Bool { prunedAt != nil }
        /// The run whose id a digest of recipe v2 names.
        var boundRunID: String { originRunID ?? runID }
    }

    /// One row of `run_heads`.
    struct Head {
        var seq: Int64
        var runID: String
        var runDigest: [UInt8]
        var epoch: Int?
        var digest: [UInt8]?
        var removedAt: String?
        var publicKey: [UInt8]?
        var signature: [UInt8]?
    }

    /// One row of `prunes`.
    struct Prune {
        var runID: String
        var prunedAt: String
        var epochs: Set<Int>
    }

    struct Blob {
        var id: Int64
        var hash: [UInt8]
        var size: Int64
        /// `length(data)`, nil when data is NULL.
        var length: Int64?
    }

    /// Runs by id, and their ids oldest first.
    var runs: [String: Run] = [:]
    var runOrder: [String] = []
    /// Checkpoints by run id, then epoch.
    var checkpoints: [String: [Int: Checkpoint]] = [:]
    var blobs: [[UInt8]: Blob] = [:]
    /// Rows left out because a number in them lies outside `StoreLimits` (one finding each).
    var outOfRange: [Finding] = []
    /// nil when the database predates schema version 4 (no run_heads, prunes, origin_run_id).
    var heads: [Head]?
    var prunes: [Prune]?
    /// The same, indexed for the checks.
    var headsByRun: [String: Head]?
    struct PruneKey: Hashable { var runID: String; var prunedAt: String }
    var prunesByRunAndTime: [PruneKey: Set<Int>]?

    /// The checkpoints `runID` sees, in epoch order.
    func visibleCheckpoints(of segments: [LineageSegment]) -> [Checkpoint] {
        var result: [Checkpoint] = []
        for segment in segments {
            for (epoch, checkpoint) in checkpoints[segment.ownerRunID] ?? [:] where segment.lower <= epoch && epoch <= segment.upper {
                result.append(checkpoint)
            }
        }
        return result.sorted { $0.epoch < $1.epoch }
    }
}

/// Checks a database with fcstore's schema; see `Store.verify` for what is covered.
struct Verifier {
    /// The storage class every covered column must have. The digests cover the
    /// values as text or bytes, so a value stored under another class with the
    /// same bytes (text 'weight' as a blob, say) would pass them, yet SQL that
    /// audits the store (`WHERE role = 'weight'`) would no longer see it.
    static let storageClasses: [(table: String, condition: String)] = [
        ("runs", "typeof(id) != 'text' OR typeof(created_at) != 'text' OR typeof(config) != 'text' OR typeof(seed) != 'integer'"
            + " OR typeof(parent_run_id) NOT IN ('text', 'null') OR typeof(parent_epoch) NOT IN ('integer', 'null') OR typeof(digest) != 'blob'"),
        ("checkpoints", "typeof(run_id) != 'text' OR typeof(epoch) != 'integer' OR typeof(created_at) != 'text' OR typeof(digest) != 'blob'"
            + " OR typeof(parent_digest) NOT IN ('blob', 'null') OR typeof(optimizer_state) != 'text' OR typeof(rng_state) != 'blob'"),
        ("tensors", "typeof(layer) != 'integer' OR typeof(role) != 'text' OR typeof(shape) != 'text' OR typeof(dtype) != 'text'"
            + " OR typeof(hash) != 'blob'"),
        ("metrics", "typeof(name) != 'text' OR typeof(value) NOT IN ('real', 'null')"),
        ("blobs", "typeof(hash) != 'blob' OR typeof(size) != 'integer' OR typeof(data) NOT IN ('blob', 'null')"),
    ]

    /// The same for the columns of schema version 4.
    static let storageClassesVersion4: [(table: String, condition: String)] = [
        ("checkpoints", "typeof(pruned_at) NOT IN ('text', 'null') OR typeof(origin_run_id) NOT IN ('text', 'null')"),
        ("run_heads", "typeof(seq) != 'integer' OR typeof(run_id) != 'text' OR typeof(run_digest) != 'blob'"
            + " OR typeof(epoch) NOT IN ('integer', 'null') OR typeof(digest) NOT IN ('blob', 'null')"
            + " OR typeof(public_key) NOT IN ('blob', 'null') OR typeof(signature) NOT IN ('blob', 'null')"),
        ("prunes", "typeof(run_id) != 'text' OR typeof(pruned_at) != 'text' OR typeof(epochs) != 'text'"),
    ]

    /// One finding per table that holds values of the wrong storage class.
    func checkStorageClasses(into findings: inout [Finding]) throws {
        let version4 = try db.hasTable("run_heads") && db.hasTable("prunes")
        for (table, condition) in Self.storageClasses + (version4 ? Self.storageClassesVersion4 : []) {
            let count = try db.scalar("SELECT count(*) FROM \(table) WHERE \(condition)")?.int64 ?? 0
            if count > 0 {
                findings.append(Finding(runID: nil, message: "\(count) row(s) of \(table) hold a value of the wrong type"))
            }
        }
    }

    let db: Connection
    /// Chunk size for hashing blobs.
    var chunkSize = 1 << 22

    /// Runs the checks.
    /// - Parameters:
    ///   - runID: nil for the whole database, else that run and the checkpoints it inherits.
    ///   - sqliteChecks: run `PRAGMA integrity_check` and `foreign_key_check` first.
    ///   - trustedKeys: when given, each run head's signature is checked against these keys.
    func verify(runID: String?, sqliteChecks: Bool, trustedKeys: Set<PublicKey>? = nil) throws -> [Finding] {
        var findings: [Finding] = []
        // PostgreSQL enforces column types and foreign keys itself and has no file to
        // check: SQLite's file checks (integrity_check, foreign_key_check, storage
        // classes, schema objects) are SQLite's only.
        let sqliteChecks = sqliteChecks && !db.isPostgres
        if sqliteChecks {
            let integrity = try db.prepare("PRAGMA integrity_check")
            try integrity.forEachRow { row in
                let text = row.string(at: 0)
                if text != "ok" { findings.append(Finding(runID: nil, message: "SQLite integrity_check: \(text)")) }
            }
            let foreignKeys = try db.prepare("PRAGMA foreign_key_check")
            try foreignKeys.forEachRow { row in
                findings.append(Finding(runID: nil, message: "row \(row.int64(at: 1)) of \(row.string(at: 0)) refers to a missing row of \(row.string(at: 2))"))
            }
        }
        if sqliteChecks {
            try checkStorageClasses(into: &findings)
            try checkSchemaObjects(into: &findings)
        }
        let snapshot = try StoreSnapshot(db)
        findings += snapshot.outOfRange
        if let runID, snapshot.runs[runID] == nil { throw StoreError.noSuchRun(runID) }

        // Which runs to walk, and for each whether its inherited epochs are checked
        // too (one run) or left to the ancestor's own walk (whole store).
        let scope = runID.map { [$0] } ?? snapshot.runOrder
        let wholeStore = runID == nil
        var digestChecked: Set<String> = []
        // Tensors needing bytes, by hash: where they are used.
        var uses: [[UInt8]: [(runID: String, epoch: Int, layer: Int, role: String)]] = [:]

        for id in scope {
            let run = snapshot.runs[id]!
            let (segments, problem) = snapshot.lineage(of: id)
            let runsToDigest = wholeStore ? [id] : segments.map(\.ownerRunID)
            for owner in runsToDigest where digestChecked.insert(owner).inserted {
                if let ownerRun = snapshot.runs[owner] { checkRun(ownerRun, into: &findings) }
            }
            if let problem {
                findings.append(Finding(runID: id, message: problem))
                continue
            }
            let ownLower = run.parent.map { $0.epoch + 1 } ?? 0
            let visible = snapshot.visibleCheckpoints(of: segments)
            let firstChecked = wholeStore ? ownLower : 0
            if wholeStore {
                for epoch in (snapshot.checkpoints[id] ?? [:]).keys.sorted() where epoch < ownLower {
                    findings.append(Finding(runID: id, epoch: epoch,
                                            message: "the run holds a checkpoint row for epoch \(epoch), which it inherits from its parent"))
                }
            }
            if let parent = run.parent, !visible.contains(where: { $0.epoch == parent.epoch }) {
                findings.append(Finding(runID: id, message: "its fork point \(parent.runID.prefix(8))@\(parent.epoch) is missing"))
            }
            var previous: StoreSnapshot.Checkpoint?
            var expected = 0
            var boundSeen: Set<String> = []
            for checkpoint in visible {
                defer { previous = checkpoint; expected = checkpoint.epoch + 1 }
                guard checkpoint.epoch >= firstChecked else { continue }
                let owner = checkpoint.runID
                if checkpoint.epoch != expected {
                    let missing = expected == checkpoint.epoch - 1 ? "epoch \(expected) is" : "epochs \(expected)...\(checkpoint.epoch - 1) are"
                    findings.append(Finding(runID: owner, epoch: checkpoint.epoch, message: "\(missing) missing before this one"))
                }
                let version = check(checkpoint, blobs: snapshot.blobs, into: &findings)
                if version == 2 {
                    boundSeen.insert(checkpoint.runID)
                } else if version == 1, boundSeen.contains(checkpoint.runID) {
                    findings.append(Finding(runID: owner, epoch: checkpoint.epoch,
                                            message: "its digest follows recipe v1, which does not name the run, after an epoch of recipe v2"))
                }
                checkOrigin(checkpoint, snapshot: snapshot, into: &findings)
                let previousDigest = previous.flatMap { $0.epoch == checkpoint.epoch - 1 ? $0.digest : nil }
                if checkpoint.epoch == 0 {
                    if checkpoint.parentDigest != nil {
                        findings.append(Finding(runID: owner, epoch: 0, message: "epoch 0 records a parent digest but has no parent"))
                    }
                } else if let previousDigest, checkpoint.parentDigest != previousDigest {
                    findings.append(Finding(runID: owner, epoch: checkpoint.epoch,
                                            message: "its parent digest is not the digest of epoch \(checkpoint.epoch - 1)"
                                                + (checkpoint.epoch == ownLower && run.parent != nil && owner == id
                                                   ? " of its parent run \(run.parent!.runID.prefix(8))" : "")))
                }
            }
            checkPrunes(run: run, visible: visible, ownOnly: wholeStore, snapshot: snapshot, into: &findings)
            checkHead(run: run, visible: visible, snapshot: snapshot, trustedKeys: trustedKeys, into: &findings)
            if !wholeStore {
                for checkpoint in visible where !checkpoint.isPruned {
                    for tensor in checkpoint.tensors {
                        uses[tensor.hash, default: []].append((checkpoint.runID, checkpoint.epoch, tensor.layer, tensor.role))
                    }
                }
            }
        }

        if wholeStore { checkLedger(snapshot, into: &findings) }

        // Every blob (or the ones the run uses) re-hashed, in chunks.
        var blobsToHash: [StoreSnapshot.Blob]
        if wholeStore {
            for checkpoints in snapshot.checkpoints.values {
                for checkpoint in checkpoints.values where !checkpoint.isPruned {
                    for tensor in checkpoint.tensors {
                        uses[tensor.hash, default: []].append((checkpoint.runID, checkpoint.epoch, tensor.layer, tensor.role))
                    }
                }
            }
            blobsToHash = Array(snapshot.blobs.values)
        } else {
            blobsToHash = uses.keys.compactMap { snapshot.blobs[$0] }
        }
        blobsToHash.sort { $0.id < $1.id }
        for blob in blobsToHash {
            var problem: String?
            if let length = blob.length {
                if length != blob.size {
                    problem = "records \(blob.size) bytes but holds \(length)"
                } else {
                    var hasher = SHA256Hasher()
                    try db.streamBlob(id: blob.id, chunkSize: chunkSize) { hasher.update($0) }
                    if hasher.finalize() != blob.hash { problem = "does not match its SHA-256" }
                }
            } else {
                problem = "has no data"
            }
            guard let problem else { continue }
            let users = (uses[blob.hash] ?? []).sorted { ($0.runID, $0.epoch, $0.layer, $0.role) < ($1.runID, $1.epoch, $1.layer, $1.role) }
            if users.isEmpty {
                findings.append(Finding(runID: nil, message: "the unused blob \(SHA256Hasher.hex(blob.hash).prefix(16)) \(problem)"))
            }
            for user in users {
                findings.append(Finding(runID: user.runID, epoch: user.epoch, layer: user.layer, role: user.role,
                                        message: "layer \(user.layer) \(user.role) \(problem)"))
            }
        }
        return findings
    }

    /// The run row's own checks: id form and digest.
    private func checkRun(_ run: StoreSnapshot.Run, into findings: inout [Finding]) {
        if run.id.utf8.count != 36 || !run.id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || $0 == 0x2D }) {
            findings.append(Finding(runID: run.id, message: "the run id \"\(run.id)\" is not a lowercase UUID"))
        }
        let digest = RunDigest.compute(id: run.id, createdAt: run.createdAt, config: run.config, seed: run.seed, parent: run.parent)
        if digest != run.digest {
            findings.append(Finding(runID: run.id, message: "the run digest does not match its id, creation time, configuration, seed and parent"))
        }
    }

    /// One checkpoint row: its manifest, metrics and digest (bytes are hashed separately).
    /// - Returns: the digest recipe the row matches (2 or 1), nil when it matches none or could not be recomputed.
    @discardableResult
    private func check(_ checkpoint: StoreSnapshot.Checkpoint, blobs: [[UInt8]: StoreSnapshot.Blob], into findings: inout [Finding]) -> Int? {
        let runID = checkpoint.runID, epoch = checkpoint.epoch
        var entries: [CheckpointDigest.TensorEntry] = []
        var manifestComplete = true
        for tensor in checkpoint.tensors {
            let label = "layer \(tensor.layer) \(tensor.role)"
            func report(_ message: String) {
                findings.append(Finding(runID: runID, epoch: epoch, layer: tensor.layer, role: tensor.role, message: message))
            }
            guard let shape = ShapeText.decode(tensor.shapeText), ShapeText.encode(shape) == tensor.shapeText,
                  let count = TensorValue.elementCount(shape), count <= 250_000_000 else {
                report("\(label) has an invalid shape \(tensor.shapeText)")
                manifestComplete = false
                continue
            }
            if tensor.dtype != "f32" { report("\(label) has the type \(tensor.dtype), not f32") }
            if tensor.hash.count != 32 { report("\(label) has a malformed hash") }
            entries.append(CheckpointDigest.TensorEntry(layer: tensor.layer, role: tensor.role, shape: shape, hash: tensor.hash))
            guard !checkpoint.isPruned else { continue }
            if let blob = blobs[tensor.hash] {
                if blob.size != Int64(count * 4) {
                    report("\(label) has \(blob.size) bytes, not the \(count * 4) its shape \(shape) needs")
                }
            } else {
                report("the bytes of \(label) are missing")
            }
        }
        var metrics: [String: Double] = [:]
        for (name, value) in checkpoint.metrics {
            switch value {
            case let .real(number): metrics[name] = number
            case .null: metrics[name] = .nan
            default:
                findings.append(Finding(runID: runID, epoch: epoch, message: "the metric \(name) is not a floating-point value"))
                manifestComplete = false
            }
        }
        if checkpoint.digest.count != 32 || checkpoint.parentDigest.map({ $0.count != 32 }) == true {
            findings.append(Finding(runID: runID, epoch: epoch, message: "the checkpoint digest or parent digest is malformed"))
        }
        if let prunedAt = checkpoint.prunedAt, !StoreTimestamp.isValid(prunedAt) {
            findings.append(Finding(runID: runID, epoch: epoch, message: "its prune time \(prunedAt) is not a timestamp"))
        }
        guard manifestComplete else { return nil }
        let version = CheckpointDigest.matchingVersion(
            checkpoint.digest, epoch: epoch, createdAt: checkpoint.createdAt, parentDigest: checkpoint.parentDigest,
            tensors: entries, metrics: metrics, optimizerState: checkpoint.optimizerState, rngState: checkpoint.rngState,
            runID: checkpoint.boundRunID)
        if version == nil {
            findings.append(Finding(runID: runID, epoch: epoch, message: "the checkpoint digest does not match its content"))
        }
        return version
    }
}

import FCSQLite

// Merging one store's runs into another, as a pure plan: what to add, extend,
// skip or refuse, computed from the two sides' rows (run digests, lineage,
// checkpoint digests, blob hashes) without writing anything. A bundle import
// (`Store.importBundle`) and a push or pull (`Transfer`) both plan with it and
// then apply the plan their own way.

/// Why a merge is refused as a whole; nothing is written.
public enum MergeRefusal: Error, Equatable, Sendable {
    /// The source's runs name each other as parents in a circle.
    case parentCycle
    /// A run with the same id exists on both sides with another run digest.
    case runDiffers(runID: String)
    /// An epoch both sides hold has two digests.
    case diverged(runID: String, epoch: Int)
    /// The destination trains the run now (`owner`), and the source has later epochs.
    case beingTrained(runID: String, owner: String)
    /// A new run's configuration is not JSON.
    case configNotJSON(runID: String)
    /// An epoch to add would leave a gap in the destination's history of that run.
    case doesNotContinue(runID: String, epoch: Int)
    /// A tensor of an epoch to add has no bytes in the source.
    case bytesMissing

    /// The clause after "it was refused: " in a bundle import's message (today's wording).
    var bundleReason: String {
        switch self {
        case .parentCycle:
            return "its runs' parents form a cycle"
        case let .runDiffers(runID):
            return "its run \(runID.prefix(8)) has the same id as a run in this store but a different configuration, seed, creation time or parent"
        case let .diverged(runID, epoch):
            return "its checkpoint \(runID.prefix(8))@\(epoch) differs from the one in this store (another digest): the histories diverged"
        case let .beingTrained(runID, owner):
            return "its run \(runID.prefix(8)) has later epochs, but that run is being trained here (\(owner)); import again when it stops"
        case let .configNotJSON(runID):
            return "its run \(runID.prefix(8)) has a configuration that is not JSON"
        case let .doesNotContinue(runID, epoch):
            return "its checkpoint \(runID.prefix(8))@\(epoch) does not continue this store's history of that run"
        case .bytesMissing:
            return "the bytes of a tensor are missing"
        }
    }

    /// The same fact between two stores (push and pull).
    public var transferReason: String {
        switch self {
        case .parentCycle:
            return "the source's runs name each other as parents in a cycle"
        case let .runDiffers(runID):
            return "run \(runID.prefix(8)) exists in both stores with a different configuration, seed, creation time or parent"
        case let .diverged(runID, epoch):
            return "checkpoint \(runID.prefix(8))@\(epoch) differs between the two stores (another digest): the histories diverged"
        case let .beingTrained(runID, owner):
            return "run \(runID.prefix(8)) has later epochs, but the destination is training it (\(owner)); try again when it stops"
        case let .configNotJSON(runID):
            return "run \(runID.prefix(8)) has a configuration that is not JSON"
        case let .doesNotContinue(runID, epoch):
            return "checkpoint \(runID.prefix(8))@\(epoch) does not continue the destination's history of that run"
        case .bytesMissing:
            return "the source lacks the bytes of a tensor to copy"
        }
    }
}

/// What the destination holds that a merge plan depends on, read before planning.
struct MergeTarget {
    struct Run {
        var digest: [UInt8]
        var status: String
        var owner: String?
        /// The run's own checkpoints: epoch → digest.
        var epochs: [Int: [UInt8]]
    }

    /// The source's runs that the destination has, by id.
    var runs: [String: Run] = [:]
    /// Every run name taken at the destination.
    var names: Set<String> = []
    /// The tensor hashes (of epochs to add) whose bytes the destination has.
    var blobs: Set<[UInt8]> = []
    /// New runs whose configuration the destination does not take as JSON.
    var invalidConfigs: Set<String> = []
}

/// A merge worked out in full: applying it writes exactly this, and a refusal
/// (`MergeRefusal`) is found before any write.
struct MergePlan {
    struct NewRun {
        var run: StoreSnapshot.Run
        /// The name it gets at the destination (renamed when taken or against the rules).
        var name: String?
    }

    /// Every source run, parents before children.
    var order: [String] = []
    /// Runs new to the destination, parents first.
    var newRuns: [NewRun] = []
    /// The checkpoints to add, in `order` and then epoch order.
    var checkpoints: [StoreSnapshot.Checkpoint] = []
    /// The hashes whose bytes must be copied (distinct, first use first), with their sizes.
    var missingBlobs: [(hash: [UInt8], size: Int64)] = []
    /// The counts (checkpoints, blobs, bytes) and the runs added, extended, skipped and renamed.
    var summary = ImportSummary()

    /// Plans merging `source` into a destination described by `target`.
    /// - Throws: `MergeRefusal` for the first conflict, in the order a merge meets them.
    static func make(source: StoreSnapshot, target: MergeTarget) throws -> MergePlan {
        var plan = MergePlan()
        // Parents before children.
        var placed: Set<String> = []
        var pending = source.runOrder.compactMap { source.runs[$0] }
        while !pending.isEmpty {
            let ready = pending.filter { run in run.parent.map { placed.contains($0.runID) || source.runs[$0.runID] == nil } ?? true }
            guard !ready.isEmpty else { throw MergeRefusal.parentCycle }
            plan.order += ready.map(\.id)
            ready.forEach { placed.insert($0.id) }
            pending.removeAll { placed.contains($0.id) }
        }

        var takenNames = Set<String>()
        for id in plan.order {
            guard let run = source.runs[id] else { continue }
            let own = (source.checkpoints[run.id] ?? [:]).values.sorted { $0.epoch < $1.epoch }
            if let local = target.runs[run.id] {
                guard local.digest == run.digest else { throw MergeRefusal.runDiffers(runID: run.id) }
                var added = 0
                for checkpoint in own {
                    if let digest = local.epochs[checkpoint.epoch] {
                        guard digest == checkpoint.digest else { throw MergeRefusal.diverged(runID: run.id, epoch: checkpoint.epoch) }
                        plan.summary.checkpointsSkipped += 1
                    } else {
                        plan.checkpoints.append(checkpoint)
                        added += 1
                    }
                }
                if added > 0 {
                    if local.status == RunStatus.running.rawValue, let owner = local.owner {
                        throw MergeRefusal.beingTrained(runID: run.id, owner: owner)
                    }
                    plan.summary.runsExtended.append(run.id)
                } else {
                    plan.summary.runsSkipped.append(run.id)
                }
            } else {
                guard !target.invalidConfigs.contains(run.id) else { throw MergeRefusal.configNotJSON(runID: run.id) }
                var name = run.name.flatMap { $0.isEmpty ? nil : $0 }
                if let given = name {
                    // A name that breaks the rules (a hostile bundle can plant an id-shaped
                    // name, a newline, an '@') is replaced before anything else.
                    let flaw = RunName.flaw(given)
                    let wanted = flaw == nil ? given : RunName.replacement(for: given, runID: run.id)
                    var candidate = wanted, suffix = 1
                    while takenNames.contains(candidate) || target.names.contains(candidate) {
                        suffix += 1
                        candidate = "\(wanted)-\(suffix)"
                    }
                    if candidate != given {
                        plan.summary.renamed.append(.init(runID: run.id, bundleName: given, newName: candidate,
                                                          reason: flaw ?? "belongs to another run here"))
                    }
                    name = candidate
                    takenNames.insert(candidate)
                }
                plan.newRuns.append(NewRun(run: run, name: name))
                plan.checkpoints += own
                plan.summary.runsAdded.append(run.id)
            }
        }
        // Added epochs must continue the destination's history: the source's chain is
        // verified and every epoch both hold has the same digest, so an epoch is
        // added only right after one that is there (or is being added).
        let adding = Set(plan.checkpoints.map { "\($0.runID) \($0.epoch)" })
        for checkpoint in plan.checkpoints where checkpoint.epoch > 0 {
            let previousEpoch = checkpoint.epoch - 1
            if let parent = source.runs[checkpoint.runID]?.parent, previousEpoch == parent.epoch { continue }
            let previousAdded = adding.contains("\(checkpoint.runID) \(previousEpoch)")
            let previousHere = target.runs[checkpoint.runID]?.epochs[previousEpoch] != nil
            guard previousAdded || previousHere else {
                throw MergeRefusal.doesNotContinue(runID: checkpoint.runID, epoch: checkpoint.epoch)
            }
        }
        // The bytes to copy: each distinct tensor of a complete checkpoint once.
        var seen = Set<[UInt8]>()
        for checkpoint in plan.checkpoints {
            plan.summary.checkpointsAdded += 1
            guard !checkpoint.isPruned else { continue }
            for tensor in checkpoint.tensors where seen.insert(tensor.hash).inserted {
                if target.blobs.contains(tensor.hash) {
                    plan.summary.blobsSkipped += 1
                    continue
                }
                guard let blob = source.blobs[tensor.hash] else { throw MergeRefusal.bytesMissing }
                plan.missingBlobs.append((tensor.hash, blob.size))
                plan.summary.blobsAdded += 1
                plan.summary.bytesAdded += blob.size
            }
        }
        return plan
    }

    /// The tensor hashes of the checkpoints `source` has and the destination lacks,
    /// as far as `target.runs` tells: the blobs whose presence `target.blobs` must report.
    static func candidateHashes(source: StoreSnapshot, target: MergeTarget) -> Set<[UInt8]> {
        var hashes = Set<[UInt8]>()
        for (runID, checkpoints) in source.checkpoints {
            for checkpoint in checkpoints.values where !checkpoint.isPruned && target.runs[runID]?.epochs[checkpoint.epoch] == nil {
                for tensor in checkpoint.tensors { hashes.insert(tensor.hash) }
            }
        }
        return hashes
    }
}

extension Store {
    /// Reads what `MergePlan.make` needs to know about this store for merging
    /// `source` into it (no transaction of its own: call inside one).
    func mergeTarget(for source: StoreSnapshot) throws -> MergeTarget {
        var target = try mergeTargetRuns(for: source)
        try mergeTargetBlobs(&target, for: source)
        return target
    }

    /// The runs part of `mergeTarget`: the source's runs found here, taken names, invalid configurations.
    func mergeTargetRuns(for source: StoreSnapshot) throws -> MergeTarget {
        var target = MergeTarget()
        for id in source.runOrder {
            guard let run = source.runs[id] else { continue }
            var local: MergeTarget.Run?
            try db.withCachedStatement("SELECT digest, status, owner FROM runs WHERE id = ?") { row in
                try row.bind([.text(id)])
                if try row.step() {
                    local = MergeTarget.Run(digest: row.bytes(at: row.column("digest")), status: row.string(at: row.column("status")),
                                            owner: row.optionalString(at: row.column("owner")), epochs: [:])
                }
            }
            if var local {
                try db.withCachedStatement("SELECT epoch, digest FROM checkpoints WHERE run_id = ?") { row in
                    try row.bind([.text(id)])
                    try row.forEachRow {
                        local.epochs[try $0.int(at: $0.column("epoch"), in: StoreLimits.epochs, field: "checkpoints.epoch")] =
                            $0.bytes(at: $0.column("digest"))
                    }
                }
                target.runs[id] = local
            } else if try !db.isValidJSON(run.config) {
                target.invalidConfigs.insert(id)
            }
        }
        try db.withCachedStatement("SELECT name FROM runs WHERE name IS NOT NULL") { row in
            try row.forEachRow { target.names.insert($0.string(at: $0.column("name"))) }
        }
        return target
    }

    /// The blobs part of `mergeTarget`: which bytes of the epochs to add are here already.
    func mergeTargetBlobs(_ target: inout MergeTarget, for source: StoreSnapshot) throws {
        try db.withCachedStatement("SELECT 1 AS present FROM blobs WHERE hash = ?") { row in
            for hash in MergePlan.candidateHashes(source: source, target: target) {
                try row.bind([.blob(hash)])
                if try row.step() { target.blobs.insert(hash) }
                try row.reset()
            }
        }
    }
}

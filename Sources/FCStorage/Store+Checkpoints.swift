import FCCore
import FCSQLite
import Foundation

// Writing and reading checkpoints, including the epochs a fork inherits.

/// Where a visible checkpoint's row lives.
struct CheckpointRow {
    var id: Int64
    var ownerRunID: String
    var epoch: Int
}

extension Store {
    /// The row of the checkpoint `runID` sees at `epoch`.
    /// - Throws: `StoreError.noSuchCheckpoint`.
    func checkpointRow(runID: String, epoch: Int) throws -> CheckpointRow {
        guard let segment = try lineage(of: runID).first(where: { $0.lower <= epoch && epoch <= $0.upper }),
              let id = try db.scalar("SELECT id FROM checkpoints WHERE run_id = ? AND epoch = ?",
                                     [.text(segment.ownerRunID), .integer(Int64(epoch))])?.int64 else {
            throw StoreError.noSuchCheckpoint(runID: runID, epoch: epoch)
        }
        return CheckpointRow(id: id, ownerRunID: segment.ownerRunID, epoch: epoch)
    }

    /// The epochs `runID` sees whose tensors were not pruned, ascending (no transaction of its own).
    func keptEpochs(runID: String) throws -> [Int] {
        var epochs: [Int] = []
        let statement = try db.prepare("SELECT epoch FROM checkpoints WHERE run_id = ? AND epoch BETWEEN ? AND ? AND pruned_at IS NULL")
        for segment in try lineage(of: runID) {
            try statement.bind([.text(segment.ownerRunID), .integer(Int64(segment.lower)), .integer(Int64(clamping: segment.upper))])
            try statement.forEachRow { epochs.append(try $0.int(at: 0, in: StoreLimits.epochs, field: "checkpoints.epoch")) }
        }
        return epochs.sorted()
    }

    /// The last epoch `runID` sees, or nil when it has no checkpoint.
    func lastVisibleEpoch(runID: String) throws -> Int? {
        for segment in try lineage(of: runID) {
            // Every epoch of the owner, not only those in range: a value out of range (or
            // not an integer) is refused here rather than skipped.
            switch try db.scalar("SELECT max(epoch) FROM checkpoints WHERE run_id = ? AND epoch >= ?",
                                 [.text(segment.ownerRunID), .integer(Int64(segment.lower))]) {
            case .integer(let epoch)?:
                guard let last = Int(exactly: epoch), StoreLimits.epochs.contains(last) else {
                    throw StoreError.outOfRange(field: "checkpoints.epoch", value: String(epoch), range: StoreLimits.epochs)
                }
                if last <= segment.upper { return last }
                if let inRange = try db.scalar("SELECT max(epoch) FROM checkpoints WHERE run_id = ? AND epoch BETWEEN ? AND ?",
                                               [.text(segment.ownerRunID), .integer(Int64(segment.lower)),
                                                .integer(Int64(clamping: segment.upper))])?.int64 {
                    return Int(inRange)
                }
            case .null?, nil:
                break
            case let other?:
                let text: String
                switch other {
                case .real(let value): text = String(value)
                case .text(let value): text = "\"\(value.prefix(40))\""
                default: text = "a blob"
                }
                throw StoreError.outOfRange(field: "checkpoints.epoch", value: text, range: StoreLimits.epochs)
            }
        }
        return nil
    }

    // MARK: Writing

    /// Appends the next epoch of `runID` in ONE transaction: new blobs
    /// (content-addressed, stored once), tensor rows, metric rows and the
    /// checkpoint row with its digest. After a crash or error at any point
    /// the store holds either the whole checkpoint or nothing of it.
    ///
    /// Tensors are hashed (SHA-256) before the transaction; their bytes are
    /// bound without a copy.
    /// - Throws: `StoreError.epochOutOfOrder` unless `input.epoch` is the
    ///   run's last epoch + 1 (0 for a new run, fork point + 1 for a new fork),
    ///   `.noSuchRun`, `.invalidInput` for malformed tensors or metrics, `.sqlite`.
    @discardableResult
    public func appendCheckpoint(runID: String, _ input: CheckpointInput, context: CommitContext? = nil) throws -> CheckpointRecord {
        let prepared = try prepare(input)
        return try storeErrors {
            try db.writeTransaction {
                // The lease is renewed in the epoch's transaction: a trainer that lost the run writes nothing.
                try beginCommit(runID: runID, context)
                let record = try insertCheckpoint(runID: runID, input, prepared)
                try endCommit(runID: runID, epoch: input.epoch, context)
                return record
            }
        }
    }

    /// Creates a run and commits its epoch 0 in ONE transaction, so that a crash
    /// never leaves a run without its initial checkpoint (which `resume` could
    /// not continue).
    /// - Parameters:
    ///   - initialCheckpoint: epoch 0 of the new run.
    /// - Throws: as `createRun` and `appendCheckpoint`.
    public func createRun(name: String?, config: String, seed: UInt64, status: RunStatus = .running, owner: String? = nil,
                          initialCheckpoint input: CheckpointInput) throws -> (run: RunRecord, checkpoint: CheckpointRecord) {
        let prepared = try prepare(input)
        var checkpoint: CheckpointRecord?
        let run = try insertRun(name: name, config: config, seed: seed, status: status, owner: owner, parent: nil) { runID in
            checkpoint = try self.insertCheckpoint(runID: runID, input, prepared)
        }
        return (run, checkpoint!)
    }

    /// The hashes and digest entries of a checkpoint's tensors, computed before
    /// its transaction.
    struct PreparedCheckpoint {
        var hashes: [[UInt8]]
        var entries: [CheckpointDigest.TensorEntry]
    }

    func prepare(_ input: CheckpointInput) throws -> PreparedCheckpoint {
        try validate(input)
        let hashes = TensorHashing.hashes(of: input.tensors.map(\.value))
        let entries = zip(input.tensors, hashes).map { tensor, hash in
            CheckpointDigest.TensorEntry(layer: tensor.layer, role: tensor.role, shape: tensor.value.shape, hash: hash)
        }
        return PreparedCheckpoint(hashes: hashes, entries: entries)
    }

    /// Writes the checkpoint rows; call inside a write transaction.
    private func insertCheckpoint(runID: String, _ input: CheckpointInput, _ prepared: PreparedCheckpoint) throws -> CheckpointRecord {
        let hashes = prepared.hashes, entries = prepared.entries
        try refusePlantedTriggers()
        _ = try requireRun(runID)
        let last = try lastVisibleEpoch(runID: runID)
        let expected = (last ?? -1) + 1
        guard input.epoch == expected else {
            throw StoreError.epochOutOfOrder(runID: runID, expected: expected, given: input.epoch)
        }
        let parentDigest: [UInt8]? = try last.map { epoch in
            let row = try checkpointRow(runID: runID, epoch: epoch)
            return try db.scalar("SELECT digest FROM checkpoints WHERE id = ?", [.integer(row.id)])?.bytes ?? []
        }
        let createdAt = StoreTimestamp.now()
        let digest = CheckpointDigest.compute(epoch: input.epoch, createdAt: createdAt, parentDigest: parentDigest,
                                              tensors: entries, metrics: input.metrics,
                                              optimizerState: input.optimizerState, rngState: input.rngState,
                                              runID: hasHeads ? runID : nil)
        let insert = Schema.insert(into: "checkpoints", Schema.Checkpoints.row(
            runID: runID, epoch: input.epoch, createdAt: createdAt, digest: digest, parentDigest: parentDigest,
            optimizerState: input.optimizerState, rngState: input.rngState))
        guard let checkpointID = try db.scalar(insert.sql + " RETURNING id", insert.arguments)?.int64 else {
            throw StoreError.invalidInput("The checkpoint row was not written.")
        }

        // Blobs go in once per hash (Connection.insertBlob: SQLite streams into a
        // zeroblob, PostgreSQL sends the bytes as a binary parameter), no record-sized copy.
        let insertTensor = try db.prepare("""
            INSERT INTO tensors (checkpoint_id, layer, role, shape, dtype, hash) VALUES (?, ?, ?, ?, 'f32', ?)
            """)
        // On PostgreSQL two trainers inserting the same blob (a zero bias, say) wait on each
        // other's unique-index entry until one commits; inserting in hash order means no
        // two writers ever wait on each other in a cycle (no deadlock).
        if db.isPostgres {
            for index in hashes.indices.sorted(by: { hashes[$0].lexicographicallyPrecedes(hashes[$1]) }) {
                try TensorHashing.withLittleEndianBytes(of: input.tensors[index].value) { bytes in
                    try db.insertBlob(hash: hashes[index], bytes: bytes)
                }
            }
        }
        for (index, (tensor, hash)) in zip(input.tensors, hashes).enumerated() {
            if index == input.tensors.count / 2, let faultInjection { try faultInjection() }
            if !db.isPostgres {
                try TensorHashing.withLittleEndianBytes(of: tensor.value) { bytes in
                    try db.insertBlob(hash: hash, bytes: bytes)
                }
            }
            try insertTensor.bind([.integer(checkpointID), .integer(Int64(tensor.layer)), .text(tensor.role),
                                   .text(ShapeText.encode(tensor.value.shape)), .blob(hash)])
            try insertTensor.step()
        }
        if input.tensors.isEmpty, let faultInjection { try faultInjection() }
        let insertMetric = try db.prepare("INSERT INTO metrics (checkpoint_id, name, value) VALUES (?, ?, ?)")
        for (name, value) in input.metrics {
            try insertMetric.bind([.integer(checkpointID), .text(name), value.isNaN ? .null : .real(value)])
            try insertMetric.step()
        }
        try writeHead(runID: runID)
        return CheckpointRecord(runID: runID, epoch: input.epoch, createdAt: StoreTimestamp.date(createdAt),
                                digest: digest, parentDigest: parentDigest)
    }

    private func validate(_ input: CheckpointInput) throws {
        guard input.epoch >= 0 else { throw StoreError.invalidInput("A checkpoint's epoch cannot be negative (\(input.epoch)).") }
        var seen = Set<String>()
        for tensor in input.tensors {
            let label = "layer \(tensor.layer) \(tensor.role)"
            guard tensor.layer >= 0 else { throw StoreError.invalidInput("The tensor \(label) has a negative layer number.") }
            guard !tensor.role.isEmpty else { throw StoreError.invalidInput("A tensor of layer \(tensor.layer) has an empty role.") }
            guard seen.insert("\(tensor.layer)\u{0}\(tensor.role)").inserted else {
                throw StoreError.invalidInput("The checkpoint has two tensors for \(label).")
            }
            guard TensorValue.elementCount(tensor.value.shape) == tensor.value.values.count else {
                throw StoreError.invalidInput("The tensor \(label) has shape \(tensor.value.shape) but \(tensor.value.values.count) values.")
            }
            guard tensor.value.byteCount <= TensorValue.maximumBytes else {
                throw StoreError.invalidInput("The tensor \(label) has \(tensor.value.byteCount) bytes; the store takes at most 1 GB per tensor.")
            }
        }
        for name in input.metrics.keys where name.isEmpty {
            throw StoreError.invalidInput("A metric name cannot be empty.")
        }
    }

    // MARK: Reading

    /// Loads the checkpoint `runID` sees at `epoch` (its own or inherited) and
    /// re-hashes every tensor.
    /// - Throws: `StoreError.noSuchCheckpoint`, `.corruptTensor` naming run,
    ///   epoch, layer and role when bytes do not match their SHA-256, `.corrupt`.
    public func loadCheckpoint(runID: String, epoch: Int) throws -> LoadedCheckpoint {
        try loadCheckpoint(runID: runID, epoch: epoch) { $0 }
    }

    /// Loads the checkpoint `runID` sees at `epoch`, re-hashes every tensor, and returns
    /// what `decode` makes of it: `decode` sees verified tensors only, and the tensors
    /// are released when this returns (`resume` keeps only the engine's copy).
    /// - Throws: as `loadCheckpoint(runID:epoch:)`, then whatever `decode` throws.
    public func loadCheckpoint<T>(runID: String, epoch: Int, decoding decode: (LoadedCheckpoint) throws -> T) throws -> T {
        let (checkpoint, hashes, check) = try readCheckpoint(runID: runID, epoch: epoch)
        let actual = TensorHashing.hashes(of: checkpoint.tensors.map(\.value))
        for (index, tensor) in checkpoint.tensors.enumerated() where actual[index] != hashes[index] {
            throw StoreError.corruptTensor(runID: checkpoint.ownerRunID, epoch: epoch, layer: tensor.layer, role: tensor.role)
        }
        try check.verify(checkpoint, hashes: hashes)
        return try decode(checkpoint)
    }

    /// The last epoch `runID` sees.
    /// - Throws: `StoreError.noCheckpoints`, `.noSuchRun`.
    public func latestEpoch(runID: String) throws -> Int {
        let last = try storeErrors { try db.readTransaction { try lastVisibleEpoch(runID: runID) } }
        guard let last else { throw StoreError.noCheckpoints(runID: runID) }
        return last
    }

    /// The last checkpoint `runID` sees.
    /// - Throws: `StoreError.noCheckpoints`, and as `loadCheckpoint`.
    public func latestCheckpoint(runID: String) throws -> LoadedCheckpoint {
        try loadCheckpoint(runID: runID, epoch: latestEpoch(runID: runID))
    }

    /// The epoch with the best value of `metric` among the run's own epochs:
    /// for a fork, those after its fork point, never one it inherits (see
    /// `BestEpoch`, the rule `prune --keep-best` and the best column of `runs` follow).
    /// - Throws: `StoreError.noSuchMetric`, `.noSuchRun`.
    public func bestEpoch(runID: String, metric: String, lowerIsBetter: Bool = true) throws -> Int {
        let best: Int? = try storeErrors {
            try db.readTransaction {
                _ = try requireRun(runID)
                return try ownBestEpoch(runID: runID, metric: metric, lowerIsBetter: lowerIsBetter)
            }
        }
        guard let best else { throw StoreError.noSuchMetric(runID: runID, metric: metric) }
        return best
    }

    /// `BestEpoch` over the values of `metric` in `runID`'s own checkpoints, nil
    /// when none has one (no transaction of its own).
    func ownBestEpoch(runID: String, metric: String, lowerIsBetter: Bool = true) throws -> Int? {
        var candidates: [(epoch: Int, value: Double)] = []
        let statement = try db.prepare("""
            SELECT c.epoch, m.value FROM checkpoints AS c JOIN metrics AS m ON m.checkpoint_id = c.id
            WHERE c.run_id = ? AND m.name = ? AND m.value IS NOT NULL
            """)
        try statement.bind([.text(runID), .text(metric)])
        try statement.forEachRow { row in
            candidates.append((try row.int(at: 0, in: StoreLimits.epochs, field: "checkpoints.epoch"), row.double(at: 1)))
        }
        return BestEpoch.pick(candidates, lowerIsBetter: lowerIsBetter)?.epoch
    }

    /// The checkpoint with the best value of `metric` among the run's own
    /// epochs (see `bestEpoch`).
    /// - Throws: `StoreError.noSuchMetric`, and as `loadCheckpoint`.
    public func bestCheckpoint(runID: String, metric: String, lowerIsBetter: Bool = true) throws -> LoadedCheckpoint {
        try loadCheckpoint(runID: runID, epoch: bestEpoch(runID: runID, metric: metric, lowerIsBetter: lowerIsBetter))
    }

    /// Reads a checkpoint, the recorded hash of each tensor and what its digests are
    /// checked against, without verifying.
    func readCheckpoint(runID: String, epoch: Int) throws -> (LoadedCheckpoint, [[UInt8]], LoadCheck) {
        try storeErrors {
            try db.readTransaction {
                let location = try checkpointRow(runID: runID, epoch: epoch)
                let owner = location.ownerRunID
                let header = try db.prepare("""
                    SELECT created_at, digest, parent_digest, optimizer_state, rng_state, pruned_at,
                           \(hasHeads ? "origin_run_id" : "NULL AS origin_run_id") FROM checkpoints WHERE id = ?
                    """)
                try header.bind([.integer(location.id)])
                guard try header.step() else { throw StoreError.noSuchCheckpoint(runID: runID, epoch: epoch) }
                guard header.isNull(at: header.column("pruned_at")) else {
                    throw StoreError.pruned(runID: runID, epoch: epoch, kept: try keptEpochs(runID: runID))
                }
                var checkpoint = LoadedCheckpoint(
                    runID: runID, ownerRunID: owner, epoch: epoch, createdAt: StoreTimestamp.date(header.string(at: header.column("created_at"))),
                    digest: header.bytes(at: header.column("digest")), parentDigest: header.optionalBytes(at: header.column("parent_digest")),
                    tensors: [], metrics: [:], optimizerState: header.string(at: header.column("optimizer_state")),
                    rngState: header.bytes(at: header.column("rng_state")))
                var check = LoadCheck(runs: [], createdAtText: header.string(at: header.column("created_at")),
                                      boundRunID: header.optionalString(at: header.column("origin_run_id")) ?? owner, shapes: [])
                for id in Set([runID, owner]) {
                    try db.withCachedStatement("SELECT id, created_at, config, seed, parent_run_id, parent_epoch, digest FROM runs WHERE id = ?") { run in
                        try run.bind([.text(id)])
                        guard try run.step() else { throw StoreError.noSuchRun(id) }
                        let parent = run.optionalString(at: run.column("parent_run_id")).flatMap { parentID in
                            run.optionalInt(at: run.column("parent_epoch")).map { CheckpointLocation(runID: parentID, epoch: $0) }
                        }
                        check.runs.append((id, RunDigest.compute(id: id, createdAt: run.string(at: run.column("created_at")),
                                                                 config: run.string(at: run.column("config")),
                                                                 seed: UInt64(bitPattern: run.int64(at: run.column("seed"))),
                                                                 parent: parent) == run.bytes(at: run.column("digest"))))
                    }
                }

                var hashes: [[UInt8]] = []
                let tensors = try db.prepare("""
                    SELECT t.layer AS layer, t.role AS role, t.shape AS shape, t.hash AS hash, b.id AS blob_id, b.size AS size
                    FROM tensors AS t LEFT JOIN blobs AS b ON b.hash = t.hash
                    WHERE t.checkpoint_id = ? ORDER BY t.layer, t.role
                    """)
                try tensors.bind([.integer(location.id)])
                try tensors.forEachRow { row in
                    let layer = try row.int(at: row.column("layer"), in: StoreLimits.layers, field: "tensors.layer")
                    let role = row.string(at: row.column("role")), shapeText = row.string(at: row.column("shape"))
                    let blobColumn = row.column("blob_id"), size = row.int(at: row.column("size"))
                    let label = "layer \(layer) \(role)"
                    guard let shape = ShapeText.decode(shapeText), let count = TensorValue.elementCount(shape),
                          count <= TensorValue.maximumBytes / 4 else {
                        throw StoreError.corrupt(runID: owner, epoch: epoch, detail: "\(label) has an invalid shape \(shapeText)")
                    }
                    guard !row.isNull(at: blobColumn) else {
                        throw StoreError.corrupt(runID: owner, epoch: epoch, detail: "the bytes of \(label) are missing")
                    }
                    guard size == count * 4 else {
                        throw StoreError.corrupt(runID: owner, epoch: epoch, detail: "\(label) has \(size) bytes, not the \(count * 4) its shape \(shape) needs")
                    }
                    let blobID = row.int64(at: blobColumn)
                    var complete = true
                    var values = try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                        complete = try db.readBlob(id: blobID, into: UnsafeMutableRawBufferPointer(buffer))
                        initialized = count
                    }
                    guard complete else {
                        throw StoreError.corrupt(runID: owner, epoch: epoch, detail: "\(label) does not have the \(count * 4) bytes its shape \(shape) needs")
                    }
                    #if _endian(big)
                    for index in values.indices {
                        values[index] = Float(bitPattern: UInt32(littleEndian: values[index].bitPattern))
                    }
                    #endif
                    let value = try TensorValue(shape: shape, values: values)
                    checkpoint.tensors.append(CheckpointTensor(layer: layer, role: role, value: value))
                    hashes.append(row.bytes(at: row.column("hash")))
                    check.shapes.append(shape)
                }

                let metrics = try db.prepare("SELECT name, value FROM metrics WHERE checkpoint_id = ?")
                try metrics.bind([.integer(location.id)])
                try metrics.forEachRow { row in
                    let value = row.column("value")
                    checkpoint.metrics[row.string(at: row.column("name"))] = row.isNull(at: value) ? .nan : row.double(at: value)
                }
                return (checkpoint, hashes, check)
            }
        }
    }
}


/// Shapes as stored in `tensors.shape`: a JSON array of integers, `[1024,784]`.
enum ShapeText {
    static func encode(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ",") + "]"
    }

    /// Parses `[d0,d1,...]` (spaces allowed); nil for anything else or negative dimensions.
    static func decode(_ text: String) -> [Int]? {
        let trimmed = text.filter { $0 != " " }
        guard trimmed.hasPrefix("["), trimmed.hasSuffix("]"), trimmed.count <= 200 else { return nil }
        let inner = trimmed.dropFirst().dropLast()
        if inner.isEmpty { return [] }
        var shape: [Int] = []
        for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }), let dimension = Int(part) else { return nil }
            shape.append(dimension)
        }
        return shape
    }
}

/// SHA-256 of tensors' little-endian float32 bytes.
enum TensorHashing {
    /// Calls `body` with the tensor's little-endian bytes, without a copy on little-endian machines.
    static func withLittleEndianBytes<T>(of tensor: TensorValue, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        #if _endian(little)
        return try tensor.values.withUnsafeBytes(body)
        #else
        return try tensor.littleEndianBytes.withUnsafeBytes(body)
        #endif
    }

    /// The SHA-256 of each tensor; large sets are hashed on two threads.
    static func hashes(of tensors: [TensorValue]) -> [[UInt8]] {
        var result = [[UInt8]](repeating: [], count: tensors.count)
        let total = tensors.reduce(0) { $0 + $1.byteCount }
        guard tensors.count > 1, total >= 1 << 20 else {
            for (index, tensor) in tensors.enumerated() {
                result[index] = withLittleEndianBytes(of: tensor) { SHA256Hasher.hash($0) }
            }
            return result
        }
        // Two workers take the tensors largest first, each from a shared counter.
        let order = tensors.indices.sorted { tensors[$0].byteCount > tensors[$1].byteCount }
        let next = Counter()
        result.withUnsafeMutableBufferPointer { output in
            let output = UnsafeSendable(output)
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                while let position = next.take(below: order.count) {
                    let index = order[position]
                    output.value[index] = withLittleEndianBytes(of: tensors[index]) { SHA256Hasher.hash($0) }
                }
            }
        }
        return result
    }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func take(below limit: Int) -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard value < limit else { return nil }
            value += 1
            return value - 1
        }
    }

    /// A buffer whose elements are written by one thread each.
    private struct UnsafeSendable<T>: @unchecked Sendable {
        let value: T
        init(_ value: T) { self.value = value }
    }
}

import FCSQLite
import Foundation

/// What one `train` or `resume` process records about its stretch of a run's
/// epochs (`segments`, schema version 5): where it read its data and the engine
/// setting it trained with. Paths are hints, as in the run's configuration.
public struct SegmentInput: Equatable, Sendable {
    /// The first epoch the segment commits (0 for the segment that creates the run).
    public var firstEpoch: Int
    public var startedAt: Date
    public var host: String
    public var dataPath: String?
    public var labelsPath: String?
    public var validationPath: String?
    public var dataFingerprint: String?
    public var validationFingerprint: String?
    public var blasCore: String
    public var blasThreads: Int
    public var kernelsISA: String
    public var fcstoreVersion: String

    public init(firstEpoch: Int, startedAt: Date = Date(), host: String, dataPath: String?, labelsPath: String?,
                validationPath: String?, dataFingerprint: String?, validationFingerprint: String?,
                blasCore: String, blasThreads: Int, kernelsISA: String, fcstoreVersion: String) {
        self.firstEpoch = firstEpoch
        self.startedAt = startedAt
        self.host = host
        self.dataPath = dataPath
        self.labelsPath = labelsPath
        self.validationPath = validationPath
        self.dataFingerprint = dataFingerprint
        self.validationFingerprint = validationFingerprint
        self.blasCore = blasCore
        self.blasThreads = blasThreads
        self.kernelsISA = kernelsISA
        self.fcstoreVersion = fcstoreVersion
    }
}

/// A stored segment: the run that committed its epochs, and its last epoch.
public struct SegmentRecord: Equatable, Sendable {
    public var runID: String
    public var lastEpoch: Int
    public var input: SegmentInput
    public var firstEpoch: Int { input.firstEpoch }
}

/// What an epoch's commit transaction does besides writing the checkpoint: renew
/// the trainer's lease (refusing the write when the trainer lost the run) and
/// record the segment the epoch belongs to.
public struct CommitContext: Sendable {
    public var owner: String
    public var leaseUntil: Date?
    public var segment: SegmentInput?

    public init(owner: String, leaseUntil: Date?, segment: SegmentInput?) {
        self.owner = owner
        self.leaseUntil = leaseUntil
        self.segment = segment
    }
}

extension Store {
    static let segmentColumns = """
        run_id, first_epoch, last_epoch, started_at, host, data_path, labels_path, validation_path, data_fingerprint, \
        validation_fingerprint, blas_core, blas_threads, kernels_isa, fcstore_version
        """

    /// Inside an epoch's write transaction: renews the lease (throwing
    /// `StoreError.leaseLost` before anything is written) when `context` has one.
    func beginCommit(runID: String, _ context: CommitContext?) throws {
        guard let context, let until = context.leaseUntil else { return }
        try renewLeaseInTransaction(runID: runID, owner: context.owner, until: until)
    }

    /// Inside an epoch's write transaction, after the checkpoint: the segment's row
    /// is created with its first committed epoch, and advanced with each later one.
    func endCommit(runID: String, epoch: Int, _ context: CommitContext?) throws {
        guard let segment = context?.segment, hasLeases else { return }
        try upsertSegment(runID: runID, segment, lastEpoch: epoch)
    }

    func upsertSegment(runID: String, _ segment: SegmentInput, lastEpoch: Int) throws {
        func text(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
        try db.execute("""
            INSERT INTO segments (\(Store.segmentColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (run_id, first_epoch) DO UPDATE SET last_epoch =
                CASE WHEN excluded.last_epoch > segments.last_epoch THEN excluded.last_epoch ELSE segments.last_epoch END
            """, [.text(runID), .integer(Int64(segment.firstEpoch)), .integer(Int64(lastEpoch)),
                  .text(StoreTimestamp.string(segment.startedAt)), .text(segment.host), text(segment.dataPath),
                  text(segment.labelsPath), text(segment.validationPath), text(segment.dataFingerprint),
                  text(segment.validationFingerprint), .text(segment.blasCore), .integer(Int64(segment.blasThreads)),
                  .text(segment.kernelsISA), .text(segment.fcstoreVersion)])
    }

    static func segmentRecord(_ row: Statement) throws -> SegmentRecord {
        func text(_ name: String) -> String? { row.optionalString(at: row.column(name)) }
        let first = try row.int(at: row.column("first_epoch"), in: StoreLimits.epochs, field: "segments.first_epoch")
        let last = try row.int(at: row.column("last_epoch"), in: StoreLimits.epochs, field: "segments.last_epoch")
        let threads = try row.int(at: row.column("blas_threads"), in: 1...65_536, field: "segments.blas_threads")
        return SegmentRecord(runID: row.string(at: row.column("run_id")), lastEpoch: last, input: SegmentInput(
            firstEpoch: first, startedAt: StoreTimestamp.date(row.string(at: row.column("started_at"))),
            host: row.string(at: row.column("host")), dataPath: text("data_path"), labelsPath: text("labels_path"),
            validationPath: text("validation_path"), dataFingerprint: text("data_fingerprint"),
            validationFingerprint: text("validation_fingerprint"), blasCore: row.string(at: row.column("blas_core")),
            blasThreads: threads, kernelsISA: row.string(at: row.column("kernels_isa")),
            fcstoreVersion: row.string(at: row.column("fcstore_version"))))
    }

    /// The segments that trained the epochs `runID` sees, its ancestors' up to the
    /// fork points included, in epoch order; a segment is cut at the epoch its run's
    /// history stops being seen. Empty for a store older than version 5.
    public func segments(runID: String) throws -> [SegmentRecord] {
        guard hasLeases else { return [] }
        return try storeErrors {
            try db.readTransaction {
                var result: [SegmentRecord] = []
                for stretch in try lineage(of: runID) {
                    try db.withCachedStatement("""
                        SELECT \(Store.segmentColumns) FROM segments WHERE run_id = ? AND first_epoch <= ? AND last_epoch >= ?
                        ORDER BY first_epoch
                        """) { statement in
                        try statement.bind([.text(stretch.ownerRunID), .integer(Int64(clamping: stretch.upper)),
                                            .integer(Int64(stretch.lower))])
                        try statement.forEachRow { row in
                            var record = try Store.segmentRecord(row)
                            record.lastEpoch = min(record.lastEpoch, stretch.upper)
                            result.append(record)
                        }
                    }
                }
                return result.sorted { $0.firstEpoch < $1.firstEpoch }
            }
        }
    }

    /// The segment that committed `epoch` of the history `runID` sees, if recorded.
    public func segment(runID: String, epoch: Int) throws -> SegmentRecord? {
        try segments(runID: runID).last { $0.firstEpoch <= epoch && epoch <= $0.lastEpoch }
    }
}

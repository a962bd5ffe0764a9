import FCSQLite

// Segments in bundles (schema version 5): export copies the segments of the
// epochs it exports; import merges those of the runs it adds or extends. Like
// the data paths in a run's configuration, a segment's paths are hints.

extension Store {
    /// Copies the segments of the exported epochs into the attached bundle (each cut
    /// at the last epoch exported). Call in the export's transaction.
    func exportSegments(order: [String], upper: [String: Int]) throws {
        guard hasLeases else { return }
        for id in order {
            let limit = Int64(clamping: upper[id] ?? Int.max)
            try db.execute("""
                INSERT INTO bundle.segments (\(Store.segmentColumns))
                SELECT run_id, first_epoch, CASE WHEN last_epoch > ? THEN ? ELSE last_epoch END, started_at, host, data_path,
                       labels_path, validation_path, data_fingerprint, validation_fingerprint, blas_core, blas_threads,
                       kernels_isa, fcstore_version
                FROM main.segments WHERE run_id = ? AND first_epoch <= ?
                """, [.integer(limit), .integer(limit), .text(id), .integer(limit)])
        }
    }

    /// Merges the bundle's segments of `runIDs` (the runs added or extended): a segment
    /// new here is added, one here already keeps its row and takes the later last epoch.
    /// Call in the import's write transaction. A bundle older than version 5 has none.
    func mergeSegments(from bundle: Database, bundleVersion: Int, runIDs: [String]) throws {
        guard hasLeases, bundleVersion >= 5, !runIDs.isEmpty else { return }
        let select = Statement(.sqlite(try bundle.prepare(Store.segmentsOfRun)))
        for id in runIDs { try mergeSegments(try Store.segmentRecords(select, runID: id), runID: id) }
    }

    /// Reads a run's segments, in epoch order.
    static let segmentsOfRun = "SELECT \(Store.segmentColumns) FROM segments WHERE run_id = ? ORDER BY first_epoch"

    /// The segments of `runID` that `select` (`segmentsOfRun`, in a bundle or another
    /// store) reads, those starting after `upper` left out and the others cut at it.
    static func segmentRecords(_ select: Statement, runID: String, upper: Int = Int.max) throws -> [SegmentRecord] {
        try select.bind([.text(runID)])
        var records: [SegmentRecord] = []
        try select.forEachRow { row in
            var record = try Store.segmentRecord(row)
            guard record.firstEpoch <= upper else { return }
            record.lastEpoch = min(record.lastEpoch, upper)
            records.append(record)
        }
        return records
    }

    /// Merges segments from elsewhere (a bundle, or the source of a push or pull) into
    /// `runID`'s: the rule bundles and transfers share.
    func mergeSegments(_ records: [SegmentRecord], runID: String) throws {
        guard hasLeases else { return }
        for record in records { try upsertSegment(runID: runID, record.input, lastEpoch: record.lastEpoch) }
    }
}

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
        let select = try bundle.prepare("SELECT \(Store.segmentColumns) FROM segments WHERE run_id = ? ORDER BY first_epoch")
        for id in runIDs {
            try select.bind([.text(id)])
            var records: [SegmentRecord] = []
            try select.forEachRow { records.append(try Store.segmentRecord(Statement(.sqlite($0)))) }
            for record in records {
                try upsertSegment(runID: id, record.input, lastEpoch: record.lastEpoch)
            }
        }
    }
}

import Foundation

// Segments, tags, notes and events in push and pull, by the rules of bundle
// import (Store+BundleSegments.swift, Store+RunMetaBundles.swift), through the
// same code: a segment keeps its row and takes the later last epoch; a run new
// to the destination gets its tags, note and events as the source has them; a
// run it had takes each tag or note the source holds with a later `updated_at`
// through `Store.change` (so with an event of its own), and the source's events
// it lacks (the same time, host, user, field and values), appended once.

extension TransferWriter {
    /// The source's segments of the group's run up to the group's last epoch,
    /// merged in the group's transaction (so they never run ahead of the epochs).
    func copySegments(_ group: Group) throws {
        guard source.hasLeases, destination.hasLeases, let upper = group.checkpoints.last?.epoch else { return }
        try copySegments(runID: group.runID, upper: upper)
    }

    func copySegments(runID: String, upper: Int) throws {
        let records = try source.db.readTransaction {
            try Store.segmentRecords(try source.db.prepare(Store.segmentsOfRun), runID: runID, upper: upper)
        }
        try destination.mergeSegments(records, runID: runID)
    }

    /// The tags, note and events of a run the destination has just added, in the
    /// transaction that adds it; a name the plan changed adds an event.
    func copyRunMeta(ofNewRun runID: String) throws {
        guard destination.hasRunMeta else { return }
        let meta = try sourceRunMeta([runID])
        // Another transfer may have added the run (and its tags) meanwhile: then it merges as a run the destination had.
        let fresh = try destination.db.scalar("SELECT 1 FROM run_tags WHERE run_id = ?", [.text(runID)]) == nil
            && destination.db.scalar("SELECT 1 FROM run_notes WHERE run_id = ?", [.text(runID)]) == nil
        try destination.mergeRunMeta(meta, added: fresh ? [runID] : [], others: fresh ? [] : [runID],
                                     renamed: plan.summary.renamed.filter { $0.runID == runID })
    }

    /// After the epochs: every moved run's segments (up to the last epoch moved)
    /// and tags, notes and events, also of runs whose epochs were all there.
    /// One transaction; a run the destination has not got (an interrupted
    /// transfer never gets here) is left out.
    func mergeMovedRunsMeta() throws {
        let ids = plan.order
        guard !ids.isEmpty else { return }
        let meta = try sourceRunMeta(ids)
        try destination.db.writeTransaction {
            var present: [String] = []
            for id in ids where try destination.db.scalar("SELECT 1 FROM runs WHERE id = ?", [.text(id)]) != nil {
                present.append(id)
                if source.hasLeases, destination.hasLeases, let upper = snapshot.checkpoints[id]?.keys.max() {
                    try copySegments(runID: id, upper: upper)
                }
            }
            try destination.mergeRunMeta(meta, added: [], others: present, renamed: [])
        }
    }

    private func sourceRunMeta(_ runIDs: [String]) throws -> BundleRunMeta {
        try source.db.readTransaction {
            try BundleRunMeta(store: source, runIDs: runIDs) { reason in
                StoreError.invalidInput("The store \(source.path) cannot be copied: \(reason).")
            }
        }
    }
}

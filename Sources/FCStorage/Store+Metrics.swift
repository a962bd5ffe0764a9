import FCSQLite
// Small reads for the dashboard: one checkpoint's metrics without its tensors (the runs
// page reads the last epoch's metrics of the runs it shows, not of every run), and a
// run's direct forks (the run page's lineage).

extension Store {
    /// The metrics of the checkpoint `runID` sees at `epoch` (its own or inherited).
    /// - Throws: `StoreError.noSuchCheckpoint`, `.noSuchRun`.
    public func metrics(runID: String, epoch: Int) throws -> [String: Double] {
        try storeErrors {
            try db.readTransaction { try metrics(checkpointID: checkpointRow(runID: runID, epoch: epoch).id) }
        }
    }
}

extension Store {
    /// The runs forked from `runID` (its direct children), oldest first.
    public func forks(of runID: String) throws -> [RunRecord] {
        try storeErrors {
            try db.readTransaction {
                var result: [RunRecord] = []
                let statement = try db.prepare("SELECT \(Store.runColumns) FROM runs WHERE parent_run_id = ? ORDER BY created_at, id")
                try statement.bind([.text(runID)])
                try statement.forEachRow { result.append(try Store.runRecord($0)) }
                return result
            }
        }
    }
}

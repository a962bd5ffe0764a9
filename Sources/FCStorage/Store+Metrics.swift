// One checkpoint's metrics without its tensors (the dashboard's runs page reads the
// last epoch's metrics of the runs it shows, not of every run).

extension Store {
    /// The metrics of the checkpoint `runID` sees at `epoch` (its own or inherited).
    /// - Throws: `StoreError.noSuchCheckpoint`, `.noSuchRun`.
    public func metrics(runID: String, epoch: Int) throws -> [String: Double] {
        try storeErrors {
            try db.readTransaction { try metrics(checkpointID: checkpointRow(runID: runID, epoch: epoch).id) }
        }
    }
}

import FCStorage

/// The CLI's wording of the store's errors: where FCStorage states the facts
/// (a run's forks, a count and its minimum), the CLI names the flag that helps.
/// Every other error reads as the library describes it.
enum StoreMessages {
    static func text(for error: Error) -> String {
        if let error = error as? TransferError {
            switch error {
            case .corruptBlob, .corruptCheckpoint, .corruptRun:
                return "\(error.description) Check the source with 'fcstore verify'."
            case .refused, .sourceChanged:
                return error.description
            }
        }
        guard let error = error as? StoreError else { return String(describing: error) }
        switch error {
        case let .hasForks(runID, forks):
            return "Run \(runID.prefix(8)) has forks (\(StoreError.shortIDs(forks))). Use --force to detach them first."
        case let .invalidRetentionCount(count, value, minimum):
            return "\(count == .keepLast ? "--keep-last" : "--keep-every") must be \(minimum) or more, not \(value)."
        default:
            return error.description
        }
    }
}

import FCStorage

/// The CLI's wording of the store's errors: where FCStorage states the facts
/// (a run's forks, a count and its minimum, a missing run), the CLI names the
/// flag or command that helps. Every other error reads as the library describes it.
/// The dashboard gets the same wording (`Dashboard.errorText`, set by `fcstore ui`).
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
        case .notAStore:
            return error.description.dropLast() + ". Choose another file with --store or FCSTORE_DB."
        case .noSuchRun:
            return error.description + " Run 'fcstore runs' to list runs."
        case let .noSuchCheckpoint(runID, _):
            return error.description + " Run 'fcstore show \(runID.prefix(8))' to list its epochs."
        case .digestMismatch:
            return error.description.dropLast() + "; run 'fcstore verify' for details."
        case .outOfRange:
            return error.description + " Run 'fcstore verify' to list what else was changed."
        case let .plantedTrigger(name):
            return "The store has a trigger \(name) that fcstore's schema does not define; it could change what is written, so nothing was. Run 'fcstore verify' and restore the store from a copy you trust."
        case .exportFailsVerification:
            return error.description + " Run 'fcstore verify'."
        case .invalidPublicKey:
            return error.description.dropLast(2) + ", as 'fcstore key new' prints)."
        case .unreadableSigningKey:
            return error.description.dropLast() + "; create one with 'fcstore key new'."
        case .fileExists:
            return error.description.dropLast() + "; choose another file with --output."
        case let .sqlite(failure):
            return sqliteText(error.description, StoreError.failure(of: failure))
        default:
            return error.description
        }
    }

    /// SQLite's sentences with the command that helps: the library's sentence ends
    /// with " (SQLite's own text)", the advice goes before it.
    private static func sqliteText(_ sentence: String, _ failure: StoreError.SQLiteFailure) -> String {
        guard let detail = sentence.range(of: " (SQLite error ", options: .backwards) else { return sentence }
        let head = sentence[..<detail.lowerBound], tail = sentence[detail.lowerBound...]
        switch failure {
        case .damaged:
            return head.replacingOccurrences(of: "; restore the file", with: "; run 'fcstore verify' and restore the file") + tail
        case .notADatabase:
            return head.dropLast() + "; choose another file with --store or FCSTORE_DB." + tail
        case .foreignSchema:
            return head.replacingOccurrences(of: "); use another store.", with: "); run 'fcstore verify', or use another store.") + tail
        case .other:
            return head.replacingOccurrences(of: "; check it, then try again.", with: "; run 'fcstore verify' to check it, then try again.") + tail
        case .specific:
            return sentence
        }
    }
}

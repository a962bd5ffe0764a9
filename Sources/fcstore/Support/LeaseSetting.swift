import FCStorage
import FCTraining
import Foundation

/// How long a trainer's claim on a run lasts without a renewal: 60 seconds, or
/// `$FCSTORE_LEASE_SECONDS` (tests use a few seconds). The trainer renews it in
/// every epoch's commit and from a heartbeat every third of it.
enum LeaseSetting {
    static let variable = "FCSTORE_LEASE_SECONDS"
    static let defaultSeconds: TimeInterval = 60

    /// The lease for trainers writing to the store at `path` (--store's value: a file or a URI).
    /// - Throws: `CLIError` for a value that is not a positive number of seconds.
    static func settings(storePath path: String,
                         environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LeaseSettings {
        var seconds = defaultSeconds
        if let text = environment[variable], !text.isEmpty {
            guard let value = Double(text), value.isFinite, value > 0, value <= 86_400 else {
                throw CLIError("\(variable) must be a number of seconds between 0 and 86400 (got '\(Untrusted.escape(text))').")
            }
            seconds = value
        }
        // The heartbeat's own connection opens exactly as --store opened the trainer's
        // (a file path or a postgresql:// URI, password included, never shown).
        return LeaseSettings(duration: seconds, openStore: { try StoreLocation.open(path, mustExist: true) })
    }
}

import FCStorage
import Foundation

/// Which Ed25519 key `train`, `resume` and `rm` sign run heads with: the file
/// named by `$FCSTORE_KEY` (empty: no signing); else
/// `$XDG_CONFIG_HOME/fcstore/key.pem` (`~/.config/fcstore/key.pem`) when it
/// exists; else none, and heads are written unsigned.
enum SigningKeys {
    /// Where `key new` writes by default, and the key used when `$FCSTORE_KEY` is unset.
    static var defaultPath: String {
        let environment = ProcessInfo.processInfo.environment
        if let configured = environment["FCSTORE_KEY"], !configured.isEmpty { return configured }
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".config")
        return (config as NSString).appendingPathComponent("fcstore/key.pem")
    }

    /// The key to sign with, or nil. A key named by `$FCSTORE_KEY` must be readable;
    /// a key file readable by other users is refused (one error line, nothing written).
    static func load() throws -> SigningKey? {
        let environment = ProcessInfo.processInfo.environment
        if let configured = environment["FCSTORE_KEY"] {
            return configured.isEmpty ? nil : try SigningKey.read(path: configured)
        }
        let path = defaultPath
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try SigningKey.read(path: path)
    }
}

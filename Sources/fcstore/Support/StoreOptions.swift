import ArgumentParser
import FCStorage
import FCTraining
import Foundation

/// `--store PATH`, else the environment variable `FCSTORE_DB`, else `./fcstore.db`.
/// A `postgresql://` or `postgres://` URI is a PostgreSQL store; anything else a SQLite file.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The store file, or a postgresql:// URI (default: $FCSTORE_DB, else ./fcstore.db).", valueName: "path"))
    var store: String?

    var path: String {
        if let store { return store }
        if let environment = ProcessInfo.processInfo.environment["FCSTORE_DB"], !environment.isEmpty {
            return environment
        }
        return "fcstore.db"
    }

    /// Whether the store is a PostgreSQL database.
    var isPostgres: Bool { Store.isPostgresURI(path) }

    /// The store as it may be shown: a URI without its password.
    var displayPath: String { Store.displayLocation(path) }
}

/// `--json` on listing commands: one JSON document on stdout with stable keys.
struct JSONOption: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document on stdout instead of text.")
    var json = false
}

extension StoreOptions {
    /// Opens (creating and migrating if needed) the store.
    func open(readOnly: Bool = false) throws -> Store {
        try refuseFolder()
        let store = try Store(path: path, readOnly: readOnly)
        PhaseTimings.mark("store-opened")
        return store
    }

    private func refuseFolder() throws {
        guard !isPostgres else { return }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CLIError("\(path) is a folder; the store is a file: pass --store PATH/fcstore.db (or set FCSTORE_DB).")
        }
    }

    /// Opens an existing store for reading; a missing file is an error rather than a new store.
    func openExisting() throws -> Store {
        guard isPostgres || FileManager.default.fileExists(atPath: path) else {
            throw CLIError("No store at \(path); train a run first, or pass --store PATH (or set FCSTORE_DB).")
        }
        try refuseFolder()
        let store = try Store(path: path)
        PhaseTimings.mark("store-opened")
        return store
    }
}

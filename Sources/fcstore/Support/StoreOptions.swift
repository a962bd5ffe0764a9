import ArgumentParser
import FCStorage
import FCTraining
import Foundation

/// `--store PATH`, else the environment variable `FCSTORE_DB`, else `./fcstore.db`.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The store file (default: $FCSTORE_DB, else ./fcstore.db).", valueName: "path"))
    var store: String?

    var path: String {
        if let store { return store }
        if let environment = ProcessInfo.processInfo.environment["FCSTORE_DB"], !environment.isEmpty {
            return environment
        }
        return "fcstore.db"
    }
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
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CLIError("\(path) is a folder; the store is a file: pass --store PATH/fcstore.db (or set FCSTORE_DB).")
        }
    }

    /// Opens an existing store for reading; a missing file is an error rather than a new store.
    func openExisting() throws -> Store {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("No store at \(path); train a run first, or pass --store PATH (or set FCSTORE_DB).")
        }
        try refuseFolder()
        let store = try Store(path: path)
        PhaseTimings.mark("store-opened")
        return store
    }
}

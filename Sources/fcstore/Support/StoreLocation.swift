import ArgumentParser
import FCStorage
import Foundation

/// Another store named on the command line (push's DEST, pull's SOURCE, --push):
/// opened by the same code as --store, and shown without a password (`Store.displayLocation`,
/// that is FCPostgres's `ConnectionURI.redacted`: the one redaction helper).
enum StoreLocation {
    /// The options `--store LOCATION` would give, so the store opens exactly as --store opens it.
    static func options(_ location: String) throws -> StoreOptions {
        guard !location.isEmpty else { throw CLIError("The store location is empty; give a file path.") }
        return try StoreOptions.parse(["--store=\(location)"])
    }

    /// Opens the store at `location` as --store would (creating a missing file unless
    /// `mustExist`), refusing a folder in words that do not point at --store.
    static func open(_ location: String, mustExist: Bool = false) throws -> Store {
        var isDirectory: ObjCBool = false
        let exists = !location.contains("://") && FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory)
        if exists, isDirectory.boolValue { throw CLIError("\(Store.displayLocation(location)) is a folder; a store is a file.") }
        if mustExist, !location.contains("://"), !exists { throw CLIError("No store at \(Store.displayLocation(location)).") }
        let options = try options(location)
        return try mustExist ? options.openExisting() : options.open()
    }

    /// Runs `body`; an error's message is reworded with `location`'s password hidden.
    static func redacting(_ location: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as CLIError {
            throw CLIError(hidingPassword(of: location, in: error.description))
        } catch let error as ExitCode {
            throw error
        } catch let error as ValidationError {
            throw error
        } catch {
            throw CLIError(hidingPassword(of: location, in: ErrorText.message(for: error)))
        }
    }

    /// `text` with every occurrence of `location` in its redacted form.
    static func hidingPassword(of location: String, in text: String) -> String {
        Store.hidingPassword(of: location, in: text)
    }

    /// True when both name the same existing file (a push to itself).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        func resolved(_ path: String) -> String? {
            guard !path.contains("://"), FileManager.default.fileExists(atPath: path) else { return nil }
            return URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        }
        guard let first = resolved(a), let second = resolved(b) else { return false }
        return first == second
    }
}

import FCSQLite
import FCPostgres
import CSQLite
import Foundation

/// A persistent store of training runs and their per-epoch checkpoints, in one
/// SQLite file (see `migrations/0001_initial.sql` for the schema) or in one
/// PostgreSQL database (a `postgresql://` URI; `migrations-postgres/`).
///
/// One `Store` is one connection: use it from one thread at a time, and open
/// another `Store` on the same path for another thread or process. WAL mode
/// lets any number of readers work while one writer appends checkpoints.
public final class Store {
    /// Page size of new store files. 64 KiB measured fastest for the
    /// multi-megabyte tensor blobs (see `fcstore-bench store`).
    public static let defaultPageSize = 65_536

    /// The SQLite library in use, e.g. "3.40.1".
    public static var sqliteVersion: String { String(cString: sqlite3_libversion()) }

    /// The SQLite file's path, or the PostgreSQL URI without its password.
    public let path: String
    public let readOnly: Bool
    /// The backend seam: every SQL statement of the store goes through this
    /// connection (`Connection`: FCSQLite or FCPostgres behind FCSQLite's
    /// surface). Store SQL is written once, with `?` parameters (rewritten to
    /// `$n` for PostgreSQL) and columns read by name; what differs between the
    /// dialects (transaction begin, blob I/O, JSON checks, schema introspection)
    /// sits in `Connection` and `Dialect.swift`; each backend has its migrations
    /// (`Migrator`, `PostgresMigrator`). SQLite-only: bundles (SQLite files,
    /// export uses `ATTACH`), `PRAGMA` file checks in verify, `VACUUM` in gc.
    let db: Connection

    /// Whether the store is a PostgreSQL database (else a SQLite file).
    public var isPostgres: Bool { db.isPostgres }

    /// Whether `location` names a PostgreSQL store (`postgresql://` or `postgres://`);
    /// anything else is a SQLite file's path.
    public static func isPostgresURI(_ location: String) -> Bool { ConnectionURI.isPostgres(location) }

    /// `location` as it may be shown: a URI without its password, a path as it is.
    public static func displayLocation(_ location: String) -> String {
        ConnectionURI.isPostgres(location) ? ConnectionURI.redacted(location) : location
    }

    /// `text` with `location` (and a PostgreSQL URI's password wherever it appears)
    /// in the form `displayLocation` shows.
    public static func hidingPassword(of location: String, in text: String) -> String {
        ConnectionURI.isPostgres(location) ? ConnectionURI.scrub(text, uri: location) : text
    }

    /// Called while a checkpoint is being written, after half its tensor rows;
    /// tests throw from it to prove a failed checkpoint leaves no trace.
    var faultInjection: (() throws -> Void)?

    /// The schema version of the file (`PRAGMA user_version`) once opened:
    /// the latest unless the store was opened read-only before migrating.
    public let schemaVersion: Int

    /// When set, every run head this connection writes is signed with it
    /// (see `HeadSignature`); nil writes unsigned heads.
    public var signingKey: SigningKey?

    /// Opens the store at `path`, creating the file if needed, and applies
    /// pending migrations.
    /// - Parameters:
    ///   - path: the SQLite file.
    ///   - readOnly: open with `SQLITE_OPEN_READONLY`; the file must exist, at a schema version
    ///     this build reads without migrating (`Migrator.oldestReadableVersion` or later).
    ///   - busyTimeout: how long a write waits for another writer's lock before failing.
    /// - Throws: `StoreError.notAStore` for a file that is not SQLite or belongs
    ///   to another application, `.newerStore` for a schema newer than this
    ///   build (the file is left untouched), `.modifiedMigration`, `.sqlite`.
    public convenience init(path: String, readOnly: Bool = false, busyTimeout: Duration = .milliseconds(5000)) throws {
        try self.init(path: path, readOnly: readOnly, busyTimeout: busyTimeout, pageSize: Store.defaultPageSize)
    }

    /// As `init(path:readOnly:busyTimeout:)`, choosing the page size of a new file (benchmarks).
    public init(path: String, readOnly: Bool = false, busyTimeout: Duration = .milliseconds(5000), pageSize: Int) throws {
        if ConnectionURI.isPostgres(path) {
            self.path = ConnectionURI.redacted(path)
            let connection = try storeErrors { try PostgresConnection(uri: path) }
            let postgres = Connection(postgres: connection)
            db = postgres
            self.readOnly = readOnly
            schemaVersion = try storeErrors { try PostgresMigrator().prepare(postgres, path: ConnectionURI.redacted(path), readOnly: readOnly) }
            return
        }
        self.path = path
        let (seconds, attoseconds) = busyTimeout.components
        let milliseconds = Int32(max(0, min(Int64(Int32.max), seconds * 1000 + attoseconds / 1_000_000_000_000_000)))
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw StoreError.notAStore(path: path, reason: "it is a folder")
        }
        try Store.checkHeader(path)
        var database = try storeErrors { try Database(path: path, readOnly: readOnly, busyTimeoutMilliseconds: milliseconds) }
        var openedReadOnly = readOnly
        do {
            try storeErrors { try Migrator().prepare(database, path: path, readOnly: readOnly, pageSize: pageSize) }
        } catch StoreError.sqlite(let error) where Store.needsImmutableOpen(error, path: path) {
            // A WAL store in a folder we cannot write: SQLite cannot create the
            // -shm file it needs to read. With no -wal file there is nothing
            // uncommitted to see, so read the file as immutable (no locks, no -shm).
            database = try storeErrors {
                try Database(path: Store.immutableURI(path), flags: SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                             busyTimeoutMilliseconds: milliseconds)
            }
            try storeErrors { try Migrator().prepare(database, path: path, readOnly: true, pageSize: pageSize) }
            openedReadOnly = true
        }
        db = Connection(sqlite: database)
        self.readOnly = openedReadOnly
        schemaVersion = Int(try storeErrors { try database.scalar("PRAGMA user_version")?.int64 ?? 0 })
    }

    /// True for the open failures of a WAL file in a read-only folder
    /// (`SQLITE_READONLY_DIRECTORY`, `SQLITE_READONLY_CANTINIT`, `SQLITE_CANTOPEN`)
    /// when no `-wal` file exists.
    static func needsImmutableOpen(_ error: SQLiteError, path: String) -> Bool {
        let codes: Set<Int32> = [ResultCode.readOnlyDirectory, ResultCode.readOnlyCantInit]
        guard codes.contains(error.extendedCode) || error.code == ResultCode.cantOpen else { return false }
        let folder = (path as NSString).deletingLastPathComponent
        return !FileManager.default.fileExists(atPath: path + "-wal")
            && !FileManager.default.isWritableFile(atPath: folder.isEmpty ? "." : folder)
    }

    /// `file:PATH?immutable=1`, with the characters URIs reserve escaped.
    static func immutableURI(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return "file:\(absolute.addingPercentEncoding(withAllowedCharacters: allowed) ?? absolute)?immutable=1"
    }

    /// A file that exists and is not empty must start with SQLite's header; SQLite
    /// itself would treat a file shorter than one page as a new, empty database
    /// and write over it.
    /// Only a regular file can be a store: a named pipe or a device would block SQLite's
    /// open or read forever, so they are refused by `stat` first and the header is read
    /// through an `O_NONBLOCK` descriptor, checked again with `fstat`.
    static func checkHeader(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return }  // a new store, or one SQLite reports on
        try checkRegular(info, path: path)
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        guard fstat(descriptor, &info) == 0 else { return }
        try checkRegular(info, path: path)
        var head = [UInt8](repeating: 0, count: 16)
        let count = read(descriptor, &head, 16)
        guard count > 0 else { return }
        guard count == 16, head == Array("SQLite format 3\0".utf8) else {
            throw StoreError.notAStore(path: path, reason: "it is not an SQLite database")
        }
    }

    static func checkRegular(_ info: stat, path: String) throws {
        let kind: String
        switch info.st_mode & S_IFMT {
        case S_IFREG, S_IFDIR: return  // a folder gets its own message from the caller
        case S_IFIFO: kind = "a named pipe (FIFO)"
        case S_IFCHR, S_IFBLK: kind = "a device"
        case S_IFSOCK: kind = "a socket"
        default: kind = "not a regular file"
        }
        throw StoreError.notAStore(path: path, reason: "it is \(kind), not a regular file")
    }

    // MARK: Runs

    static let runColumns = Schema.Runs.recordColumns

    static func runRecord(_ row: Statement) throws -> RunRecord {
        try Schema.Runs.record(row)
    }

    /// Creates a run (`INSERT INTO runs`).
    /// - Parameters:
    ///   - name: unique when given; nil for an anonymous run.
    ///   - config: the training configuration as JSON text.
    ///   - owner: the process that trains it (stored only while `status` is `.running`).
    /// - Throws: `StoreError.nameTaken`, `.invalidInput` when `config` is not JSON or
    ///   the name breaks `RunName`'s rules.
    public func createRun(name: String?, config: String, seed: UInt64, status: RunStatus = .running,
                          owner: String? = nil) throws -> RunRecord {
        try insertRun(name: name, config: config, seed: seed, status: status, owner: owner, parent: nil)
    }

    /// Creates a run that continues `runID` from `epoch`: it sees the parent's
    /// epochs 0...epoch by reference (nothing is copied), and its own
    /// checkpoints start at epoch + 1, chained to the parent's epoch digest.
    /// - Throws: `StoreError.noSuchRun`, `.noSuchCheckpoint`, `.nameTaken`, `.invalidInput`.
    public func forkRun(from runID: String, atEpoch epoch: Int, name: String?, config: String, seed: UInt64,
                        status: RunStatus = .running, owner: String? = nil) throws -> RunRecord {
        try insertRun(name: name, config: config, seed: seed, status: status, owner: owner,
                      parent: CheckpointLocation(runID: runID, epoch: epoch))
    }

    /// Inserts a run; `then`, given the new id, runs in the same transaction.
    func insertRun(name: String?, config: String, seed: UInt64, status: RunStatus, owner: String?,
                   parent: CheckpointLocation?, then: ((String) throws -> Void)? = nil) throws -> RunRecord {
        if let name { try RunName.validate(name) }
        return try storeErrors {
            try db.writeTransaction {
                guard try db.isValidJSON(config) else {
                    throw StoreError.invalidInput("The run configuration is not valid JSON.")
                }
                if let name, try db.scalar("SELECT 1 FROM runs WHERE name = ?", [.text(name)]) != nil {
                    throw StoreError.nameTaken(name)
                }
                if let parent {
                    _ = try requireRun(parent.runID)
                    let row = try checkpointRow(runID: parent.runID, epoch: parent.epoch)
                    if try db.scalar("SELECT pruned_at FROM checkpoints WHERE id = ?", [.integer(row.id)]) != .null {
                        throw StoreError.pruned(runID: parent.runID, epoch: parent.epoch, kept: try keptEpochs(runID: parent.runID))
                    }
                }
                let id = UUID().uuidString.lowercased()
                let createdAt = StoreTimestamp.now()
                let digest = RunDigest.compute(id: id, createdAt: createdAt, config: config, seed: seed, parent: parent)
                let insert = Schema.insert(into: "runs", Schema.Runs.row(
                    id: id, name: name, createdAt: createdAt, status: status.rawValue, config: config, seed: seed,
                    parent: parent, owner: status == .running ? owner : nil, digest: digest))
                try uniqueName(name) { try db.execute(insert.sql, insert.arguments) }
                try writeHead(runID: id)
                try then?(id)
                return try requireRun(id)
            }
        }
    }

    /// Runs `write`, which gives a run the name `name`; on PostgreSQL another transaction
    /// may have taken the name between the check and the write (READ COMMITTED): its
    /// unique violation (SQLSTATE 23505) is `StoreError.nameTaken`, as on SQLite.
    func uniqueName(_ name: String?, _ write: () throws -> Void) throws {
        do {
            try write()
        } catch {
            let postgres: PostgresError?
            switch error {
            case let error as PostgresError: postgres = error
            case let StoreError.postgres(error): postgres = error
            default: postgres = nil
            }
            if let name, let postgres, postgres.sqlState == .uniqueViolation,
               postgres.message.contains("runs_name") || postgres.detail?.contains("(name)") == true {
                throw StoreError.nameTaken(name)
            }
            throw error
        }
    }

    /// The run with exactly this id.
    /// - Throws: `StoreError.noSuchRun`.
    public func run(id: String) throws -> RunRecord {
        try storeErrors { try requireRun(id) }
    }

    func requireRun(_ id: String) throws -> RunRecord {
        let statement = try db.prepare("SELECT \(Store.runColumns) FROM runs WHERE id = ?")
        try statement.bind([.text(id)])
        guard try statement.step() else { throw StoreError.noSuchRun(id) }
        return try Store.runRecord(statement)
    }

    /// Sets a run's status and owner (`UPDATE runs SET status, owner`). The
    /// owner is stored when `status` is `.running` and cleared otherwise. A
    /// changed status appends an event (see `change(_:of:to:)`).
    /// - Throws: `StoreError.noSuchRun`.
    public func setStatus(runID: String, _ status: RunStatus, owner: String? = nil) throws {
        try storeErrors {
            try db.writeTransaction {
                // The status through the one writer of mutable fields, which records the event;
                // a lease ends with its claim (a new claim sets its own).
                try change(.status, of: runID, to: status.rawValue)
                let lease = hasLeases ? ", lease_expires_at = NULL" : ""
                try db.execute("UPDATE runs SET owner = ?\(lease) WHERE id = ?",
                               [status == .running ? owner.map(SQLValue.text) ?? .null : .null, .text(runID)])
            }
        }
    }

    /// Takes over a run for training, compare-and-set: when the run's owner is
    /// `expectedOwner` (nil: no owner), sets it to `newOwner` and the status to
    /// `.running`, in one `BEGIN IMMEDIATE` transaction, so of two processes
    /// claiming the same run only one succeeds.
    /// - Returns: true when claimed; false when another owner holds it (nothing changed).
    /// - Throws: `StoreError.noSuchRun`.
    public func claimRun(runID: String, expectedOwner: String?, newOwner: String) throws -> Bool {
        try storeErrors {
            try db.writeTransaction {
                let current = try requireRun(runID)
                guard current.owner == expectedOwner else { return false }
                try change(.status, of: runID, to: RunStatus.running.rawValue)
                try db.execute("UPDATE runs SET owner = ? WHERE id = ?", [.text(newOwner), .text(runID)])
                return true
            }
        }
    }

    /// Finds a run from what a user typed: a full id, a unique run name, or a
    /// unique id prefix (hex, case-insensitive). A full id wins; then a name,
    /// unless the text is also a prefix of another run's id (a name given
    /// before the naming rules, or a short hex name): then nothing is guessed.
    /// - Throws: `StoreError.noSuchRun` when nothing matches, `.ambiguousRun`
    ///   listing the candidates when a prefix matches several runs,
    ///   `.ambiguousName` when the text names one run and prefixes another's id.
    public func resolveRun(_ text: String) throws -> RunRecord {
        try storeErrors {
            try db.readTransaction {
                guard !text.isEmpty else { throw StoreError.noSuchRun(text) }
                let lowered = text.lowercased()
                if let exact = try? requireRun(lowered) { return exact }
                let byName = try db.prepare("SELECT \(Store.runColumns) FROM runs WHERE name = ?")
                try byName.bind([.text(text)])
                let named = try byName.step() ? try Store.runRecord(byName) : nil
                var candidates: [RunRecord] = []
                if lowered.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                    let byPrefix = try db.prepare("""
                        SELECT \(Store.runColumns) FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY created_at, id
                        """)
                    try byPrefix.bind([.text(lowered)])
                    try byPrefix.forEachRow { candidates.append(try Store.runRecord($0)) }
                }
                if let named {
                    let others = candidates.filter { $0.id != named.id }
                    guard others.isEmpty else { throw StoreError.ambiguousName(text, named: named, prefixOf: others) }
                    return named
                }
                switch candidates.count {
                case 0: throw StoreError.noSuchRun(text)
                case 1: return candidates[0]
                default: throw StoreError.ambiguousRun(text, candidates: candidates)
                }
            }
        }
    }
}

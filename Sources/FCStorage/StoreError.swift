import FCSQLite
import FCPostgres
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
/// Everything the store refuses or fails at. Each description is one sentence
/// (or two) saying what happened and what to do next, fit for the CLI's stderr.
public enum StoreError: Error, CustomStringConvertible, Sendable {
    /// The file is not an SQLite database, or belongs to another application.
    case notAStore(path: String, reason: String)
    /// The file was written by a newer fcstore (schema `version` > `supported`); it was not touched.
    case newerStore(path: String, version: Int, supported: Int)
    /// An already-applied migration differs from the one embedded in this build.
    case modifiedMigration(name: String)
    /// The embedded migrations are malformed (a build problem).
    case invalidMigration(String)
    /// A read-only open of a store whose schema is older than this build's.
    case needsMigration(path: String, version: Int, latest: Int)
    /// No run matches the text given.
    case noSuchRun(String)
    /// Several runs match an id prefix.
    case ambiguousRun(String, candidates: [RunRecord])
    /// The text is the name of one run and a prefix of other runs' ids.
    case ambiguousName(String, named: RunRecord, prefixOf: [RunRecord])
    /// The run has no checkpoint at that epoch (its own or inherited).
    case noSuchCheckpoint(runID: String, epoch: Int)
    /// The run has no checkpoint at all.
    case noCheckpoints(runID: String)
    /// The run has no checkpoint with a (non-NaN) value of that metric.
    case noSuchMetric(runID: String, metric: String)
    /// Epochs must be appended 0, 1, 2, ...
    case epochOutOfOrder(runID: String, expected: Int, given: Int)
    /// A run name is already used by another run.
    case nameTaken(String)
    /// A tensor's bytes do not match their recorded SHA-256.
    case corruptTensor(runID: String, epoch: Int, layer: Int, role: String)
    /// Stored data is inconsistent (missing blob, bad shape, wrong size...).
    case corrupt(runID: String, epoch: Int, detail: String)
    /// A run's or checkpoint's stored data no longer matches its digest (epoch nil: the run digest).
    case digestMismatch(runID: String, epoch: Int?, what: String)
    /// The checkpoint was pruned: its tensor bytes were released. `kept` lists the epochs the run can still load.
    case pruned(runID: String, epoch: Int, kept: [Int])
    /// The run cannot be removed while other runs fork from it.
    case hasForks(runID: String, forks: [String])
    /// A bundle was refused before anything was written; `reason` says why.
    case refusedBundle(path: String, reason: String)
    /// The caller passed data the store cannot take.
    case invalidInput(String)
    /// A retention count below its minimum (`Store.prune`).
    case invalidRetentionCount(RetentionCount, value: Int, minimum: Int)
    /// A number read from a store or a bundle lies outside what fcstore writes (see `StoreLimits`).
    case outOfRange(field: String, value: String, range: ClosedRange<Int>)
    /// `owner` no longer holds the run (its lease expired and another trainer took
    /// it over, or it was released); `current` is who holds it now, if anyone.
    case leaseLost(runID: String, owner: String, current: String?)
    /// SQLite failed.
    case sqlite(SQLiteError)
    /// PostgreSQL failed (or could not be reached); the error names the store by its URI without the password.
    case postgres(PostgresError)
    /// The operation exists only for SQLite files (bundles, VACUUM); `operation` names it.
    case sqliteOnly(operation: String, store: String)
    /// The store has a trigger fcstore's schema does not define (`name` escaped for a terminal); nothing was written.
    case plantedTrigger(name: String)
    /// Bundle export found problems in the runs to export (`first` is the first finding).
    case exportFailsVerification(count: Int, first: String)
    /// Line `line` (1-based) of the trusted-keys file `path` is not a public key.
    case invalidPublicKey(path: String, line: Int)
    /// The signing key file cannot be read (`reason`: the system's words).
    case unreadableSigningKey(path: String, reason: String)
    /// A file to be created exists already.
    case fileExists(path: String)

    public var description: String {
        switch self {
        case let .notAStore(path, reason):
            return "\(path) is not an fcstore store: \(reason)."
        case let .newerStore(path, version, supported):
            return "The store \(path) has schema version \(version), but this fcstore understands versions up to \(supported). Upgrade fcstore to open it; the file was not changed."
        case let .modifiedMigration(name):
            return "migration \(name) was previously applied but has been modified. Restore the original file in migrations/ and add a new numbered migration instead."
        case let .invalidMigration(message):
            return message
        case let .needsMigration(path, version, latest):
            return "The store \(path) has schema version \(version) and needs migrating to \(latest); open it once without read-only access."
        case let .noSuchRun(text):
            return "No run matches \"\(text)\"."
        case let .ambiguousRun(text, candidates):
            let list = candidates.map { run in
                run.name.map { "\(run.shortID) (\($0))" } ?? run.shortID
            }.joined(separator: ", ")
            return "\"\(text)\" matches \(candidates.count) runs: \(list). Give more characters of the id."
        case let .ambiguousName(text, named, others):
            let list = others.map { run in run.name.map { "\(run.shortID) (\(RunName.quoted($0)))" } ?? run.shortID }
            return "\(RunName.quoted(text)) is both the name of run \(named.shortID) and the start of the id of run\(others.count > 1 ? "s" : "") \(list.joined(separator: ", ")); nothing was chosen. Give the full id of the run you mean."
        case let .noSuchCheckpoint(runID, epoch):
            return "Run \(runID.prefix(8)) has no checkpoint at epoch \(epoch)."
        case let .noCheckpoints(runID):
            return "Run \(runID.prefix(8)) has no checkpoints yet."
        case let .noSuchMetric(runID, metric):
            return "Run \(runID.prefix(8)) has no checkpoint with a value for the metric \"\(metric)\"."
        case let .epochOutOfOrder(runID, expected, given):
            return "Run \(runID.prefix(8)) expects epoch \(expected) next, not \(given): epochs are stored consecutively from 0."
        case let .nameTaken(name):
            return "A run named \"\(name)\" already exists. Choose another name."
        case let .corruptTensor(runID, epoch, layer, role):
            return "Checkpoint \(runID.prefix(8))@\(epoch) is corrupt: layer \(layer) \(role) does not match its SHA-256."
        case let .corrupt(runID, epoch, detail):
            return "Checkpoint \(runID.prefix(8))@\(epoch) is corrupt: \(detail)."
        case let .digestMismatch(runID, epoch, what):
            let subject = epoch.map { "Checkpoint \(runID.prefix(8))@\($0)" } ?? "Run \(runID.prefix(8))"
            return "\(subject) was changed after it was written: \(what). Nothing was used."
        case let .pruned(runID, epoch, kept):
            let list = kept.isEmpty ? "none" : kept.map(String.init).joined(separator: ", ")
            return "Epoch \(epoch) of run \(runID.prefix(8)) was pruned; kept epochs: \(list)."
        case let .hasForks(runID, forks):
            return "Run \(runID.prefix(8)) has forks (\(Self.shortIDs(forks))). Detach them first (remove with force)."
        case let .refusedBundle(path, reason):
            return "The bundle \(path) was refused: \(reason). Nothing was imported."
        case let .invalidInput(message):
            return message
        case let .invalidRetentionCount(count, value, minimum):
            return "The \(count.rawValue) must be \(minimum) or more, not \(value)."
        case let .outOfRange(field, value, range):
            return "The store holds \(field) = \(value), outside \(range.lowerBound)...\(range.upperBound): fcstore did not write it."
        case let .leaseLost(runID, _, current):
            return "Run \(runID.prefix(8)) is no longer held by this trainer: its lease expired and \(current.map { "another trainer (\($0))" } ?? "no trainer") holds it now."
        case let .sqlite(error):
            return Self.sentence(for: error)
        case let .postgres(error):
            return Self.sentence(for: error, store: error.store ?? "")
        case let .plantedTrigger(name):
            return "The store has a trigger \(name) that fcstore's schema does not define; it could change what is written, so nothing was. Restore the store from a copy you trust."
        case let .exportFailsVerification(count, first):
            return "The runs cannot be exported: verification found \(count) problem(s), first \(first)."
        case let .invalidPublicKey(path, line):
            return "Line \(line) of \(path) is not a public key (expected ed25519: and 64 hex digits)."
        case let .unreadableSigningKey(path, reason):
            return "The signing key \(path) cannot be read (\(reason))."
        case let .fileExists(path):
            return "\(path) already exists."
        case let .sqliteOnly(operation, store):
            return "\(operation.prefix(1).uppercased() + operation.dropFirst()) works on SQLite store files only; \(store) is a PostgreSQL store."
        }
    }

    /// What kind of SQLite failure an error is, for wording it (the CLI names the command that helps).
    public enum SQLiteFailure: Sendable { case damaged, notADatabase, foreignSchema, other, specific }

    /// The kind of `error`, as `sentence(for:)` words it.
    public static func failure(of error: SQLiteError) -> SQLiteFailure {
        switch error.code {
        case ResultCode.corrupt: return .damaged
        case ResultCode.notADatabase: return .notADatabase
        case ResultCode.error where ["already exists", "no such table", "no such column", "no such index", "no such view", "no such trigger"]
            .contains(where: error.message.contains):
            return .foreignSchema
        case ResultCode.busy, ResultCode.locked, ResultCode.readOnly, ResultCode.full, ResultCode.ioError, ResultCode.cantOpen,
             ResultCode.permission, ResultCode.authorization:
            return .specific
        default: return .other
        }
    }

    /// An SQLite failure as a sentence naming the store and saying what to do, with
    /// SQLite's own text (and the errno behind an I/O error) in parentheses.
    static func sentence(for error: SQLiteError) -> String {
        let store = error.path.map { "the store \($0)" } ?? "the store"
        let detail = "(\(error))"
        switch error.code {
        case ResultCode.busy, ResultCode.locked:
            return "The store is busy (another process holds the write lock); try again. \(detail)"
        case ResultCode.readOnly:
            return "The store is read-only (check the permissions of the file and its folder); commands that only read it still work. \(detail)"
        case ResultCode.full:
            return "The disk holding the store is full; free some space and try again. \(detail)"
        case ResultCode.ioError:
            if error.systemErrno == ENOSPC {
                return "The disk holding the store is full; free some space and try again. \(detail)"
            }
            if error.systemErrno == EFBIG || (error.systemErrno == 0 && Self.fileSizeLimited) {
                // SQLite often reports errno 0 here (it reads errno after later calls), so a
                // limit in force is taken as the cause.
                return "The store could not grow: this process may not write files past its size limit (ulimit -f); raise the limit and try again. \(detail)"
            }
            if error.systemErrno == EDQUOT {
                return "The store's disk quota is used up; free some space or raise the quota and try again. \(detail)"
            }
            return "Reading or writing \(store) failed at the operating system (a disk I/O error); check the disk and the file, then try again. \(detail)"
        case ResultCode.cantOpen:
            return "\(store.prefix(1).uppercased() + store.dropFirst()) cannot be opened; check that its folder exists and that you may read and write both. \(detail)"
        case ResultCode.permission, ResultCode.authorization:
            return "Access to \(store) was refused; check the permissions of the file and its folder. \(detail)"
        case ResultCode.corrupt:
            return "\(store.prefix(1).uppercased() + store.dropFirst()) is damaged (SQLite found a malformed page); restore the file from a copy or a bundle. \(detail)"
        case ResultCode.notADatabase:
            return "\(error.path ?? "The file") is not an SQLite database (or is encrypted). \(detail)"
        case ResultCode.error where ["already exists", "no such table", "no such column", "no such index", "no such view", "no such trigger"]
            .contains(where: error.message.contains):
            return "\(store.prefix(1).uppercased() + store.dropFirst()) has a schema fcstore did not create (\(error.message)); use another store. \(detail)"
        default:
            return "SQLite failed on \(store); check it, then try again. \(detail)"
        }
    }
}

extension StoreError {
    /// A PostgreSQL failure as a sentence naming the store (its URI without the
    /// password) and saying what to do, with the server's SQLSTATE and message.
    static func sentence(for error: PostgresError, store: String) -> String {
        let detail = "(\(error))"
        switch error.sqlState.class {
        case "08" where error.sql == nil:
            return "Could not connect to the PostgreSQL store \(store): \(error.message)"
        case "08", "57":
            return "The connection to the PostgreSQL store \(store) was lost; try again. \(detail)"
        case "28":
            return "The PostgreSQL store \(store) refused the login; check the user and password. \(detail)"
        case "3D":
            return "The PostgreSQL database of \(store) does not exist; create it first (createdb). \(detail)"
        case "42" where error.sqlState == .insufficientPrivilege:
            return "The PostgreSQL store \(store) refused access (insufficient privilege for this command). \(detail)"
        case "42":
            return "The PostgreSQL store \(store) has a schema fcstore did not create (\(error.message)); use another database. \(detail)"
        case "53":
            return "The PostgreSQL server of \(store) is out of resources (disk, memory or connections); try again later. \(detail)"
        default:
            return "PostgreSQL failed on the store \(store); try again. \(detail)"
        }
    }
}

/// Which count of `Store.prune` a `StoreError.invalidRetentionCount` is about.
public enum RetentionCount: String, Sendable {
    case keepLast = "number of last epochs to keep"
    case keepEvery = "interval of epochs to keep"
}

extension StoreError {
    /// Runs' ids shortened to 8 characters, comma-separated.
    public static func shortIDs(_ ids: [String]) -> String {
        ids.map { String($0.prefix(8)) }.joined(separator: ", ")
    }

    /// Whether this process has a finite file size limit (RLIMIT_FSIZE, `ulimit -f`).
    static var fileSizeLimited: Bool {
        var limit = rlimit()
        return getrlimit(RLIMIT_FSIZE_ID, &limit) == 0 && limit.rlim_cur != unlimited
    }

    #if canImport(Glibc)
    private static let RLIMIT_FSIZE_ID = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
    private static let unlimited = rlim_t.max  // RLIM_INFINITY, which Swift does not import here
    #else
    private static let RLIMIT_FSIZE_ID = RLIMIT_FSIZE
    private static let unlimited = RLIM_INFINITY
    #endif
}

/// Runs `body`, turning SQLite and PostgreSQL errors into `StoreError.sqlite` and `.postgres`.
func storeErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as SQLiteError {
        throw StoreError.sqlite(error)
    } catch let error as PostgresError {
        throw StoreError.postgres(error)
    }
}


import CSQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An SQLite failure: the primary and extended result codes, SQLite's message,
/// and the SQL (or C call) that produced it.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The extended result code (the connection is opened with `SQLITE_OPEN_EXRESCODE`).
    public let extendedCode: Int32
    public let message: String
    /// The statement text, or the C function name when no statement was involved.
    public let sql: String?
    /// The operating system's errno behind an I/O error (`sqlite3_system_errno`), else 0.
    public let systemErrno: Int32
    /// The database file the connection had open (or tried to open), when known.
    public internal(set) var path: String?

    /// The primary result code (the low byte of the extended one), e.g. `SQLITE_BUSY`.
    public var code: Int32 { ResultCode.primary(extendedCode) }

    public init(code: Int32, message: String? = nil, sql: String? = nil, systemErrno: Int32 = 0) {
        self.extendedCode = code
        self.message = message ?? String(cString: sqlite3_errstr(code))
        self.sql = sql
        self.systemErrno = systemErrno
    }

    public var description: String {
        var text = "SQLite error \(extendedCode): \(message)"
        if systemErrno != 0 { text += " [\(String(cString: strerror(systemErrno)))]" }
        if let sql { text += " (while running: \(sql.trimmingForDisplay))" }
        return text
    }
}

extension String {
    /// The first line of a statement, shortened, for error messages.
    fileprivate var trimmingForDisplay: String {
        let line = split(whereSeparator: \.isNewline).first.map(String.init) ?? self
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }
}

/// A connection to one SQLite file. It owns the `sqlite3*` handle and closes
/// it in `deinit`. All C calls of the connection live in this file; those of
/// statements in `Statement.swift`, those of blobs in `Blob.swift`.
///
/// Not thread-safe: use one connection per thread (WAL lets several
/// connections, in this or other processes, read while one writes).
public final class Database {
    let handle: OpaquePointer
    public let path: String
    /// Statements kept prepared by `withCachedStatement`, by SQL text.
    private var cache: [String: Statement] = [:]
    /// At most this many statements are kept: SQL built with values in it
    /// (an `IN (...)` list) would otherwise grow the cache without end.
    public static let cacheLimit = 64

    /// Opens (or with `create`, creates) the file.
    ///
    /// Calls `sqlite3_open_v2` with `READWRITE|CREATE|EXRESCODE|NOMUTEX` or
    /// `READONLY|EXRESCODE|NOMUTEX`, then `sqlite3_busy_timeout`.
    /// - Throws: `SQLiteError` when the file cannot be opened.
    public convenience init(path: String, readOnly: Bool, busyTimeoutMilliseconds: Int32) throws {
        try self.init(path: path, flags: readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE),
                      busyTimeoutMilliseconds: busyTimeoutMilliseconds)
    }

    /// Opens the file with `sqlite3_open_v2(path, flags | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX)`,
    /// e.g. `SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW` for an untrusted file.
    /// `NOMUTEX` because a connection is used by one thread at a time (see
    /// above): SQLite then skips locking its mutex in every step and column
    /// call, about 15% of the time of a long scan.
    public init(path: String, flags openFlags: Int32, busyTimeoutMilliseconds: Int32) throws {
        let flags = openFlags | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX
        var raw: OpaquePointer?
        let rc = sqlite3_open_v2(path, &raw, flags, nil)
        guard rc == SQLITE_OK, let raw else {
            let message = raw.map { String(cString: sqlite3_errmsg($0)) }
            if let raw { sqlite3_close_v2(raw) }
            var error = SQLiteError(code: rc, message: message, sql: "open \(path)")
            error.path = path
            throw error
        }
        self.handle = raw
        self.path = path
        let timeoutRC = sqlite3_busy_timeout(raw, busyTimeoutMilliseconds)
        guard timeoutRC == SQLITE_OK else {
            sqlite3_close_v2(raw)
            throw SQLiteError(code: timeoutRC, sql: "sqlite3_busy_timeout")
        }
    }

    deinit {
        // close_v2 defers the close until every statement is finalized; statements
        // hold a strong reference to their Database (cached ones excepted, which
        // are finalized here), so there are none left.
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    /// The error for `rc` with the connection's current message.
    public func error(_ rc: Int32, sql: String?) -> SQLiteError {
        let extended = sqlite3_extended_errcode(handle)
        // The connection's code describes the last failing call; prefer it when it agrees.
        let code = ResultCode.primary(extended) == ResultCode.primary(rc) ? extended : rc
        var error = SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql,
                                systemErrno: sqlite3_system_errno(handle))
        error.path = path
        return error
    }

    /// Compiles one statement.
    /// - Throws: `SQLiteError` when it does not compile or `sql` holds a second statement.
    public func prepare(_ sql: String) throws -> Statement {
        try Statement(database: self, sql: sql, retainsDatabase: true)
    }

    /// Calls `body` with the statement for `sql`, prepared once per connection
    /// and kept: for statements run once per row of a loop. The statement is
    /// reset (its read snapshot released, its bindings cleared) after `body`.
    /// A nested use of the same SQL gets a statement of its own.
    public func withCachedStatement<T>(_ sql: String, _ body: (Statement) throws -> T) throws -> T {
        let statement: Statement
        if let cached = cache[sql], !cached.inUse {
            statement = cached
        } else if cache[sql] == nil, cache.count < Self.cacheLimit {
            statement = try Statement(database: self, sql: sql, retainsDatabase: false)
            cache[sql] = statement
        } else {
            statement = try prepare(sql)
        }
        statement.inUse = true
        defer {
            statement.inUse = false
            statement.release()
        }
        return try body(statement)
    }

    /// Runs one or more statements that return no rows of interest (`sqlite3_exec`).
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) }
            sqlite3_free(message)
            let extended = sqlite3_extended_errcode(handle)
            var error = SQLiteError(code: ResultCode.primary(extended) == ResultCode.primary(rc) ? extended : rc, message: text, sql: sql,
                                    systemErrno: sqlite3_system_errno(handle))
            error.path = path
            throw error
        }
    }

    /// Runs one statement with arguments, stepping it to completion (prepared
    /// once per connection: see `withCachedStatement`).
    public func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        try withCachedStatement(sql) { statement in
            try statement.bind(arguments)
            while try statement.step() {}
        }
    }

    /// The first column of the first row, or nil when there is no row (prepared
    /// once per connection: see `withCachedStatement`).
    public func scalar(_ sql: String, _ arguments: [SQLValue] = []) throws -> SQLValue? {
        try withCachedStatement(sql) { statement in
            try statement.bind(arguments)
            guard try statement.step() else { return nil }
            return statement.value(at: 0)
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE (`sqlite3_changes64`).
    public var changes: Int64 { sqlite3_changes64(handle) }

    /// The rowid of the last successful INSERT (`sqlite3_last_insert_rowid`).
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Whether the connection is inside an explicit transaction (`sqlite3_get_autocommit`).
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Whether the main database cannot be written, e.g. a read-write open of
    /// a file without write permission (`sqlite3_db_readonly`).
    public var isReadOnly: Bool { sqlite3_db_readonly(handle, "main") == 1 }

    // MARK: Transactions

    /// Runs `body` in a write transaction started with `BEGIN IMMEDIATE` (so the
    /// write lock is taken up front and `busy_timeout` applies), commits when it
    /// returns, and rolls back and rethrows when it throws.
    public func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try transaction(begin: "BEGIN IMMEDIATE", body)
    }

    /// Runs `body` in a read transaction (`BEGIN DEFERRED`), so all its reads see one snapshot.
    public func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try transaction(begin: "BEGIN DEFERRED", body)
    }

    private func transaction<T>(begin: String, _ body: () throws -> T) throws -> T {
        try execute(begin)
        let result: T
        do {
            result = try body()
        } catch {
            // A failed statement may already have rolled back (e.g. SQLITE_FULL).
            if isInTransaction { try? execute("ROLLBACK") }
            throw error
        }
        do {
            try execute("COMMIT")
        } catch {
            if isInTransaction { try? execute("ROLLBACK") }
            throw error
        }
        return result
    }

    // MARK: Connection settings

    /// `sqlite3_db_config` with one int argument (via the shim, since the C function is variadic).
    public func configure(_ option: Int32, _ value: Int32) throws {
        var out: Int32 = 0
        let rc = fcstore_sqlite3_db_config_int(handle, option, value, &out)
        guard rc == SQLITE_OK else { throw error(rc, sql: "sqlite3_db_config(\(option))") }
    }

    /// `sqlite3_limit`: sets a run-time limit, returning the previous value.
    @discardableResult
    public func setLimit(_ limit: Int32, _ value: Int32) -> Int32 {
        sqlite3_limit(handle, limit, value)
    }
}

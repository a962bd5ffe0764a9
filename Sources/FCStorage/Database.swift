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

    /// The primary result code (the low byte of the extended one), e.g. 5 for SQLITE_BUSY.
    public var code: Int32 { extendedCode & 0xFF }

    init(code: Int32, message: String? = nil, sql: String? = nil, systemErrno: Int32 = 0) {
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
/// statements in `Statement.swift`.
///
/// Not thread-safe: use one connection per thread (WAL lets several
/// connections, in this or other processes, read while one writes).
final class Database {
    let handle: OpaquePointer
    let path: String

    /// Opens (or with `create`, creates) the file.
    ///
    /// Calls `sqlite3_open_v2` with `READWRITE|CREATE|EXRESCODE|NOMUTEX` or
    /// `READONLY|EXRESCODE|NOMUTEX`, then `sqlite3_busy_timeout`.
    /// - Throws: `SQLiteError` when the file cannot be opened.
    convenience init(path: String, readOnly: Bool, busyTimeoutMilliseconds: Int32) throws {
        try self.init(path: path, flags: readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE),
                      busyTimeoutMilliseconds: busyTimeoutMilliseconds)
    }

    /// Opens the file with `sqlite3_open_v2(path, flags | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX)`,
    /// e.g. `SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW` for an untrusted file.
    /// `NOMUTEX` because a connection is used by one thread at a time (see
    /// above): SQLite then skips locking its mutex in every step and column
    /// call, about 15% of the time of a long scan.
    init(path: String, flags openFlags: Int32, busyTimeoutMilliseconds: Int32) throws {
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
        // hold a strong reference to their Database, so there are none left here.
        sqlite3_close_v2(handle)
    }

    /// The error for `rc` with the connection's current message.
    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        let extended = sqlite3_extended_errcode(handle)
        // The connection's code describes the last failing call; prefer it when it agrees.
        let code = (extended & 0xFF) == (rc & 0xFF) ? extended : rc
        var error = SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql,
                                systemErrno: sqlite3_system_errno(handle))
        error.path = path
        return error
    }

    /// Compiles one statement.
    func prepare(_ sql: String) throws -> Statement {
        try Statement(database: self, sql: sql)
    }

    /// Runs one or more statements that return no rows of interest (`sqlite3_exec`).
    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) }
            sqlite3_free(message)
            let extended = sqlite3_extended_errcode(handle)
            var error = SQLiteError(code: (extended & 0xFF) == (rc & 0xFF) ? extended : rc, message: text, sql: sql,
                                    systemErrno: sqlite3_system_errno(handle))
            error.path = path
            throw error
        }
    }

    /// Runs one statement with arguments, stepping it to completion.
    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        let statement = try prepare(sql)
        try statement.bind(arguments)
        while try statement.step() {}
    }

    /// The first column of the first row, or nil when there is no row.
    func scalar(_ sql: String, _ arguments: [SQLValue] = []) throws -> SQLValue? {
        let statement = try prepare(sql)
        try statement.bind(arguments)
        guard try statement.step() else { return nil }
        return statement.value(at: 0)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE (`sqlite3_changes64`).
    var changes: Int64 { sqlite3_changes64(handle) }

    /// The rowid of the last successful INSERT (`sqlite3_last_insert_rowid`).
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Whether the connection is inside an explicit transaction (`sqlite3_get_autocommit`).
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Whether the main database cannot be written, e.g. a read-write open of
    /// a file without write permission (`sqlite3_db_readonly`).
    var isReadOnly: Bool { sqlite3_db_readonly(handle, "main") == 1 }

    // MARK: Transactions

    /// Runs `body` in a write transaction started with `BEGIN IMMEDIATE` (so the
    /// write lock is taken up front and `busy_timeout` applies), commits when it
    /// returns, and rolls back and rethrows when it throws.
    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try transaction(begin: "BEGIN IMMEDIATE", body)
    }

    /// Runs `body` in a read transaction (`BEGIN DEFERRED`), so all its reads see one snapshot.
    func readTransaction<T>(_ body: () throws -> T) throws -> T {
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
    func configure(_ option: Int32, _ value: Int32) throws {
        var out: Int32 = 0
        let rc = fcstore_sqlite3_db_config_int(handle, option, value, &out)
        guard rc == SQLITE_OK else { throw error(rc, sql: "sqlite3_db_config(\(option))") }
    }

    /// `sqlite3_limit`: sets a run-time limit, returning the previous value.
    @discardableResult
    func setLimit(_ limit: Int32, _ value: Int32) -> Int32 {
        sqlite3_limit(handle, limit, value)
    }

    // MARK: Incremental blob I/O

    /// Opens `table.column` of row `rowid` for incremental I/O (`sqlite3_blob_open`).
    func openBlob(table: String, column: String, rowid: Int64, writable: Bool, schema: String = "main") throws -> BlobHandle {
        var blob: OpaquePointer?
        let rc = sqlite3_blob_open(handle, schema, table, column, rowid, writable ? 1 : 0, &blob)
        guard rc == SQLITE_OK, let blob else {
            if let blob { sqlite3_blob_close(blob) }
            throw error(rc, sql: "sqlite3_blob_open(\(table).\(column), rowid \(rowid)\(writable ? ", read-write" : ""))")
        }
        return BlobHandle(database: self, handle: blob, label: "\(table).\(column), rowid \(rowid)")
    }

    /// Calls `body` with consecutive chunks of `table.column` in row `rowid`
    /// (at most `chunkSize` bytes each, one buffer reused), so a large blob is
    /// never held in memory whole.
    /// - Returns: the blob's size in bytes.
    @discardableResult
    func streamBlob(table: String, column: String, rowid: Int64, chunkSize: Int = 1 << 22,
                    _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let blob = try openBlob(table: table, column: column, rowid: rowid, writable: false)
        let total = blob.count
        var buffer = [UInt8](repeating: 0, count: max(1, min(chunkSize, total)))
        var offset = 0
        while offset < total {
            let count = min(buffer.count, total - offset)
            try buffer.withUnsafeMutableBytes { chunk in
                let part = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<count])
                try blob.read(into: part, at: offset)
                try body(UnsafeRawBufferPointer(part))
            }
            offset += count
        }
        try blob.close()
        return total
    }

    /// Reads the whole value of `table.column` in row `rowid` into `destination`,
    /// which must be exactly as large as the blob (`sqlite3_blob_open`, `_read`, `_close`).
    /// - Returns: false when the stored blob has a different size (nothing is read).
    func readBlob(table: String, column: String, rowid: Int64, into destination: UnsafeMutableRawBufferPointer) throws -> Bool {
        var blob: OpaquePointer?
        let openRC = sqlite3_blob_open(handle, "main", table, column, rowid, 0, &blob)
        guard openRC == SQLITE_OK, let blob else {
            if let blob { sqlite3_blob_close(blob) }
            throw error(openRC, sql: "sqlite3_blob_open(\(table).\(column), rowid \(rowid))")
        }
        defer { sqlite3_blob_close(blob) }
        guard Int(sqlite3_blob_bytes(blob)) == destination.count, destination.count <= Int(Int32.max) else { return false }
        guard let base = destination.baseAddress, destination.count > 0 else { return true }
        let readRC = sqlite3_blob_read(blob, base, Int32(destination.count), 0)
        guard readRC == SQLITE_OK else { throw error(readRC, sql: "sqlite3_blob_read(\(table).\(column), rowid \(rowid))") }
        return true
    }

    /// Writes `bytes` over the whole value of `table.column` in row `rowid`, which
    /// must already have exactly that size (e.g. inserted as `zeroblob(n)`):
    /// `sqlite3_blob_open` read-write, `sqlite3_blob_write`, `sqlite3_blob_close`.
    func writeBlob(table: String, column: String, rowid: Int64, from bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count <= Int(Int32.max) else { throw SQLiteError(code: SQLITE_TOOBIG, sql: "sqlite3_blob_write") }
        var blob: OpaquePointer?
        let openRC = sqlite3_blob_open(handle, "main", table, column, rowid, 1, &blob)
        guard openRC == SQLITE_OK, let blob else {
            if let blob { sqlite3_blob_close(blob) }
            throw error(openRC, sql: "sqlite3_blob_open(\(table).\(column), rowid \(rowid), read-write)")
        }
        guard Int(sqlite3_blob_bytes(blob)) == bytes.count else {
            sqlite3_blob_close(blob)
            throw SQLiteError(code: SQLITE_MISMATCH, message: "blob size differs from the bytes to write", sql: "sqlite3_blob_write")
        }
        if let base = bytes.baseAddress, bytes.count > 0 {
            let writeRC = sqlite3_blob_write(blob, base, Int32(bytes.count), 0)
            guard writeRC == SQLITE_OK else {
                sqlite3_blob_close(blob)
                throw error(writeRC, sql: "sqlite3_blob_write(\(table).\(column), rowid \(rowid))")
            }
        }
        let closeRC = sqlite3_blob_close(blob)
        guard closeRC == SQLITE_OK else { throw error(closeRC, sql: "sqlite3_blob_close(\(table).\(column))") }
    }
}

/// An open incremental-I/O handle on one blob (`sqlite3_blob*`), closed by
/// `close()` (which reports errors) or else in `deinit`.
final class BlobHandle {
    let database: Database
    private var handle: OpaquePointer?
    let label: String
    /// The blob's size in bytes (`sqlite3_blob_bytes`).
    let count: Int

    init(database: Database, handle: OpaquePointer, label: String) {
        self.database = database
        self.handle = handle
        self.label = label
        self.count = Int(sqlite3_blob_bytes(handle))
    }

    deinit {
        if let handle { sqlite3_blob_close(handle) }
    }

    /// `sqlite3_blob_read` of `destination.count` bytes at `offset`.
    func read(into destination: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        guard let handle, let base = destination.baseAddress, destination.count > 0 else { return }
        guard offset >= 0, offset + destination.count <= count else {
            throw SQLiteError(code: SQLITE_ERROR, message: "read past the end of the blob", sql: "sqlite3_blob_read(\(label))")
        }
        let rc = sqlite3_blob_read(handle, base, Int32(destination.count), Int32(offset))
        guard rc == SQLITE_OK else { throw database.error(rc, sql: "sqlite3_blob_read(\(label))") }
    }

    /// `sqlite3_blob_write` of `bytes` at `offset` (the blob's size is fixed).
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        guard let handle, let base = bytes.baseAddress, bytes.count > 0 else { return }
        guard offset >= 0, offset + bytes.count <= count else {
            throw SQLiteError(code: SQLITE_ERROR, message: "write past the end of the blob", sql: "sqlite3_blob_write(\(label))")
        }
        let rc = sqlite3_blob_write(handle, base, Int32(bytes.count), Int32(offset))
        guard rc == SQLITE_OK else { throw database.error(rc, sql: "sqlite3_blob_write(\(label))") }
    }

    /// `sqlite3_blob_close`, reporting its error.
    func close() throws {
        guard let handle else { return }
        self.handle = nil
        let rc = sqlite3_blob_close(handle)
        guard rc == SQLITE_OK else { throw database.error(rc, sql: "sqlite3_blob_close(\(label))") }
    }
}

import CSQLite

/// SQLite result codes by name. The primary codes come from the C header; the
/// extended codes the header defines as expressions (`SQLITE_READONLY | (6<<8)`)
/// do not reach Swift, so they are spelled here once, from sqlite3.h.
public enum ResultCode {
    public static let error = SQLITE_ERROR
    public static let permission = SQLITE_PERM
    public static let busy = SQLITE_BUSY
    public static let locked = SQLITE_LOCKED
    public static let ioError = SQLITE_IOERR
    public static let full = SQLITE_FULL
    public static let authorization = SQLITE_AUTH
    public static let constraint = SQLITE_CONSTRAINT
    public static let cantOpen = SQLITE_CANTOPEN
    public static let corrupt = SQLITE_CORRUPT
    public static let notADatabase = SQLITE_NOTADB
    public static let range = SQLITE_RANGE
    public static let readOnly = SQLITE_READONLY
    /// `SQLITE_READONLY_CANTINIT` (1288): the shared-memory file of a WAL store cannot be initialized.
    public static let readOnlyCantInit: Int32 = SQLITE_READONLY | (5 << 8)
    /// `SQLITE_READONLY_DIRECTORY` (1544): the directory holding the file is not writable.
    public static let readOnlyDirectory: Int32 = SQLITE_READONLY | (6 << 8)

    /// The primary code of an extended one (its low byte).
    public static func primary(_ code: Int32) -> Int32 { code & 0xFF }
}

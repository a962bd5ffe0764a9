import CSQLite
import Foundation

/// A value bound to or read from SQLite.
public enum SQLValue: Equatable, Sendable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
    case null

    public var int64: Int64? { if case let .integer(value) = self { return value } else { return nil } }
    public var string: String? { if case let .text(value) = self { return value } else { return nil } }
    public var bytes: [UInt8]? { if case let .blob(value) = self { return value } else { return nil } }
}

/// A compiled statement. It owns the `sqlite3_stmt*` and finalizes it in
/// `deinit`; it keeps its `Database` alive so the connection closes after it
/// (a statement in the connection's cache does not: the connection owns it).
public final class Statement {
    unowned let database: Database
    private let owner: Database?
    let handle: OpaquePointer
    public let sql: String
    /// The number of `?` parameters the statement takes (`sqlite3_bind_parameter_count`).
    public let parameterCount: Int
    /// Whether `Database.withCachedStatement` has lent the statement out.
    var inUse = false

    /// `sqlite3_prepare_v2` of exactly one statement.
    /// - Throws: `SQLiteError` naming the SQL when it does not compile, or when
    ///   anything but white space, comments and `;` follows the first statement
    ///   (`sqlite3_prepare_v2` would silently ignore it).
    init(database: Database, sql: String, retainsDatabase: Bool) throws {
        var raw: OpaquePointer?
        var trailing = ""
        let rc = sql.withCString { text -> Int32 in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v2(database.handle, text, -1, &raw, &tail)
            if rc == SQLITE_OK, let tail { trailing = String(cString: tail) }
            return rc
        }
        guard rc == SQLITE_OK, let raw else {
            if let raw { sqlite3_finalize(raw) }
            throw database.error(rc == SQLITE_OK ? SQLITE_MISUSE : rc, sql: sql)
        }
        guard SQLText.isEmpty(trailing) else {
            sqlite3_finalize(raw)
            throw SQLiteError(code: SQLITE_MISUSE, message: "more than one statement: \(SQLText.firstLine(trailing))", sql: sql)
        }
        self.database = database
        self.owner = retainsDatabase ? database : nil
        self.handle = raw
        self.sql = sql
        self.parameterCount = Int(sqlite3_bind_parameter_count(raw))
    }

    deinit {
        sqlite3_finalize(handle)
    }

    // MARK: Binding (indices start at 1, as in SQLite)

    public func bind(_ value: SQLValue, at index: Int32) throws {
        let rc: Int32
        switch value {
        case let .integer(number):
            rc = sqlite3_bind_int64(handle, index, number)
        case let .real(number):
            rc = sqlite3_bind_double(handle, index, number)
        case let .text(text):
            rc = sqlite3_bind_text64(handle, index, text, UInt64(text.utf8.count), fcstore_sqlite3_transient(), UInt8(SQLITE_UTF8))
        case let .blob(bytes):
            rc = bytes.withUnsafeBytes { buffer in
                // A zero-length blob needs a non-null pointer, or SQLite binds NULL.
                sqlite3_bind_blob64(handle, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64(buffer.count), fcstore_sqlite3_transient())
            }
        case .null:
            rc = sqlite3_bind_null(handle, index)
        }
        guard rc == SQLITE_OK else { throw database.error(rc, sql: sql) }
    }

    /// Binds all parameters in order, after clearing earlier bindings and resetting.
    /// - Throws: `SQLiteError` (`SQLITE_RANGE`) when `values` are more or fewer
    ///   than the statement's parameters (`?NNN` counts up to its largest number).
    public func bind(_ values: [SQLValue]) throws {
        guard values.count == parameterCount else {
            throw SQLiteError(code: ResultCode.range,
                              message: "\(values.count) argument\(values.count == 1 ? "" : "s") for \(parameterCount) parameter\(parameterCount == 1 ? "" : "s")",
                              sql: sql)
        }
        try reset()
        for (offset, value) in values.enumerated() {
            try bind(value, at: Int32(offset + 1))
        }
    }

    /// Resets the statement so it can run again and clears its bindings.
    public func reset() throws {
        // sqlite3_reset returns the error of the last step, which was already reported.
        sqlite3_reset(handle)
        let rc = sqlite3_clear_bindings(handle)
        guard rc == SQLITE_OK else { throw database.error(rc, sql: sql) }
    }

    /// Resets the statement and clears its bindings, ignoring errors (those of
    /// the last step were reported by `step`): it then holds no read snapshot.
    func release() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: Stepping

    /// `sqlite3_step`: true when a row is available, false when done.
    @discardableResult
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(rc, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Steps through all rows, calling `row` for each.
    public func forEachRow(_ row: (Statement) throws -> Void) throws {
        while try step() { try row(self) }
    }

    // MARK: Reading columns (indices start at 0, as in SQLite)

    public var columnCount: Int32 { sqlite3_column_count(handle) }

    /// The result columns' indices by name (`sqlite3_column_name`), made on first use.
    private lazy var columnIndices: [String: Int32] = {
        var indices: [String: Int32] = [:]
        for index in 0..<columnCount {
            if let name = sqlite3_column_name(handle, index) { indices[String(cString: name)] = indices[String(cString: name)] ?? index }
        }
        return indices
    }()

    /// The index of the result column called `name` (its `AS` name, else the
    /// column's own), for reading rows by name: a mapper then does not depend
    /// on the order of a SELECT list. Naming a column the statement does not
    /// return is a programming error.
    public func column(_ name: String) -> Int32 {
        guard let index = columnIndices[name] else { preconditionFailure("no result column \(name) in: \(sql)") }
        return index
    }

    public func isNull(at index: Int32) -> Bool { sqlite3_column_type(handle, index) == SQLITE_NULL }

    public func int64(at index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }

    public func int(at index: Int32) -> Int { Int(sqlite3_column_int64(handle, index)) }

    public func double(at index: Int32) -> Double { sqlite3_column_double(handle, index) }

    public func string(at index: Int32) -> String {
        guard let text = sqlite3_column_text(handle, index) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, index))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// Whether column `index` holds exactly the UTF-8 bytes of `text`, compared
    /// in place: a scan can see where a repeated key changes without making a
    /// String for every row.
    public func text(at index: Int32, equals text: String) -> Bool {
        let count = Int(sqlite3_column_bytes(handle, index))
        guard count == text.utf8.count else { return false }
        guard count > 0, let column = sqlite3_column_text(handle, index) else { return count == 0 }
        return text.utf8.withContiguousStorageIfAvailable { memcmp($0.baseAddress!, column, count) == 0 }
            ?? text.utf8.elementsEqual(UnsafeBufferPointer(start: column, count: count))
    }

    public func optionalString(at index: Int32) -> String? {
        isNull(at: index) ? nil : string(at: index)
    }

    /// The column's value as text for a message (its first 40 characters).
    public func describedValue(at index: Int32) -> String {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER: return String(int64(at: index))
        case SQLITE_FLOAT: return String(double(at: index))
        case SQLITE_NULL: return "NULL"
        case SQLITE_TEXT: return "\"\(string(at: index).prefix(40))\""
        default: return "a blob"
        }
    }

    /// Whether the column holds an integer (`sqlite3_column_type` is `SQLITE_INTEGER`).
    public func isInteger(at index: Int32) -> Bool { sqlite3_column_type(handle, index) == SQLITE_INTEGER }

    public func optionalInt(at index: Int32) -> Int? {
        isNull(at: index) ? nil : int(at: index)
    }

    public func bytes(at index: Int32) -> [UInt8] {
        guard let pointer = sqlite3_column_blob(handle, index) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, index))
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    public func optionalBytes(at index: Int32) -> [UInt8]? {
        isNull(at: index) ? nil : bytes(at: index)
    }

    public func value(at index: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER: return .integer(int64(at: index))
        case SQLITE_FLOAT: return .real(double(at: index))
        case SQLITE_TEXT: return .text(string(at: index))
        case SQLITE_BLOB: return .blob(bytes(at: index))
        default: return .null
        }
    }
}

import FCSQLite
import FCPostgres

/// A statement of either backend, with FCSQLite's `Statement` surface. Within
/// FCStorage this type is `Statement` (it shadows FCSQLite's), so mappers such
/// as `Schema.Runs.record(_:)` read rows of both backends by column name.
final class Statement {
    enum Backend {
        case sqlite(FCSQLite.Statement)
        case postgres(PostgresStatement)
    }

    let backend: Backend
    /// Whether `Connection.withCachedStatement` has lent the statement out (PostgreSQL).
    var inUse = false

    init(_ backend: Backend) { self.backend = backend }

    var sql: String {
        switch backend {
        case let .sqlite(statement): return statement.sql
        case let .postgres(statement): return statement.sql
        }
    }

    var parameterCount: Int {
        switch backend {
        case let .sqlite(statement): return statement.parameterCount
        case let .postgres(statement): return statement.parameterCount
        }
    }

    // MARK: Binding (indices start at 1)

    func bind(_ value: SQLValue, at index: Int32) throws {
        switch backend {
        case let .sqlite(statement): try statement.bind(value, at: index)
        case let .postgres(statement): try statement.bind(value, at: index)
        }
    }

    /// Binds all parameters in order, after resetting; the count must match.
    func bind(_ values: [SQLValue]) throws {
        switch backend {
        case let .sqlite(statement): try statement.bind(values)
        case let .postgres(statement): try statement.bind(values)
        }
    }

    func reset() throws {
        switch backend {
        case let .sqlite(statement): try statement.reset()
        case let .postgres(statement): statement.reset()
        }
    }

    // MARK: Stepping

    /// True when a row is available, false when done.
    @discardableResult
    func step() throws -> Bool {
        switch backend {
        case let .sqlite(statement): return try statement.step()
        case let .postgres(statement): return try statement.step()
        }
    }

    func forEachRow(_ row: (Statement) throws -> Void) throws {
        while try step() { try row(self) }
    }

    // MARK: Reading columns (indices start at 0)

    var columnCount: Int32 {
        switch backend {
        case let .sqlite(statement): return statement.columnCount
        case let .postgres(statement): return statement.result?.columnCount ?? 0
        }
    }

    /// The index of the result column called `name`; naming a column the statement
    /// does not return is a programming error.
    func column(_ name: String) -> Int32 {
        switch backend {
        case let .sqlite(statement): return statement.column(name)
        case let .postgres(statement): return statement.column(name)
        }
    }

    func isNull(at index: Int32) -> Bool {
        switch backend {
        case let .sqlite(statement): return statement.isNull(at: index)
        case let .postgres(statement): return statement.isNull(at: index)
        }
    }

    func int64(at index: Int32) -> Int64 {
        switch backend {
        case let .sqlite(statement): return statement.int64(at: index)
        case let .postgres(statement): return statement.int64(at: index)
        }
    }

    func int(at index: Int32) -> Int { Int(int64(at: index)) }

    func double(at index: Int32) -> Double {
        switch backend {
        case let .sqlite(statement): return statement.double(at: index)
        case let .postgres(statement): return statement.double(at: index)
        }
    }

    func string(at index: Int32) -> String {
        switch backend {
        case let .sqlite(statement): return statement.string(at: index)
        case let .postgres(statement): return statement.string(at: index)
        }
    }

    /// Whether column `index` holds exactly the UTF-8 bytes of `text`, compared in place.
    func text(at index: Int32, equals text: String) -> Bool {
        switch backend {
        case let .sqlite(statement): return statement.text(at: index, equals: text)
        case let .postgres(statement): return statement.text(at: index, equals: text)
        }
    }

    func optionalString(at index: Int32) -> String? { isNull(at: index) ? nil : string(at: index) }

    func optionalInt(at index: Int32) -> Int? { isNull(at: index) ? nil : int(at: index) }

    func bytes(at index: Int32) -> [UInt8] {
        switch backend {
        case let .sqlite(statement): return statement.bytes(at: index)
        case let .postgres(statement): return statement.bytes(at: index)
        }
    }

    func optionalBytes(at index: Int32) -> [UInt8]? { isNull(at: index) ? nil : bytes(at: index) }

    /// Whether the column holds an integer (PostgreSQL: int2/int4/int8, bool).
    func isInteger(at index: Int32) -> Bool {
        switch backend {
        case let .sqlite(statement): return statement.isInteger(at: index)
        case let .postgres(statement): return statement.isInteger(at: index)
        }
    }

    /// The column's value as text for a message (its first 40 characters).
    func describedValue(at index: Int32) -> String {
        switch backend {
        case let .sqlite(statement): return statement.describedValue(at: index)
        case let .postgres(statement): return statement.describedValue(at: index)
        }
    }

    func value(at index: Int32) -> SQLValue {
        switch backend {
        case let .sqlite(statement): return statement.value(at: index)
        case let .postgres(statement): return statement.value(at: index)
        }
    }
}

/// One statement on PostgreSQL: the SQL with `?` rewritten to `$n`, the bound
/// values, and once stepped the whole result (binary), read row by row.
final class PostgresStatement {
    unowned let connection: PostgresConnection
    unowned let owner: Connection
    /// The statement as the store wrote it (with `?`).
    let sql: String
    /// The statement as the server runs it (with `$n`).
    let serverSQL: String
    let parameterCount: Int
    private var values: [SQLValue]
    private(set) var result: PostgresResult?
    private var row = -1
    private var columnIndices: [String: Int32]?

    init(connection: PostgresConnection, owner: Connection, sql: String) throws {
        self.connection = connection
        self.owner = owner
        self.sql = sql
        let rewritten = PostgresDialect.numberedParameters(sql)
        serverSQL = rewritten.sql
        parameterCount = rewritten.count
        values = Array(repeating: .null, count: rewritten.count)
    }

    func bind(_ value: SQLValue, at index: Int32) throws {
        guard index >= 1, Int(index) <= parameterCount else {
            throw PostgresError(sqlState: .clientError, message: "parameter \(index) of \(parameterCount)", sql: sql)
        }
        values[Int(index) - 1] = value
    }

    func bind(_ values: [SQLValue]) throws {
        guard values.count == parameterCount else {
            throw PostgresError(sqlState: .clientError,
                                message: "\(values.count) argument\(values.count == 1 ? "" : "s") for \(parameterCount) parameter\(parameterCount == 1 ? "" : "s")",
                                sql: sql)
        }
        reset()
        self.values = values
    }

    /// Forgets the result; the next `step` runs the statement again.
    func reset() {
        result = nil
        row = -1
    }

    func step() throws -> Bool {
        if result == nil {
            let executed = try connection.execute(serverSQL, values.map(PostgresDialect.parameter))
            owner.postgresChanges = executed.affectedRows
            result = executed
            row = -1
        }
        guard let result else { return false }
        row += 1
        return row < result.rowCount
    }

    func column(_ name: String) -> Int32 {
        if columnIndices == nil, let result {
            var indices: [String: Int32] = [:]
            for index in 0..<result.columnCount { indices[result.name(of: index)] = indices[result.name(of: index)] ?? index }
            columnIndices = indices
        }
        guard let index = columnIndices?[name] else { preconditionFailure("no result column \(name) in: \(sql)") }
        return index
    }

    private var current: (PostgresResult, Int)? {
        guard let result, row >= 0, row < result.rowCount else { return nil }
        return (result, row)
    }

    func isNull(at index: Int32) -> Bool { current.map { $0.0.isNull($0.1, index) } ?? true }
    func int64(at index: Int32) -> Int64 { current.map { $0.0.int64($0.1, index) } ?? 0 }
    func double(at index: Int32) -> Double { current.map { $0.0.double($0.1, index) } ?? 0 }
    func string(at index: Int32) -> String { current.map { $0.0.string($0.1, index) } ?? "" }
    func text(at index: Int32, equals text: String) -> Bool { current.map { $0.0.text($0.1, index, equals: text) } ?? false }

    func bytes(at index: Int32) -> [UInt8] {
        guard let (result, row) = current, !result.isNull(row, index) else { return [] }
        if result.type(of: index) == PostgresType.bytea { return Array(result.bytes(row, index)) }
        return Array(result.string(row, index).utf8)
    }

    func isInteger(at index: Int32) -> Bool {
        guard let (result, row) = current, !result.isNull(row, index) else { return false }
        return [PostgresType.int8, PostgresType.int4, PostgresType.int2, PostgresType.bool].contains(result.type(of: index))
    }

    func value(at index: Int32) -> SQLValue {
        guard let (result, row) = current, !result.isNull(row, index) else { return .null }
        switch result.type(of: index) {
        case PostgresType.int8, PostgresType.int4, PostgresType.int2, PostgresType.bool, PostgresType.oid:
            return .integer(result.int64(row, index))
        case PostgresType.float8, PostgresType.float4: return .real(result.double(row, index))
        case PostgresType.numeric:
            let text = result.string(row, index)
            return Int64(text).map(SQLValue.integer) ?? .real(result.double(row, index))
        case PostgresType.bytea: return .blob(Array(result.bytes(row, index)))
        default: return .text(result.string(row, index))
        }
    }

    func describedValue(at index: Int32) -> String {
        switch value(at: index) {
        case let .integer(number): return String(number)
        case let .real(number): return String(number)
        case .null: return "NULL"
        case let .text(text): return "\"\(text.prefix(40))\""
        case .blob: return "a blob"
        }
    }
}

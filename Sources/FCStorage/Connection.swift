import FCSQLite
import FCPostgres
import Foundation

/// The store's connection seam: one SQLite file (FCSQLite) or one PostgreSQL
/// database (FCPostgres), with FCSQLite's surface (`prepare`, `withCachedStatement`,
/// `execute`, `scalar`, read and write transactions, `changes`; statements with
/// `bind`, `step`, `forEachRow`, columns by name), so the store's SQL is written
/// once, with `?` parameters. What differs between the dialects sits here and in
/// `Dialect.swift`: transaction begin, `?` → `$n`, blob I/O, schema introspection.
final class Connection {
    enum Backend {
        case sqlite(Database)
        case postgres(PostgresConnection)
    }

    /// Replaced only by `reconnect()` (PostgreSQL).
    private(set) var backend: Backend
    /// The SQLite file's path, or the PostgreSQL URI without its password.
    let path: String
    /// Rows changed by the last statement on PostgreSQL (`PQcmdTuples`).
    var postgresChanges: Int64 = 0
    /// PostgreSQL statements lent out by `withCachedStatement`, by SQL text.
    private var postgresCache: [String: Statement] = [:]

    init(sqlite database: Database) {
        backend = .sqlite(database)
        path = database.path
    }

    init(postgres connection: PostgresConnection) {
        backend = .postgres(connection)
        path = connection.displayURI
    }

    /// The SQLite connection, for what only SQLite files have (bundles, PRAGMAs,
    /// VACUUM); nil on PostgreSQL.
    var sqlite: Database? {
        if case let .sqlite(database) = backend { return database }
        return nil
    }

    var postgres: PostgresConnection? {
        if case let .postgres(connection) = backend { return connection }
        return nil
    }

    var isPostgres: Bool { postgres != nil }

    /// PostgreSQL: replaces a lost connection by a new one to the same database (the
    /// statements cached for the old one are dropped; the server prepares them again).
    /// Call outside any transaction. SQLite: nothing to do.
    /// - Throws: `PostgresError` when the server cannot be reached.
    func reconnect() throws {
        guard case let .postgres(connection) = backend else { return }
        let fresh = try connection.reopened()
        postgresCache.removeAll()
        postgresChanges = 0
        backend = .postgres(fresh)
    }

    /// Whether `error` (a `PostgresError`, or a `StoreError.postgres`) says this
    /// connection is gone. Always false on SQLite.
    func isConnectionLoss(_ error: Error) -> Bool {
        guard let connection = postgres else { return false }
        let postgresError: PostgresError?
        switch error {
        case let error as PostgresError: postgresError = error
        case StoreError.postgres(let error): postgresError = error
        default: postgresError = nil
        }
        guard let postgresError else { return false }
        return postgresError.isConnectionLoss || !connection.isConnected
    }

    /// Compiles one statement (SQLite), or rewrites its `?` parameters to `$n` (PostgreSQL,
    /// where the server prepares it on first use, once per connection).
    func prepare(_ sql: String) throws -> Statement {
        switch backend {
        case let .sqlite(database): return Statement(.sqlite(try database.prepare(sql)))
        case let .postgres(connection): return Statement(.postgres(try PostgresStatement(connection: connection, owner: self, sql: sql)))
        }
    }

    /// As `Database.withCachedStatement`: `body` gets the statement for `sql`, kept
    /// for the next call; it is reset afterwards.
    func withCachedStatement<T>(_ sql: String, _ body: (Statement) throws -> T) throws -> T {
        switch backend {
        case let .sqlite(database):
            return try database.withCachedStatement(sql) { try body(Statement(.sqlite($0))) }
        case .postgres:
            let statement: Statement
            if let cached = postgresCache[sql], !cached.inUse {
                statement = cached
            } else {
                statement = try prepare(sql)
                if postgresCache[sql] == nil, postgresCache.count < Database.cacheLimit { postgresCache[sql] = statement }
            }
            statement.inUse = true
            defer {
                statement.inUse = false
                try? statement.reset()
            }
            return try body(statement)
        }
    }

    /// Runs one or more statements without arguments.
    func execute(_ sql: String) throws {
        switch backend {
        case let .sqlite(database): try database.execute(sql)
        case let .postgres(connection): postgresChanges = try connection.execute(sql).affectedRows
        }
    }

    /// Runs one statement with arguments to completion.
    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        switch backend {
        case let .sqlite(database): try database.execute(sql, arguments)
        case .postgres:
            try withCachedStatement(sql) { statement in
                try statement.bind(arguments)
                while try statement.step() {}
            }
        }
    }

    /// The first column of the first row, or nil when there is no row.
    func scalar(_ sql: String, _ arguments: [SQLValue] = []) throws -> SQLValue? {
        switch backend {
        case let .sqlite(database): return try database.scalar(sql, arguments)
        case .postgres:
            return try withCachedStatement(sql) { statement in
                try statement.bind(arguments)
                guard try statement.step() else { return nil }
                return statement.value(at: 0)
            }
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int64 {
        switch backend {
        case let .sqlite(database): return database.changes
        case .postgres: return postgresChanges
        }
    }

    /// The id of the last inserted row: SQLite's rowid; on PostgreSQL the last value of
    /// an identity column this session took (`lastval()`). Prefer `INSERT ... RETURNING id`.
    var lastInsertRowID: Int64 {
        switch backend {
        case let .sqlite(database): return database.lastInsertRowID
        case let .postgres(connection): return (try? connection.execute("SELECT lastval()", []).int64(0, 0)) ?? 0
        }
    }

    var isInTransaction: Bool {
        switch backend {
        case let .sqlite(database): return database.isInTransaction
        case let .postgres(connection): return connection.isInTransaction
        }
    }

    /// Whether the store cannot be written (SQLite: the file; PostgreSQL: a read-only session).
    var isReadOnly: Bool {
        switch backend {
        case let .sqlite(database): return database.isReadOnly
        case .postgres: return false
        }
    }

    // MARK: Transactions

    /// A write transaction: SQLite `BEGIN IMMEDIATE` (the write lock up front);
    /// PostgreSQL `BEGIN` (READ COMMITTED; rows are locked as they are written).
    /// Commits when `body` returns; rolls back and rethrows when it throws.
    /// On PostgreSQL a transaction the server aborted as a serialization failure or a
    /// deadlock (SQLSTATE 40001, 40P01) is rolled back and run again, up to
    /// `Connection.retries` times (the outermost transaction only: `body` must touch
    /// nothing but the store).
    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        switch backend {
        case let .sqlite(database): return try database.writeTransaction(body)
        case .postgres:
            var attempt = 0
            while true {
                do {
                    return try postgresTransaction(begin: "BEGIN", body)
                } catch let error where Connection.isRetryable(error) && attempt < Connection.retries {
                    attempt += 1
                    // A short, growing, jittered pause lets the other transaction finish.
                    usleep(UInt32.random(in: 1_000...20_000) * UInt32(attempt))
                }
            }
        }
    }

    /// How often a PostgreSQL write transaction aborted by a conflict is run again.
    static let retries = 8

    /// True for a PostgreSQL serialization failure or deadlock (SQLSTATE class 40),
    /// raw or wrapped in `StoreError.postgres`.
    static func isRetryable(_ error: Error) -> Bool {
        let postgres: PostgresError?
        switch error {
        case let error as PostgresError: postgres = error
        case let StoreError.postgres(error): postgres = error
        default: postgres = nil
        }
        guard let postgres else { return false }
        return postgres.sqlState == .serializationFailure || postgres.sqlState == .deadlockDetected
    }

    /// A read transaction whose reads all see one snapshot: SQLite `BEGIN DEFERRED`;
    /// PostgreSQL `BEGIN ISOLATION LEVEL REPEATABLE READ`.
    func readTransaction<T>(_ body: () throws -> T) throws -> T {
        switch backend {
        case let .sqlite(database): return try database.readTransaction(body)
        case .postgres: return try postgresTransaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ", body)
        }
    }

    private func postgresTransaction<T>(begin: String, _ body: () throws -> T) throws -> T {
        try execute(begin)
        let result: T
        do {
            result = try body()
        } catch {
            if isInTransaction { try? execute("ROLLBACK") }
            throw error
        }
        do {
            // A statement that failed inside `body` (its error caught there) aborted the
            // transaction; COMMIT would then roll back and report success.
            if let connection = postgres, connection.isInFailedTransaction {
                throw PostgresError(sqlState: .inFailedTransaction, message: "a statement failed inside the transaction; it was rolled back", sql: "COMMIT")
            }
            try execute("COMMIT")
        } catch {
            if isInTransaction { try? execute("ROLLBACK") }
            throw error
        }
        return result
    }
}

/// A PostgreSQL failure: the server's SQLSTATE and message, and the SQL (or
/// libpq call) that produced it. Connection failures, which the server never
/// saw, carry libpq's message and SQLSTATE 08001 (or 08006 for a connection
/// lost mid-statement).
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public let sqlState: SQLState
    /// The server's primary message (or libpq's, first line).
    public let message: String
    /// The server's detail line, when it sent one.
    public let detail: String?
    /// The statement text, or the libpq call when no statement was involved.
    public let sql: String?
    /// The database's URI without its password, when a connection produced the error.
    public internal(set) var store: String?

    public init(sqlState: SQLState, message: String, detail: String? = nil, sql: String?) {
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.sql = sql
    }

    /// Whether the error means the connection is gone, not that the statement was
    /// refused: class 08 (connection exceptions, also a failed reconnect), 57P01-57P03
    /// (the backend was terminated, the server crashed, or is not accepting connections
    /// yet). A transaction open when it came may or may not have committed.
    public var isConnectionLoss: Bool {
        sqlState.class == "08" || [SQLState.adminShutdown, .crashShutdown, .cannotConnectNow].contains(sqlState)
    }

    public var description: String {
        var text = "PostgreSQL error \(sqlState.rawValue): \(message)"
        if let sql { text += " (while running: \(PostgresError.firstLine(sql)))" }
        return text
    }

    /// The first line of a statement, shortened, for messages.
    static func firstLine(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }

    /// libpq's message text as one line: its lines joined, trailing white space dropped.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: "; ")
    }
}

/// A five-character SQLSTATE, matched by value (`error.sqlState == .uniqueViolation`)
/// or by class (`error.sqlState.class == "08"`).
public struct SQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// The class: the first two characters (08 connection, 23 integrity, 40 rollback, 42 syntax/access).
    public var `class`: String { String(rawValue.prefix(2)) }
    public var description: String { rawValue }

    public static let connectionFailure = SQLState("08006")
    public static let unableToConnect = SQLState("08001")
    public static let uniqueViolation = SQLState("23505")
    public static let foreignKeyViolation = SQLState("23503")
    public static let checkViolation = SQLState("23514")
    public static let notNullViolation = SQLState("23502")
    public static let invalidTextRepresentation = SQLState("22P02")
    public static let serializationFailure = SQLState("40001")
    public static let deadlockDetected = SQLState("40P01")
    public static let undefinedTable = SQLState("42P01")
    public static let undefinedColumn = SQLState("42703")
    public static let duplicateTable = SQLState("42P07")
    public static let insufficientPrivilege = SQLState("42501")
    public static let invalidPassword = SQLState("28P01")
    public static let invalidAuthorization = SQLState("28000")
    public static let invalidCatalogName = SQLState("3D000")
    public static let readOnlyTransaction = SQLState("25006")
    public static let inFailedTransaction = SQLState("25P02")
    public static let diskFull = SQLState("53100")
    public static let outOfMemory = SQLState("53200")
    public static let tooManyConnections = SQLState("53300")
    public static let adminShutdown = SQLState("57P01")
    public static let crashShutdown = SQLState("57P02")
    public static let cannotConnectNow = SQLState("57P03")
    public static let queryCanceled = SQLState("57014")
    /// Not a server code: a value this client could not decode, or a misuse of the API.
    public static let clientError = SQLState("XX000")
}

import Foundation

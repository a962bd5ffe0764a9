import CLibPQ
import Foundation

/// A connection to one PostgreSQL database. It owns the `PGconn*` and closes
/// it in `deinit`. All libpq calls of the connection live in this file; every
/// `PGresult` is checked where it is produced and cleared by `PostgresResult`.
///
/// Parameters and results travel in binary format. Statements run with
/// parameters are prepared once per connection and kept (by SQL text and
/// parameter types). Not thread-safe: one connection per thread.
public final class PostgresConnection {
    let handle: OpaquePointer
    /// The URI as given, password included: never show it (see `displayURI`).
    private let uri: String
    /// The URI with its password replaced by `***`, for messages.
    public let displayURI: String
    /// Prepared statement names by SQL text and parameter types.
    private var prepared: [String: String] = [:]
    private var nextStatement = 0
    /// At most this many statements stay prepared; beyond it they are deallocated
    /// (SQL built with values in it would otherwise grow the set without end).
    public static let cacheLimit = 256

    /// Connects with `PQconnectdbParams`: `uri` (a `postgresql://` or `postgres://`
    /// URI, or a `key=value` string) is expanded as libpq does, so every parameter
    /// it holds (sslmode, connect_timeout, options...) is honoured; fcstore only
    /// adds defaults the URI may override: `connect_timeout=10`,
    /// `fallback_application_name=fcstore`.
    /// - Throws: `PostgresError` (SQLSTATE 08001) with libpq's message, password removed.
    public init(uri: String, connectTimeoutSeconds: Int = 10) throws {
        self.uri = uri
        self.displayURI = ConnectionURI.redacted(uri)
        let keywords = ["connect_timeout", "fallback_application_name", "dbname"]
        let values = [String(connectTimeoutSeconds), "fcstore", uri]
        let connection = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(sqlState: .outOfMemory, message: "libpq could not allocate a connection", sql: "PQconnectdbParams")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = PQerrorMessage(connection).map { String(cString: $0) } ?? "unknown error"
            PQfinish(connection)
            var error = PostgresError(sqlState: .unableToConnect,
                                      message: ConnectionURI.scrub(PostgresError.oneLine(message), uri: uri), sql: nil)
            error.store = displayURI
            throw error
        }
        handle = connection
        fcstore_pq_silence_notices(connection)
    }

    deinit { PQfinish(handle) }

    /// A new connection to the same database, with the same URI (password included):
    /// for a client that lost this one (`isConnected` false, `PostgresError.isConnectionLoss`).
    /// - Throws: as `init(uri:)`.
    public func reopened() throws -> PostgresConnection {
        try PostgresConnection(uri: uri)
    }

    /// Whether the connection is still up (`PQstatus` is `CONNECTION_OK`): false once the
    /// server closed it (a terminated backend, a restart) or the network dropped it.
    public var isConnected: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The server's version number, e.g. 150018 (`PQserverVersion`).
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// Whether the open transaction has failed (only ROLLBACK is accepted).
    public var isInFailedTransaction: Bool { PQtransactionStatus(handle) == PQTRANS_INERROR }

    /// Whether a transaction is open (idle in, or failed in, a transaction block).
    public var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// The error for a failed (or missing) result; clears it.
    private func error(_ result: OpaquePointer?, sql: String) -> PostgresError {
        defer { if let result { PQclear(result) } }
        func field(_ code: UInt8) -> String? {
            guard let result, let value = PQresultErrorField(result, Int32(code)) else { return nil }
            return String(cString: value)
        }
        let connectionLost = PQstatus(handle) != CONNECTION_OK
        let state = field(UInt8(ascii: "C")).map(SQLState.init(rawValue:)) ?? (connectionLost ? .connectionFailure : .clientError)
        let message = field(UInt8(ascii: "M"))
            ?? PostgresError.oneLine(PQerrorMessage(handle).map { String(cString: $0) } ?? "unknown error")
        var error = PostgresError(sqlState: state, message: ConnectionURI.scrub(message, uri: uri),
                                  detail: field(UInt8(ascii: "D")), sql: sql)
        error.store = displayURI
        return error
    }

    /// Checks a result: rows or a completed command; throws otherwise.
    private func check(_ result: OpaquePointer?, sql: String) throws -> PostgresResult {
        guard let result else { throw error(nil, sql: sql) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(handle: result)
        default:
            throw error(result, sql: sql)
        }
    }

    /// Runs one or more statements without parameters (`PQexec`, text protocol):
    /// DDL, `BEGIN`, `COMMIT`, migrations.
    @discardableResult
    public func execute(_ sql: String) throws -> PostgresResult {
        try check(PQexec(handle, sql), sql: sql)
    }

    /// Runs one statement with `parameters` (binary), returning its rows in
    /// binary format: `PQprepare` once per SQL text and parameter types, then
    /// `PQexecPrepared` with `paramFormats` and `resultFormat` 1.
    public func execute(_ sql: String, _ parameters: [PostgresValue]) throws -> PostgresResult {
        let types = parameters.map(\.typeOID)
        let name = try preparedName(sql, types: types)
        return try withBinaryParameters(parameters) { values, lengths, formats in
            try check(PQexecPrepared(handle, name, Int32(parameters.count), values, lengths, formats, 1), sql: sql)
        }
    }

    private func preparedName(_ sql: String, types: [UInt32]) throws -> String {
        let key = types.map(String.init).joined(separator: ",") + "\u{0}" + sql
        if let name = prepared[key] { return name }
        if prepared.count >= Self.cacheLimit {
            try execute("DEALLOCATE ALL")
            prepared.removeAll()
        }
        nextStatement += 1
        let name = "fcstore_\(nextStatement)"
        let result = types.withUnsafeBufferPointer { typePointer in
            PQprepare(handle, name, sql, Int32(types.count), typePointer.baseAddress)
        }
        _ = try check(result, sql: sql)
        prepared[key] = name
        return name
    }

    /// Runs `sql`, a `COPY ... FROM STDIN (FORMAT binary)`, sending `rows` in
    /// PostgreSQL's binary copy format with `PQputCopyData` (in chunks of about
    /// 1 MiB), then `PQputCopyEnd`; returns the rows the server copied. Each row
    /// holds the values of the COPY's columns in order (`.int8`, `.float8`, `.text`,
    /// `.bytea`, `.byteaBuffer`, `.null`). A failure leaves the connection ready
    /// (inside a transaction, that transaction failed).
    /// - Throws: `PostgresError`.
    @discardableResult
    public func copyBinary(_ sql: String, rows: [[PostgresValue]]) throws -> Int64 {
        let start = PQexec(handle, sql)
        guard let start, PQresultStatus(start) == PGRES_COPY_IN else { throw error(start, sql: sql) }
        PQclear(start)
        var buffer = PostgresCopyEncoder()
        var failure: PostgresError?
        func flush() {
            guard failure == nil, !buffer.bytes.isEmpty else { return }
            let sent = buffer.bytes.withUnsafeBufferPointer { pointer in
                pointer.baseAddress.map { $0.withMemoryRebound(to: CChar.self, capacity: pointer.count) {
                    PQputCopyData(handle, $0, Int32(pointer.count))
                } } ?? 1
            }
            if sent != 1 { failure = error(nil, sql: sql) }
            buffer.bytes.removeAll(keepingCapacity: true)
        }
        buffer.header()
        for row in rows {
            do {
                try buffer.append(row)
            } catch let problem as PostgresError {
                failure = problem
                break
            }
            if buffer.bytes.count >= 1 << 20 { flush() }
            if failure != nil { break }
        }
        buffer.trailer()
        flush()
        // Ending with an error message makes the server abort the COPY.
        _ = PQputCopyEnd(handle, failure == nil ? nil : "fcstore: the copy was abandoned")
        var firstError: PostgresError?
        var copied: Int64 = 0
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                copied = PQcmdTuples(result).map { Int64(String(cString: $0)) ?? 0 } ?? 0
                PQclear(result)
            } else {
                let problem = error(result, sql: sql)
                firstError = firstError ?? problem
            }
        }
        if let failure { throw failure }
        if let firstError { throw firstError }
        return copied
    }

    /// Forgets the prepared statements (after the server lost them, e.g. a reconnect).
    public func forgetPreparedStatements() { prepared.removeAll() }

    /// Calls `body` with libpq's parameter arrays: value pointers, lengths and
    /// formats (all 1, binary). Copied values live until `body` returns; a
    /// `.byteaBuffer` is passed as its own pointer.
    private func withBinaryParameters<T>(_ parameters: [PostgresValue],
                                         _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) throws -> T) throws -> T {
        var storage: [UnsafeMutableRawPointer] = []
        defer { storage.forEach { $0.deallocate() } }
        var values: [UnsafePointer<CChar>?] = []
        var lengths: [Int32] = []
        func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafePointer<CChar>? {
            let memory = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 8)
            if let base = bytes.baseAddress, bytes.count > 0 { memory.copyMemory(from: base, byteCount: bytes.count) }
            storage.append(memory)
            return UnsafePointer(memory.assumingMemoryBound(to: CChar.self))
        }
        for parameter in parameters {
            switch parameter {
            case .int8(let value):
                var bigEndian = UInt64(bitPattern: value).bigEndian
                values.append(withUnsafeBytes(of: &bigEndian, copy))
                lengths.append(8)
            case .float8(let value):
                var bigEndian = value.bitPattern.bigEndian
                values.append(withUnsafeBytes(of: &bigEndian, copy))
                lengths.append(8)
            case .text(let text):
                var utf8 = Array(text.utf8)
                values.append(utf8.withUnsafeBytes(copy))
                lengths.append(Int32(utf8.count))
                utf8.removeAll()
            case .bytea(let bytes):
                values.append(bytes.withUnsafeBytes(copy))
                lengths.append(Int32(bytes.count))
            case .byteaBuffer(let buffer):
                guard buffer.count <= Int(Int32.max) else {
                    throw PostgresError(sqlState: .clientError, message: "a bytea parameter of \(buffer.count) bytes is over libpq's limit", sql: nil)
                }
                // A zero-length value still needs a non-null pointer, or libpq sends NULL.
                values.append(buffer.count > 0 ? buffer.baseAddress.map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) } : copy(buffer))
                lengths.append(Int32(buffer.count))
            case .null:
                values.append(nil)
                lengths.append(0)
            }
        }
        let formats = [Int32](repeating: 1, count: parameters.count)
        return try values.withUnsafeBufferPointer { valuePointer in
            try lengths.withUnsafeBufferPointer { lengthPointer in
                try formats.withUnsafeBufferPointer { formatPointer in
                    try body(valuePointer.baseAddress, lengthPointer.baseAddress, formatPointer.baseAddress)
                }
            }
        }
    }
}

/// Calls `body` with a NULL-terminated array of C strings.
private func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

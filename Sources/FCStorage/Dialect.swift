import FCSQLite
import FCPostgres
import Foundation

/// Where the two dialects differ, in one place: parameters, blob I/O, JSON
/// checks and schema introspection. Everything else the store writes is SQL
/// both run (`ON CONFLICT`, `RETURNING`, `coalesce`, `substr`, `count`...).
enum PostgresDialect {
    /// `sql` with SQLite's parameters rewritten for PostgreSQL: `?NNN` → `$NNN`,
    /// `?` → the next number after the largest so far (as SQLite numbers them).
    /// Quoted strings, quoted identifiers and comments are left as they are.
    static func numberedParameters(_ sql: String) -> (sql: String, count: Int) {
        let bytes = Array(sql.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 8)
        var largest = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                // A quoted string or identifier; a doubled quote stays inside it.
                output.append(byte)
                index += 1
                while index < bytes.count {
                    output.append(bytes[index])
                    if bytes[index] == byte {
                        if index + 1 < bytes.count, bytes[index + 1] == byte {
                            output.append(bytes[index + 1])
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    index += 1
                }
            case UInt8(ascii: "-") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "-"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") {
                    output.append(bytes[index])
                    index += 1
                }
            case UInt8(ascii: "/") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "*"):
                let start = index
                index += 2
                while index < bytes.count, !(bytes[index] == UInt8(ascii: "*") && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "/")) {
                    index += 1
                }
                index = min(bytes.count, index + 2)
                output.append(contentsOf: bytes[start..<index])
            case UInt8(ascii: "?"):
                index += 1
                var digits = 0
                var number = 0
                while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                    number = number * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                    digits += 1
                    index += 1
                }
                if digits == 0 { number = largest + 1 }
                largest = max(largest, number)
                output.append(contentsOf: Array("$\(number)".utf8))
            default:
                output.append(byte)
                index += 1
            }
        }
        return (String(decoding: output, as: UTF8.self), largest)
    }

    /// A store value as a binary PostgreSQL parameter.
    static func parameter(_ value: SQLValue) -> PostgresValue {
        switch value {
        case let .integer(number): return .int8(number)
        case let .real(number): return .float8(number)
        case let .text(text): return .text(text)
        case let .blob(bytes): return .bytea(bytes)
        case .null: return .null
        }
    }
}

extension Connection {
    /// Whether `text` is valid JSON as the store's `config` column requires:
    /// SQLite `json_valid`; PostgreSQL a cast to `jsonb` under a savepoint (a
    /// failed cast would otherwise abort the surrounding transaction).
    func isValidJSON(_ text: String) throws -> Bool {
        switch backend {
        case .sqlite:
            return try scalar("SELECT json_valid(?)", [.text(text)])?.int64 == 1
        case let .postgres(connection):
            let inTransaction = isInTransaction
            try execute(inTransaction ? "SAVEPOINT fcstore_json" : "BEGIN")
            do {
                _ = try connection.execute("SELECT $1::jsonb", [.text(text)])
                try execute(inTransaction ? "RELEASE SAVEPOINT fcstore_json" : "COMMIT")
                return true
            } catch let error as PostgresError where error.sqlState.class == "22" {
                try execute(inTransaction ? "ROLLBACK TO SAVEPOINT fcstore_json; RELEASE SAVEPOINT fcstore_json" : "ROLLBACK")
                return false
            }
        }
    }

    /// Stores `bytes` as the blob `hash` unless a blob with that hash exists;
    /// call inside a write transaction.
    /// SQLite: `INSERT ... zeroblob(n)` then `sqlite3_blob_write` (no record-sized
    /// copy); PostgreSQL: `INSERT ... ON CONFLICT (hash) DO NOTHING` with the bytes
    /// as a binary `bytea` parameter sent straight from `bytes`.
    /// - Returns: true when the blob was inserted, false when it was already there.
    @discardableResult
    func insertBlob(hash: [UInt8], bytes: UnsafeRawBufferPointer) throws -> Bool {
        switch backend {
        case let .sqlite(database):
            let present = try withCachedStatement("SELECT 1 FROM blobs WHERE hash = ?") { find in
                try find.bind([.blob(hash)])
                return try find.step()
            }
            guard !present else { return false }
            try database.execute("INSERT INTO blobs (hash, size, data) VALUES (?1, ?2, zeroblob(?2))",
                                 [.blob(hash), .integer(Int64(bytes.count))])
            try database.writeBlob(table: "blobs", column: "data", rowid: database.lastInsertRowID, from: bytes)
            return true
        case let .postgres(connection):
            let result = try connection.execute(
                "INSERT INTO blobs (hash, size, data) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
                [.bytea(hash), .int8(Int64(bytes.count)), .byteaBuffer(bytes)])
            return result.affectedRows == 1
        }
    }

    /// Stores blobs (hash and checked bytes) the store may lack; call inside a write
    /// transaction. SQLite: `insertBlob` each. PostgreSQL: one binary `COPY` of all of
    /// them (the batch the push planned as missing); when one arrived meanwhile (a
    /// unique violation), the copy is rolled back to a savepoint and each is inserted
    /// with `ON CONFLICT DO NOTHING` instead.
    func insertBlobs(_ blobs: [(hash: [UInt8], bytes: [UInt8])]) throws {
        guard case let .postgres(connection) = backend, blobs.count > 1 else {
            for blob in blobs { try blob.bytes.withUnsafeBytes { _ = try insertBlob(hash: blob.hash, bytes: $0) } }
            return
        }
        try connection.execute("SAVEPOINT fcstore_blobs")
        do {
            try connection.copyBinary("COPY blobs (hash, size, data) FROM STDIN (FORMAT binary)",
                                      rows: blobs.map { [.bytea($0.hash), .int8(Int64($0.bytes.count)), .bytea($0.bytes)] })
            try connection.execute("RELEASE SAVEPOINT fcstore_blobs")
        } catch let error as PostgresError where error.sqlState == .uniqueViolation {
            try connection.execute("ROLLBACK TO SAVEPOINT fcstore_blobs")
            for blob in blobs { try blob.bytes.withUnsafeBytes { _ = try insertBlob(hash: blob.hash, bytes: $0) } }
        }
    }

    /// Reads the whole blob of row `id` into `destination`, which must be exactly as large.
    /// - Returns: false when the stored blob has a different size (nothing is read).
    func readBlob(id: Int64, into destination: UnsafeMutableRawBufferPointer) throws -> Bool {
        switch backend {
        case let .sqlite(database):
            return try database.readBlob(table: "blobs", column: "data", rowid: id, into: destination)
        case let .postgres(connection):
            let result = try connection.execute("SELECT data FROM blobs WHERE id = $1", [.int8(id)])
            guard result.rowCount == 1, !result.isNull(0, 0) else { return destination.count == 0 && result.rowCount == 1 }
            let bytes = result.bytes(0, 0)
            guard bytes.count == destination.count else { return false }
            if let base = bytes.baseAddress, let target = destination.baseAddress, bytes.count > 0 {
                target.copyMemory(from: base, byteCount: bytes.count)
            }
            return true
        }
    }

    /// Calls `body` with consecutive chunks (at most `chunkSize` bytes) of the blob of row `id`.
    /// SQLite: `sqlite3_blob_read`; PostgreSQL: `substring(data FROM .. FOR ..)` per chunk
    /// (cheap: the column is stored uncompressed, `STORAGE EXTERNAL`).
    /// - Returns: the blob's size in bytes.
    @discardableResult
    func streamBlob(id: Int64, chunkSize: Int = 1 << 22, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        switch backend {
        case let .sqlite(database):
            return try database.streamBlob(table: "blobs", column: "data", rowid: id, chunkSize: chunkSize, body)
        case let .postgres(connection):
            let size = try connection.execute("SELECT coalesce(octet_length(data), 0) FROM blobs WHERE id = $1", [.int8(id)])
            guard size.rowCount == 1 else { return 0 }
            let total = Int(size.int64(0, 0))
            var offset = 0
            while offset < total {
                let count = min(chunkSize, total - offset)
                let chunk = try connection.execute("SELECT substring(data FROM $2::integer FOR $3::integer) FROM blobs WHERE id = $1",
                                                   [.int8(id), .int8(Int64(offset + 1)), .int8(Int64(count))])
                guard chunk.rowCount == 1 else { break }
                try body(chunk.bytes(0, 0))
                offset += count
            }
            return total
        }
    }

    /// The SQL expression for a blob column's length in bytes (`length` reads only
    /// SQLite's record header; PostgreSQL's `octet_length` the varlena header).
    func blobLength(_ column: String) -> String {
        isPostgres ? "octet_length(\(column))" : "length(\(column))"
    }

    /// Whether the store has a table called `name`.
    func hasTable(_ name: String) throws -> Bool {
        switch backend {
        case .sqlite:
            return try scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", [.text(name)])?.int64 ?? 0 > 0
        case .postgres:
            return try scalar("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = ?",
                              [.text(name)])?.int64 ?? 0 > 0
        }
    }

    /// The names of triggers on the store's tables, sorted (PostgreSQL: user triggers only,
    /// not those that implement foreign keys).
    func triggerNames() throws -> [String] {
        var names: [String] = []
        let sql = isPostgres
            ? """
              SELECT t.tgname AS name FROM pg_catalog.pg_trigger AS t
              JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
              JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
              WHERE NOT t.tgisinternal AND n.nspname = current_schema() ORDER BY 1
              """
            : "SELECT name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name"
        try prepare(sql).forEachRow { names.append($0.string(at: $0.column("name"))) }
        return names
    }
}

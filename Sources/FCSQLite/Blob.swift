import CSQLite

/// Incremental blob I/O: one handle type (`Blob`) holds every `sqlite3_blob_*`
/// call; reading a whole blob, streaming it in chunks and writing it are built on it.
extension Database {
    /// Opens `table.column` of row `rowid` for incremental I/O (`sqlite3_blob_open`).
    public func openBlob(table: String, column: String, rowid: Int64, writable: Bool, schema: String = "main") throws -> Blob {
        var blob: OpaquePointer?
        let rc = sqlite3_blob_open(handle, schema, table, column, rowid, writable ? 1 : 0, &blob)
        guard rc == SQLITE_OK, let blob else {
            if let blob { sqlite3_blob_close(blob) }
            throw error(rc, sql: "sqlite3_blob_open(\(table).\(column), rowid \(rowid)\(writable ? ", read-write" : ""))")
        }
        return Blob(database: self, handle: blob, label: "\(table).\(column), rowid \(rowid)")
    }

    /// Calls `body` with consecutive chunks of `table.column` in row `rowid`
    /// (at most `chunkSize` bytes each, one buffer reused), so a large blob is
    /// never held in memory whole.
    /// - Returns: the blob's size in bytes.
    @discardableResult
    public func streamBlob(table: String, column: String, rowid: Int64, chunkSize: Int = 1 << 22,
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
    /// which must be exactly as large as the blob.
    /// - Returns: false when the stored blob has a different size (nothing is read).
    public func readBlob(table: String, column: String, rowid: Int64, into destination: UnsafeMutableRawBufferPointer) throws -> Bool {
        let blob = try openBlob(table: table, column: column, rowid: rowid, writable: false)
        guard blob.count == destination.count else { return false }
        try blob.read(into: destination, at: 0)
        try blob.close()
        return true
    }

    /// Writes `bytes` over the whole value of `table.column` in row `rowid`, which
    /// must already have exactly that size (e.g. inserted as `zeroblob(n)`).
    public func writeBlob(table: String, column: String, rowid: Int64, from bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count <= Int(Int32.max) else { throw SQLiteError(code: SQLITE_TOOBIG, sql: "sqlite3_blob_write") }
        let blob = try openBlob(table: table, column: column, rowid: rowid, writable: true)
        guard blob.count == bytes.count else {
            throw SQLiteError(code: SQLITE_MISMATCH, message: "blob size differs from the bytes to write", sql: "sqlite3_blob_write")
        }
        try blob.write(bytes, at: 0)
        try blob.close()
    }
}

/// An open incremental-I/O handle on one blob (`sqlite3_blob*`), closed by
/// `close()` (which reports errors) or else in `deinit`.
public final class Blob {
    let database: Database
    private var handle: OpaquePointer?
    let label: String
    /// The blob's size in bytes (`sqlite3_blob_bytes`).
    public let count: Int

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
    public func read(into destination: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        guard let handle, let base = destination.baseAddress, destination.count > 0 else { return }
        guard offset >= 0, offset + destination.count <= count else {
            throw SQLiteError(code: SQLITE_ERROR, message: "read past the end of the blob", sql: "sqlite3_blob_read(\(label))")
        }
        let rc = sqlite3_blob_read(handle, base, Int32(destination.count), Int32(offset))
        guard rc == SQLITE_OK else { throw database.error(rc, sql: "sqlite3_blob_read(\(label))") }
    }

    /// `sqlite3_blob_write` of `bytes` at `offset` (the blob's size is fixed).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        guard let handle, let base = bytes.baseAddress, bytes.count > 0 else { return }
        guard offset >= 0, offset + bytes.count <= count else {
            throw SQLiteError(code: SQLITE_ERROR, message: "write past the end of the blob", sql: "sqlite3_blob_write(\(label))")
        }
        let rc = sqlite3_blob_write(handle, base, Int32(bytes.count), Int32(offset))
        guard rc == SQLITE_OK else { throw database.error(rc, sql: "sqlite3_blob_write(\(label))") }
    }

    /// `sqlite3_blob_close`, reporting its error.
    public func close() throws {
        guard let handle else { return }
        self.handle = nil
        let rc = sqlite3_blob_close(handle)
        guard rc == SQLITE_OK else { throw database.error(rc, sql: "sqlite3_blob_close(\(label))") }
    }
}

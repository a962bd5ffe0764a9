/// PostgreSQL's binary COPY format (the `PGCOPY` header, then per row a 16-bit
/// field count and per field a 32-bit length, -1 for NULL, and the value in its
/// binary send format; a -1 field count ends the data), built into `bytes`.
struct PostgresCopyEncoder {
    var bytes: [UInt8] = []

    mutating func header() {
        bytes += Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]
        int32(0)  // flags
        int32(0)  // header extension length
    }

    mutating func trailer() { int16(-1) }

    mutating func append(_ row: [PostgresValue]) throws {
        guard row.count <= Int(Int16.max) else {
            throw PostgresError(sqlState: .clientError, message: "a COPY row of \(row.count) fields is over the format's limit", sql: nil)
        }
        int16(Int16(row.count))
        for value in row {
            switch value {
            case .null: int32(-1)
            case .int8(let value):
                int32(8)
                bytes.append(contentsOf: withUnsafeBytes(of: UInt64(bitPattern: value).bigEndian, Array.init))
            case .float8(let value):
                int32(8)
                bytes.append(contentsOf: withUnsafeBytes(of: value.bitPattern.bigEndian, Array.init))
            case .text(let text):
                let utf8 = Array(text.utf8)
                try length(utf8.count)
                bytes += utf8
            case .bytea(let data):
                try length(data.count)
                bytes += data
            case .byteaBuffer(let buffer):
                try length(buffer.count)
                bytes.append(contentsOf: buffer)
            }
        }
    }

    private mutating func length(_ count: Int) throws {
        guard count <= Int(Int32.max) else {
            throw PostgresError(sqlState: .clientError, message: "a COPY value of \(count) bytes is over the format's limit", sql: nil)
        }
        int32(Int32(count))
    }

    private mutating func int16(_ value: Int16) {
        bytes.append(contentsOf: withUnsafeBytes(of: UInt16(bitPattern: value).bigEndian, Array.init))
    }

    private mutating func int32(_ value: Int32) {
        bytes.append(contentsOf: withUnsafeBytes(of: UInt32(bitPattern: value).bigEndian, Array.init))
    }
}

import CLibPQ

/// The rows of one statement, in binary format. It owns the `PGresult*` and
/// clears it in `deinit`. Rows and columns are numbered from 0.
public final class PostgresResult {
    let handle: OpaquePointer
    /// Rows in the result (`PQntuples`).
    public let rowCount: Int
    /// Result columns (`PQnfields`).
    public let columnCount: Int32
    /// Rows changed by an INSERT, UPDATE or DELETE (`PQcmdTuples`), else 0.
    public let affectedRows: Int64

    init(handle: OpaquePointer) {
        self.handle = handle
        rowCount = Int(PQntuples(handle))
        columnCount = PQnfields(handle)
        affectedRows = PQcmdTuples(handle).map { Int64(String(cString: $0)) ?? 0 } ?? 0
    }

    deinit { PQclear(handle) }

    /// The name of result column `column` (`PQfname`).
    public func name(of column: Int32) -> String {
        PQfname(handle, column).map { String(cString: $0) } ?? ""
    }

    /// The type OID of result column `column` (`PQftype`).
    public func type(of column: Int32) -> UInt32 { PQftype(handle, column) }

    public func isNull(_ row: Int, _ column: Int32) -> Bool { PQgetisnull(handle, Int32(row), column) == 1 }

    /// The value's bytes in binary format, valid while the result lives.
    public func bytes(_ row: Int, _ column: Int32) -> UnsafeRawBufferPointer {
        let count = Int(PQgetlength(handle, Int32(row), column))
        guard count > 0, let pointer = PQgetvalue(handle, Int32(row), column) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: count)
    }

    /// An integer column (int2, int4, int8, bool, oid, numeric without fraction,
    /// or text holding a number) as Int64; 0 for NULL or another type.
    public func int64(_ row: Int, _ column: Int32) -> Int64 {
        guard !isNull(row, column) else { return 0 }
        let raw = bytes(row, column)
        switch type(of: column) {
        case PostgresType.int8: return raw.count == 8 ? Int64(bitPattern: Binary.uint64(raw)) : 0
        case PostgresType.int4: return raw.count == 4 ? Int64(Int32(bitPattern: Binary.uint32(raw))) : 0
        case PostgresType.oid: return raw.count == 4 ? Int64(Binary.uint32(raw)) : 0
        case PostgresType.int2: return raw.count == 2 ? Int64(Int16(bitPattern: Binary.uint16(raw))) : 0
        case PostgresType.bool: return raw.first == 1 ? 1 : 0
        case PostgresType.numeric: return Binary.numeric(raw).map { $0.int64 ?? Int64($0.double.rounded(.towardZero)) } ?? 0
        case PostgresType.float8, PostgresType.float4:
            let value = double(row, column)
            return value.isFinite && abs(value) < 9.2e18 ? Int64(value) : 0
        default: return Int64(string(row, column).trimmingCharacters(in: .whitespaces)) ?? 0
        }
    }

    /// A number column (float8, float4, any integer, numeric) as Double; 0 for NULL.
    public func double(_ row: Int, _ column: Int32) -> Double {
        guard !isNull(row, column) else { return 0 }
        let raw = bytes(row, column)
        switch type(of: column) {
        case PostgresType.float8: return raw.count == 8 ? Double(bitPattern: Binary.uint64(raw)) : 0
        case PostgresType.float4: return raw.count == 4 ? Double(Float(bitPattern: Binary.uint32(raw))) : 0
        case PostgresType.numeric: return Binary.numeric(raw)?.double ?? 0
        case PostgresType.int8, PostgresType.int4, PostgresType.int2, PostgresType.bool, PostgresType.oid:
            return Double(int64(row, column))
        default: return Double(string(row, column).trimmingCharacters(in: .whitespaces)) ?? 0
        }
    }

    /// A column as text: text-like types as their UTF-8 bytes, numbers written
    /// out, bytea as its bytes decoded as UTF-8 (as SQLite does); "" for NULL.
    public func string(_ row: Int, _ column: Int32) -> String {
        guard !isNull(row, column) else { return "" }
        switch type(of: column) {
        case PostgresType.int8, PostgresType.int4, PostgresType.int2, PostgresType.oid, PostgresType.bool:
            return String(int64(row, column))
        case PostgresType.float8, PostgresType.float4: return String(double(row, column))
        case PostgresType.numeric: return Binary.numeric(raw: bytes(row, column))
        case PostgresType.jsonb:
            let raw = bytes(row, column)  // version byte 1, then the JSON text
            return String(decoding: raw.dropFirst(), as: UTF8.self)
        default: return String(decoding: bytes(row, column), as: UTF8.self)
        }
    }

    /// Whether the column's value is exactly the UTF-8 bytes of `text`, compared in place.
    public func text(_ row: Int, _ column: Int32, equals text: String) -> Bool {
        let raw = bytes(row, column)
        guard raw.count == text.utf8.count else { return false }
        return text.utf8.elementsEqual(raw)
    }
}

/// Binary wire formats (big-endian) of the types fcstore reads.
enum Binary {
    static func uint16(_ raw: UnsafeRawBufferPointer, at offset: Int = 0) -> UInt16 {
        UInt16(raw[offset]) << 8 | UInt16(raw[offset + 1])
    }

    static func uint32(_ raw: UnsafeRawBufferPointer, at offset: Int = 0) -> UInt32 {
        var value: UInt32 = 0
        for index in offset..<(offset + 4) { value = value << 8 | UInt32(raw[index]) }
        return value
    }

    static func uint64(_ raw: UnsafeRawBufferPointer, at offset: Int = 0) -> UInt64 {
        var value: UInt64 = 0
        for index in offset..<(offset + 8) { value = value << 8 | UInt64(raw[index]) }
        return value
    }

    /// A decoded `numeric`: exact as Int64 when it is an integer that fits, and as Double.
    struct Numeric {
        var int64: Int64?
        var double: Double
    }

    /// `numeric`'s binary form: ndigits, weight, sign, dscale (int16 each), then
    /// ndigits base-10000 digits; value = Σ digit[i] · 10000^(weight − i).
    static func numeric(_ raw: UnsafeRawBufferPointer) -> Numeric? {
        guard raw.count >= 8 else { return nil }
        let count = Int(uint16(raw, at: 0))
        let weight = Int(Int16(bitPattern: uint16(raw, at: 2)))
        let sign = uint16(raw, at: 4)
        guard raw.count >= 8 + 2 * count else { return nil }
        if sign == 0xC000 { return Numeric(int64: nil, double: .nan) }
        var double = 0.0
        var exact: Int64? = 0
        for index in 0..<count {
            let digit = Int64(uint16(raw, at: 8 + 2 * index))
            let power = weight - index
            double += Double(digit) * pow(10_000, Double(power))
            if power < 0 {
                if digit != 0 { exact = nil }
            } else if let value = exact {
                var scaled: Int64? = digit
                for _ in 0..<power {
                    guard let current = scaled else { break }
                    let (product, overflow) = current.multipliedReportingOverflow(by: 10_000)
                    scaled = overflow ? nil : product
                }
                if let scaled {
                    let (sum, overflow) = value.addingReportingOverflow(scaled)
                    exact = overflow ? nil : sum
                } else {
                    exact = nil
                }
            }
        }
        if sign == 0x4000 {
            double = -double
            exact = exact.map { -$0 }
        }
        return Numeric(int64: exact, double: double)
    }

    /// A numeric written out (exact for integers).
    static func numeric(raw: UnsafeRawBufferPointer) -> String {
        guard let value = numeric(raw) else { return "" }
        if let exact = value.int64 { return String(exact) }
        return String(value.double)
    }
}

import Foundation

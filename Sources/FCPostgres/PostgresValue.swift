/// A parameter sent to PostgreSQL, always in binary format.
public enum PostgresValue {
    /// `int8`: 8 bytes, big-endian.
    case int8(Int64)
    /// `float8`: the IEEE bits, big-endian (NaN, ±Inf and -0.0 survive).
    case float8(Double)
    /// `text`: the UTF-8 bytes.
    case text(String)
    /// `bytea`: the bytes as they are.
    case bytea([UInt8])
    /// `bytea` sent straight from memory the caller keeps valid for the call (no copy).
    case byteaBuffer(UnsafeRawBufferPointer)
    /// SQL NULL; the server infers its type.
    case null

    /// The type OID declared when the statement is prepared (0: let the server infer it).
    var typeOID: UInt32 {
        switch self {
        case .int8: return PostgresType.int8
        case .float8: return PostgresType.float8
        case .text: return PostgresType.text
        case .bytea, .byteaBuffer: return PostgresType.bytea
        case .null: return 0
        }
    }
}

/// The type OIDs fcstore reads and writes (`pg_type.oid`, fixed since PostgreSQL 7).
public enum PostgresType {
    public static let bool: UInt32 = 16
    public static let bytea: UInt32 = 17
    public static let char: UInt32 = 18
    public static let name: UInt32 = 19
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let oid: UInt32 = 26
    public static let json: UInt32 = 114
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let unknown: UInt32 = 705
    public static let bpchar: UInt32 = 1042
    public static let varchar: UInt32 = 1043
    public static let numeric: UInt32 = 1700
    public static let jsonb: UInt32 = 3802
}

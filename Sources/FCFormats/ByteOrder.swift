/// Little-endian reads and writes over byte arrays. Callers check bounds first.

@inline(__always)
func readUInt16LE<C: RandomAccessCollection<UInt8>>(_ bytes: C, at offset: C.Index) -> UInt16 where C.Index == Int {
    UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
}

@inline(__always)
func readUInt32LE<C: RandomAccessCollection<UInt8>>(_ bytes: C, at offset: C.Index) -> UInt32 where C.Index == Int {
    var value: UInt32 = 0
    for k in 0..<4 { value |= UInt32(bytes[offset + k]) << (8 * UInt32(k)) }
    return value
}

@inline(__always)
func readUInt64LE<C: RandomAccessCollection<UInt8>>(_ bytes: C, at offset: C.Index) -> UInt64 where C.Index == Int {
    var value: UInt64 = 0
    for k in 0..<8 { value |= UInt64(bytes[offset + k]) << (8 * UInt64(k)) }
    return value
}

func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian, Array.init)
}

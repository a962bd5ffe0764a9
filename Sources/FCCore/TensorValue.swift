/// A float32 tensor as the store and the file formats see it: row-major
/// values and their shape. On disk its bytes are little-endian float32.
///
/// This is the exchange type between the store, the export/import formats
/// and the CLI; the engine (FCNet) has its own buffers and the CLI converts.
public struct TensorValue: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]

    /// The largest tensor the store keeps, in bytes (250,000,000 float32 values).
    public static let maximumBytes = 1_000_000_000

    /// - Throws: `TensorValueError.shapeMismatch` when the product of `shape`
    ///   (checked for overflow) differs from `values.count`.
    public init(shape: [Int], values: [Float]) throws {
        guard let count = TensorValue.elementCount(shape), count == values.count else {
            throw TensorValueError.shapeMismatch(shape: shape, count: values.count)
        }
        self.shape = shape
        self.values = values
    }

    /// Decodes little-endian float32 bytes.
    /// - Throws: `TensorValueError.shapeMismatch` when the byte count is not 4 × the shape's product.
    public init(shape: [Int], littleEndianBytes bytes: some Collection<UInt8>) throws {
        guard let count = TensorValue.elementCount(shape),
              count.multipliedReportingOverflow(by: 4) == (bytes.count, false) else {
            throw TensorValueError.shapeMismatch(shape: shape, count: bytes.count / 4)
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { destination in
            _ = bytes.withContiguousStorageIfAvailable { source in
                destination.copyMemory(from: UnsafeRawBufferPointer(source))
            } ?? {
                for (offset, byte) in bytes.enumerated() { destination[offset] = byte }
            }()
        }
        #if _endian(big)
        for index in values.indices {
            values[index] = Float(bitPattern: UInt32(littleEndian: values[index].bitPattern))
        }
        #endif
        self.shape = shape
        self.values = values
    }

    /// The number of elements, or nil when a dimension is negative or the product overflows.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    public var byteCount: Int { values.count * 4 }

    /// The values as little-endian float32 bytes.
    public var littleEndianBytes: [UInt8] {
        #if _endian(big)
        return values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        #else
        return values.withUnsafeBytes { Array($0) }
        #endif
    }
}

public enum TensorValueError: Error, Equatable, CustomStringConvertible {
    case shapeMismatch(shape: [Int], count: Int)

    public var description: String {
        switch self {
        case let .shapeMismatch(shape, count):
            return "A tensor of shape \(shape) cannot hold \(count) float32 values."
        }
    }
}

import Foundation

/// Reads MNIST's IDX files: an idx3-ubyte image file (count × rows × cols bytes) and an
/// idx1-ubyte label file. Pixel values become features as they are (0...255; normalise with
/// a `Normalizer`). Every header field is bounds-checked; hostile or truncated files are
/// refused with a sentence, never a trap.
public enum IDXLoader {
    /// The largest data section accepted (2^31 bytes).
    public static let maximumBytes = 1 << 31

    /// - Throws: `FCNetError.data` naming the file.
    public static func load(images: String, labels: String, classes: Int? = nil) throws -> Dataset {
        func read(_ path: String, rank: Int) throws -> [UInt8] {
            // The header is checked against the file's size before the data is read.
            try InputFile.read(path, limit: maximumBytes + 4 + 4 * 4, what: "IDX files", header: 4 + 4 * rank) { head, size in
                _ = try declared(head, name: (path as NSString).lastPathComponent, expectedRank: rank, present: size)
            }
        }
        let imageBytes = try read(images, rank: 3), labelBytes = try read(labels, rank: 1)
        return try parse(images: imageBytes, labels: labelBytes, imagesName: (images as NSString).lastPathComponent,
                         labelsName: (labels as NSString).lastPathComponent, classes: classes)
    }

    /// Parses the two files' bytes.
    public static func parse(
        images: [UInt8], labels: [UInt8], imagesName: String = "images.idx3-ubyte",
        labelsName: String = "labels.idx1-ubyte", classes: Int? = nil
    ) throws -> Dataset {
        try images.withUnsafeBufferPointer { imageBytes in
            try labels.withUnsafeBufferPointer { labelBytes in
                try parse(images: imageBytes, labels: labelBytes, imagesName: imagesName, labelsName: labelsName, classes: classes)
            }
        }
    }

    static func parse(
        images: UnsafeBufferPointer<UInt8>, labels: UnsafeBufferPointer<UInt8>, imagesName: String,
        labelsName: String, classes: Int?
    ) throws -> Dataset {
        let (imageDims, imageOffset) = try header(images, name: imagesName, expectedRank: 3)
        let (labelDims, labelOffset) = try header(labels, name: labelsName, expectedRank: 1)
        guard imageDims[0] == labelDims[0] else {
            throw FCNetError.data(
                file: labelsName, line: nil, column: nil,
                message: "holds \(labelDims[0]) labels but \(imagesName) holds \(imageDims[0]) images.")
        }
        let count = imageDims[0], width = imageDims[1] * imageDims[2]
        guard count > 0, width > 0 else {
            throw FCNetError.data(file: imagesName, line: nil, column: nil, message: "holds no images.")
        }
        // header() checked that exactly count × width bytes follow the header.
        let total = count * width
        let features = [Float](unsafeUninitializedCapacity: total) { dst, initialized in
            let src = images.baseAddress! + imageOffset, out = dst.baseAddress!
            func convert(_ range: Range<Int>) {
                for i in range { out[i] = Float(src[i]) }
            }
            if total < 1 << 20 {
                convert(0..<total)
            } else {
                // Two threads: most of the time goes to first touches of the new pages.
                let half = total / 2
                _ = Concurrently.run({ convert(0..<half) }, { convert(half..<total) })
            }
            initialized = total
        }
        var y = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let v = Int(labels[labelOffset + i])
            if let k = classes, v >= k {
                throw FCNetError.data(
                    file: labelsName, line: nil, column: nil,
                    message: "label \(v) of item \(i) is out of range; the output layer has \(k) classes, labelled 0 to \(k - 1).")
            }
            y[i] = Float(v)
        }
        // Bytes make finite features: the data set need not scan them again.
        return try Dataset(
            finiteFeatures: features, labels: y, width: width, task: .classification,
            featureNames: (0..<width).map { "pixel\($0)" }, source: imagesName)
    }

    /// Validates an IDX header: magic 0x00 0x00, type 0x08 (unsigned byte), rank, dimensions
    /// (big-endian UInt32) and that the file holds exactly their product of bytes after it.
    /// - Returns: the dimensions and the offset of the data.
    static func header(_ b: UnsafeBufferPointer<UInt8>, name: String, expectedRank: Int) throws -> (dims: [Int], offset: Int) {
        try declared(b, name: name, expectedRank: expectedRank, present: b.count)
    }

    /// As `header(_:name:expectedRank:)`, from the header bytes at the start of `b` and the
    /// size of the whole file (`present`), which may be more than `b` holds.
    static func declared(_ b: UnsafeBufferPointer<UInt8>, name: String, expectedRank: Int, present size: Int) throws -> (dims: [Int], offset: Int) {
        func fail(_ m: String) -> FCNetError { .data(file: name, line: nil, column: nil, message: m) }
        guard b.count >= 4 else { throw fail("is too short (\(size) bytes) to be an IDX file.") }
        guard b[0] == 0, b[1] == 0 else { throw fail("is not an IDX file: it does not start with two zero bytes.") }
        guard b[2] == 0x08 else {
            throw fail("uses IDX data type 0x\(String(b[2], radix: 16)); only unsigned bytes (0x08) are supported.")
        }
        let rank = Int(b[3])
        guard rank == expectedRank else {
            throw fail("has \(rank) dimensions; an \(expectedRank == 3 ? "image file (idx3-ubyte)" : "label file (idx1-ubyte)") has \(expectedRank).")
        }
        let offset = 4 + 4 * rank
        guard b.count >= offset else { throw fail("is truncated inside its header.") }
        var dims: [Int] = []
        var total = 1
        for d in 0..<rank {
            let p = 4 + 4 * d
            let v = Int(b[p]) << 24 | Int(b[p + 1]) << 16 | Int(b[p + 2]) << 8 | Int(b[p + 3])
            dims.append(v)
            let (product, overflow) = total.multipliedReportingOverflow(by: v)
            guard !overflow, product <= maximumBytes else {
                throw fail("declares more data than the \(maximumBytes)-byte limit.")
            }
            total = product
        }
        let present = size - offset
        guard present == total else {
            throw fail(present < total
                ? "is truncated: its header declares \(total) data bytes but only \(present) follow."
                : "has \(present - total) \(present - total == 1 ? "byte" : "bytes") more than the \(total) data bytes its header declares.")
        }
        return (dims, offset)
    }
}

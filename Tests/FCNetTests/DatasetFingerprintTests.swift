import XCTest
@testable import FCNet

/// The fingerprint cache, in-place normalisation with its two fingerprints, and the
/// parallel IDX conversion, each against the plain computation.
final class DatasetFingerprintTests: XCTestCase {
    /// A reference FNV-1a over the documented words, independent of `Dataset`.
    static func reference(_ d: Dataset) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        let prime: UInt64 = 0x0000_0100_0000_01B3
        for word in [d.task == .classification ? 1 : 2, UInt64(UInt32(d.width)), UInt64(UInt32(d.count))] + (d.features + d.labels).map({ UInt64($0.bitPattern) }) {
            h = (h ^ word) &* prime
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func data(rows: Int, width: Int, seed: UInt64 = 7) throws -> Dataset {
        var random = Xoshiro256(seed: seed)
        let features = (0..<(rows * width)).map { _ in Float(random.next() % 256) }
        let labels = (0..<rows).map { _ in Float(random.next() % 10) }
        return try Dataset(features: features, labels: labels, width: width)
    }

    func testTheFingerprintIsTheDocumentedHash() throws {
        for (rows, width) in [(1, 1), (3, 2), (17, 5)] {
            let d = try Self.data(rows: rows, width: width)
            XCTAssertEqual(d.fingerprint, Self.reference(d))
        }
    }

    func testACachedFingerprintIsDroppedByAnyChange() throws {
        var d = try Self.data(rows: 20, width: 4)
        let plain = d
        d.cacheFingerprint()
        XCTAssertEqual(d, plain, "a cache does not make data sets differ")
        XCTAssertEqual(d.fingerprint, Self.reference(plain))

        var changed = d
        changed.features[5] += 1
        XCTAssertEqual(changed.fingerprint, Self.reference(changed))
        XCTAssertNotEqual(changed.fingerprint, d.fingerprint)

        changed = d
        changed.features.withUnsafeMutableBufferPointer { $0[0] = 99 }
        XCTAssertEqual(changed.fingerprint, Self.reference(changed), "in-place writes drop the cache too")

        changed = d
        changed.labels[0] = 9 - changed.labels[0]
        XCTAssertEqual(changed.fingerprint, Self.reference(changed))

        changed = d
        changed.task = .regression
        XCTAssertEqual(changed.fingerprint, Self.reference(changed))

        let part = d.subset([3, 1])
        XCTAssertEqual(part.fingerprint, Self.reference(part))
    }

    /// One row, many rows, and a few very wide rows, for every kind of normaliser.
    func testNormalizeInPlaceMatchesAppliedAndBothFingerprints() throws {
        for (rows, width) in [(1, 3), (50, 3), (60_000, 3), (3, 70_000)] {
            for kind in Normalizer.Kind.allCases {
                let original = try Self.data(rows: rows, width: width, seed: UInt64(rows + width))
                let normalizer = Normalizer.fit(kind, to: original)
                let expected = try normalizer.applied(to: original)
                var d = original
                let before = try d.normalize(with: normalizer)
                XCTAssertEqual(before, Self.reference(original), "\(rows)x\(width) \(kind)")
                XCTAssertEqual(d.features.map(\.bitPattern), expected.features.map(\.bitPattern), "\(rows)x\(width) \(kind)")
                XCTAssertEqual(d.fingerprint, Self.reference(expected), "\(rows)x\(width) \(kind)")
                XCTAssertEqual(original.fingerprint, before, "the original value is untouched")
            }
        }
    }

    func testNormalizeRefusesAnotherWidth() throws {
        var d = try Self.data(rows: 4, width: 3)
        XCTAssertThrowsError(try d.normalize(with: .identity(width: 2)))
    }

    /// Above 2^20 values the conversion runs on two threads.
    func testLargeIDXFilesConvertEveryByte() throws {
        let count = 1400, side = 28
        var images: [UInt8] = [0, 0, 8, 3]
        for d in [count, side, side] { images += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        let pixels = (0..<(count * side * side)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        images += pixels
        let labels: [UInt8] = [0, 0, 8, 1, 0, 0, UInt8(count >> 8), UInt8(count & 0xFF)] + (0..<count).map { UInt8($0 % 10) }
        let d = try IDXLoader.parse(images: images, labels: labels)
        XCTAssertGreaterThan(d.features.count, 1 << 20)
        XCTAssertEqual(d.features, pixels.map(Float.init))
        XCTAssertEqual(d.labels, (0..<count).map { Float($0 % 10) })
    }

    func testConcurrentlyRunsBothAndKeepsTheirErrors() {
        struct Failure: Error, Equatable {}
        let (a, b) = Concurrently.run({ 6 * 7 }, { () throws -> String in throw Failure() })
        XCTAssertEqual(try a.get(), 42)
        XCTAssertThrowsError(try b.get()) { XCTAssertEqual($0 as? Failure, Failure()) }
    }
}

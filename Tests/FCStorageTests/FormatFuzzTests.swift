@testable import FCFormats
import XCTest
@testable import FCStorage

/// Seeded byte-wise mutations of valid files: every reader must either accept
/// the result or refuse it with a `ModelFormatError`, never trap.
final class FormatFuzzTests: XCTestCase {
    static let mutationsPerFormat = 1_000

    func testMutatedSafetensorsNeverCrash() throws {
        let valid = try Safetensors.encode(try FormatFixtures.randomModel([4, 3, 2], seed: 9))
        let headerEnd = 8 + Int(readUInt64LE(valid, at: 0))
        try fuzz(valid, hotRegion: 0..<headerEnd, seed: 1) { _ = try Safetensors.decode($0) }
    }

    func testMutatedNPZNeverCrash() throws {
        let valid = try NPZ.encode(try FormatFixtures.randomModel([3, 2, 2], seed: 10))
        // Mutations that keep the CRC valid are the interesting ones: also fuzz
        // after re-computing every CRC (headers of the .npy members and the metadata).
        try fuzz(valid, hotRegion: 0..<valid.count, seed: 2) { _ = try NPZ.decode($0) }
        let members = try ZIP.readStored(valid)
        try fuzzMembers(members, seed: 3)
    }

    private func mutate(_ bytes: [UInt8], hotRegion: Range<Int>, random: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let region = Bool.random(using: &random) && !hotRegion.isEmpty ? hotRegion : 0..<max(bytes.count, 1)
            let position = min(Int.random(in: region, using: &random), max(bytes.count - 1, 0))
            switch Int.random(in: 0..<7, using: &random) {
            case 0 where !bytes.isEmpty: bytes[position] = UInt8.random(in: 0...255, using: &random)
            case 1 where !bytes.isEmpty: bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 2: bytes = Array(bytes.prefix(position))
            case 3: bytes.insert(UInt8.random(in: 0...255, using: &random), at: min(position, bytes.count))
            case 4 where !bytes.isEmpty: bytes.remove(at: position)
            case 5 where !bytes.isEmpty: bytes[position] = [0x00, 0xFF, 0x7F, 0x80, 0x22, 0x7B, 0x5D, 0x2C, 0x30, 0x39].randomElement(using: &random) ?? 0
            default:
                let end = min(bytes.count, position + Int.random(in: 1...16, using: &random))
                bytes.insert(contentsOf: Array(bytes[position..<end]), at: position)
            }
        }
        return bytes
    }

    private func fuzz(_ valid: [UInt8], hotRegion: Range<Int>, seed: UInt64, _ decode: ([UInt8]) throws -> Void) throws {
        var random = SplitMix64(seed: seed)
        var accepted = 0, refused = 0
        for _ in 0..<Self.mutationsPerFormat {
            let bytes = mutate(valid, hotRegion: hotRegion, random: &random)
            do {
                try decode(bytes)
                accepted += 1
            } catch is ModelFormatError {
                refused += 1
            } catch {
                XCTFail("not a ModelFormatError: \(error)")
            }
        }
        XCTAssertEqual(accepted + refused, Self.mutationsPerFormat)
        XCTAssertGreaterThan(refused, 0)
    }

    /// Mutates one member at a time and rebuilds the archive with correct CRCs,
    /// so the mutations reach the .npy and metadata parsers.
    private func fuzzMembers(_ members: [(name: String, data: ArraySlice<UInt8>)], seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        for _ in 0..<Self.mutationsPerFormat / 2 {
            var copy = members.map { (name: $0.name, data: Array($0.data)) }
            let index = Int.random(in: copy.indices, using: &random)
            copy[index].data = mutate(copy[index].data, hotRegion: 0..<min(copy[index].data.count, 128), random: &random)
            let bytes = try ZIP.storedArchive(copy)
            do {
                _ = try NPZ.decode(bytes)
            } catch is ModelFormatError {
            } catch {
                XCTFail("not a ModelFormatError: \(error)")
            }
        }
    }
}

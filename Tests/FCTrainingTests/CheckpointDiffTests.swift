import FCCore
import FCStorage
import FCTraining
import XCTest

/// Diff statistics, unit-tested where the CLI's `diff` gets them.
final class CheckpointDiffTests: XCTestCase {
    func tensor(_ layer: Int, _ role: String, _ shape: [Int], _ values: [Float]) throws -> CheckpointTensor {
        CheckpointTensor(layer: layer, role: role, value: try TensorValue(shape: shape, values: values))
    }

    func testStatisticsHaveTheirExactValues() throws {
        // A = (3, 4), B = (0, 8): B − A = (−3, 4), ||B − A|| = 5, ||A|| = 5, ⟨A, B⟩ = 32, ||B|| = 8.
        let change = TensorChange(layer: 1, role: TensorRole.bias, a: try TensorValue(shape: [2], values: [3, 4]),
                                  b: try TensorValue(shape: [2], values: [0, 8]))
        XCTAssertEqual(change.l2, 5)
        XCTAssertEqual(change.relative, 1)
        XCTAssertEqual(change.maxAbs, 4)
        XCTAssertEqual(change.meanAbs, 3.5)
        XCTAssertEqual(change.cosine, 32.0 / 40.0, accuracy: 1e-15)
        XCTAssertEqual(change.changed, 2)
        XCTAssertEqual(change.count, 2)
    }

    func testZeroTensorsAndSignedZero() throws {
        let zero = try TensorValue(shape: [2], values: [0, 0])
        let same = TensorChange(layer: 1, role: TensorRole.bias, a: zero, b: zero)
        XCTAssertEqual([same.l2, same.relative, same.cosine], [0, 0, 1])
        // From zero to non-zero: the relative change is infinite and the cosine 0.
        let grown = TensorChange(layer: 1, role: TensorRole.bias, a: zero, b: try TensorValue(shape: [2], values: [1, 0]))
        XCTAssertEqual(grown.relative, .infinity)
        XCTAssertEqual(grown.cosine, 0)
        // −0 and +0 are equal numbers but different bits: counted as changed.
        let signed = TensorChange(layer: 1, role: TensorRole.bias, a: zero, b: try TensorValue(shape: [2], values: [-0.0, 0]))
        XCTAssertEqual(signed.l2, 0)
        XCTAssertEqual(signed.changed, 1)
    }

    func testCompareOrdersLayersAndListsTheLargestChanges() throws {
        let a = [
            try tensor(2, TensorRole.bias, [1], [1]),
            try tensor(1, TensorRole.bias, [2], [0, 0]),
            try tensor(1, TensorRole.weight, [2, 3], [1, 2, 3, 4, 5, 6]),
            try tensor(2, TensorRole.weight, [1, 2], [1, 1]),
            try tensor(1, TensorRole.slot("m", of: TensorRole.weight), [2, 3], [0, 0, 0, 0, 0, 0]),
            try tensor(0, TensorRole.normalizeShift, [3], [0, 0, 0]),
        ]
        let b = [
            try tensor(1, TensorRole.weight, [2, 3], [1, 2, 3, 4, 5, 16]),
            try tensor(1, TensorRole.bias, [2], [0, -2]),
            try tensor(2, TensorRole.weight, [1, 2], [1, 1]),
            try tensor(2, TensorRole.bias, [1], [4]),
            try tensor(1, TensorRole.slot("m", of: TensorRole.weight), [2, 3], [9, 9, 9, 9, 9, 9]),
            try tensor(0, TensorRole.normalizeShift, [3], [7, 7, 7]),
        ]
        let comparison = try CheckpointDiff.compare(a, b, top: 2)
        // Only weights and biases, by layer, weight first; slots and normalisation are not compared.
        XCTAssertEqual(comparison.layers.map { "\($0.layer).\($0.role)" }, ["1.weight", "1.bias", "2.weight", "2.bias"])
        XCTAssertEqual(comparison.layers.map(\.changed), [1, 1, 0, 1])
        XCTAssertFalse(comparison.identical)
        // The largest |change|: w^1_{1,2} by 10, then b^2_0 by 3.
        XCTAssertEqual(comparison.top.map { [$0.layer, $0.i, $0.j ?? -1] }, [[1, 1, 2], [2, 0, -1]])
        XCTAssertEqual(comparison.top.map(\.change), [10, 3])
        XCTAssertEqual(try CheckpointDiff.compare(a, a, top: 3).top, [])
        XCTAssertTrue(try CheckpointDiff.compare(a, a, top: 3).identical)
    }

    func testDifferentArchitecturesAreRefusedWithTheirShapes() throws {
        let a = [try tensor(1, TensorRole.weight, [2, 3], [Float](repeating: 0, count: 6))]
        let b = [try tensor(1, TensorRole.weight, [4, 3], [Float](repeating: 0, count: 12))]
        XCTAssertThrowsError(try CheckpointDiff.compare(a, b, top: 0)) { error in
            XCTAssertEqual(error as? CheckpointDiff.ArchitectureMismatch, CheckpointDiff.ArchitectureMismatch(a: [[2, 3]], b: [[4, 3]]))
        }
        XCTAssertEqual(CheckpointDiff.architecture([[2, 3], [1, 2]]), "3-2-1")
        XCTAssertEqual(CheckpointDiff.architecture([]), "?")
    }
}

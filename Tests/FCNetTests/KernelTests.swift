import CKernels
import XCTest
@testable import FCNet

/// The C kernels against plain Swift references, on whichever ISA path this CPU takes.
final class KernelTests: XCTestCase {
    /// Softmax + cross-entropy Δ: d = y·scale, d[label] −= scale; the cost Σ (log-norm − z_label);
    /// hits where the first maximum of y is the label, ties and NaN rows included.
    func testSoftmaxCrossEntropyDeltaMatchesTheDefinition() {
        var rng = Xoshiro256(seed: 5)
        for n in [2, 3, 10, 16, 17, 40] {
            let rows = 37
            var y = (0..<(rows * n)).map { _ in Float(rng.nextUnit()) }
            y[2 * n + 1] = y[2 * n]            // a tie: the first index wins
            y[3 * n + n - 1] = .nan             // a NaN row
            y[4 * n] = 0; y[4 * n + 1] = -0.0   // signed zeros
            let z = (0..<(rows * n)).map { _ in Float(rng.nextUnit()) * 4 - 2 }
            let logNorm = (0..<rows).map { _ in Float(rng.nextUnit()) + 1 }
            let labels = (0..<rows).map { r in Float(r % n) }
            let scale: Float = 1 / 37
            var d = [Float](repeating: 7, count: rows * n), rowCost = [Double](repeating: 0, count: rows)
            var hits = 0
            let total = fck_softmax_ce_delta(y, z, logNorm, labels, &d, rows, n, scale, &hits, &rowCost)

            var expectedTotal = 0.0, expectedHits = 0
            for r in 0..<rows {
                let k = Int(labels[r])
                let cost = Double(logNorm[r] - z[r * n + k])
                XCTAssertEqual(rowCost[r], cost)
                expectedTotal += cost
                var best = 0
                for j in 0..<n where y[r * n + j] > y[r * n + best] { best = j }
                if best == k { expectedHits += 1 }
                for j in 0..<n {
                    let expected = j == k ? y[r * n + j] * scale - scale : y[r * n + j] * scale
                    XCTAssertEqual(d[r * n + j].bitPattern, expected.bitPattern, "n \(n) row \(r) column \(j)")
                }
            }
            XCTAssertEqual(total, expectedTotal, "n \(n)")
            XCTAssertEqual(hits, expectedHits, "n \(n)")
        }
    }
}
